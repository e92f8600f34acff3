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

from natsops.doctor.registry import Check, all_checks, check, run_checks, select_checks
from natsops.errors import ExitCode, UsageError
from natsops.findings import Finding, Severity, exit_code, worst
from natsops.monitoring.gather import Access, GatherOptions, gather, gather_sampled

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

    @property
    def worst(self) -> Severity:
        return worst(self.findings)

    def exit_code(self, strict: bool = False) -> ExitCode:
        """0 when healthy; 6 (FAILED) on a FAIL finding, or a WARN with ``strict``."""
        return exit_code(self.findings, strict=strict)


async def run(settings: Access, options: DoctorOptions = DoctorOptions()) -> DoctorReport:
    """Gather (twice with ``sample``), run the selected checks, return the report."""
    if options.expect < 0:
        raise UsageError("--expect must not be negative")
    if options.sample < 0:
        raise UsageError("--sample must not be negative")
    checks = select_checks(options.only, options.skip)
    gopts = GatherOptions(expect=options.expect, timeout=options.timeout)
    if options.sample > 0:
        snap = await gather_sampled(
            settings, gopts, interval=options.sample, monitors=options.monitors,
            cluster_dir=options.cluster_dir, transport=options.transport,
            config_dir=options.config_dir)
    else:
        snap = await gather(settings, gopts, monitors=options.monitors,
                            cluster_dir=options.cluster_dir, transport=options.transport,
                            config_dir=options.config_dir)
    both = (snap,) if snap.previous is None else (snap.previous, snap)
    return DoctorReport(
        findings=run_checks(snap, checks), checks=tuple(c.id for c in checks),
        servers=snap.names, missing=snap.missing, transport=snap.transport,
        gather_seconds=sum(s.seconds for s in both), requests=sum(s.requests for s in both),
        sampled_seconds=options.sample)
