"""``natsops auth account export`` and ``... import``: what accounts share with each other."""

from pathlib import Path
from typing import Annotated

import typer

from natsops.cli.auth import _common
from natsops.cli.auth._common import AccountOpt
from natsops.cli.options import DryRun, Json
from natsops.errors import UsageError

export_app = typer.Typer(help="Services and streams an account exports.", no_args_is_help=True)
import_app = typer.Typer(help="Services and streams an account imports.", no_args_is_help=True)


@export_app.command("add")
def export_add(
    ctx: typer.Context,
    subject: Annotated[str, typer.Argument(help="Subject to export, e.g. svc.time")],
    account: AccountOpt,
    stream: Annotated[
        bool, typer.Option("--stream/--service", help="Export a stream (default: a service)")
    ] = False,
    name: Annotated[
        str | None, typer.Option("--name", help="Export name [default: the subject]")
    ] = None,
    private: Annotated[
        bool, typer.Option("--private", help="Importers need an activation token")
    ] = False,
    response_type: Annotated[
        str | None, typer.Option("--response-type", help="Singleton, Stream or Chunked (services)")
    ] = None,
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Export a service or a stream from an account."""
    from natsops.auth import ops

    spec = ops.ExportSpec(subject, "stream" if stream else "service", name, private, response_type)
    _common.change(ctx, json_out, ops.add_export, account, spec, dry_run=dry_run)


@export_app.command("rm")
def export_rm(
    ctx: typer.Context,
    subject: Annotated[str, typer.Argument(help="Exported subject")],
    account: AccountOpt,
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Stop exporting a subject."""
    from natsops.auth import ops

    _common.change(ctx, json_out, ops.remove_export, account, subject, dry_run=dry_run)


@export_app.command("token")
def export_token(
    ctx: typer.Context,
    subject: Annotated[str, typer.Argument(help="Exported subject")],
    account: AccountOpt,
    target: Annotated[str, typer.Option("--to", help="Importing account (name or A… key)")],
    output_file: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the token to this file")
    ] = None,
) -> None:
    """Issue an activation token for a private export (a JWT: public, not a secret)."""
    from natsops.auth import ops

    store, op = _common.target(ctx)
    token = ops.generate_activation(store, op, account, subject, target)
    if output_file:
        output_file.write_text(token + "\n")
    else:
        typer.echo(token)


@import_app.command("add")
def import_add(
    ctx: typer.Context,
    subject: Annotated[str, typer.Argument(help="Subject the other account exports")],
    account: AccountOpt,
    source: Annotated[str, typer.Option("--from", help="Exporting account (name or A… key)")],
    stream: Annotated[
        bool, typer.Option("--stream/--service", help="Import a stream (default: a service)")
    ] = False,
    local_subject: Annotated[
        str | None, typer.Option("--local-subject", help="Subject inside this account")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Import name")] = None,
    token: Annotated[
        Path | None, typer.Option("--token", help="Activation token file (private exports)")
    ] = None,
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Import a service or a stream another account exports."""
    from natsops.auth import ops

    kind = "stream" if stream else "service"
    spec = ops.ImportSpec(subject, source, kind, local_subject, name, _read_token(token))
    _common.change(ctx, json_out, ops.add_import, account, spec, dry_run=dry_run)


def _read_token(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise UsageError(f"cannot read token file {path}: {exc.strerror}") from None


@import_app.command("rm")
def import_rm(
    ctx: typer.Context,
    subject: Annotated[str, typer.Argument(help="Imported subject")],
    account: AccountOpt,
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Remove an import."""
    from natsops.auth import ops

    _common.change(ctx, json_out, ops.remove_import, account, subject, dry_run=dry_run)
