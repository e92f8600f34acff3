"""``natsops account``: the live account as the servers see it (limits, usage, JetStream, JWT)."""

from typing import Annotated, Any

import typer

from natsops.cli.options import ClusterDir, Json
from natsops.cli.output import examples
from natsops.cli.state import want_json

app = typer.Typer(
    help="The live account as the servers see it.",
    no_args_is_help=True,
    epilog=examples("natsops account info", "natsops account info APP --dir .natsops/C1"),
)


@app.callback()
def main() -> None:
    """The live account as the servers see it."""


@app.command("info")
def info(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(
        help="Account name (or public key in operator mode); needs system-account access. "
        "Default: your own account ($JS.API.INFO: its JetStream limits and tiers)",
        show_default=False)] = None,
    directory: ClusterDir = None,
    json_out: Json = False,
) -> None:
    """Limits, usage, JetStream tiers and JWT status of a live account."""
    from natsops.cli import output
    from natsops.cli._run import call
    from natsops.cli._snapshot import gather_timeout
    from natsops.cli.raft import sys_call
    from natsops.monitoring.reports import account_info_own, account_info_sys

    if name:
        wait = gather_timeout(ctx, 3.0)
        doc = sys_call(ctx, directory, lambda c: account_info_sys(c.nc, name, timeout=wait))
    else:
        doc = call(ctx, lambda c: account_info_own(c.nc))
    if want_json(ctx, json_out):
        output.print_json(doc)
    else:
        _print(doc)


def _flat(prefix: str, value: Any) -> "list[tuple[str, str]]":
    if isinstance(value, dict):
        return [kv for k, v in value.items() for kv in _flat(f"{prefix}.{k}" if prefix else k, v)]
    if isinstance(value, list):
        return [(prefix, ", ".join(map(str, value)))] if value else []
    return [] if value is None else [(prefix, _cell(prefix, value))]


def _cell(key: str, value: Any) -> str:
    from natsops.units import format_bytes

    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) and not isinstance(value, bool):
        if value == -1 or value >= 2**63:
            return "unlimited"
        last = key.rsplit(".", 1)[-1]
        if "bytes" in last or last in ("memory", "storage", "max_memory", "max_storage"):
            return format_bytes(value)
        return f"{value:,}"
    return str(value)


def _print(doc: "dict[str, Any]") -> None:
    from natsops.cli import output

    output.out().print(f"[bold]Account {doc.get('account')}[/] (as seen by {doc['seen_by']})")
    for section in ("usage", "jetstream"):
        if doc.get(section) is not None:
            output.table(section.capitalize(), ["KEY", "VALUE"], _flat("", doc[section]))
        elif section == "jetstream":
            output.info("JetStream: not enabled for this account")
    for server, s in sorted((doc.get("servers") or {}).items()):
        output.table(f"On {server}", ["KEY", "VALUE"], _flat("", s))
    rest = {k: doc[k] for k in ("user", "permissions", "expires") if doc.get(k)}
    if rest:
        output.table("Connection", ["KEY", "VALUE"], _flat("", rest))
