"""Two servers answering with the same name (and different ids)."""

from __future__ import annotations

from collections.abc import Iterator

from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import Snapshot

ID = "duplicate-names"


@check(ID, title="Server names unique", severity=Severity.FAIL)
def duplicate_names(snap: Snapshot) -> Iterator[Finding]:
    ids: dict[str, list[str]] = {}
    for s in snap.servers:
        ids.setdefault(s.name, []).append(s.id)
    for name, sids in sorted(ids.items()):
        if len(set(sids)) > 1:
            yield Finding.fail(ID, name, f"{len(sids)} servers are named {name!r}: JetStream "
                               "placement and Raft peers are keyed by name",
                               evidence={"name": name, "server_ids": sorted(sids)},
                               fix="Give every server a unique `server_name` and restart them "
                                   "one at a time.")
