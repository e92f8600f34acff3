"""Expected servers that did not answer: a missing reply is a finding, never silence."""

from __future__ import annotations

from collections.abc import Iterator

from natsops.doctor.checks._util import doc
from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import Snapshot

ID = "servers-missing"
FIX = ("Check that the server process is running (`natsops cluster status` for a local cluster, "
       "`systemctl status nats-server`), read its log, check its /healthz and the routes to it "
       "(`natsops server ls`). A server removed for good: "
       "`natsops server raft peer-remove <name>`.")


@check(ID, title="Expected servers answered", severity=Severity.FAIL)
def servers_missing(snap: Snapshot) -> Iterator[Finding]:
    answered = sorted(snap.names)
    meta = snap.meta_view
    meta_state = {str(r.get("name")): r for r in meta.get("replicas") or () if doc(r).get("name")}
    for name in snap.missing:
        source = "inventory" if name in snap.expected else "JetStream meta group peer"
        peer = doc(meta_state.get(name))
        seen = ""
        if peer:
            seen = " (the meta leader sees it offline)" if peer.get("offline") else \
                " (the meta leader sees it not current)" if not peer.get("current") else ""
        yield Finding.fail(
            ID, name, f"server {name} did not answer{seen}",
            evidence={"server": name, "expected_from": source, "answered": answered,
                      "meta_leader_view": dict(peer) if peer else None,
                      "transport": snap.transport},
            fix=FIX)
    for name in snap.unmonitored:
        yield Finding.info(ID, name, f"{name} is a JetStream meta peer but no --monitor URL "
                           "was given for it (the meta leader sees it healthy)",
                           evidence={"server": name, "answered": answered},
                           fix=f"Add `--monitor <URL of {name}>` to check it too.")
    want = max(snap.expected_count,
               len((set(snap.expected) | set(snap.meta_peers)) - set(snap.unmonitored)))
    unnamed = want - len(snap.servers) - len(snap.missing)
    if unnamed > 0 or (snap.expected_count and len(snap.servers) < snap.expected_count
                       and not snap.missing):
        yield Finding.fail(
            ID, "deployment",
            f"expected {want} servers, {len(snap.servers)} answered",
            evidence={"expected": want, "answered": answered,
                      "unreachable": dict(snap.unreachable), "transport": snap.transport},
            fix=FIX)
    elif snap.unreachable and not snap.missing:
        for url, err in sorted(snap.unreachable.items()):
            yield Finding.fail(ID, url, f"monitor {url} did not answer: {err}",
                               evidence={"monitor": url, "error": err}, fix=FIX)
