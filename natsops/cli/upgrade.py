"""``natsops upgrade --rolling``: upgrade or restart a JetStream cluster one server at a time."""

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from natsops.cli.options import ClusterDir, DryRun, Json
from natsops.cli.state import get_state, want_json

if TYPE_CHECKING:
    from natsops.upgrade.run import Prepared, UpgradeOptions, UpgradeReport

Rolling = Annotated[bool, typer.Option("--rolling", help="One server at a time (the only mode)")]
ToBinary = Annotated[Path | None, typer.Option("--to-binary", help="Local cluster: run this nats-server binary")]
ToVersion = Annotated[str | None, typer.Option("--to-version", help="Target release X.Y.Z (local: from the release cache, else downloaded once from the package index; otherwise checked after each restart)")]
RestartOnly = Annotated[bool, typer.Option("--restart-only", help="Same binary: restart for a config or operator JWT change")]
RestartCmd = Annotated[str | None, typer.Option("--restart-cmd", help="Restart command template: {name} {host} {pid}")]
LameDuckCmd = Annotated[str | None, typer.Option("--lame-duck-cmd", help="Lame duck command template (with --restart-cmd)")]
Shell = Annotated[bool, typer.Option("--shell", help="Run the command templates through /bin/sh")]
Kubernetes = Annotated[bool, typer.Option("--kubernetes", help="Restart by `kubectl delete pod NAME`")]
Namespace = Annotated[str | None, typer.Option("--namespace", help="Kubernetes namespace")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before the first restart")]
Force = Annotated[bool, typer.Option("--force", help="Go ahead although the preflight refuses")]
AcceptDowntime = Annotated[bool, typer.Option("--accept-downtime", help="Allow R1 streams/consumers on restarting servers")]
Resume = Annotated[bool, typer.Option("--resume", help="Continue an interrupted upgrade (skips servers done)")]
StateFile = Annotated[Path | None, typer.Option("--state-file", help="Journal file (default: DIR/upgrade-state.json)")]
Canary = Annotated[bool | None, typer.Option("--canary/--no-canary", help="Write a canary stream through the upgrade and verify it (default: on for --dir)", show_default=False)]
NoBalance = Annotated[bool, typer.Option("--no-balance", help="Do not balance stream leaders at the end")]
Stall = Annotated[str, typer.Option("--stall-timeout", help="Abort when a gate makes no progress this long")]
Drain = Annotated[str, typer.Option("--drain-timeout", help="Lame duck time for clients to move before the server is stopped")]
Parallel = Annotated[int, typer.Option("--parallel", help="Step-downs at once")]
AccountContext = Annotated[str | None, typer.Option("--account-context", help="Context of the account whose leaders are stepped down (and the canary's)")]

app = typer.Typer()


@app.command("upgrade")
def upgrade(
    ctx: typer.Context, rolling: Rolling = False, directory: ClusterDir = None,
    to_binary: ToBinary = None, to_version: ToVersion = None, restart_only: RestartOnly = False,
    restart_cmd: RestartCmd = None, lame_duck_cmd: LameDuckCmd = None, shell: Shell = False,
    kubernetes: Kubernetes = False, namespace: Namespace = None, dry_run: DryRun = False,
    yes: Yes = False, force: Force = False, accept_downtime: AcceptDowntime = False,
    resume: Resume = False, state_file: StateFile = None, canary: Canary = None,
    no_balance: NoBalance = False, stall_timeout: Stall = "30s", drain_timeout: Drain = "3s",
    parallel: Parallel = 4, account_context: AccountContext = None, json_out: Json = False,
) -> None:
    """Upgrade (or restart) a JetStream cluster one server at a time, gated, with a canary.

    Order: followers first, the meta leader last. Per server: leaders moved off, lame duck,
    restart, then gates (full /healthz over 2 s, current with the meta leader, every group
    with a replica on it current). A local topology (`bootstrap --topology`): every cluster
    and leaf site, cluster by cluster, leaf sites last; the gates also wait for every
    gateway and leafnode to reconnect. Exit codes: 0 done, 6 preflight refused or canary failed,
    1 aborted (8 on a gate timeout), 130/143 stopped by SIGINT/SIGTERM (journal kept:
    --resume continues).
    """
    from natsops.cli._run import run
    from natsops.cli.prompt import confirm
    from natsops.upgrade.run import execute, prepare

    opts = _options(ctx, dict(locals()))
    prep = run(prepare(opts, dry_run=dry_run, progress=_progress()))
    if _show_plan(prep, json=want_json(ctx, json_out), dry_run=dry_run):
        return
    confirm(f"restart {len(prep.plan.to_restart)} server(s) one at a time "
            f"({', '.join(prep.plan.to_restart)})?", force=yes, flag="--yes")
    report = run(execute(prep, progress=_progress()))
    _show_report(prep, report, json=want_json(ctx, json_out))


def _options(ctx: typer.Context, v: dict[str, Any]) -> "UpgradeOptions":
    import shlex
    import sys

    from natsops.cli._snapshot import settings_for
    from natsops.context import resolve_settings
    from natsops.errors import UsageError
    from natsops.units import parse_duration
    from natsops.upgrade.run import UpgradeOptions

    if not v["rolling"]:
        raise UsageError("only rolling upgrades exist: pass --rolling")
    acc = None
    if v["account_context"]:
        acc = resolve_settings({"context": v["account_context"]}, get_state(ctx).env)
    argv = [a for a in sys.argv[1:] if a not in ("--resume", "--yes", "-y")] \
        if Path(sys.argv[0]).name == "natsops" else ["upgrade", "--rolling", "..."]
    resume = shlex.join(["natsops", *argv, "--resume", "--yes"])
    directory = v["directory"]
    if directory is None and not (v["restart_cmd"] or v["kubernetes"]):
        # like doctor and server: the local cluster bootstrap left here, if there is one
        from natsops.access import local_cluster_in_use

        directory = local_cluster_in_use(get_state(ctx).settings)
    return UpgradeOptions(
        cluster_dir=directory, settings=settings_for(ctx, directory),
        account_settings=acc, to_binary=v["to_binary"], to_version=v["to_version"],
        restart_only=v["restart_only"], restart_cmd=v["restart_cmd"],
        lame_duck_cmd=v["lame_duck_cmd"], shell=v["shell"], kubernetes=v["kubernetes"],
        namespace=v["namespace"], force=v["force"], accept_downtime=v["accept_downtime"],
        resume=v["resume"], state_file=v["state_file"], canary=v["canary"],
        balance=not v["no_balance"], parallel=v["parallel"], resume_command=resume,
        stall_timeout=parse_duration(v["stall_timeout"], what="--stall-timeout"),
        drain_timeout=parse_duration(v["drain_timeout"], what="--drain-timeout"))


def _progress() -> Any:
    from natsops.cli.output import info

    start = time.monotonic()

    def show(line: str) -> None:
        info(f"[{time.monotonic() - start:6.1f}s] {line}")

    return show


def _show_plan(prep: "Prepared", *, json: bool, dry_run: bool) -> bool:
    """Print the plan and the preflight; True when the command ends here (dry run)."""
    from natsops.cli.findings import print_findings
    from natsops.cli.output import out, print_json
    from natsops.errors import ChecksFailed
    from natsops.findings import Severity, document

    refused = prep.refused and not prep.options.force
    if json and (dry_run or refused):
        print_json(document(prep.findings, plan=prep.to_dict()))
    elif not json:
        _plan_text(prep)
        if prep.findings:
            out().print("[bold]Preflight[/]")
            print_findings(prep.findings, min_severity=Severity.INFO)
        else:
            out().print("[bold]Preflight[/]: all checks passed")
    if refused:
        raise ChecksFailed(f"preflight refused the upgrade: {len(prep.refused)} reason(s) above",
                           hint="fix them, or pass --force to go ahead anyway")
    return dry_run


def _plan_text(prep: "Prepared") -> None:
    from rich.markup import escape

    from natsops.cli.output import out

    p = prep.plan
    con = out()
    target = p.target_version or "restart only (same binary)"
    con.print(f"[bold]Rolling upgrade[/] to {escape(target)} via {escape(p.strategy)}; "
              f"meta leader {p.meta_leader or '?'}; journal {escape(str(prep.state_file))}; "
              f"canary {'on' if prep.canary_on else 'off'}")
    for i, s in enumerate(p.steps, 1):
        head = f"{i}. {s.name} ({s.version})" + (" [meta leader]" if s.meta_leader else "")
        if s.skip:
            con.print(f"{escape(head)}: skip, {escape(s.skip)}")
            continue
        con.print(escape(head))
        con.print(f"   hosts {len(s.hosts)} group(s), leads {len(s.leads)}; "
                  f"step-downs: {escape(', '.join(s.step_downs[:6]) or 'none')}"
                  f"{' ...' if len(s.step_downs) > 6 else ''}")
        con.print(f"   expected unavailability: {escape(s.unavailable)}")
    con.print("gates after each restart: " + "; ".join(s for s in _gates()))


def _gates() -> tuple[str, ...]:
    from natsops.upgrade.plan import GATES

    return GATES


def _show_report(prep: "Prepared", r: "UpgradeReport", *, json: bool) -> None:
    from rich.markup import escape

    from natsops.cli.output import error, out, print_json

    if json:
        print_json({"status": r.status, "exit_code": int(r.exit_code), "report": r,
                    "plan": prep.to_dict()})
    else:
        con = out()
        for s in r.servers:
            what = f"skipped ({s.skipped})" if s.skipped else \
                f"{s.seconds:.1f}s, {s.version_before} -> {s.version_after}, " \
                f"{s.step_downs} step-down(s)"
            con.print(f"{escape(s.name)}: {escape(what)}")
        con.print(f"total {r.seconds:.1f}s; longest window without a stream leader "
                  f"{r.longest_leaderless:.2f}s"
                  + (f" ({escape(r.longest_leaderless_asset)})" if r.longest_leaderless_asset
                     else ""))
        con.print("versions: " + ", ".join(f"{n} {r.versions_before.get(n)} -> {v}"
                                           for n, v in sorted(r.versions_after.items())))
        if r.balance is not None:
            b = r.balance
            con.print(f"balance: {len(b.results)} move(s); stream leaders per server now "
                      + ", ".join(f"{k} {v}" for k, v in sorted(b.final.before.items()))
                      + ("" if b.balanced else " (not balanced: see `natsops stream cluster "
                         "balance --dry-run`)"))
        if r.canary is not None:
            c = r.canary
            verdict = "ok" if c.ok else f"FAILED ({c.error or f'{c.missing} missing, {c.duplicated} duplicated'})"
            con.print(f"canary {escape(c.stream)}: {verdict}: {c.acked} acknowledged, {c.stored} "
                      f"stored, {c.retries} retries, longest publish stall {c.longest_stall:.2f}s")
        if r.status != "done":
            for line in r.cluster_state:
                con.print(f"  {escape(line)}")
            error(f"upgrade {r.status} at {r.stopped_at or 'start'} ({r.phase or 'between servers'}): "
                  f"{r.reason}", f"resume with: {r.resume}")
    if r.exit_code:
        raise typer.Exit(int(r.exit_code))
