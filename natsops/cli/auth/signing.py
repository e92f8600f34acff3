"""``natsops auth account signing-key``: signing keys and roles (scoped keys with a template)."""

from typing import TYPE_CHECKING, Annotated

import typer

from natsops.cli.auth import _common, _edits
from natsops.cli.options import DryRun, Force, Json
from natsops.cli.prompt import confirm
from natsops.cli.state import want_json

if TYPE_CHECKING:
    from natsops.auth.edit import UserEdit

app = typer.Typer(help="Account signing keys; roles: scoped keys whose users get a permission "
                       "template.", no_args_is_help=True)

Account = Annotated[str, typer.Argument(help="Account name")]
RoleRef = Annotated[str, typer.Option("--role", help="Role name or its public key")]
Description = Annotated[str | None, typer.Option("--description", help="What it is for")]


@app.command("add")
@_edits.with_template
def signing_add(
    ctx: typer.Context,
    account: Account,
    role: Annotated[str, typer.Option("--role", help="Role name (a scoped signing key)")],
    *,
    template: "UserEdit",
    description: Description = None,
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Add a role: a signing key whose users get its permission template from the server.

    Issue users through it with: natsops auth user add NAME --account A --role ROLE
    """
    from natsops.auth.roles import add_role

    store, op = _common.target(ctx)
    edit = add_role(store, op, account, role, template, description=description, dry_run=dry_run)
    _edits.emit_edits(ctx, [edit], json_out)


@app.command("edit")
@_edits.with_template
def signing_edit(
    ctx: typer.Context,
    account: Account,
    role: RoleRef,
    *,
    template: "UserEdit",
    description: Description = None,
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Change a role's template (the same key: its users keep working).

    Once the account is pushed, the server disconnects the role's connected users; they get
    the new template when they reconnect.
    """
    from natsops.auth.roles import edit_role

    store, op = _common.target(ctx)
    edit = edit_role(store, op, account, role, template, description=description,
                     dry_run=dry_run)
    _edits.emit_edits(ctx, [edit], json_out)


@app.command("rm")
def signing_rm(
    ctx: typer.Context,
    account: Account,
    role: RoleRef,
    force: Force = False,
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Remove a role's key: once the account is pushed, its users can no longer connect.

    The key's seed moves to <store>/keys/retired/.
    """
    from natsops.auth.roles import find_role, remove_role

    store, op = _common.target(ctx)
    r = find_role(store, op, account, role)
    if not dry_run:
        confirm(f"remove role {r.role} ({r.key}) of {account}? Users issued through it lose "
                "access once the account is pushed", force=force)
    _edits.emit_edits(ctx, [remove_role(store, op, account, role, dry_run=dry_run)], json_out)


@app.command("ls")
def signing_ls(ctx: typer.Context, account: Account, json_out: Json = False) -> None:
    """List the account's signing keys and roles (public keys; whether the store has the seed)."""
    import json

    from natsops.auth.roles import list_roles
    from natsops.cli import output

    store, op = _common.target(ctx)
    acc, roles = store.account(op, account), list_roles(store, op, account)
    plain = [k for k in acc.signing_keys if k not in {r.key for r in roles}]
    if want_json(ctx, json_out):
        output.print_json({"account": account, "signing_keys": plain,
                           "roles": [vars(r) for r in roles]})
        return
    rows = [("-", k, "yes" if store.has_key(k) else "no", "-") for k in plain]
    rows += [(r.role, r.key, "yes" if r.has_seed else "no",
              json.dumps(r.template, sort_keys=True)) for r in roles]
    output.table(f"signing keys of {account}", ["role", "key", "seed", "template"], rows)
