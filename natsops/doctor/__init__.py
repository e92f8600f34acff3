"""``natsops doctor``: gather one Snapshot of the deployment, run every check on it.

From a CI script::

    import asyncio, natsops
    from natsops.doctor import DoctorOptions, run

    report = asyncio.run(run(natsops.resolve_settings({"server": url, "creds": "sys.creds"})))
    raise SystemExit(report.exit_code())

The library never prints; :class:`DoctorReport` carries the findings and how they were gathered.
The Snapshot the checks read comes from :mod:`natsops.monitoring`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from natsops.doctor.archive import read_archive, write_archive
from natsops.doctor.registry import Check, all_checks, check, run_checks, select_checks
from natsops.errors import ExitCode, UsageError
from natsops.files import check_output_file
from natsops.findings import Finding, Severity, exit_code, worst
from natsops.monitoring.gather import Access, GatherOptions, gather, gather_sampled
from natsops.monitoring.snapshot import Snapshot

__all__ = [
    "Check",
    "DoctorOptions",
    "DoctorReport",
    "all_checks",
    "check",
    "run",
    "run_checks",
    "select_checks",
]


@dataclass(frozen=True)
class DoctorOptions:
    """What ``natsops doctor`` was asked for."""

    expect: int = 0  # servers that must answer (0: the inventory / meta peers decide)
    monitors: tuple[str, ...] = ()  # HTTP monitor URLs (use HTTP instead of $SYS)
    cluster_dir: Path | None = None  # a local cluster: inventory, sys user, monitors
    config_dir: Path | None = None  # the servers' config files, to compare with what runs
    transport: str = "auto"  # auto | sys | http
    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    sample: float = 0.0  # seconds between two gatherings (0: one gathering)
    timeout: float = 3.0
    archive: Path | None = None  # write what was gathered and found to this archive
    source: Path | None = None  # run the checks on this archive instead of gathering
    since: Path | None = None  # an earlier run's archive: the baseline for trends


@dataclass(frozen=True)
class DoctorReport:
    """The findings and a summary of the gathering they came from."""

    findings: tuple[Finding, ...]
    checks: tuple[str, ...]
    servers: tuple[str, ...]
    missing: tuple[str, ...]
    transport: str
    gather_seconds: float
    requests: int
    sampled_seconds: float = 0.0
    source: Path | None = None  # the archive the checks ran on (``--from``), else None
    taken_at: float = 0.0  # when the Snapshot was gathered (epoch seconds)
    archive: Path | None = None  # the archive written (``--archive``)

    @property
    def worst(self) -> Severity:
        return worst(self.findings)

    def exit_code(self, strict: bool = False) -> ExitCode:
        """0 when healthy; 6 (FAILED) on a FAIL finding, or a WARN with ``strict``."""
        return exit_code(self.findings, strict=strict)


async def run(settings: Access, options: DoctorOptions = DoctorOptions()) -> DoctorReport:
    """Gather (twice with ``sample``) or read an archive, run the selected checks, report.

    With ``options.since`` the current Snapshot carries that archive's as its baseline (the
    ``trends`` check); with ``options.archive`` everything is written there afterwards.
    """
    _validate(options)
    checks = select_checks(options.only, options.skip)
    if options.archive is not None:
        check_output_file(options.archive, what="doctor archive")
    baseline = read_archive(options.since).snapshot if options.since is not None else None
    if options.source is not None:
        snap = read_archive(options.source).snapshot
    else:
        snap = await _gather(settings, options)
    snap = snap.with_baseline(baseline)
    findings = run_checks(snap, checks)
    ids = tuple(c.id for c in checks)
    if options.archive is not None:
        write_archive(options.archive, snap, findings, ids)
    both = (snap,) if snap.previous is None else (snap.previous, snap)
    return DoctorReport(
        findings=findings, checks=ids, servers=snap.names, missing=snap.missing,
        transport=snap.transport, gather_seconds=sum(s.seconds for s in both),
        requests=sum(s.requests for s in both),
        sampled_seconds=_sampled(snap) if options.source is not None else options.sample,
        source=options.source, taken_at=snap.taken_at, archive=options.archive)


def _sampled(snap: Snapshot) -> float:
    return round(snap.taken_at - snap.previous.taken_at, 3) if snap.previous else 0.0


def _validate(options: DoctorOptions) -> None:
    if options.expect < 0:
        raise UsageError("--expect must not be negative")
    if options.sample < 0:
        raise UsageError("--sample must not be negative")
    if options.source is None:
        return
    given = [name for name, on in (("--sample", options.sample > 0),
                                   ("--monitor", bool(options.monitors)),
                                   ("--config-dir", options.config_dir is not None),
                                   ("--expect", options.expect > 0)) if on]
    if given:
        raise UsageError(f"--from and {given[0]} exclude each other: --from reads what an "
                         "archive holds and asks no server")


async def _gather(settings: Access, options: DoctorOptions) -> Snapshot:
    gopts = GatherOptions(expect=options.expect, timeout=options.timeout)
    if options.sample > 0:
        return await gather_sampled(
            settings, gopts, interval=options.sample, monitors=options.monitors,
            cluster_dir=options.cluster_dir, transport=options.transport,
            config_dir=options.config_dir)
    return await gather(settings, gopts, monitors=options.monitors,
                        cluster_dir=options.cluster_dir, transport=options.transport,
                        config_dir=options.config_dir)
