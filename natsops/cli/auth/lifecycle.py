"""``natsops auth expirations`` and ``natsops auth describe jwt``: what expires, what a JWT is."""

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from natsops.cli.auth import _common
from natsops.cli.options import Json
from natsops.findings import Severity

if TYPE_CHECKING:
    from natsops.auth.describe import JwtDescription

app = typer.Typer()  # root commands: `natsops auth` lists them (see __init__)


@app.command("expirations")
def expirations(
    ctx: typer.Context,
    within: Annotated[
        str, typer.Option("--within", help="Window, e.g. 7d, 30d, 12h (expired ones always count)")
    ] = "30d",
    json_out: Json = False,
) -> None:
    """List users, activations, accounts and the operator whose JWT expires within the window.

    Exits 6 (FAILED) when any does or already has (for CI), 0 otherwise.

    \b
    Examples:
      natsops auth expirations --within 7d
      natsops auth expirations --within 30d --json
    """
    from natsops.auth.expiry import expirations as find
    from natsops.auth.expiry import expiry_findings
    from natsops.cli.findings import emit
    from natsops.units import parse_duration

    window = parse_duration(within, what="--within")
    items, checked = find(*_common.target(ctx), window)
    emit(expiry_findings(items, window, checked), fmt=_common.fmt(ctx, json_out),
         extra={"within_seconds": window, "checked": checked, "expiring": items},
         min_severity=Severity.OK)


def describe_jwt(ctx: typer.Context, file: str | None, json_out: bool) -> None:
    """``auth describe jwt FILE|-``: claims and the chain check (findings); never the seed."""
    from natsops.auth.describe import describe_jwt as describe
    from natsops.auth.store import Store
    from natsops.cli.findings import emit
    from natsops.errors import UsageError
    from natsops.files import read_text

    if not file:
        raise UsageError("describe jwt needs a FILE (or - for stdin)")
    text = sys.stdin.read() if file == "-" else read_text(Path(file), what="JWT file")
    store: Store | None = _common.store(ctx)
    if store is not None and not store.operators():
        store = None
    item = describe(text, "stdin" if file == "-" else file, store)
    fmt = _common.fmt(ctx, json_out)
    if fmt == "human":
        _print(item)
    fields = {k: v for k, v in vars(item).items() if k != "findings"}
    emit(item.findings, fmt=fmt, extra=fields, min_severity=Severity.OK)


def _print(item: "JwtDescription") -> None:
    import json
    import time

    from natsops.cli import output

    def utc(ts: int | None) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts)) if ts else "-"

    form = "creds file (its seed is not shown)" if item.form == "creds" else "JWT"
    output.table(f"{item.kind} JWT {item.name}", ["field", "value"], [
        ("read from", f"{item.source}: {form}"), ("subject", item.subject),
        ("issuer", item.issuer), ("signed by", item.signer), ("issued", utc(item.iat)),
        ("expires", utc(item.expires)), ("jti", item.jti)])
    typer.echo(json.dumps(item.claims.get("nats", {}), indent=2, sort_keys=True))
