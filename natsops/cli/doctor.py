"""``natsops doctor``: find what is wrong with a deployment, explain it, print the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from natsops.cli.state import get_state, want_json


def _ids(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def doctor(
    ctx: typer.Context,
    expect: Annotated[int, typer.Option("--expect", help="Number of servers that must answer (default: the local cluster's nodes and the JetStream meta peers)")] = 0,
    monitor: Annotated[list[str] | None, typer.Option("--monitor", help="HTTP monitor URL of a server (repeatable); gathers over HTTP instead of $SYS")] = None,
    directory: Annotated[Path | None, typer.Option("--dir", envvar="NATSOPS_CLUSTER_DIR", help="A local cluster's state directory: its nodes are expected, its sys user is used")] = None,
    transport: Annotated[str, typer.Option("--transport", help="auto, sys ($SYS requests, needs system-account credentials) or http (monitor ports)")] = "auto",
    only: Annotated[str | None, typer.Option("--only", help="Run only these check ids (comma separated)")] = None,
    skip: Annotated[str | None, typer.Option("--skip", help="Skip these check ids (comma separated)")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail too (exit 6; CRITICAL with --format nagios)")] = False,
    sample: Annotated[str | None, typer.Option("--sample", help="Gather twice this far apart (e.g. 5s) and check deltas and trends")] = None,
    fmt: Annotated[str, typer.Option("--format", help="human, json or nagios")] = "human",
    json_out: Annotated[bool, typer.Option("--json", help="Same as --format json")] = False,
    list_checks: Annotated[bool, typer.Option("--list", help="List the checks and exit")] = False,
) -> None:
    """Check the deployment and print every finding with its evidence and fix.

    Exit codes: 0 healthy, 6 a FAIL finding (or a WARN with --strict), 3 no server answered.
    With --format nagios: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    """
    from natsops.cli import output
    from natsops.cli._run import run
    from natsops.doctor import DoctorOptions, all_checks
    from natsops.doctor import run as doctor_run
    from natsops.errors import NatsopsError, UsageError
    from natsops.units import parse_duration

    fmt = "json" if want_json(ctx, json_out) else fmt
    if fmt not in ("human", "json", "nagios"):
        raise UsageError(f"unknown --format {fmt!r}: use human, json or nagios")
    if list_checks:
        checks = all_checks()
        if fmt == "json":
            output.print_json([{"id": c.id, "title": c.title, "severity": c.severity.label,
                                "suite": c.suite} for c in checks])
        else:
            output.table(None, ["ID", "SUITE", "UP TO", "TITLE"],
                         [(c.id, c.suite, c.severity.label, c.title) for c in checks])
        return
    state = get_state(ctx)
    try:
        opts = DoctorOptions(
            expect=expect, monitors=tuple(monitor or ()), cluster_dir=directory,
            transport=transport, only=_ids(only), skip=_ids(skip),
            sample=parse_duration(sample, what="--sample") if sample else 0.0)
        settings = None if directory is not None and not state.flags.get("server") \
            else state.settings
        report = run(doctor_run(settings, opts))
    except NatsopsError as exc:
        if fmt != "nagios":
            raise
        typer.echo(f"DOCTOR UNKNOWN: {exc}")
        raise typer.Exit(3) from None
    _emit(report, fmt, strict)


def _emit(report: Any, fmt: str, strict: bool) -> None:
    from natsops.cli import output
    from natsops.findings import nagios, to_json

    code = int(report.exit_code(strict))
    if fmt == "nagios":
        ncode, line = nagios("DOCTOR", report.findings, strict=strict, perfdata={
            "servers": len(report.servers), "missing": len(report.missing),
            "gather_s": round(report.gather_seconds, 4)})
        typer.echo(line)
        raise typer.Exit(ncode)
    if fmt == "json":
        output.print_json({
            "status": report.worst.label, "exit_code": code,
            "servers": list(report.servers), "missing": list(report.missing),
            "transport": report.transport, "gather_seconds": round(report.gather_seconds, 4),
            "requests": report.requests, "sampled_seconds": report.sampled_seconds,
            "checks": list(report.checks), "findings": [to_json(f) for f in report.findings]})
    else:
        from natsops.cli.findings_view import print_findings

        print_findings(report.findings)
        counts = {s: sum(1 for f in report.findings if f.severity.label == s)
                  for s in ("fail", "warn", "info")}
        missing = f", missing: {', '.join(report.missing)}" if report.missing else ""
        output.info(
            f"{len(report.servers)} server(s) answered{missing} ({report.transport}, "
            f"{report.requests} requests, {report.gather_seconds * 1000:.0f} ms); "
            f"{len(report.checks)} checks: {counts['fail']} fail, {counts['warn']} warn, "
            f"{counts['info']} info")
        if not counts["fail"] and not counts["warn"]:
            output.success("healthy")
    if code:
        raise typer.Exit(code)
