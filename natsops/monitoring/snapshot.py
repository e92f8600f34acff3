"""The gathered state of a deployment: one :class:`Snapshot`, read by every check and view.

A Snapshot holds, per server that answered, the raw monitoring documents (varz, jsz, connz...)
exactly as the server sent them, plus what the gathering step knows about the servers that
did *not* answer. Derived views (streams and consumers from their leader's point of view, the
meta group from the meta leader) are computed here once, so checks stay small.

Snapshots serialise to plain JSON (:meth:`Snapshot.to_dict` / :meth:`Snapshot.from_dict`): the
unit tests run the checks on snapshots recorded from real servers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

__all__ = ["ConsumerView", "ServerView", "Snapshot", "StreamView", "as_int", "as_map"]

Doc = Mapping[str, Any]
UNLIMITED = 2**63  # uint64 "-1" as the server prints unlimited reservations


def as_map(value: Any) -> Doc:
    """``value`` if it is a mapping, else an empty one (server documents can lack a key)."""
    return value if isinstance(value, Mapping) else {}


def as_int(value: Any, default: int = 0) -> int:
    """``value`` as an int when it is a number (bools and strings give ``default``)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    return default


_m = as_map


@dataclass(frozen=True)
class ServerView:
    """Everything one server answered. A document is None when that request failed."""

    name: str
    id: str
    cluster: str | None = None
    domain: str | None = None
    version: str = ""
    source: str = ""  # "sys" or the monitor URL
    varz: Doc | None = None
    jsz: Doc | None = None
    connz: Doc | None = None  # open connections, top-N by pending bytes
    connz_closed: Doc | None = None  # recently closed connections, newest first
    connz_subs: Doc | None = None  # open connections, top-N by subscription count
    routez: Doc | None = None
    leafz: Doc | None = None
    gatewayz: Doc | None = None
    healthz: Doc | None = None  # {"status", "status_code", "error"}
    healthz_js: Doc | None = None  # the js-enabled-only variant
    accountz: Doc | None = None
    errors: Mapping[str, str] = field(default_factory=dict)  # endpoint -> why it failed
    rtt: float | None = None  # seconds until its varz answer arrived
    # operator mode: account public key -> the claim this server runs (jti, iat, name, ...)
    account_claims: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # an https monitor: the certificate chain its TLS handshake showed (leaf first)
    monitor_tls: Sequence[Mapping[str, Any]] | None = None

    @property
    def jetstream(self) -> bool:
        """True when JetStream is enabled on this server (and not disabled after a fault)."""
        if self.jsz is not None:
            return bool(self.jsz.get("config")) and not self.jsz.get("disabled")
        js = _m(_m(self.varz).get("jetstream"))
        return bool(js.get("config"))

    @property
    def meta(self) -> Doc:
        """This server's view of the JetStream meta group (empty when standalone)."""
        from_jsz = _m(_m(self.jsz).get("meta_cluster"))
        return from_jsz or _m(_m(_m(self.varz).get("jetstream")).get("meta"))

    def to_dict(self) -> dict[str, Any]:
        return {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class ConsumerView:
    """One consumer, from its leader's jsz copy when one exists."""

    account: str
    stream: str
    name: str
    info: Doc
    server: str  # the server whose copy this is

    @property
    def config(self) -> Doc:
        return _m(self.info.get("config"))

    @property
    def cluster(self) -> Doc:
        return _m(self.info.get("cluster"))

    @property
    def leader(self) -> str | None:
        return self.cluster.get("leader") or None


@dataclass(frozen=True)
class StreamView:
    """One stream, from its leader's jsz copy when one exists (a leaderless copy otherwise)."""

    account: str
    name: str
    detail: Doc
    server: str
    hosts: tuple[str, ...] = ()  # every server that listed a copy

    @property
    def config(self) -> Doc:
        return _m(self.detail.get("config"))

    @property
    def state(self) -> Doc:
        return _m(self.detail.get("state"))

    @property
    def cluster(self) -> Doc:
        return _m(self.detail.get("cluster"))

    @property
    def leader(self) -> str | None:
        return self.cluster.get("leader") or None

    @property
    def replicas(self) -> int:
        n = self.config.get("num_replicas")
        if isinstance(n, int) and n > 0:
            return n
        return 1 + len([r for r in self.cluster.get("replicas") or () if isinstance(r, Mapping)])

    @property
    def peers(self) -> tuple[Doc, ...]:
        """The other peers as the answering server sees them (the leader's view if led)."""
        return tuple(r for r in self.cluster.get("replicas") or () if isinstance(r, Mapping))

    @property
    def subject(self) -> str:
        return f"{self.account} > {self.name}"


@dataclass(frozen=True)
class Snapshot:
    """One gathering of a deployment (see module doc)."""

    servers: tuple[ServerView, ...]
    transport: str  # "sys" or "http"
    expected: tuple[str, ...] = ()  # names we expected to answer (inventory), may be empty
    expected_count: int = 0  # --expect N (0: unknown)
    unreachable: Mapping[str, str] = field(default_factory=dict)  # source -> error (HTTP)
    taken_at: float = 0.0  # epoch seconds
    seconds: float = 0.0  # how long gathering took
    requests: int = 0  # requests sent ($SYS publishes or HTTP GETs)
    # server name -> {"path", "digest", "error"}: its config file on disk (local cluster)
    config_files: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # server name -> {"path", "total", "free", "avail"} (bytes) or {"path", "error"}: the
    # filesystem of its store_dir, measured here (a local cluster only: see gather)
    disk: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    previous: Snapshot | None = field(default=None, compare=False, repr=False)
    # an older run's Snapshot (``doctor --since ARCHIVE``), for trends over hours or days
    baseline: Snapshot | None = field(default=None, compare=False, repr=False)

    # ---- servers -------------------------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.servers)

    def server(self, name: str) -> ServerView | None:
        for s in self.servers:
            if s.name == name:
                return s
        return None

    @cached_property
    def meta_view(self) -> Doc:
        """The meta group as the meta leader sees it (its peers' state is only valid there)."""
        views = [(s, s.meta) for s in self.servers if s.meta]
        for s, meta in views:
            if meta.get("leader") == s.name:
                return meta
        return views[0][1] if views else {}

    @cached_property
    def meta_peers(self) -> tuple[str, ...]:
        """Every meta peer name known to any server (offline ones included)."""
        names: set[str] = set()
        for s in self.servers:
            meta = s.meta
            if not meta:
                continue
            names.add(s.name)
            if meta.get("leader"):
                names.add(str(meta["leader"]))
            for r in meta.get("replicas") or ():
                if isinstance(r, Mapping) and r.get("name"):
                    names.add(str(r["name"]))
        return tuple(sorted(names))

    def _meta_peer_healthy(self, name: str) -> bool:
        view = self.meta_view
        if not view or view.get("leader") is None:
            return False
        for r in view.get("replicas") or ():
            if isinstance(r, Mapping) and r.get("name") == name:
                return bool(r.get("current")) and not r.get("offline")
        return view.get("leader") == name

    @cached_property
    def missing(self) -> tuple[str, ...]:
        """Expected servers (inventory or meta peers) that did not answer.

        Over HTTP only the given monitors are asked: a meta peer without a monitor URL that
        the meta leader sees healthy is :attr:`unmonitored`, not missing.
        """
        want = set(self.expected) | set(self.meta_peers)
        gone = want - set(self.names)
        return tuple(sorted(n for n in gone if n not in self.unmonitored))

    @cached_property
    def unmonitored(self) -> tuple[str, ...]:
        """HTTP only: meta peers not in the inventory, not asked, and healthy per the leader."""
        if self.transport != "http":
            return ()
        asked = set(self.names) | set(self.expected)
        return tuple(sorted(n for n in self.meta_peers
                            if n not in asked and self._meta_peer_healthy(n)))

    @property
    def clustered(self) -> bool:
        """True for a clustered JetStream (a meta group larger than one)."""
        size = self.meta_view.get("cluster_size")
        return (isinstance(size, int) and size > 1) or len(self.meta_peers) > 1

    # ---- JetStream assets ----------------------------------------------------------------
    def _stream_copies(self) -> Iterator[tuple[ServerView, str, Doc]]:
        for s in self.servers:
            for acc in _m(s.jsz).get("account_details") or ():
                if not isinstance(acc, Mapping):
                    continue
                for sd in acc.get("stream_detail") or ():
                    if isinstance(sd, Mapping) and sd.get("name"):
                        yield s, str(acc.get("name", "")), sd

    @cached_property
    def streams(self) -> tuple[StreamView, ...]:
        """Every stream once, from the copy its leader answered with when there is one."""
        best: dict[tuple[str, str], StreamView] = {}
        hosts: dict[tuple[str, str], list[str]] = {}
        for s, acc, sd in self._stream_copies():
            key = (acc, str(sd["name"]))
            hosts.setdefault(key, []).append(s.name)
            leader = _m(sd.get("cluster")).get("leader")
            cur = best.get(key)
            if cur is None or (leader == s.name and cur.leader != cur.server):
                best[key] = StreamView(acc, key[1], sd, s.name)
        return tuple(replace(v, hosts=tuple(sorted(hosts[k]))) for k, v in sorted(best.items()))

    @cached_property
    def consumers(self) -> tuple[ConsumerView, ...]:
        """Every consumer once, preferring the copy of the server that leads it."""
        best: dict[tuple[str, str, str], ConsumerView] = {}
        for s, acc, sd in self._stream_copies():
            for ci in sd.get("consumer_detail") or ():
                if not isinstance(ci, Mapping) or not ci.get("name"):
                    continue
                key = (acc, str(sd["name"]), str(ci["name"]))
                leader = _m(ci.get("cluster")).get("leader")
                cur = best.get(key)
                if cur is None or (leader == s.name and cur.leader != cur.server):
                    best[key] = ConsumerView(acc, key[1], key[2], ci, s.name)
        return tuple(v for _, v in sorted(best.items()))

    # ---- persistence -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe document (without ``previous``)."""
        return {
            "servers": [s.to_dict() for s in self.servers],
            "transport": self.transport,
            "expected": list(self.expected),
            "expected_count": self.expected_count,
            "unreachable": dict(self.unreachable),
            "taken_at": self.taken_at,
            "seconds": self.seconds,
            "requests": self.requests,
            "config_files": {k: dict(v) for k, v in self.config_files.items()},
            "disk": {k: dict(v) for k, v in self.disk.items()},
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Snapshot:
        fields = set(ServerView.__dataclass_fields__)
        servers = tuple(ServerView(**{k: v for k, v in s.items() if k in fields})
                        for s in doc.get("servers") or ())
        return cls(
            servers=servers,
            transport=str(doc.get("transport", "")),
            expected=tuple(doc.get("expected") or ()),
            expected_count=int(doc.get("expected_count") or 0),
            unreachable=dict(doc.get("unreachable") or {}),
            taken_at=float(doc.get("taken_at") or 0.0),
            seconds=float(doc.get("seconds") or 0.0),
            requests=int(doc.get("requests") or 0),
            config_files=dict(doc.get("config_files") or {}),
            disk=dict(doc.get("disk") or {}),
        )

    def with_previous(self, previous: Snapshot | None) -> Snapshot:
        return replace(self, previous=previous)

    def with_baseline(self, baseline: Snapshot | None) -> Snapshot:
        return replace(self, baseline=baseline)
