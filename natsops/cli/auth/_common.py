"""What every ``natsops auth`` command shares: the store and operator, change output, options."""

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Concatenate, ParamSpec

import typer

from natsops.cli.state import get_state, want_json

if TYPE_CHECKING:
    from natsops.access import SystemAccess
    from natsops.auth.claims import Permissions
    from natsops.auth.ops import Change
    from natsops.auth.store import Store

P = ParamSpec("P")

# ctx.meta keys the group callback fills from --store and --operator
STORE_KEY = "natsops.auth.store"
OPERATOR_KEY = "natsops.auth.operator"

AccountOpt = Annotated[str, typer.Option("--account", "-a", help="Account name")]
SysCreds = Annotated[Path | None, typer.Option(
    "--sys-creds", help="System user creds [default: a temporary user]")]
Wait = Annotated[str, typer.Option("--wait", help="How long to wait for server replies")]
YesForce = Annotated[bool, typer.Option("--yes", "-y", "--force", "-f",
                                       help="Do not ask for confirmation")]
Expect = Annotated[int | None, typer.Option("--expect", help="Number of servers that must answer")]

_DONE = {"create": "created", "update": "updated", "delete": "deleted", "write": "wrote"}


def store(ctx: typer.Context) -> "Store":
    """The key store: ``--store``, ``NATSOPS_STORE``, else the per-user data folder."""
    from natsops.auth.store import Store, default_store_root

    root = ctx.meta.get(STORE_KEY) or default_store_root(get_state(ctx).env)
    return Store(Path(root))


def target(ctx: typer.Context) -> "tuple[Store, str]":
    """The store and the operator (``--operator``, else the only one in the store)."""
    s = store(ctx)
    return s, s.resolve_operator(ctx.meta.get(OPERATOR_KEY))


def change(ctx: typer.Context, as_json: bool,
           fn: "Callable[Concatenate[Store, str, P], Change]",
           *args: P.args, **kwargs: P.kwargs) -> None:
    """Run one store operation ``fn(store, operator, ...)`` and print its change."""
    s, op = target(ctx)
    emit_changes(ctx, [fn(s, op, *args, **kwargs)], as_json)


def emit_changes(ctx: typer.Context, changes: "Sequence[Change]", as_json: bool) -> None:
    """``{"changes": [...]}`` as JSON, else one line per change (and its notes) on stderr."""
    from natsops.cli import output

    if want_json(ctx, as_json):
        output.print_json({"changes": [dict(vars(c)) for c in changes]})
        return
    for c in changes:
        verb = f"would {c.action}" if c.dry_run else _DONE[c.action]
        key = f" {c.public_key}" if c.public_key else ""
        output.success(f"{verb} {c.kind} {c.name}{key}")
        for note in c.notes:
            output.info(f"  {note}")


def perms(allow_pub: list[str] | None, allow_sub: list[str] | None,
          deny_pub: list[str] | None, deny_sub: list[str] | None,
          allow_resp: int | None = None) -> "Permissions":
    """Permissions from repeatable subject options."""
    from natsops.auth.claims import Permissions

    return Permissions(tuple(allow_pub or ()), tuple(deny_pub or ()), tuple(allow_sub or ()),
                       tuple(deny_sub or ()), allow_resp)


def sys_settings(ctx: typer.Context, sys_creds: Path | None,
                 cluster_dir: Path | None = None) -> "SystemAccess":
    """The logins a system-account connection tries (:mod:`natsops.access`); ``cluster_dir``:
    a local cluster's or topology's folder (``--dir``)."""
    from natsops.access import system_access

    state = get_state(ctx)
    return system_access(state.settings, state.env, cluster_dir=cluster_dir,
                         sys_creds=sys_creds)


def fmt(ctx: typer.Context, as_json: bool) -> str:
    """The findings format of a command with ``--json``: json or human."""
    return "json" if want_json(ctx, as_json) else "human"
