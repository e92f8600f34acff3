"""The JetStream meta group: a leader exists, every peer is online and current."""

from __future__ import annotations

from collections.abc import Iterator

from natsops.doctor.checks._util import as_int, doc, ns_to_s
from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import Snapshot

ID = "meta-group"
FIX_PEER = ("Check server {peer} (process, /healthz, routes). A server decommissioned for good "
            "must leave the meta group: `natsops server raft peer-remove {peer}`.")


@check(ID, title="JetStream meta group healthy", severity=Severity.FAIL, suite="jetstream")
def meta_group(snap: Snapshot) -> Iterator[Finding]:
    js = [s for s in snap.servers if s.jetstream and s.meta]
    if not js:
        return
    leaders = {s.name: s.meta.get("leader") or None for s in js}
    named = {v for v in leaders.values() if v}
    if not named:
        size = as_int(snap.meta_view.get("cluster_size"))
        yield Finding.fail(
            ID, "meta", f"no JetStream meta leader: {len(js)} of {size or '?'} peers answered "
            "and none knows a leader; JetStream API calls fail",
            evidence={"answered": sorted(leaders), "cluster_size": size,
                      "quorum_needed": snap.meta_view.get("quorum_needed")},
            fix="A meta leader needs a majority of the JetStream servers: start the missing "
                "servers (see servers-missing) and check routes between them.")
        return
    if len(named) > 1:
        yield Finding.fail(
            ID, "meta", f"servers disagree on the meta leader: {leaders}",
            evidence={"leaders": leaders},
            fix="Usually transient during an election; if it persists (`natsops doctor "
                "--sample 5s`), check routes between the servers and step the meta leader "
                "down: `natsops server raft step-down`.")
    if snap.expected:
        for peer in sorted(set(snap.meta_peers) - set(snap.expected)):
            yield Finding.warn(ID, peer, f"meta peer {peer} is not in the inventory "
                               f"({', '.join(snap.expected)}): decommissioned without a "
                               "peer-remove, or a server the inventory lacks",
                               evidence={"peer": peer, "inventory": list(snap.expected),
                                         "meta_peers": list(snap.meta_peers)},
                               fix=f"If {peer} is gone for good: `natsops server raft peer-remove "
                                   f"{peer}`; otherwise add it to the inventory.")
    lead = [s for s in js if s.meta.get("leader") == s.name]
    if not lead:
        return  # peer state is only valid in the leader's view; servers-missing covers it
    view = lead[0].meta
    leader = lead[0].name
    for r in view.get("replicas") or ():
        r = doc(r)
        peer = str(r.get("name", "?"))
        ev = {"peer": peer, "leader": leader, "current": bool(r.get("current")),
              "offline": bool(r.get("offline")), "lag": as_int(r.get("lag")),
              "active_s": round(ns_to_s(r.get("active")), 1)}
        if r.get("offline"):
            yield Finding.fail(ID, peer, f"meta peer {peer} is offline (leader {leader})",
                               evidence=ev, fix=FIX_PEER.format(peer=peer))
        elif not r.get("current"):
            yield Finding.warn(ID, peer, f"meta peer {peer} is not current (lag {ev['lag']}, "
                               f"last seen {ev['active_s']}s ago)", evidence=ev,
                               fix=FIX_PEER.format(peer=peer))
