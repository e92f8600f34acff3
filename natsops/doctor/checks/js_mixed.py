"""JetStream-enabled and core-only servers mixed in one cluster (the guide warns against it)."""

from __future__ import annotations

from collections.abc import Iterator

from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import Snapshot

ID = "js-mixed"


@check(ID, title="JetStream enabled on every server of a cluster", severity=Severity.WARN,
       suite="jetstream")
def js_mixed(snap: Snapshot) -> Iterator[Finding]:
    clusters: dict[str, dict[bool, list[str]]] = {}
    for s in snap.servers:
        if s.cluster:
            clusters.setdefault(s.cluster, {}).setdefault(s.jetstream, []).append(s.name)
    for name, by in sorted(clusters.items()):
        if by.get(True) and by.get(False):
            yield Finding.warn(
                ID, name, f"cluster {name} mixes JetStream servers ({', '.join(sorted(by[True]))})"
                f" with core-only servers ({', '.join(sorted(by[False]))})",
                evidence={"cluster": name, "jetstream": sorted(by[True]),
                          "core_only": sorted(by[False])},
                fix="Enable JetStream on every server of the cluster, or move the core-only "
                    "servers to their own cluster (gateway) or leafnodes.")
