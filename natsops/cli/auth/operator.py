"""``natsops auth operator``: the operator (the root of trust)."""

from typing import Annotated

import typer

from natsops.cli.auth import _common
from natsops.cli.options import DryRun, Json

app = typer.Typer(help="The operator (the root of trust).", no_args_is_help=True)

AccountServerUrl = Annotated[str | None, typer.Option(
    "--account-jwt-server-url", help="Where push/pull go, e.g. nats://host:4222")]


@app.command("add")
def operator_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Operator name")],
    sys: Annotated[
        bool,
        typer.Option("--sys/--no-sys", help="Also create the system account SYS and its user sys"),
    ] = True,
    account_jwt_server_url: AccountServerUrl = None,
    service_url: Annotated[
        list[str] | None, typer.Option("--service-url", help="Server URL for tools (repeatable)")
    ] = None,
    signing_key: Annotated[
        bool,
        typer.Option(
            "--signing-key", help="Create an operator signing key and sign accounts with it"
        ),
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="strict_signing_key_usage (needs --signing-key)")
    ] = False,
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Create an operator (with --sys: the system account and its sys user)."""
    from natsops.auth import ops

    changes = ops.add_operator(
        _common.store(ctx),
        name,
        sys=sys,
        account_server_url=account_jwt_server_url,
        service_urls=tuple(service_url or ()),
        signing_key=signing_key,
        strict=strict,
        dry_run=dry_run,
    )
    _common.emit_changes(ctx, changes, json_out)


@app.command("edit")
def operator_edit(
    ctx: typer.Context,
    account_jwt_server_url: AccountServerUrl = None,
    service_url: Annotated[
        list[str] | None,
        typer.Option("--service-url", help="Server URL for tools (repeatable; replaces the list)"),
    ] = None,
    add_signing_key: Annotated[
        bool, typer.Option("--add-signing-key", help="Add an operator signing key")
    ] = False,
    rm_signing_key: Annotated[
        list[str] | None,
        typer.Option("--rm-signing-key", help="Remove this operator signing key (repeatable)"),
    ] = None,
    require_signing_keys: Annotated[
        bool | None,
        typer.Option(
            "--require-signing-keys/--no-require-signing-keys",
            help="strict_signing_key_usage: accounts and users must be signed by signing keys",
            show_default=False,
        ),
    ] = None,
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Change the operator JWT (servers need a restart to see it).

    With --require-signing-keys the notes name every account and user the stricter servers
    would refuse until re-signed.
    """
    from natsops.auth import ops

    _common.change(
        ctx,
        json_out,
        ops.edit_operator,
        account_server_url=account_jwt_server_url,
        service_urls=tuple(service_url) if service_url else None,
        add_signing_key=add_signing_key,
        strict=require_signing_keys,
        remove_signing_keys=tuple(rm_signing_key or ()),
        dry_run=dry_run,
    )
