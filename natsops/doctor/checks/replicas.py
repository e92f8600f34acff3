"""Stream and consumer replicas: groups without a leader, offline, lagging or silent peers.

Peer state is read only from the group leader's copy (a follower's view lists the other
followers as ``current: false, active: 0`` by design). ``offline`` is checked first, then
``current``, then ``active`` (> 10 s = silent): a crashed peer can look current for ~10 s.
With ``--sample``, a lag is compared with the previous snapshot for a trend and an ETA.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from natsops.doctor.checks._util import as_int, doc, ns_to_s
from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import Snapshot

ID = "replicas"
SILENT_S = 10.0
MAX_LISTED = 50


@dataclass(frozen=True)
class _Group:
    kind: str  # "stream" or "consumer"
    subject: str  # "APP > ORDERS" or "APP > ORDERS > PROC"
    stream: str
    consumer: str | None
    replicas: int
    leader: str | None
    server: str  # whose copy
    peers: tuple[Mapping[str, Any], ...]
    raft_group: str


def _groups(snap: Snapshot) -> Iterator[_Group]:
    stream_r = {(s.account, s.name): s.replicas for s in snap.streams}
    for s in snap.streams:
        if s.replicas > 1:
            yield _Group("stream", s.subject, s.name, None, s.replicas, s.leader, s.server,
                         s.peers, str(s.cluster.get("raft_group", "")))
    for c in snap.consumers:
        r = as_int(c.config.get("num_replicas")) or stream_r.get((c.account, c.stream), 1)
        if r > 1:
            peers = tuple(doc(p) for p in c.cluster.get("replicas") or ())
            yield _Group("consumer", f"{c.account} > {c.stream} > {c.name}", c.stream, c.name,
                         r, c.leader, c.server, peers, str(c.cluster.get("raft_group", "")))


def _fix(g: _Group, peer: str) -> str:
    if g.kind == "stream":
        return (f"Check server {peer}: is it up (/healthz), are its routes connected "
                f"(`natsops server ls`), is its disk slow (varz disk_io_wait_stats)? If it is "
                f"gone for good: `natsops stream cluster peer-remove {g.stream} {peer}` so a new "
                f"peer is placed; to move leadership: "
                f"`natsops stream cluster step-down {g.stream}`.")
    return (f"Check server {peer} as for streams; the consumer follows its stream's peers. "
            f"To move leadership: `natsops consumer cluster step-down {g.stream} {g.consumer}`.")


def _peer_state(p: Mapping[str, Any]) -> str | None:
    if p.get("offline"):
        return "offline"
    if not p.get("current"):
        return "not current"
    if ns_to_s(p.get("active")) > SILENT_S:
        return "silent"
    return None


def _prev_peer(snap: Snapshot, g: _Group, peer: str) -> Mapping[str, Any] | None:
    """The peer as the leader saw it in the previous sample (None: no such view)."""
    if snap.previous is None:
        return None
    for pg in _groups(snap.previous):
        if pg.subject == g.subject and pg.leader == pg.server:
            for p in pg.peers:
                if p.get("name") == peer:
                    return p
    return None


@check(ID, title="Stream and consumer replicas healthy", severity=Severity.FAIL,
       suite="jetstream")
def replicas(snap: Snapshot) -> Iterator[Finding]:
    leaderless: list[_Group] = []
    prev_leaderless = set()
    if snap.previous is not None:
        prev_leaderless = {g.subject for g in _groups(snap.previous) if not g.leader}
    by_peer: dict[tuple[str, str], list[dict[str, Any]]] = {}
    quorum_lost: list[tuple[_Group, list[str]]] = []
    for g in _groups(snap):
        if not g.leader:
            if snap.previous is None or g.subject in prev_leaderless:
                leaderless.append(g)
            continue
        if g.leader != g.server:
            continue  # the leader did not answer: servers-missing reports that server
        bad: list[str] = []
        for p in g.peers:
            state = _peer_state(p)
            if state is None:
                continue
            name = str(p.get("name", "?"))
            before = _prev_peer(snap, g, name)
            if state != "offline" and before is not None and _peer_state(before) is None:
                continue  # one bad view under load is normal: sampled, it must be bad twice
            bad.append(name)
            item: dict[str, Any] = {
                "kind": g.kind, "asset": g.subject, "leader": g.leader, "replicas": g.replicas,
                "peer": name, "current": bool(p.get("current")),
                "offline": bool(p.get("offline")), "lag": as_int(p.get("lag")),
                "active_s": round(ns_to_s(p.get("active")), 1), "raft_group": g.raft_group}
            prev = as_int(before.get("lag")) if before is not None else None
            if prev is not None and snap.previous is not None:
                dt = max(snap.taken_at - snap.previous.taken_at, 1e-3)
                rate = (prev - item["lag"]) / dt  # entries caught up per second
                item["lag_previous"] = prev
                item["trend"] = "shrinking" if rate > 0 else "growing" if rate < 0 else "flat"
                if rate > 0:
                    item["eta_s"] = round(item["lag"] / rate, 1)
            by_peer.setdefault((name, state), []).append(item)
        quorum = g.replicas // 2 + 1
        if g.replicas - len(bad) < quorum:
            quorum_lost.append((g, bad))
    for g, bad in quorum_lost:
        yield Finding.fail(
            ID, g.subject, f"{g.kind} {g.subject} (R{g.replicas}) has lost quorum: "
            f"{', '.join(bad)} not replicating; writes stall",
            evidence={"kind": g.kind, "asset": g.subject, "leader": g.leader,
                      "replicas": g.replicas, "bad_peers": bad}, fix=_fix(g, bad[0]))
    for g in leaderless:
        yield Finding.fail(
            ID, g.subject, f"{g.kind} {g.subject} (R{g.replicas}) has no leader: it is "
            "unavailable (quorum lost, or an election that does not finish)",
            evidence={"kind": g.kind, "asset": g.subject, "replicas": g.replicas,
                      "answered_by": g.server, "raft_group": g.raft_group,
                      "peers": [dict(p) for p in g.peers]},
            fix=(f"Bring the stopped peers of {g.subject} back; if one is gone for good, "
                 f"`natsops stream cluster peer-remove {g.stream} <server>` once a leader exists. "
                 "A leader missing for a moment after a step-down is normal: confirm with "
                 "`natsops doctor --sample 2s`."))
    for (peer, state), items in sorted(by_peer.items()):
        n = len(items)
        sev = Finding.fail if state == "offline" else Finding.warn
        first = items[0]
        names = ", ".join(i["asset"] for i in items[:5]) + (f" and {n - 5} more" if n > 5 else "")
        lag = max(i["lag"] for i in items)
        msg = (f"replica on {peer} is {state} in {n} group(s) ({names}); max lag {lag} "
               f"entries, last seen {first['active_s']}s ago by the leader")
        if "eta_s" in first:
            msg += f"; catching up, ETA {first['eta_s']}s"
        elif "trend" in first:
            msg += f"; lag {first['trend']}"
        g = _Group(first["kind"], first["asset"], first["asset"].split(" > ")[1],
                   first["asset"].split(" > ")[2] if first["kind"] == "consumer" else None,
                   first["replicas"], first["leader"], first["leader"], (), "")
        yield sev(ID, peer, msg, evidence={"peer": peer, "state": state, "groups": n,
                                           "assets": items[:MAX_LISTED]}, fix=_fix(g, peer))
