"""The cluster as the upgrade sees it, read from one :class:`~natsops.monitoring.Snapshot`.

Every look at the cluster (preflight, plan, each gate poll) is a ``$SYS`` gathering of varz,
jsz (streams and consumers with their config and cluster info) and the full ``/healthz``;
nothing here issues per-stream requests. A group's peer state is only read from the copy its
leader answered with: a follower's view of the other followers is meaningless.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from natsops.monitoring.gather import GatherOptions, gather_sys
from natsops.monitoring.snapshot import Snapshot, as_int, as_map

if TYPE_CHECKING:
    from nats.aio.client import Client

__all__ = ["Group", "SeqWatch", "groups", "meta_leader_of", "meta_leaders", "observe",
           "peer_problem",
           "server_start", "server_version"]

SILENT_S = 10.0  # a peer the leader has not heard from for this long is silent


async def observe(nc: Client, expected: Sequence[str], *, timeout: float = 2.0) -> Snapshot:
    """One gathering: varz, jsz with config, full healthz from every server."""
    opts = GatherOptions(expected_names=tuple(expected), parts=("varz", "jsz", "healthz"),
                         timeout=timeout, gap=0.3, config_files=False)
    return await gather_sys(nc, opts)


@dataclass(frozen=True)
class Group:
    """One stream or consumer Raft group (R1 included)."""

    kind: str  # "stream" or "consumer"
    account: str
    stream: str
    consumer: str | None
    replicas: int
    leader: str | None
    members: tuple[str, ...]  # servers holding a replica
    peers: tuple[Mapping[str, Any], ...]  # the answering copy's view of the other peers
    from_leader: bool  # the copy came from the leader (peer state is valid)

    @property
    def subject(self) -> str:
        tail = f" > {self.consumer}" if self.consumer else ""
        return f"{self.account} > {self.stream}{tail}"

    @property
    def quorum(self) -> int:
        return self.replicas // 2 + 1

    def peer(self, name: str) -> Mapping[str, Any] | None:
        for p in self.peers:
            if p.get("name") == name:
                return p
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "asset": self.subject, "replicas": self.replicas,
                "leader": self.leader, "members": list(self.members)}


def peer_problem(p: Mapping[str, Any] | None) -> str | None:
    """Why a peer (in its leader's view) is not a healthy replica, or None."""
    if p is None:
        return "not in the leader's view"
    if p.get("offline"):
        return "offline"
    if not p.get("current"):
        lag = as_int(p.get("lag"))
        return f"not current ({lag} behind)" if lag else "not current"
    if as_int(p.get("active")) / 1e9 > SILENT_S:
        return "silent"
    return None


def _copies(snap: Snapshot) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    for s in snap.servers:
        for acc in as_map(s.jsz).get("account_details") or ():
            for sd in as_map(acc).get("stream_detail") or ():
                if as_map(sd).get("name"):
                    yield s.name, str(as_map(acc).get("name", "")), sd


def _consumer_replicas(ci: Mapping[str, Any], server: str, stream_r: int) -> int:
    """``num_replicas``; 0 means "as the stream", except for ephemeral consumers (R1): the
    leader's copy lists its peers, so its size decides when it is the leader's."""
    n = as_int(as_map(ci.get("config")).get("num_replicas"))
    if n > 0:
        return n
    cl = as_map(ci.get("cluster"))
    if cl.get("leader") == server:
        return 1 + len(cl.get("replicas") or ())
    return stream_r


def groups(snap: Snapshot) -> list[Group]:
    """Every stream and consumer group once, from its leader's copy when it answered."""
    best: dict[tuple[str, str, str], tuple[str, Mapping[str, Any], int]] = {}
    hosts: dict[tuple[str, str, str], set[str]] = {}
    stream_r: dict[tuple[str, str], int] = {}
    for server, acc, sd in _copies(snap):
        items: list[tuple[str, Mapping[str, Any], int]] = []
        r = as_int(as_map(sd.get("config")).get("num_replicas")) or \
            1 + len(as_map(sd.get("cluster")).get("replicas") or ())
        stream_r[(acc, str(sd["name"]))] = r
        items.append(("", sd, r))
        for ci in sd.get("consumer_detail") or ():
            ci = as_map(ci)
            if ci.get("name"):
                items.append((str(ci["name"]), ci, _consumer_replicas(ci, server, r)))
        for cname, doc, rep in items:
            key = (acc, str(sd["name"]), cname)
            hosts.setdefault(key, set()).add(server)
            leader = as_map(doc.get("cluster")).get("leader")
            cur = best.get(key)
            if cur is None or (leader == server and cur[0] != leader):
                best[key] = (server, doc, rep)
    out = []
    for key, (server, doc, rep) in sorted(best.items()):
        cl = as_map(doc.get("cluster"))
        leader = str(cl.get("leader") or "") or None
        peers = tuple(as_map(p) for p in cl.get("replicas") or () if as_map(p).get("name"))
        members = set(hosts[key]) | {str(p["name"]) for p in peers}
        if leader:
            members.add(leader)
        acc, stream, cname = key
        out.append(Group("consumer" if cname else "stream", acc, stream, cname or None, rep,
                         leader, tuple(sorted(members)), peers, leader == server))
    return out


def meta_leaders(snap: Snapshot) -> dict[str, str | None]:
    """Per JetStream domain ("" the default) the meta leader its servers agree on, or None.

    One cluster has one domain; a local topology has one per leaf site with its own domain
    (each is a separate meta group)."""
    named: dict[str, set[str]] = {}
    for s in snap.servers:
        if s.meta:
            leader = s.meta.get("leader")
            named.setdefault(s.domain or "", set()).update([str(leader)] if leader else ())
    return {d: ls.pop() if len(ls) == 1 else None for d, ls in named.items()}


def meta_leader_of(snap: Snapshot, server: str | None = None) -> str | None:
    """The meta leader when the servers that answered agree on one; with ``server``, of that
    server's JetStream domain; without, of the only domain (else of the default domain)."""
    leaders = meta_leaders(snap)
    if server is not None:
        s = snap.server(server)
        return leaders.get(s.domain or "") if s is not None else None
    if len(leaders) == 1:
        return next(iter(leaders.values()))
    return leaders.get("")


def server_start(snap: Snapshot, name: str) -> str | None:
    s = snap.server(name)
    return str(as_map(s.varz).get("start") or "") or None if s else None


def server_version(snap: Snapshot, name: str) -> str | None:
    s = snap.server(name)
    return s.version or None if s else None


@dataclass
class SeqWatch:
    """The highest ``last_seq`` each server held of each stream: a replica going back aborts."""

    seen: dict[tuple[str, str, str, str], int]
    started: float

    @classmethod
    def new(cls) -> SeqWatch:
        return cls({}, time.monotonic())

    def update(self, snap: Snapshot) -> list[str]:
        """Record this snapshot; return a line per replica whose last sequence went back."""
        bad = []
        for server, acc, sd in _copies(snap):
            created = str(sd.get("created") or "")
            key = (server, acc, str(sd["name"]), created)
            last = as_int(as_map(sd.get("state")).get("last_seq"))
            before = self.seen.get(key)
            if before is not None and last < before:
                bad.append(f"stream {acc} > {sd['name']} on {server}: last sequence went "
                           f"back from {before} to {last}")
            self.seen[key] = max(last, before or 0)
        return bad
