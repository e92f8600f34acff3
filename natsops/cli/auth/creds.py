"""``natsops auth creds``: creds files (user JWT + seed, written 0600)."""

from pathlib import Path
from typing import Annotated

import typer

from natsops.cli.auth import _common
from natsops.cli.auth._common import AccountOpt
from natsops.cli.options import Force, Json
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
            help="Creds file to write (0600; its directory must exist) [default: stdout, "
            "when it is not a terminal]",
            show_default=False,
        ),
    ] = None,
    force: Force = False,
    json_out: Json = False,
) -> None:
    """Write a user's creds (JWT + seed) to -o FILE (0600), or to stdout when piped (as nsc).

    On a terminal the creds (a secret) are not printed: redirect stdout or give -o. An
    existing -o file is replaced only after asking (or with --force).

    \b
    Examples:
      natsops auth creds generate -a APP -n service > app.creds
      natsops auth creds generate -a APP -n service -o ~/.nats/app.creds --force
    """
    from natsops.auth import ops
    from natsops.cli import output

    store, op = _common.target(ctx)
    if output_file is None:
        return _to_stdout(ops.creds_text(store, op, account, name), account, name,
                          want_json(ctx, json_out))
    ops.check_creds_output(output_file)
    if output_file.exists():
        from natsops.cli.prompt import confirm

        confirm(f"Replace {output_file} with new creds for {account}/{name}?", force=force)
    change = ops.generate_creds(store, op, account, name, output_file)
    if want_json(ctx, json_out):
        _common.emit_changes(ctx, [change], True)
        return
    output.success(f"wrote creds for {account}/{name} to {change.path} (mode 0600)")
    typer.echo(str(change.path))


def _to_stdout(creds: str, account: str, name: str, as_json: bool) -> None:
    """nsc's form (``> file``): the creds on stdout, never onto a terminal's screen."""
    import sys

    from natsops.cli import output
    from natsops.errors import UsageError

    if as_json:
        raise UsageError("--json needs -o FILE: without it stdout carries the creds")
    if output.out().is_terminal:
        raise UsageError("not printing creds (a secret) to the terminal",
                         hint=f"redirect them (natsops auth creds generate -a {account} -n "
                         f"{name} > {name}.creds) or give -o FILE")
    sys.stdout.write(creds)
    sys.stdout.flush()
