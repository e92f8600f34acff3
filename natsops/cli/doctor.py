"""``natsops doctor``: find what is wrong with a deployment, explain it, print the fix."""

from pathlib import Path
from typing import Annotated, Any

import typer
from typer import Option as _opt

from natsops.cli._snapshot import settings_for
from natsops.cli.options import ClusterDir as Dir
from natsops.cli.options import Expect, Json, Monitor, Transport
from natsops.cli.state import want_json


def _ids(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


Only = Annotated[str | None, _opt("--only", help="Run only these check ids (comma separated)")]
Skip = Annotated[str | None, _opt("--skip", help="Skip these check ids (comma separated)")]
Strict = Annotated[bool, _opt("--strict", help="Warnings fail too (exit 6; CRITICAL for nagios)")]
Sample = Annotated[str | None, _opt("--sample", help="Gather twice this far apart (e.g. 5s) and "
                                    "check deltas and trends")]
Format = Annotated[str, _opt("--format", help="human, json or nagios")]
ConfigDir = Annotated[Path | None, _opt("--config-dir", help="The servers' config files "
                                        "(<name>.conf or <name>/nats-server.conf): compared "
                                        "with the config each server runs")]
ListChecks = Annotated[bool, _opt("--list", help="List the checks and exit")]


app = typer.Typer()


@app.command("doctor")
def doctor(
    ctx: typer.Context,
    expect: Expect = 0,
    monitor: Monitor = None,
    directory: Dir = None,
    transport: Transport = "auto",
    config_dir: ConfigDir = None,
    only: Only = None,
    skip: Skip = None,
    strict: Strict = False,
    sample: Sample = None,
    fmt: Format = "human",
    json_out: Json = False,
    list_checks: ListChecks = False,
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
    try:
        opts = DoctorOptions(
            expect=expect, monitors=tuple(monitor or ()), cluster_dir=directory,
            config_dir=config_dir,
            transport=transport, only=_ids(only), skip=_ids(skip),
            sample=parse_duration(sample, what="--sample") if sample else 0.0)
        report = run(doctor_run(settings_for(ctx, directory), opts))
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
