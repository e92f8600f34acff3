"""``natsops auth push/verify/pull``: account JWTs between the store and the servers' resolvers."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from natsops.cli.auth import _common
from natsops.cli.auth._common import Expect, SysCreds, Wait
from natsops.cli.options import DryRun, Json
from natsops.cli.state import want_json
from natsops.errors import UsageError

if TYPE_CHECKING:
    from natsops.auth.push import PushReport, VerifyReport

app = typer.Typer()  # root commands: `natsops auth` lists them (see __init__)


@app.command("push")
def push(
    ctx: typer.Context,
    all_accounts: Annotated[
        bool, typer.Option("--all", "-A", help="Push every account (default)")
    ] = False,
    account: Annotated[
        list[str] | None,
        typer.Option("--account", "-a", help="Push only this account (repeatable)"),
    ] = None,
    sys_creds: Annotated[
        Path | None,
        typer.Option(
            "--sys-creds",
            help="System user creds [default: a temporary user minted from the store]",
        ),
    ] = None,
    wait: Wait = "2s",
    expect: Expect = None,
    directory: Annotated[Path | None, typer.Option(
        "--dir", envvar="NATSOPS_CLUSTER_DIR",
        help="A local topology's (or cluster's) folder: its sys user is used, and with a MEMORY "
             "resolver push rewrites its preload and reloads its servers (with -s URL too)",
    )] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Push even if a server holds a newer JWT or does not trust the signer"
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only find the servers and run the pre-push checks")
    ] = False,
    prune: Annotated[
        bool,
        typer.Option(
            "--prune",
            help="Also delete from the servers the accounts the store no longer has (shows "
            "them and asks; needs allow_delete: true)",
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Prune without asking")] = False,
    json_out: Json = False,
) -> None:
    """Push account JWTs to every server's resolver, then verify each server holds them.

    A MEMORY resolver serves its preload: on a local topology (bootstrap --topology; found
    from its contexts, or give --dir) push rewrites each server's resolver-preload.conf and
    reloads it; elsewhere it refuses (render and deploy the preload). With --prune, the accounts the servers hold and the store does not (never the system
    account) are listed first, confirmed (--yes or --force skips the question) and deleted.
    """
    from natsops.auth.push import push as do_push
    from natsops.cli._run import run
    from natsops.cli.auth import prune as pruning
    from natsops.cli.findings import emit
    from natsops.units import parse_duration

    if all_accounts and account:
        raise UsageError("--all and --account exclude each other")
    store, op = _common.target(ctx)
    access = _common.sys_settings(ctx, sys_creds, directory)
    timeout = parse_duration(wait, what="--wait")
    doomed = pruning.ask(store, op, access, timeout, yes or force, dry_run) if prune else []
    report = run(do_push(store, op, access, account, timeout=timeout, force=force,
                         expect=expect, dry_run=dry_run))
    pruned = pruning.delete(store, op, access, doomed, timeout, dry_run)
    fmt = _common.fmt(ctx, json_out)
    _push_table(report, fmt)
    emit(report.findings, fmt=fmt, extra={**_push_fields(report), "pruned": pruned},
         healthy=_healthy(report.verification))


def _push_table(report: "PushReport", fmt: str) -> None:
    from natsops.cli import output

    if fmt == "human":
        output.table("push", ["account", "server", "result", output.Col("message", wrap=True)],
                     [(p.account, r.server, r.status, r.message)
                      for p in report.pushes for r in p.replies])


def _push_fields(report: "PushReport") -> dict[str, object]:
    """The JSON keys beside the findings: servers, per-account replies, verified copies."""
    verified = report.verification
    return {"servers": report.servers, "missing": report.missing, "pushes": report.pushes,
            "verification": _verify_fields(verified) if verified else None}


def _healthy(report: "VerifyReport | None") -> str | None:
    """The line shown when no finding is at WARN or above (none without a verification)."""
    if report is None or not report.findings:
        return None
    return f"every server holds the current JWT ({len(report.findings)} checks)"


def _verify_fields(report: "VerifyReport") -> dict[str, object]:
    return {"servers": report.servers, "missing": report.missing, "copies": report.copies,
            "stored": report.stored}


@app.command("verify")
def verify(
    ctx: typer.Context,
    account: Annotated[
        list[str] | None, typer.Option("--account", "-a", help="Only this account (repeatable)")
    ] = None,
    sys_creds: SysCreds = None,
    wait: Wait = "2s",
    expect: Expect = None,
    no_load: Annotated[
        bool,
        typer.Option("--no-load", help="Do not make servers load accounts that no client uses yet"),
    ] = False,
    json_out: Json = False,
) -> None:
    """Check that every server holds the store's JWT of each account; name the stale ones."""
    from natsops.auth.push import verify as do_verify
    from natsops.cli._run import run
    from natsops.cli.findings import emit
    from natsops.units import parse_duration

    store, op = _common.target(ctx)
    report = run(do_verify(store, op, _common.sys_settings(ctx, sys_creds), account,
                           timeout=parse_duration(wait, what="--wait"), load=not no_load,
                           expect=expect))
    emit(report.findings, fmt=_common.fmt(ctx, json_out), extra=_verify_fields(report),
         healthy=_healthy(report))


@app.command("pull")
def pull(
    ctx: typer.Context,
    sys_creds: SysCreds = None,
    wait: Wait = "2s",
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Fetch the account JWTs the servers hold; update older copies in the store."""
    from natsops.auth.push import pull as do_pull
    from natsops.cli import output
    from natsops.cli._run import run
    from natsops.units import parse_duration

    store, op = _common.target(ctx)
    results = run(do_pull(store, op, _common.sys_settings(ctx, sys_creds),
                          timeout=parse_duration(wait, what="--wait"), dry_run=dry_run))
    if want_json(ctx, json_out):
        output.print_json({"accounts": results, "dry_run": dry_run})
        return
    output.table("pull" + (" (dry run)" if dry_run else ""), ["account", "public key", "result"],
                 [(r.account, r.public_key, r.action) for r in results])
