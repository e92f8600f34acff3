"""Monitoring requests that failed for an answering server (a timeout, HTTP 500, bad JSON)."""

from __future__ import annotations

from collections.abc import Iterator

from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import Snapshot

ID = "monitor-errors"


@check(ID, title="Monitoring endpoints answer", severity=Severity.WARN)
def monitor_errors(snap: Snapshot) -> Iterator[Finding]:
    for s in snap.servers:
        for part, err in sorted(s.errors.items()):
            yield Finding.warn(ID, s.name, f"{s.name}: could not read {part}: {err}",
                               evidence={"server": s.name, "part": part, "error": err,
                                         "source": s.source},
                               fix="Checks that need this data were skipped for this server; "
                                   "retry, and check the server's load and log.")
