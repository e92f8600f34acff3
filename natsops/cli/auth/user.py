"""``natsops auth user``: users of an account."""

from typing import TYPE_CHECKING, Annotated, Protocol

import typer

from natsops.cli.auth import _common
from natsops.cli.auth._common import AccountOpt
from natsops.cli.options import DryRun, Force, Json
from natsops.cli.prompt import confirm

if TYPE_CHECKING:
    from natsops.auth.ops import Change
    from natsops.auth.store import Store

app = typer.Typer(help="Users of an account.", no_args_is_help=True)


class UserChange(Protocol):
    """``ops.revoke_user`` and ``ops.remove_user``."""

    def __call__(self, store: "Store", op: str, account: str, name: str, *,
                 dry_run: bool = ...) -> "Change": ...

UserName = Annotated[str, typer.Argument(help="User name")]


@app.command("add")
def user_add(
    ctx: typer.Context,
    name: UserName,
    account: AccountOpt,
    allow_pub: Annotated[
        list[str] | None, typer.Option("--allow-pub", help="Allow publish (repeatable)")
    ] = None,
    allow_sub: Annotated[
        list[str] | None, typer.Option("--allow-sub", help="Allow subscribe")
    ] = None,
    deny_pub: Annotated[list[str] | None, typer.Option("--deny-pub", help="Deny publish")] = None,
    deny_sub: Annotated[list[str] | None, typer.Option("--deny-sub", help="Deny subscribe")] = None,
    allow_pub_response: Annotated[
        int | None, typer.Option("--allow-pub-response", help="May reply to N messages per request")
    ] = None,
    bearer: Annotated[
        bool, typer.Option("--bearer", help="Bearer token: the server skips the nonce signature")
    ] = False,
    expiry: Annotated[str | None, typer.Option("--expiry", help="Valid for, e.g. 24h, 30d")] = None,
    role: Annotated[str | None, typer.Option(
        "--role", help="Issue it through this role (scoped signing key): the role's template "
                       "gives its permissions")] = None,
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Create a user and its creds file (0600) in the store."""
    import time

    from natsops.auth import ops, roles
    from natsops.units import parse_duration

    expires = int(time.time() + parse_duration(expiry, what="--expiry")) if expiry else None
    permissions = _common.perms(allow_pub, allow_sub, deny_pub, deny_sub, allow_pub_response)
    if role is not None:
        roles.check_role_options(permissions.empty() and not bearer)
        _common.change(ctx, json_out, roles.add_role_user, account, name, role, expires=expires,
                       dry_run=dry_run)
        return
    _common.change(ctx, json_out, ops.add_user, account, name, permissions=permissions,
                   bearer=bearer, expires=expires, dry_run=dry_run)


@app.command("revoke")
def user_revoke(
    ctx: typer.Context,
    name: UserName,
    account: AccountOpt,
    force: Force = False,
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Revoke a user in its account JWT (push the account to apply it)."""
    from natsops.auth import ops

    question = (f"revoke user {name} of account {account}? Its connections will be closed "
                "once the account is pushed")
    _confirmed(ctx, ops.revoke_user, account, name, question, force, dry_run, json_out)


@app.command("rm")
def user_rm(
    ctx: typer.Context,
    name: UserName,
    account: AccountOpt,
    force: Force = False,
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Delete a user, its seed and creds from the store (revoke it first to lock it out)."""
    from natsops.auth import ops

    question = f"delete user {name} and its seed from {_common.store(ctx).root}?"
    _confirmed(ctx, ops.remove_user, account, name, question, force, dry_run, json_out)


def _confirmed(ctx: typer.Context, fn: "UserChange", account: str, name: str, question: str,
               force: bool, dry_run: bool, json_out: bool) -> None:
    """Ask ``question`` (unless a dry run), then apply ``fn`` to the user and print the change."""
    store, op = _common.target(ctx)
    if not dry_run:
        store.user(op, account, name)  # NotFound before asking
        confirm(question, force=force)
    _common.emit_changes(ctx, [fn(store, op, account, name, dry_run=dry_run)], json_out)
