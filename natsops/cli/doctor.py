"""``natsops doctor``: find what is wrong with a deployment, explain it, print the fix."""

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from natsops.cli._snapshot import settings_for
from natsops.cli.options import ClusterDir, Expect, Json, Monitor, Transport
from natsops.cli.state import want_json

if TYPE_CHECKING:
    from natsops.doctor import DoctorOptions, DoctorReport


def _ids(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


Only = Annotated[str | None, typer.Option("--only", help="Run only these check ids (comma separated)")]
Skip = Annotated[str | None, typer.Option("--skip", help="Skip these check ids (comma separated)")]
Strict = Annotated[bool, typer.Option("--strict", help="Warnings fail too (exit 6; CRITICAL for nagios)")]
Sample = Annotated[str | None, typer.Option("--sample", help="Gather twice this far apart (e.g. 5s) and "
                                    "check deltas and trends")]
Format = Annotated[str, typer.Option("--format", help="human, json or nagios")]
ConfigDir = Annotated[Path | None, typer.Option("--config-dir", help="The servers' config files "
                                        "(<name>.conf or <name>/nats-server.conf): compared "
                                        "with the config each server runs")]
ListChecks = Annotated[bool, typer.Option("--list", help="List the checks and exit")]
Archive = Annotated[Path | None, typer.Option("--archive", help="Also write what was gathered "
                                      "and found to this file (gzip tar, 0600, secrets masked)")]
FromArchive = Annotated[Path | None, typer.Option("--from", help="Run the checks on an archive "
                                          "instead of asking servers (offline)")]
Since = Annotated[Path | None, typer.Option("--since", help="An earlier run's archive: report "
                                    "what grew since then (the trends check)")]
Serve = Annotated[str | None, typer.Option("--serve", help="Serve Prometheus /metrics on "
                                   "HOST:PORT (:PORT is 127.0.0.1) until stopped")]
Interval = Annotated[str | None, typer.Option("--interval", help="With --serve: gather this "
                                "often (one gathering per interval, whatever the scrapes) "
                                "[default: 15s]", show_default=False)]


app = typer.Typer()


@app.command("doctor")
def doctor(
    ctx: typer.Context,
    expect: Expect = 0,
    monitor: Monitor = None,
    directory: ClusterDir = None,
    transport: Transport = "auto",
    config_dir: ConfigDir = None,
    only: Only = None,
    skip: Skip = None,
    strict: Strict = False,
    sample: Sample = None,
    fmt: Format = "human",
    json_out: Json = False,
    list_checks: ListChecks = False,
    archive: Archive = None,
    source: FromArchive = None,
    since: Since = None,
    serve: Serve = None,
    interval: Interval = None,
) -> None:
    """Check the deployment and print every finding with its evidence and fix.

    Exit codes: 0 healthy, 6 a FAIL finding (or a WARN with --strict), 3 no server answered.
    With --format nagios: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.

    --archive FILE keeps everything gathered (raw monitoring documents, versions, findings; no
    secrets) for a post-mortem; --from FILE replays it offline; --since FILE compares with it.
    --serve HOST:PORT serves the Snapshot's figures and one gauge per finding on /metrics.

    \b
    Examples:
      natsops doctor --context natsops-C1-sys
      natsops doctor --dir .natsops/C1 --sample 5s
      natsops doctor --monitor http://10.0.0.1:8222 --monitor http://10.0.0.2:8222
      natsops doctor --format nagios --strict
      natsops doctor --only replicas,meta-group --json
      natsops doctor --archive doctor-$(date +%F).tgz
      natsops doctor --from doctor-2026-12-01.tgz --json
      natsops doctor --sample 5s --since doctor-2026-12-01.tgz
      natsops doctor --serve :9119 --interval 15s
    """
    from natsops.cli._run import run
    from natsops.doctor import run as doctor_run

    fmt = _format(ctx, fmt, json_out, serve, interval)
    if list_checks:
        return _list_checks(fmt == "json")
    opts = _options(expect, monitor, directory, transport, config_dir, only, skip, sample,
                    archive, source, since)
    if serve is not None:
        return _serve(ctx, opts, serve, interval, directory)
    with _nagios_unknown(fmt == "nagios"):
        report = run(doctor_run(settings_for(ctx, directory), opts))
    _emit(report, fmt, strict)


def _format(ctx: typer.Context, fmt: str, json_out: bool, serve: str | None,
            interval: str | None) -> str:
    from natsops.cli.findings import check_format
    from natsops.errors import UsageError

    if serve is None and interval is not None:
        raise UsageError("--interval goes with --serve (how often --serve gathers)")

    fmt = check_format(_json_or(fmt, want_json(ctx, json_out)), ("human", "json", "nagios"))
    if serve is not None and fmt != "human":
        raise UsageError(f"--serve and --format {fmt} exclude each other: --serve answers "
                         "Prometheus scrapes")
    return fmt


def _options(expect: int, monitor: list[str] | None, directory: Path | None, transport: str,
             config_dir: Path | None, only: str | None, skip: str | None,
             sample: str | None, archive: Path | None, source: Path | None,
             since: Path | None) -> "DoctorOptions":
    from natsops.doctor import DoctorOptions
    from natsops.units import parse_duration

    return DoctorOptions(
        expect=expect, monitors=tuple(monitor or ()), cluster_dir=directory,
        config_dir=config_dir, transport=transport, only=_ids(only), skip=_ids(skip),
        sample=parse_duration(sample, what="--sample") if sample else 0.0,
        archive=archive, source=source, since=since)


def _serve(ctx: typer.Context, opts: "DoctorOptions", listen: str, interval: str | None,
           directory: Path | None) -> None:
    from natsops.cli._run import run
    from natsops.doctor.serve import serve
    from natsops.errors import UsageError
    from natsops.units import parse_duration

    for flag, given in (("--sample", opts.sample > 0), ("--from", opts.source is not None),
                        ("--archive", opts.archive is not None)):
        if given:
            raise UsageError(f"--serve and {flag} exclude each other: --serve gathers every "
                             "--interval and keeps no archive")
    interval = interval or "15s"
    every = parse_duration(interval, what="--interval")
    run(serve(settings_for(ctx, directory), opts, listen=listen, interval=every,
              ready=lambda url: typer.echo(f"serving {url} (a gathering every {interval}); "
                                           "stop with Ctrl-C", err=True)))


def _json_or(fmt: str, as_json: bool) -> str:
    """``json`` with --json, which another --format than json (or the default) contradicts."""
    from natsops.errors import UsageError

    if as_json and fmt not in ("human", "json"):
        raise UsageError(f"--json and --format {fmt} exclude each other: give one of them")
    return "json" if as_json else fmt


@contextlib.contextmanager
def _nagios_unknown(on: bool) -> Iterator[None]:
    """For nagios, an error is one ``DOCTOR UNKNOWN`` line and the plugin's UNKNOWN code."""
    from natsops.errors import NatsopsError
    from natsops.findings import NAGIOS_UNKNOWN

    try:
        yield
    except NatsopsError as exc:
        if not on:
            raise
        typer.echo(f"DOCTOR UNKNOWN: {exc}")
        raise typer.Exit(NAGIOS_UNKNOWN) from None


def _list_checks(as_json: bool) -> None:
    from natsops.cli import output
    from natsops.doctor import all_checks

    checks = all_checks()
    if as_json:
        output.print_json([{"id": c.id, "title": c.title, "severity": c.severity.label,
                            "suite": c.suite} for c in checks])
    else:
        output.table(None, ["ID", "SUITE", "UP TO", output.Col("TITLE", wrap=True)],
                     [(c.id, c.suite, c.severity.label, c.title) for c in checks])


def _emit(report: "DoctorReport", fmt: str, strict: bool) -> None:
    from natsops.cli.findings import count_line, emit

    missing = f", missing: {', '.join(report.missing)}" if report.missing else ""
    origin = _origin(report)
    emit(report.findings, fmt=fmt, strict=strict, nagios_name="DOCTOR", healthy="healthy",
         extra={"servers": list(report.servers), "missing": list(report.missing),
                "transport": report.transport, "gather_seconds": round(report.gather_seconds, 4),
                "requests": report.requests, "sampled_seconds": report.sampled_seconds,
                "checks": list(report.checks),
                "source": str(report.source) if report.source else None,
                "taken_at": report.taken_at,
                "archive": str(report.archive) if report.archive else None},
         perfdata={"servers": len(report.servers), "missing": len(report.missing),
                   "gather_s": round(report.gather_seconds, 4)},
         summary=f"{len(report.servers)} server(s) {origin}{missing} ({report.transport}, "
                 f"{report.requests} requests, {report.gather_seconds * 1000:.0f} ms); "
                 f"{len(report.checks)} checks: {count_line(report.findings, zeros=True)}"
                 + (f"; archived to {report.archive}" if report.archive else ""))


def _origin(report: "DoctorReport") -> str:
    import time

    if report.source is None:
        return "answered"
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(report.taken_at))
    return f"in archive {report.source} (gathered {when})"
