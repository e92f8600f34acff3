"""``natsops auth creds``: creds files (user JWT + seed, written 0600)."""

from pathlib import Path
from typing import Annotated

import typer

from natsops.cli.auth import _common
from natsops.cli.auth._common import AccountOpt
from natsops.cli.options import DryRun, Force, Json
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
    context: Annotated[
        str | None,
        typer.Option(
            "--context",
            help="Also write this natscli context for the user (creds: the file written, "
            "without -o the store's copy; URL: --server or the operator's service URLs)",
            show_default=False,
        ),
    ] = None,
    select: Annotated[bool, typer.Option("--select", help="Select the --context")] = False,
    force: Force = False,
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Write a user's creds (JWT + seed) to -o FILE (0600), or to stdout when piped (as nsc).

    On a terminal the creds (a secret) are not printed: redirect stdout or give -o. An
    existing -o file (or --context) is replaced only after asking (or with --force).
    --dry-run names the files it would write (never the creds) and writes nothing.

    \b
    Examples:
      natsops auth creds generate -a APP -n service > app.creds
      natsops auth creds generate -a APP -n service -o ~/.nats/app.creds --force
      natsops auth creds generate -a APP -n service --context app-service --select
    """
    from natsops.auth import ops
    from natsops.cli import output

    if dry_run:
        return _dry_run(ctx, account, name, output_file, context, select, json_out)
    if context:
        return _with_context(ctx, account, name, output_file, context, select, force, json_out)
    store, op = _common.target(ctx)
    if output_file is None:
        return _to_stdout(ops.creds_text(store, op, account, name), account, name,
                          want_json(ctx, json_out))
    _check_output(output_file, account, name, force)
    change = ops.generate_creds(store, op, account, name, output_file)
    if want_json(ctx, json_out):
        _common.emit_changes(ctx, [change], True)
        return
    output.success(f"wrote creds for {account}/{name} to {change.path} (mode 0600)")
    typer.echo(str(change.path))


def _check_output(output_file: Path, account: str, name: str, force: bool) -> None:
    """A usable -o path; an existing file is replaced only after asking (or --force)."""
    from natsops.auth import ops
    from natsops.cli.prompt import confirm

    ops.check_creds_output(output_file)
    if output_file.exists():
        confirm(f"Replace {output_file} with new creds for {account}/{name}?", force=force)


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


def _with_context(ctx: typer.Context, account: str, name: str, output_file: Path | None,
                  context: str, select: bool, force: bool, json_out: bool) -> None:
    """Write the creds (to -o or the store) and a natscli context that uses them."""
    from natsops.auth import ops
    from natsops.auth.creds_context import write_creds_context
    from natsops.cli import output
    from natsops.cli.prompt import confirm
    from natsops.cli.state import get_state
    from natsops.context import list_contexts

    store, op = _common.target(ctx)
    state = get_state(ctx)
    if output_file is not None:
        _check_output(output_file, account, name, force)
    if context in list_contexts(state.env):
        confirm(f"Replace context {context}?", force=force)
    change = ops.generate_creds(store, op, account, name, output_file)
    assert change.path is not None
    path = write_creds_context(store, op, account, name, change.path, context, state.settings,
                               state.env, select=select, replace=True)
    if want_json(ctx, json_out):
        output.print_json({"changes": [change], "context": {"name": context, "path": path}})
        return
    output.success(f"wrote creds for {account}/{name} to {change.path} (mode 0600)")
    output.success(f"wrote context {context} ({path})" + (", selected" if select else ""))


def _dry_run(ctx: typer.Context, account: str, name: str, output_file: Path | None,
             context: str | None, select: bool, json_out: bool) -> None:
    """What ``creds generate`` would write (the creds file, the context), all checked."""
    from natsops.auth import ops
    from natsops.auth.creds_context import write_creds_context
    from natsops.cli import output
    from natsops.cli.state import get_state

    store, op = _common.target(ctx)
    state = get_state(ctx)
    to_file = output_file is not None or context is not None  # else: the creds on stdout
    change = ops.generate_creds(store, op, account, name, output_file, dry_run=True)
    path = None if context is None else write_creds_context(
        store, op, account, name, change.path or Path(), context, state.settings, state.env,
        select=select, replace=True, dry_run=True)
    if want_json(ctx, json_out):
        ctx_doc = None if path is None else {"name": context, "path": path, "selected": select}
        output.print_json({"changes": [change] if to_file else [], "context": ctx_doc,
                           "dry_run": True})
        return
    where = change.path if to_file else "stdout"
    output.success(f"would write creds for {account}/{name} to {where} (mode 0600)")
    if path is not None:
        output.success(f"would write context {context} ({path})"
                       + (", selected" if select else ""))
