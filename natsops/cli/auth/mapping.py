"""``natsops auth account mapping``: weighted, cluster-scoped subject mappings of an account."""

from typing import Annotated

import typer

from natsops.cli.auth import _common, _edits
from natsops.cli.options import DryRun, Json
from natsops.cli.state import want_json

app = typer.Typer(help="Subject mappings of an account (weighted, per cluster); push to apply.",
                  no_args_is_help=True)

Account = Annotated[str, typer.Argument(help="Account name")]
From = Annotated[str, typer.Option("--from", help="Subject to map (wildcards allowed)")]
Cluster = Annotated[str | None, typer.Option("--cluster", help="Only in this cluster")]


@app.command("add")
def mapping_add(
    ctx: typer.Context,
    account: Account,
    source: From,
    to: Annotated[str, typer.Option("--to", help="Destination, e.g. orders.v2.{{wildcard(1)}}")],
    weight: Annotated[int, typer.Option("--weight", help="Percent of the messages")] = 100,
    cluster: Cluster = None,
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Map a subject to a destination for WEIGHT percent of its messages (repeat per target).

    Weights of one subject (per cluster) add up to at most 100; the rest keeps its subject.
    """
    from natsops.auth.mappings import MappingTarget, add_mapping

    store, op = _common.target(ctx)
    edit = add_mapping(store, op, account, MappingTarget(source, to, weight, cluster),
                       dry_run=dry_run)
    _edits.emit_edits(ctx, [edit], json_out)


@app.command("rm")
def mapping_rm(
    ctx: typer.Context,
    account: Account,
    source: From,
    to: Annotated[str | None, typer.Option("--to", help="Only this destination")] = None,
    cluster: Cluster = None,
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Remove the mapping of a subject (or one of its destinations)."""
    from natsops.auth.mappings import remove_mapping

    store, op = _common.target(ctx)
    edit = remove_mapping(store, op, account, source, to, cluster=cluster, dry_run=dry_run)
    _edits.emit_edits(ctx, [edit], json_out)


@app.command("ls")
def mapping_ls(ctx: typer.Context, account: Account, json_out: Json = False) -> None:
    """List the account's mappings as stored."""
    from natsops.auth.mappings import list_mappings
    from natsops.cli import output

    store, op = _common.target(ctx)
    rows = list_mappings(store, op, account)
    if want_json(ctx, json_out):
        output.print_json({"account": account, "mappings": [vars(r) for r in rows]})
        return
    output.table(f"mappings of {account}", ["from", "to", "weight", "cluster"],
                 [(r.source, r.subject, f"{r.weight}%", r.cluster or "-") for r in rows])
