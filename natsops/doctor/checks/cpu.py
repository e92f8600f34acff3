"""CPU saturation that lasts: a server over the threshold in both ``--sample`` gatherings.

varz ``cpu`` is the process's CPU in percent of one core (350 on 4 cores is 87.5% of the
machine); it is divided by ``cores`` here, as ``nats audit`` SERVER_003 does, with the same
90% default. One gathering is one moment, so without ``doctor --sample`` this check reports
nothing: a busy second is not saturation.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from natsops.doctor.checks._util import as_int, doc
from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import ServerView, Snapshot

ID = "cpu"
THRESHOLD_PCT = 90.0  # of all cores, in every sample


def machine_pct(s: ServerView | None) -> float | None:
    """The server's CPU as a percentage of all its cores (None when varz lacks it)."""
    varz = doc(s.varz if s is not None else None)
    cpu: Any = varz.get("cpu")
    if not isinstance(cpu, (int, float)) or isinstance(cpu, bool):
        return None
    return float(cpu) / max(as_int(varz.get("cores"), 1), 1)


@check(ID, title="CPU not saturated across samples", severity=Severity.WARN, suite="server")
def cpu(snap: Snapshot) -> Iterator[Finding]:
    prev = snap.previous
    if prev is None:
        return
    for s in snap.servers:
        now, before = machine_pct(s), machine_pct(prev.server(s.name))
        if now is None or before is None or min(now, before) < THRESHOLD_PCT:
            continue
        cores = as_int(doc(s.varz).get("cores"), 1)
        yield Finding.warn(
            ID, s.name, f"{s.name}: CPU at {before:.0f}% then {now:.0f}% of {cores} core(s) "
            f"over {snap.taken_at - prev.taken_at:.0f}s (threshold {THRESHOLD_PCT:.0f}%)",
            evidence={"server": s.name, "samples_pct": [round(before, 1), round(now, 1)],
                      "cores": cores, "threshold_pct": THRESHOLD_PCT},
            fix=f"Find what keeps {s.name} busy: `natsops top` (busiest connections), `natsops "
                "server report connections --sort in-msgs`, JetStream API load in `natsops "
                "server report jetstream`; spread clients over more servers or give the server "
                "more cores (the guide: 4-8 vCPUs per server).")
