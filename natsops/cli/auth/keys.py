"""``natsops auth keys``: the seeds the key store holds (public keys and paths only)."""

from typing import TYPE_CHECKING

import typer

from natsops.cli.auth import _common
from natsops.cli.auth._common import YesForce
from natsops.cli.options import DryRun, Json
from natsops.cli.state import want_json

if TYPE_CHECKING:
    from pathlib import Path

    from natsops.auth.keys import KeyEntry, PruneReport

app = typer.Typer(help="The key store: which seeds exist and where (never the seeds).",
                  no_args_is_help=True)


@app.command("ls")
def keys_ls(ctx: typer.Context, json_out: Json = False) -> None:
    """List every key the store's JWTs name and every seed file: owner, seed yes/no, path.

    Seeds are never printed; a seed file that does not match its name or that others can read
    is flagged, and seed files no JWT names are marked orphan (natsops auth keys prune).
    """
    from natsops.auth.keys import list_keys
    from natsops.cli import output

    store = _common.store(ctx)
    keys = list_keys(store)
    if want_json(ctx, json_out):
        output.print_json({"store": store.root, "keys": keys})
    elif not keys:
        typer.echo(f"(no keys in {store.root / 'keys' / 'keys'})")
    else:
        _table(store.root / "keys" / "keys", keys)


def _table(where: "Path", keys: "list[KeyEntry]") -> None:
    from natsops.cli import output

    output.table(f"keys in {where}",
                 ["public key", "owner", "seed", output.Col("path / problem", wrap=True)],
                 [(k.public_key, k.owner, "orphan" if k.orphan else "yes" if k.seed else "no",
                   k.problem or (str(k.path) if k.path else "-")) for k in keys])
    orphans = sum(k.orphan for k in keys)
    if orphans:
        output.info(f"{orphans} orphan seed(s): no JWT of the store names them; move them out "
                    "of the key store with: natsops auth keys prune")


@app.command("prune")
def keys_prune(ctx: typer.Context, yes: YesForce = False, dry_run: DryRun = False,
               json_out: Json = False) -> None:
    """Move orphan seeds (no JWT of the store names them) to <store>/keys/retired/.

    Shows the seeds first and asks. Moved, not deleted: nsc and natsops no longer see them;
    delete that folder once every server has the JWTs that dropped those keys. A signing-key
    rotation retires the key it replaced by itself.
    """
    from natsops.auth.keys import prune_keys
    from natsops.cli.prompt import confirm

    store = _common.store(ctx)
    report = prune_keys(store, dry_run=True)
    _plan(report)
    if report.orphans and not dry_run:
        confirm(f"move {len(report.orphans)} orphan seed(s) to {report.retired_dir}?", force=yes)
        report = prune_keys(store)
    _done(ctx, report, json_out)


def _plan(report: "PruneReport") -> None:
    from natsops.cli import output

    if not report.orphans:
        output.info("no orphan seeds: every seed file belongs to a key a JWT of the store names")
    for k in report.orphans:
        output.info(f"orphan seed {k.public_key} ({k.path})")


def _done(ctx: typer.Context, report: "PruneReport", json_out: bool) -> None:
    from natsops.cli import output

    if want_json(ctx, json_out):
        output.print_json(report)
    elif report.orphans:
        verb = "would move" if report.dry_run else "moved"
        output.success(f"{verb} {len(report.orphans)} seed(s) to {report.retired_dir}")
