"""``natsops auth ls/describe/render-config/backup/restore``: read and archive the store."""

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from natsops.cli.auth import _common
from natsops.cli.options import Force, Json
from natsops.cli.prompt import confirm
from natsops.cli.state import want_json

if TYPE_CHECKING:
    from natsops.auth.inventory import Listed

app = typer.Typer()  # root commands: `natsops auth` lists them (see __init__)


def _utc(ts: int, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return time.strftime(fmt, time.gmtime(ts))


def _row(i: "Listed") -> tuple[str, ...]:
    flags = [f for f, on in (("system", i.system), ("jetstream", i.jetstream),
                             ("revoked", i.revoked), ("signing keys", i.signing_keys)) if on]
    name = i.name if i.kind != "user" else f"{i.account}/{i.name}"
    return i.kind, name, i.public_key, _utc(i.iat), ", ".join(flags)


@app.command("ls")
def ls(ctx: typer.Context, json_out: Json = False) -> None:
    """List the operator, its accounts and users (public keys only)."""
    from natsops.auth.inventory import inventory
    from natsops.cli import output

    store, op = _common.target(ctx)
    items = inventory(store, op)
    if want_json(ctx, json_out):
        entities = [{k: v for k, v in vars(i).items() if k != "claims"} for i in items]
        output.print_json({"store": str(store.root), "entities": entities})
        return
    output.table(f"store {store.root}", ["kind", "name", "public key", "issued (UTC)", ""],
                 [_row(i) for i in items])


@app.command("describe")
def describe(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="operator, account, user, or jwt (any JWT or creds "
                                       "file, checked against the store)")],
    name: Annotated[str | None, typer.Argument(help="Name (not for operator); for jwt: FILE "
                                               "or - for stdin")] = None,
    account: Annotated[
        str | None, typer.Option("--account", "-a", help="Account of the user")
    ] = None,
    json_out: Json = False,
) -> None:
    """Show decoded claims (public keys only; seeds are never shown).

    `describe jwt FILE|-` decodes any JWT or creds file and checks its signature chain against
    the store (which key signed it, is that key trusted, revoked, expired); exits 6 when the
    servers would refuse it.
    """
    import json

    from natsops.auth.inventory import describe as do_describe
    from natsops.cli import output
    from natsops.cli.auth.lifecycle import describe_jwt

    if kind == "jwt":
        return describe_jwt(ctx, name, json_out)
    item = do_describe(*_common.target(ctx), kind, name, account)
    if want_json(ctx, json_out):
        output.print_json(vars(item))
        return
    output.table(f"{item.kind} {item.name}", ["field", "value"], [
        ("public key", item.public_key),
        ("issuer", item.issuer),
        ("issued", _utc(item.iat, "%Y-%m-%d %H:%M:%S UTC")),
        ("jti", item.jti),
        ("signing keys", ", ".join(item.signing_keys) or "-"),
        *((("revoked", "yes"),) if item.revoked else ()),
    ])
    typer.echo(json.dumps(item.claims.get("nats", {}), indent=2, sort_keys=True))


@app.command("render-config")
def render_config(
    ctx: typer.Context,
    resolver: Annotated[str, typer.Option("--resolver", help="full, cache or memory")] = "full",
    directory: Annotated[
        str, typer.Option("--dir", help="Resolver folder on the server")
    ] = "./jwt",
    interval: Annotated[str, typer.Option("--interval", help="Full resolver sync interval")] = "2m",
    preload_all: Annotated[
        bool, typer.Option("--preload-all", help="Preload every account, not just SYS")
    ] = False,
    operator_path: Annotated[
        str | None,
        typer.Option(
            "--operator-path", help="Reference this operator JWT file instead of inlining the JWT"
        ),
    ] = None,
    output_file: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file")
    ] = None,
) -> None:
    """Print the operator, system_account, resolver and resolver_preload config blocks."""
    from natsops.auth.config import ResolverOptions
    from natsops.auth.config import render_config as do_render

    options = ResolverOptions(type=resolver.lower(), dir=directory, interval=interval,
                              preload_all=preload_all, operator_path=operator_path)
    text = do_render(*_common.target(ctx), options)
    if output_file:
        output_file.write_text(text)
    else:
        typer.echo(text, nl=False)


@app.command("backup")
def backup(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Archive to write (.tar.gz)")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite the file")] = False,
    json_out: Json = False,
) -> None:
    """Archive the whole store, seeds included (written 0600: keep it secret)."""
    from natsops.auth.archive import backup_store
    from natsops.cli import output

    result = backup_store(_common.store(ctx), file, force=force)
    if want_json(ctx, json_out):
        output.print_json(result)
        return
    output.success(f"wrote {result.path}: {result.files} files, {result.seeds} seeds "
                   f"(operators {', '.join(result.operators)})")
    output.info("the archive holds seeds: it was written with mode 0600; store it like a secret")


@app.command("restore")
def restore(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Archive from auth backup")],
    force: Force = False,
    json_out: Json = False,
) -> None:
    """Replace the store with a backup (asks before replacing an existing store)."""
    from natsops.auth.archive import restore_store
    from natsops.cli import output

    store = _common.store(ctx)
    if store.operators():
        confirm(f"replace the store {store.root} (operators {', '.join(store.operators())})?",
                force=force)
    result = restore_store(store, file, force=True)
    if want_json(ctx, json_out):
        output.print_json(result)
        return
    output.success(f"restored {result.files} files into {store.root} "
                   f"(operators {', '.join(result.operators)})")
