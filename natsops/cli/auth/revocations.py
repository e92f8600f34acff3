"""``natsops auth revocations``: revoked users and activations, listed, added, removed."""

from typing import TYPE_CHECKING, Annotated

import typer

from natsops.cli.auth import _common
from natsops.cli.options import DryRun, Force, Json
from natsops.cli.state import want_json

if TYPE_CHECKING:
    from natsops.auth.revocations import Target

app = typer.Typer(
    help="Revoked users and activations (account JWT revocations; push to apply).",
    no_args_is_help=True,
    epilog="""\b
Examples:
  natsops auth revocations add -a APP -n service   # then: auth push -a APP
  natsops auth revocations add -a APP -n '*' --at 2026-01-31T00:00:00Z
  natsops auth revocations add -a APP --export svc.> --importer OTHER
  natsops auth revocations rm -a APP -n service
  natsops auth revocations ls --json
""",
)

Account = Annotated[str, typer.Option("--account", "-a", help="Account whose JWT holds them")]
User = Annotated[str | None, typer.Option(
    "--name", "-n", help="User: name, public key (U...) or '*' for every user")]
Export = Annotated[str | None, typer.Option(
    "--export", help="Exported subject whose activation tokens to revoke")]
Importer = Annotated[str | None, typer.Option(
    "--importer", help="With --export: importing account (name, A... key or '*')")]


def _target(user: str | None, export: str | None, importer: str | None) -> "Target":
    from natsops.auth.revocations import Target

    return Target(user=user, export=export, importer=importer)


@app.command("ls")
def revocations_ls(
    ctx: typer.Context,
    account: Annotated[str | None, typer.Option("--account", "-a", help="Only this account")] = None,
    json_out: Json = False,
) -> None:
    """List the revocations of every account (or one): user keys and activation importers."""
    import time

    from natsops.auth.revocations import list_revocations
    from natsops.cli import output

    items = list_revocations(*_common.target(ctx), account)
    if want_json(ctx, json_out):
        output.print_json({"revocations": items})
        return
    output.table("revocations", ["account", "kind", "key", "name", "export", "issued until (UTC)"],
                 [(r.account, r.kind, r.key, r.name or "-", r.export or "-",
                   time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r.at))) for r in items])


@app.command("add")
def revocations_add(
    ctx: typer.Context,
    account: Account,
    user: User = None,
    export: Export = None,
    importer: Importer = None,
    at: Annotated[str | None, typer.Option(
        "--at", help="Revoke JWTs issued at or before: now (default), unix seconds or ISO 8601 "
        "(2026-01-31T12:00:00Z)")] = None,
    force: Force = False,
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Revoke a user (or every user issued before --at) or an importer's activation tokens.

    The account JWT is re-signed in the store; `natsops auth push` sends it, and the server
    closes the revoked connections.
    """
    from natsops.auth.revocations import add_revocation, parse_time
    from natsops.cli.prompt import confirm

    target, when = _target(user, export, importer), parse_time(at)
    if not dry_run:  # a user or account that does not exist is said before any question
        add_revocation(*_common.target(ctx), account, target, at=when, dry_run=True)
        confirm(f"revoke {user or f'{importer} on {export}'} in account {account}?", force=force)
    _common.change(ctx, json_out, add_revocation, account, target, at=when, dry_run=dry_run)


@app.command("rm")
def revocations_rm(
    ctx: typer.Context,
    account: Account,
    user: User = None,
    export: Export = None,
    importer: Importer = None,
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Remove a revocation: once the account is pushed the same creds work again."""
    from natsops.auth.revocations import remove_revocation

    _common.change(ctx, json_out, remove_revocation, account, _target(user, export, importer),
                   dry_run=dry_run)
