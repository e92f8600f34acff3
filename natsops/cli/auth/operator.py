"""``natsops auth operator``: the operator (the root of trust)."""

from typing import TYPE_CHECKING, Annotated

import typer

from natsops.cli.auth import _common
from natsops.cli.auth._common import SysCreds, Wait, YesForce
from natsops.cli.options import DryRun, Json
from natsops.cli.state import want_json

if TYPE_CHECKING:
    from natsops.auth.operator_rules import ResignPlan, ResignReport
    from natsops.auth.ops import Change

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
    resign: Annotated[bool, typer.Option(
        "--resign", help="Also re-sign what the edited operator would refuse (accounts by an "
                         "operator signing key, users through an account signing key, same "
                         "user keys), then push the accounts")] = False,
    no_push: Annotated[bool, typer.Option(
        "--no-push", help="With --resign: change the store only (push later)")] = False,
    sys_creds: SysCreds = None,
    wait: Wait = "2s",
    yes: YesForce = False,
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Change the operator JWT (servers need a restart to see it).

    Without --resign, the notes name every account and user the edited operator would refuse
    (--require-signing-keys, --rm-signing-key). With --resign they are fixed: the plan is shown,
    confirmed (unless --yes), the store re-signed and the accounts pushed while the servers
    still run the old operator JWT. Users keep their keys, but their creds files are rewritten:
    replace every deployed copy before restarting the servers with the strict operator JWT.
    """
    from functools import partial

    from natsops.auth import ops
    from natsops.auth.operator_rules import plan_resign
    from natsops.auth.operator_rules import resign as resign_store
    from natsops.cli._run import run
    from natsops.units import parse_duration

    (store, op), timeout = _common.target(ctx), parse_duration(wait, what="--wait")
    removed = tuple(rm_signing_key or ())
    edit = partial(ops.edit_operator, store, op, account_server_url=account_jwt_server_url,
                   service_urls=tuple(service_url) if service_url else None,
                   add_signing_key=add_signing_key, strict=require_signing_keys,
                   remove_signing_keys=removed)
    if not resign:
        _only_with_resign(no_push=no_push, sys_creds=sys_creds is not None, yes=yes)
        return _common.emit_changes(ctx, [edit(dry_run=dry_run)], json_out)
    plan = _show_plan(plan_resign(store, op, strict=require_signing_keys, remove=removed,
                                  adding_key=add_signing_key, push=not no_push), dry_run, no_push, yes)
    change = edit(dry_run=dry_run)
    access = None if no_push or dry_run else _common.sys_settings(ctx, sys_creds)
    report = run(resign_store(store, op, plan, access, timeout=timeout, dry_run=dry_run))
    _print_resign(ctx, change, report, json_out)


def _only_with_resign(**given: bool) -> None:
    from natsops.errors import UsageError

    named = [f"--{k.replace('_', '-')}" for k, v in given.items() if v]
    if named:
        raise UsageError(f"{', '.join(named)}: only with --resign")


def _show_plan(plan: "ResignPlan", dry_run: bool, no_push: bool, yes: bool) -> "ResignPlan":
    """The re-signing plan on stderr; then ask (unless a dry run, nothing to do, or --yes)."""
    from natsops.cli import output
    from natsops.cli.prompt import confirm

    if plan.empty():
        output.info("nothing to re-sign: every account and user is signed as the operator "
                    "requires")
        return plan
    output.info("plan" + (" (dry run: nothing changes)" if dry_run else "") + ":")
    for name in plan.accounts:
        output.info(f"  re-sign account {name} by an operator signing key")
    for name in plan.new_signing_keys:
        output.info(f"  add an account signing key to {name}")
    for acc, user in plan.users:
        output.info(f"  re-issue user {acc}/{user} through {acc}'s signing key (same user key)")
    if plan.pushed:
        output.info(f"  push {', '.join(plan.pushed)}" + (" (not: --no-push)" if no_push else ""))
    if not dry_run:
        confirm(f"re-sign {len(plan.pushed)} account(s) and {len(plan.users)} user(s)"
                + ("" if no_push else ", then push") + "?", force=yes)
    return plan


def _print_resign(ctx: typer.Context, change: "Change", report: "ResignReport",
                  json_out: bool) -> None:
    from dataclasses import replace

    from natsops.auth.operator_rules import plan_notes
    from natsops.cli import output

    if want_json(ctx, json_out):
        output.print_json({"changes": [dict(vars(change))], "resign": report})
        return
    planned = plan_notes(report.plan)  # shown as the plan already
    _common.emit_changes(ctx, [replace(change, notes=tuple(
        n for n in change.notes if n not in planned))], False)
    for step in report.steps:
        output.success(step)
    if report.redeploy:
        verb = "would rewrite" if report.dry_run else "rewrote"
        output.info(f"{verb} these creds files (same user keys): replace every deployed copy "
                    "with them before restarting the servers with the new operator JWT; old "
                    "copies are refused from then on:")
        for path in report.redeploy:
            output.info(f"  {path}")
