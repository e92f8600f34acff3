"""``natsops auth user edit`` and ``user info``: change a user in place; what servers hold."""

from typing import TYPE_CHECKING, Annotated

import typer

from natsops.cli.auth import _common, _edits
from natsops.cli.auth._common import AccountOpt, SysCreds
from natsops.cli.options import DryRun, Json
from natsops.cli.state import want_json

if TYPE_CHECKING:
    from natsops.auth.edit import UserEdit
    from natsops.auth.live import UserLive

app = typer.Typer()  # commands joined to `natsops auth user` (see __init__)

UserName = Annotated[str, typer.Argument(help="User name")]


@app.command("edit")
@_edits.with_user_edit
def user_edit(
    ctx: typer.Context,
    name: UserName,
    account: AccountOpt,
    *,
    edit: "UserEdit",
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Change a user's permissions, limits, tags or expiry; keep its key (same seed).

    Re-signs the user JWT and rewrites its creds file (0600) with the same seed: clients
    reading that file get the new claims at their next connect. A live connection keeps the
    claims it connected with; --revoke-previous revokes the older JWTs in the account, so that
    pushing the account closes those connections (clients that reconnect get the new claims).
    """
    from natsops.auth.edit import edit_user

    store, op = _common.target(ctx)
    _edits.emit_edits(ctx, edit_user(store, op, account, name, edit, dry_run=dry_run), json_out)


@app.command("info")
def user_info(
    ctx: typer.Context,
    name: UserName,
    account: AccountOpt,
    live: Annotated[bool, typer.Option(
        "--live", help="Also ask the servers: the user's live connections (system account "
                       "connz) and its effective permissions ($SYS.REQ.USER.INFO as the user)")
    ] = False,
    sys_creds: SysCreds = None,
    json_out: Json = False,
) -> None:
    """Show a user: keys, issuer or role, permissions, limits, expiry, tags.

    From the store, public data only (never the JWT or the seed); --json gives the decoded
    claims.
    --live adds what the servers hold: live connections and effective permissions.
    """
    from natsops.auth.inventory import describe
    from natsops.auth.live import user_live
    from natsops.auth.userview import user_view
    from natsops.cli import output
    from natsops.cli._run import run

    store, op = _common.target(ctx)
    item = describe(store, op, "user", name, account)
    state = run(user_live(store, op, account, name, _common.sys_settings(ctx, sys_creds))) \
        if live else None
    if want_json(ctx, json_out):
        output.print_json({"user": vars(item), "live": vars(state) if state else None})
        return
    _print_info(user_view(store, op, account, name), state)


def _print_info(rows: "list[tuple[str, str]]", state: "UserLive | None") -> None:

    from natsops.auth.userview import effective_view
    from natsops.cli import output
    from natsops.cli._js import kv_lines

    kv_lines(rows)
    if state is None:
        return
    output.table(f"live connections of {state.user} ({state.servers_asked} server(s) asked)",
                 ["server", "cid", "name", "ip", "JWT"],
                 [(c.server, c.cid, c.name, c.ip, "current" if c.current else f"older (iat "
                   f"{c.iat})") for c in state.connections])
    if state.permissions is not None:
        typer.echo("effective permissions ($SYS.REQ.USER.INFO, as the server resolved them):")
        kv_lines(effective_view(state.permissions))
    elif state.permissions_note:
        output.info(state.permissions_note)
    for note in state.notes:
        output.info(note)
