"""Typed views of StreamInfo / ConsumerInfo replies (the raw JSON is kept for ``--json``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from natsops.jetstream.spec import NS

__all__ = ["ClusterView", "ConsumerInfo", "Replica", "SourceState", "StreamInfo"]


@dataclass(frozen=True)
class Replica:
    """One peer of a Raft group as the answering server (normally the leader) sees it."""

    name: str
    leader: bool = False
    current: bool = True
    offline: bool = False
    active_s: float = 0.0
    lag: int = 0
    peer: str = ""

    @property
    def healthy(self) -> bool:
        # offline first, then current; a peer not heard from for over 10 s is not healthy
        return self.leader or (not self.offline and self.current and self.active_s <= 10)


@dataclass(frozen=True)
class ClusterView:
    """The ``cluster`` block: leader and peers (leader listed first)."""

    name: str
    leader: str
    raft_group: str
    peers: tuple[Replica, ...]

    @classmethod
    def parse(cls, data: Mapping[str, Any] | None) -> ClusterView | None:
        if not data:
            return None
        leader = str(data.get("leader") or "")
        peers = [Replica(name=leader, leader=True)] if leader else []
        for r in data.get("replicas") or []:
            peers.append(Replica(
                name=str(r.get("name", "")), current=bool(r.get("current", False)),
                offline=bool(r.get("offline", False)),
                active_s=int(r.get("active") or 0) / NS, lag=int(r.get("lag") or 0),
                peer=str(r.get("peer", ""))))
        return cls(name=str(data.get("name") or ""), leader=leader,
                   raft_group=str(data.get("raft_group") or ""), peers=tuple(peers))

    @property
    def unhealthy(self) -> tuple[Replica, ...]:
        return tuple(p for p in self.peers if not p.healthy)

    @property
    def healthy(self) -> bool:
        """A leader is known and every follower is online, current and recently heard."""
        return bool(self.leader) and not self.unhealthy


@dataclass(frozen=True)
class SourceState:
    """A mirror or source of a stream: how far behind it is and when it was last heard."""

    kind: str  # "mirror" or "source"
    name: str
    lag: int
    active_s: float | None  # None: never active
    error: str | None
    external_api: str | None

    @classmethod
    def parse(cls, kind: str, data: Mapping[str, Any]) -> SourceState:
        active = int(data.get("active", -1))
        err = data.get("error") or None
        return cls(kind=kind, name=str(data.get("name", "")), lag=int(data.get("lag") or 0),
                   active_s=None if active < 0 else active / NS,
                   error=str(err.get("description", err)) if isinstance(err, Mapping) else err,
                   external_api=(data.get("external") or {}).get("api"))


@dataclass(frozen=True)
class StreamInfo:
    """A stream: its config (API JSON shape), state counters and cluster view."""

    name: str
    config: Mapping[str, Any]
    created: str
    messages: int
    bytes: int
    first_seq: int
    last_seq: int
    consumers: int
    num_subjects: int
    num_deleted: int
    lost_msgs: int
    lost_bytes: int
    cluster: ClusterView | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)
    sources: tuple[SourceState, ...] = ()

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> StreamInfo:
        raw = {k: v for k, v in data.items() if k not in ("type", "did_create", "total",
                                                             "offset", "limit")}
        cfg = raw.get("config") or {}
        st = raw.get("state") or {}
        lost = st.get("lost") or {}
        return cls(
            name=str(cfg.get("name", "")), config=cfg, created=str(raw.get("created", "")),
            messages=int(st.get("messages") or 0), bytes=int(st.get("bytes") or 0),
            first_seq=int(st.get("first_seq") or 0), last_seq=int(st.get("last_seq") or 0),
            consumers=int(st.get("consumer_count") or 0),
            num_subjects=int(st.get("num_subjects") or 0),
            num_deleted=int(st.get("num_deleted") or 0),
            lost_msgs=len(lost.get("msgs") or []), lost_bytes=int(lost.get("bytes") or 0),
            cluster=ClusterView.parse(raw.get("cluster")), raw=raw,
            sources=tuple([SourceState.parse("mirror", raw["mirror"])] if raw.get("mirror")
                          else [SourceState.parse("source", s) for s in raw.get("sources") or []]))

    @property
    def replicas(self) -> int:
        return int(self.config.get("num_replicas") or 1)

    @property
    def storage(self) -> str:
        return str(self.config.get("storage") or "file")


@dataclass(frozen=True)
class ConsumerInfo:
    """A consumer: config (API JSON shape), delivery counters and cluster view."""

    stream: str
    name: str
    config: Mapping[str, Any]
    created: str
    num_pending: int
    num_ack_pending: int
    num_redelivered: int
    num_waiting: int
    delivered_stream_seq: int
    ack_floor_stream_seq: int
    last_delivery: str | None
    paused: bool
    cluster: ClusterView | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> ConsumerInfo:
        raw = {k: v for k, v in data.items() if k != "type"}
        dl = raw.get("delivered") or {}
        af = raw.get("ack_floor") or {}
        return cls(
            stream=str(raw.get("stream_name", "")), name=str(raw.get("name", "")),
            config=raw.get("config") or {}, created=str(raw.get("created", "")),
            num_pending=int(raw.get("num_pending") or 0),
            num_ack_pending=int(raw.get("num_ack_pending") or 0),
            num_redelivered=int(raw.get("num_redelivered") or 0),
            num_waiting=int(raw.get("num_waiting") or 0),
            delivered_stream_seq=int(dl.get("stream_seq") or 0),
            ack_floor_stream_seq=int(af.get("stream_seq") or 0),
            last_delivery=dl.get("last_active"), paused=bool(raw.get("paused", False)),
            cluster=ClusterView.parse(raw.get("cluster")), raw=raw)

    @property
    def is_pull(self) -> bool:
        return not self.config.get("deliver_subject")
