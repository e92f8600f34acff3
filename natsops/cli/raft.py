"""``natsops server raft``: the JetStream meta group (step-down, peer-remove) over the system
account. Mounted under ``natsops server``."""

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Concatenate, ParamSpec, TypeVar

import typer

from natsops.cli import options
from natsops.cli.output import examples
from natsops.cli.state import want_json

if TYPE_CHECKING:
    from natsops.connection import Conn

T = TypeVar("T")
P = ParamSpec("P")

app = typer.Typer(
    help="The JetStream meta group (Raft): leader step-down, removing a server for good. "
    "Needs system-account access (found as for doctor: a sys context, --dir...).",
    no_args_is_help=True,
    epilog=examples("natsops server raft step-down --preferred n2 --context natsops-C1-sys",
                    "natsops server raft step-down --domain edge --dir .natsops/hl",
                    "natsops server raft peer-remove n3 --dir .natsops/C1"),
)


def sys_call(ctx: typer.Context, directory: Path | None,
             fn: "Callable[Concatenate[Conn, P], Awaitable[T]]", *args: P.args,
             **kwargs: P.kwargs) -> T:
    """``await fn(sys_conn, ...)`` over a system-account connection: the first login
    :mod:`natsops.access` finds (flags, a sys context, the -sys context beside the one in use,
    the local cluster of ``--dir`` or ``./.natsops/*``)."""
    from natsops.access import system_connection
    from natsops.cli._run import run
    from natsops.cli._snapshot import settings_for

    access = settings_for(ctx, directory)

    async def go() -> T:
        async with system_connection(access) as (conn, _):
            return await fn(conn, *args, **kwargs)

    return run(go())


@app.command("step-down")
def step_down(
    ctx: typer.Context,
    preferred: options.Preferred = None,
    domain: options.JsDomain = None,
    directory: options.ClusterDir = None,
    json_out: options.Json = False,
) -> None:
    """Make the JetStream meta leader step down and wait for the new leader.

    With --domain, the meta group of that JetStream domain (a leaf site's), reached through
    the system account shared over the leafnodes; --preferred must be one of its servers.
    """
    from natsops.cli import output
    from natsops.cli._js import step_down_result
    from natsops.jetstream.meta import check_domain, step_down_meta

    r = sys_call(ctx, directory, step_down_meta, preferred=preferred, domain=check_domain(domain))
    step_down_result("JetStream" + (f" domain {domain}" if domain else ""), r,
                     want_json(ctx, json_out))
    if r.preferred_honoured is False and not want_json(ctx, json_out):
        output.error(f"preferred server {preferred} was not elected (not healthy enough?): "
                     f"{r.new_leader} leads the meta group")


@app.command("peer-remove")
def peer_remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Server name to remove from the meta group")],
    force: options.Force = False,
    allow_online: Annotated[bool, typer.Option(
        "--allow-online", help="Remove it even though it still answers or looks current")] = False,
    directory: options.ClusterDir = None,
) -> None:
    """Remove a server that is gone for good from the JetStream meta group."""
    from natsops.cli import output
    from natsops.cli.prompt import confirm
    from natsops.jetstream.meta import remove_server_peer

    confirm(f"Really remove server {name} from the JetStream meta group for good?", force=force)
    sys_call(ctx, directory, remove_server_peer, name, force=allow_online)
    output.success(f"server {name} removed from the JetStream meta group")
