"""Preflight: the doctor's checks that matter for a rolling restart, plus the upgrade's own.

The cluster must be whole before the first server goes down: every expected server answers
and is healthy (``servers-missing``, ``healthz``), the meta group and every stream and consumer
group have a leader and all peers current (``meta-group``, ``replicas``; two looks a second
apart, so a follower that is one entry behind under load for a moment does not count), and no
JetStream limit is near full (``js-usage``). The upgrade adds: no R1 group on a server about to
restart (unless ``--accept-downtime``) and a version path of at most one released minor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from natsops.doctor.registry import run_checks, select_checks
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import Snapshot
from natsops.upgrade.plan import UpgradePlan

__all__ = ["CHECKS", "preflight", "refusals"]

CHECKS = ("servers-missing", "healthz", "meta-group", "replicas", "js-usage", "partition")
R1_ID = "upgrade-r1"
PATH_ID = "upgrade-version-path"
TARGET_ID = "upgrade-target"


def preflight(snap: Snapshot, plan: UpgradePlan, *, accept_downtime: bool,
              path_problems: Sequence[str] = (), target_problems: Sequence[str] = (),
              interrupted: str | None = None) -> tuple[Finding, ...]:
    """Every finding of the preflight; :func:`refusals` are the ones that stop the upgrade.

    ``interrupted``: the server a resumed upgrade stopped at. It may well be down; what the
    checks say about it becomes INFO (the resumed run restarts it first).
    """
    found = list(run_checks(snap, select_checks(CHECKS)))
    if interrupted:
        found = [replace(f, severity=Severity.INFO,
                         message=f"{f.message} (the interrupted upgrade stopped at "
                                 f"{interrupted}; --resume restarts it)")
                 if f.subject == interrupted and f.severity > Severity.INFO else f
                 for f in found]
    for step in plan.steps:
        if step.skip:
            continue
        for asset in step.r1:
            msg = f"{asset} has a single replica, on {step.name}: unavailable while it restarts"
            fix = (f"Raise its replicas (`natsops stream edit {asset.split(' > ')[1]} "
                   "--replicas 3`), or pass --accept-downtime")
            if accept_downtime:
                found.append(Finding.info(R1_ID, asset, msg + " (--accept-downtime)",
                                          evidence={"server": step.name, "asset": asset}))
            else:
                found.append(Finding.fail(R1_ID, asset, msg, fix=fix,
                                          evidence={"server": step.name, "asset": asset},
                                          title="No single-replica group on a restarting "
                                                "server"))
    for p in path_problems:
        found.append(Finding.fail(PATH_ID, "version", p, title="One released minor per step",
                                  fix="Upgrade through each intermediate release in turn; "
                                      "read each release's notes"))
    for p in target_problems:
        found.append(Finding.fail(TARGET_ID, "target", p, title="Target usable"))
    found.sort(key=lambda f: (-int(f.severity), f.id, f.subject))
    return tuple(found)


def refusals(findings: Sequence[Finding]) -> list[Finding]:
    """The findings that refuse the upgrade: every WARN and FAIL (a warning here means a
    replica behind, a server unhealthy or a store nearly full: all make a restart unsafe)."""
    return [f for f in findings if f.severity >= Severity.WARN]
