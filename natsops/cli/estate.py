"""``natsops plan`` / ``apply`` / ``export``: the JetStream estate from recipe files in git."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from natsops.cli import options
from natsops.cli._run import call
from natsops.cli.state import want_json

if TYPE_CHECKING:
    from natsops.estate.model import ApplyReport, Plan

plan_app = typer.Typer()
apply_app = typer.Typer()
export_app = typer.Typer()

FilesArg = Annotated[list[Path], typer.Argument(
    help="Recipe files or directories (YAML, one resource per document)", show_default=False)]
Prune = Annotated[bool, typer.Option(
    "--prune", help="Delete live resources natsops manages (natsops.io/managed-by metadata) "
    "that are not in the recipes; others are never touched")]


def _emit_plan(plan: "Plan", as_json: bool) -> None:
    from natsops.cli import output
    from natsops.estate.report import plan_json, plan_lines

    if as_json:
        output.print_json(plan_json(plan))
        return
    for line in plan_lines(plan):
        output.out().print(line, markup=False, highlight=False)


def _emit_report(report: "ApplyReport", plan: "Plan", as_json: bool) -> None:
    from natsops.cli import output
    from natsops.estate.report import apply_json, apply_lines, plan_json

    if as_json:
        output.print_json({"plan": plan_json(plan), "apply": apply_json(report)})
    else:
        for line in apply_lines(report):
            output.out().print(line, markup=False, highlight=False)
    if report.error is not None:
        ran = sum(s.ok for s in report.steps)
        report.error.hint = (f"{ran} step(s) applied and kept, {len(report.not_run)} not run; "
                             "fix the cause and run apply again: it continues from there")
        raise report.error


@plan_app.command("plan")
def plan(
    ctx: typer.Context,
    files: FilesArg,
    prune: Prune = False,
    check: Annotated[bool, typer.Option(
        "--check", help="Exit 5 (PENDING) when there are changes to apply (for CI)")] = False,
    store: options.AuthStore = None,
    operator: options.AuthOperator = None,
    json_out: options.Json = False,
) -> None:
    """Show what apply would change: create, update (field by field), recreate, delete.

    Reads the live state once (paged listings), compares it with the recipes and prints a
    terraform-like plan. Exit codes: 0 (with --check: no changes), 5 changes pending (only
    with --check), 2 bad recipe (file:line and field named). Account and User recipes use
    the auth store of --store and --operator (as `natsops auth` does).

    \b
    Examples:
      natsops plan recipes/estate
      natsops plan estate/ --check   # CI: fail when production drifted
      natsops plan estate/ --prune --json
      natsops plan recipes/auth --store ./store --operator DEMO
    """
    from natsops.errors import Pending
    from natsops.estate import AuthStore, load_resources
    from natsops.estate.plan import plan_recipes

    auth = AuthStore(store, operator)
    result = call(ctx, plan_recipes, load_resources(files), prune=prune, auth=auth)
    _emit_plan(result, want_json(ctx, json_out))
    if check and result.pending:
        raise Pending(f"{len(result.pending)} change(s) pending", hint="natsops apply")


@apply_app.command("apply")
def apply(
    ctx: typer.Context,
    files: FilesArg,
    prune: Prune = False,
    yes: Annotated[bool, typer.Option(
        "--yes", "-y", "--force",
        help="Do not ask before deleting, recreating or removing a role")] = False,
    allow_recreate: Annotated[bool, typer.Option(
        "--allow-recreate", help="Recreate streams that hold messages, after a verified "
        "backup")] = False,
    backup_dir: Annotated[Path, typer.Option(
        "--backup-dir", help="Where --allow-recreate puts its backups")] = Path("natsops-backups"),
    store: options.AuthStore = None,
    operator: options.AuthOperator = None,
    dry_run: options.DryRun = False,
    json_out: options.Json = False,
) -> None:
    """Make the live estate match the recipes: the plan, then each step in dependency order.

    Streams and buckets before consumers; deletes (only with --prune, only of resources
    natsops manages) first, consumers before their streams. Asks before a delete, a recreate
    or an account role removal (its users lose access) unless --yes; refuses to recreate a stream that holds messages unless --allow-recreate,
    which takes a verified backup first and says where. Replica and placement changes go
    through `stream edit`'s path and wait until the new replicas are current. A failed step
    stops the run: what ran stays applied and is listed; running apply again continues.
    Account and User recipes use the auth store of --store and --operator.

    \b
    Examples:
      natsops apply recipes/estate --dry-run
      natsops apply estate/ --prune --yes
      natsops apply estate/ --allow-recreate --backup-dir /backups
    """
    from natsops.cli import output
    from natsops.cli.prompt import confirm
    from natsops.estate import ApplyOptions, AuthStore, load_resources
    from natsops.estate.apply import apply_recipes, refuse_data_loss
    from natsops.estate.plan import plan_recipes

    auth = AuthStore(store, operator)
    result = call(ctx, plan_recipes, load_resources(files), prune=prune, auth=auth)
    as_json = want_json(ctx, json_out)
    if not as_json or dry_run or not result.pending:
        _emit_plan(result, as_json)
    if dry_run or not result.pending:
        return
    refuse_data_loss(result, allow_recreate)  # before asking: no question to refuse after
    if result.destructive:
        confirm(f"Delete, recreate or remove roles of {len(result.destructive)} resource(s)?",
                force=yes)
    opts = ApplyOptions(allow_recreate=allow_recreate, backup_dir=backup_dir)
    _emit_report(call(ctx, apply_recipes, result, opts, output.info, auth), result, as_json)


@export_app.command("export")
def export(
    ctx: typer.Context,
    names: Annotated[list[str] | None, typer.Argument(
        help="Streams, KV buckets or object stores to export", show_default=False)] = None,
    everything: Annotated[bool, typer.Option(
        "--all", "-a", help="Export everything: streams, consumers, buckets, and accounts "
        "with their users when the auth store is known")] = False,
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Folder for the recipe files (created if missing)")] = Path("."),
    account: Annotated[list[str] | None, typer.Option(
        "--account", help="Also export this account of the auth store, as the servers hold "
                          "it, roles and users included (repeatable)")] = None,
    store: options.AuthStore = None,
    operator: options.AuthOperator = None,
    dry_run: options.DryRun = False,
    json_out: options.Json = False,
) -> None:
    """Write the live streams, consumers and buckets (and accounts, users) as recipe files.

    Server-set defaults and metadata are left out, so `natsops plan` on the files shows no
    change. One file per stream (with its durable consumers), per bucket and per account
    (with its users: permissions, limits, role, expiry, bearer; never a key, seed or JWT;
    revoked and expired users left out). --all exports every account but the system
    account with --store/--operator, or when the default auth store holds the operator the
    servers run; otherwise one stderr line says why accounts and users were not exported.

    \b
    Examples:
      natsops export --all --out estate/
      natsops export --all --store ./store --operator DEMO --out estate/
      natsops export ORDERS SESSIONS --out estate/
      natsops export --account APP --store ./store --out auth/
    """
    from natsops.cli import output
    from natsops.estate import AuthStore
    from natsops.estate.export import check_selection, export_live, write_export

    check_selection(names or [], everything, account or [], out)
    found = call(ctx, export_live, names or [], everything=everything, accounts=account or [],
                 auth=AuthStore(store, operator))
    paths = write_export(found.files, out, dry_run=dry_run)
    if found.skipped_auth:
        output.info(found.skipped_auth)
    if want_json(ctx, json_out):
        return output.print_json([str(p) for p in paths])
    for p in paths:
        output.out().print(str(p), markup=False, highlight=False)
    output.success(f"{len(paths)} recipe file(s) {'would be ' if dry_run else ''}written to {out}")
