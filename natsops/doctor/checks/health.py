"""Per-server /healthz. Healthz is a per-node readiness signal, not proof of health.

A restarted follower can answer 200 for a moment before it has reached its leader, and a
stream that lost its quorum (no leader) still gets 200 from its surviving member.

A failing healthz is a WARN (a node catching up after a restart says so for a few seconds);
a failing ``js-enabled-only`` variant on a server configured for JetStream is a FAIL.
"""

from __future__ import annotations

from collections.abc import Iterator

from natsops.doctor.checks._util import doc
from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import Snapshot

ID = "healthz"


@check(ID, title="Servers report healthy", severity=Severity.FAIL)
def health(snap: Snapshot) -> Iterator[Finding]:
    for s in snap.servers:
        h = doc(s.healthz)
        if h and h.get("status") != "ok":
            errors = [e.get("error") for e in h.get("errors") or () if isinstance(e, dict)]
            err = h.get("error") or "; ".join(str(e) for e in errors if e) or h.get("status")
            yield Finding.warn(ID, s.name, f"{s.name} /healthz: {err}",
                               evidence={"server": s.name, **h},
                               fix=f"Usually transient after a restart (catching up); if it "
                               f"persists read the log of {s.name} and check the assets named.")
        hj = doc(s.healthz_js)
        if hj and hj.get("status") != "ok" and doc(doc(s.varz).get("jetstream")).get("config"):
            yield Finding.fail(ID, s.name, f"{s.name}: JetStream is not enabled or running "
                               f"({hj.get('error') or hj.get('status')})",
                               evidence={"server": s.name, **hj},
                               fix=f"Read the log of {s.name} for 'JetStream' errors (store_dir "
                                   "permissions, out of disk).")
