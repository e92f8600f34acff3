"""``natsops auth creds``: creds files (user JWT + seed, written 0600)."""

from pathlib import Path
from typing import Annotated

import typer

from natsops.cli.auth import _common
from natsops.cli.auth._common import AccountOpt
from natsops.cli.options import Json
from natsops.cli.state import want_json

app = typer.Typer(help="Creds files (user JWT + seed, written 0600).", no_args_is_help=True)


@app.command("generate")
def creds_generate(
    ctx: typer.Context,
    account: AccountOpt,
    name: Annotated[str, typer.Option("--name", "-n", help="User name")],
    output_file: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Creds file to write (0600) [default: in the store]",
            show_default=False,
        ),
    ] = None,
    json_out: Json = False,
) -> None:
    """Write a user's creds file (0600). The seed is never printed."""
    from natsops.auth import ops
    from natsops.cli import output

    store, op = _common.target(ctx)
    change = ops.generate_creds(store, op, account, name, output_file)
    if want_json(ctx, json_out):
        _common.emit_changes(ctx, [change], True)
        return
    output.success(f"wrote creds for {account}/{name} to {change.path} (mode 0600)")
    typer.echo(str(change.path))
