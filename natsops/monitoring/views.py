"""Read-only views built from a Snapshot: ``server ls``, ``server info``, ``server report
jetstream`` and ``top``. Plain frozen dataclasses; the CLI renders them.

Each view names the documents it reads (``*_GATHER``): gathering asks for those only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from natsops.errors import NotFound
from natsops.monitoring.gather import GatherOptions
from natsops.monitoring.snapshot import ServerView, Snapshot, as_int
from natsops.monitoring.snapshot import as_map as _m

__all__ = [
    "INFO_GATHER",
    "JETSTREAM_GATHER",
    "LS_GATHER",
    "SORT_KEYS",
    "ConnRow",
    "JetStreamReport",
    "JsServerRow",
    "MetaPeerRow",
    "ServerRow",
    "TopFrame",
    "absent",
    "jetstream_report",
    "server_info",
    "server_infos",
    "server_rows",
    "top_frame",
]


def _i(v: Any) -> int:
    return as_int(v)


def absent(snap: Snapshot) -> tuple[str, ...]:
    """What should have answered and did not: a view built from ``snap`` is partial.

    Expected servers by name (inventory, meta group), the monitor URLs that failed (over HTTP
    a URL and a name cannot be matched: a server may be named twice), and the shortfall
    against ``--expect N`` that neither accounts for.
    """
    out = [*snap.missing, *sorted(snap.unreachable)]
    short = snap.expected_count - len(snap.servers) - len(out)
    if short > 0:
        out.append(f"{short} more of the {snap.expected_count} expected (--expect)")
    return tuple(out)


# what each view reads; a local cluster's config files are not digested for a view
LS_GATHER = GatherOptions(parts=("varz",), config_files=False)
INFO_GATHER = GatherOptions(parts=("varz", "jsz", "gatewayz", "healthz"), jsz_detail=False,
                            config_files=False)
JETSTREAM_GATHER = GatherOptions(parts=("varz", "jsz"), jsz_detail=False, config_files=False)


@dataclass(frozen=True)
class ServerRow:
    """One line of ``server ls`` (like ``nats server list``); ``answered`` False = missing."""

    name: str
    answered: bool
    cluster: str | None = None
    host: str | None = None
    version: str | None = None
    jetstream: bool = False
    connections: int = 0
    subscriptions: int = 0
    routes: int = 0
    leafnodes: int = 0
    slow_consumers: int = 0
    mem: int = 0
    cpu: float = 0.0
    uptime: str | None = None
    rtt_ms: float | None = None


def server_rows(snap: Snapshot) -> tuple[ServerRow, ...]:
    """Every server that answered, then every expected one that did not."""
    rows = []
    for s in snap.servers:
        v = _m(s.varz)
        rows.append(ServerRow(
            name=s.name, answered=True, cluster=s.cluster, host=v.get("host"),
            version=s.version, jetstream=s.jetstream, connections=_i(v.get("connections")),
            subscriptions=_i(v.get("subscriptions")), routes=_i(v.get("routes")),
            leafnodes=_i(v.get("leafnodes")), slow_consumers=_i(v.get("slow_consumers")),
            mem=_i(v.get("mem")), cpu=float(v.get("cpu") or 0.0), uptime=v.get("uptime"),
            rtt_ms=round(s.rtt * 1000, 2) if s.rtt is not None else None))
    rows.extend(ServerRow(name=n, answered=False) for n in [*snap.missing, *snap.unreachable])
    return tuple(rows)



def server_info(snap: Snapshot, name: str) -> dict[str, dict[str, Any]]:
    """The facts about one server, in sections (identity, limits, load, JetStream, links)."""
    s = snap.server(name)
    if s is None:
        raise _not_gathered(snap, name)
    v = _m(s.varz)
    js = _m(s.jsz)
    cfg = _m(js.get("config"))
    meta = s.meta
    out: dict[str, dict[str, Any]] = {
        "server": {"name": s.name, "id": s.id, "version": s.version, "go": v.get("go"),
                   "git_commit": v.get("git_commit"), "cluster": s.cluster, "domain": s.domain,
                   "host": v.get("host"), "port": v.get("port"), "tags": v.get("tags"),
                   "start": v.get("start"), "uptime": v.get("uptime"),
                   "config_load_time": v.get("config_load_time"),
                   "config_digest": v.get("config_digest"), "source": s.source},
        "limits": {k: v.get(k) for k in ("max_connections", "max_subscriptions", "max_payload",
                                         "max_pending", "max_control_line", "ping_interval",
                                         "ping_max", "write_deadline", "auth_timeout")},
        "load": {k: v.get(k) for k in ("cpu", "mem", "cores", "gomaxprocs", "connections",
                                       "total_connections", "subscriptions", "slow_consumers",
                                       "stalled_clients", "stale_connections", "in_msgs",
                                       "out_msgs", "in_bytes", "out_bytes")},
        "links": {"routes": v.get("routes"), "remotes": v.get("remotes"),
                  "leafnodes": v.get("leafnodes"),
                  "gateways": len(_m(_m(s.gatewayz).get("outbound_gateways")))},
    }
    if s.jetstream:
        out["jetstream"] = {
            "store_dir": cfg.get("store_dir"), "max_memory": cfg.get("max_memory"),
            "max_storage": cfg.get("max_storage"), "memory": js.get("memory"),
            "storage": js.get("storage"), "reserved_memory": js.get("reserved_memory"),
            "reserved_storage": js.get("reserved_storage"), "streams": js.get("streams"),
            "consumers": js.get("consumers"), "api_level": _m(js.get("api")).get("level"),
            "api_total": _m(js.get("api")).get("total"),
            "api_errors": _m(js.get("api")).get("errors"),
            "meta_leader": meta.get("leader"), "meta_cluster_size": meta.get("cluster_size")}
    if s.healthz is not None:
        out["health"] = {"status": s.healthz.get("status"), "error": s.healthz.get("error")}
    return out


def _not_gathered(snap: Snapshot, name: str) -> NotFound:
    """Why ``name`` is not in the Snapshot: not asked (no monitor URL for it) or no answer."""
    answered = ", ".join(snap.names) or "none"
    if snap.transport == "http" and name not in snap.expected:
        # over HTTP only the given monitors are asked: a server without one was never asked
        asked = ", ".join(f"{s.name} at {s.source}" for s in snap.servers) or "none"
        silent = "".join(f"; {u} did not answer" for u in snap.unreachable)
        known = " (a meta peer)" if name in snap.meta_peers else ""
        return NotFound(f"server {name!r}{known} has no monitor URL given: only {asked} "
                        f"answered{silent}", hint=f"add --monitor with {name}'s monitor URL, "
                        "or leave out --monitor to ask every server over the system account")
    return NotFound(f"server {name!r} did not answer", hint=f"servers that answered: {answered}")


def server_infos(snap: Snapshot, name: str | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    """:func:`server_info` of the server ``name``, or of every server that answered."""
    return {n: server_info(snap, n) for n in ([name] if name else snap.names)}


@dataclass(frozen=True)
class JsServerRow:
    """One server's JetStream usage (``server report jetstream``)."""

    server: str
    meta_leader: bool
    cluster: str | None
    domain: str | None
    streams: int
    consumers: int
    messages: int
    bytes: int
    memory: int
    storage: int
    max_memory: int
    max_storage: int
    api_total: int
    api_errors: int
    meta_pending: int


@dataclass(frozen=True)
class MetaPeerRow:
    """One meta-group peer, from the meta leader's view."""

    name: str
    peer: str
    leader: bool
    current: bool
    online: bool
    active_s: float | None
    lag: int


@dataclass(frozen=True)
class JetStreamReport:
    rows: tuple[JsServerRow, ...]
    meta_leader: str | None
    cluster_size: int
    peers: tuple[MetaPeerRow, ...]
    missing: tuple[str, ...]


def jetstream_report(snap: Snapshot) -> JetStreamReport:
    """Per-server JetStream usage and the meta group (leader and peer state)."""
    rows = []
    leader_view: ServerView | None = None
    for s in snap.servers:
        if not s.jetstream:
            continue
        js, meta = _m(s.jsz), s.meta
        cfg = _m(js.get("config"))
        is_leader = bool(meta) and meta.get("leader") == s.name
        if is_leader:
            leader_view = s
        rows.append(JsServerRow(
            server=s.name, meta_leader=is_leader, cluster=s.cluster, domain=s.domain,
            streams=_i(js.get("streams")), consumers=_i(js.get("consumers")),
            messages=_i(js.get("messages")), bytes=_i(js.get("bytes")),
            memory=_i(js.get("memory")), storage=_i(js.get("storage")),
            max_memory=_i(cfg.get("max_memory")), max_storage=_i(cfg.get("max_storage")),
            api_total=_i(_m(js.get("api")).get("total")),
            api_errors=_i(_m(js.get("api")).get("errors")),
            meta_pending=_i(meta.get("pending"))))
    peers: list[MetaPeerRow] = []
    if leader_view is not None:
        meta = leader_view.meta
        peers.append(MetaPeerRow(leader_view.name, str(meta.get("peer", "")), True, True, True,
                                 None, 0))
        for r in meta.get("replicas") or ():
            r = _m(r)
            peers.append(MetaPeerRow(
                name=str(r.get("name", "")), peer=str(r.get("peer", "")), leader=False,
                current=bool(r.get("current")), online=not r.get("offline"),
                active_s=round(_i(r.get("active")) / 1e9, 3), lag=_i(r.get("lag"))))
    return JetStreamReport(
        rows=tuple(sorted(rows, key=lambda r: (r.cluster or "", r.server))),
        meta_leader=leader_view.name if leader_view else None,
        cluster_size=_i(snap.meta_view.get("cluster_size")),
        peers=tuple(sorted(peers, key=lambda p: p.name)), missing=absent(snap))


# ---- top --------------------------------------------------------------------------------------

SORT_KEYS = {
    "cid": "cid", "pending": "pending_bytes", "subs": "subscriptions", "msgs_to": "out_msgs",
    "msgs_from": "in_msgs", "bytes_to": "out_bytes", "bytes_from": "in_bytes", "idle": "idle",
    "uptime": "uptime",
}  # natsops name -> connz field; the same names as connz ?sort= and nats-top


@dataclass(frozen=True)
class ConnRow:
    """One connection in a ``top`` frame; rates are per second since the previous frame."""

    server: str
    cid: int
    name: str
    account: str
    host: str
    lang: str
    version: str
    subscriptions: int
    pending_bytes: int
    out_msgs: int
    in_msgs: int
    out_bytes: int
    in_bytes: int
    out_msgs_rate: float | None
    in_msgs_rate: float | None
    out_bytes_rate: float | None
    in_bytes_rate: float | None
    uptime: str
    idle: str


@dataclass(frozen=True)
class TopFrame:
    """One refresh of ``top``: server totals and rates, then the connections."""

    servers: tuple[dict[str, Any], ...]
    connections: tuple[ConnRow, ...]
    missing: tuple[str, ...]


_DUR = re.compile(r"(\d+(?:\.\d+)?)(ns|µs|us|ms|h|m|s|d)")
_DUR_S = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0,
          "d": 86400.0}


def _go_duration(text: Any) -> float:
    """Seconds in a Go duration string such as ``1h2m3.5s`` or ``730µs``."""
    return sum(float(n) * _DUR_S[u] for n, u in _DUR.findall(str(text or "")))


def _time(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    head, _, frac = value.rstrip("Z").partition(".")
    try:
        return datetime.fromisoformat(head + "+00:00").timestamp() + float(f"0.{frac or 0}")
    except ValueError:
        return None


def top_frame(snap: Snapshot, previous: Snapshot | None = None, *, sort: str = "pending",
              limit: int = 20) -> TopFrame:
    """Connections of every server, sorted; rates from the deltas against ``previous``.

    Deltas use the servers' own clocks (``connz.now``) and are keyed by (server, cid):
    connections that are new since the previous frame get no rate.
    """
    prev: dict[tuple[str, int], tuple[float, Mapping[str, Any]]] = {}
    prev_srv: dict[str, tuple[float, Mapping[str, Any]]] = {}
    if previous is not None:
        for s in previous.servers:
            now = _time(_m(s.connz).get("now"))
            if now is not None:
                for c in _m(s.connz).get("connections") or ():
                    prev[(s.name, _i(_m(c).get("cid")))] = (now, _m(c))
            vnow = _time(_m(s.varz).get("now"))
            if vnow is not None:
                prev_srv[s.name] = (vnow, _m(s.varz))
    rows: list[ConnRow] = []
    servers: list[dict[str, Any]] = []
    for s in snap.servers:
        v = _m(s.varz)
        srow: dict[str, Any] = {"server": s.name, "version": s.version,
                                "connections": _i(v.get("connections")),
                                "subscriptions": _i(v.get("subscriptions")),
                                "slow_consumers": _i(v.get("slow_consumers")),
                                "mem": _i(v.get("mem")), "cpu": v.get("cpu")}
        vnow = _time(v.get("now"))
        pv = prev_srv.get(s.name)
        for k in ("in_msgs", "out_msgs", "in_bytes", "out_bytes"):
            rate = None
            if pv is not None and vnow is not None and vnow > pv[0] \
                    and pv[1].get("start") == v.get("start"):
                rate = (_i(v.get(k)) - _i(pv[1].get(k))) / (vnow - pv[0])
            srow[f"{k}_rate"] = rate
        servers.append(srow)
        now = _time(_m(s.connz).get("now"))
        for c in _m(s.connz).get("connections") or ():
            c = _m(c)
            cid = _i(c.get("cid"))
            p = prev.get((s.name, cid))
            rates: dict[str, float | None] = {}
            for k in ("out_msgs", "in_msgs", "out_bytes", "in_bytes"):
                rates[k] = None
                if p is not None and now is not None and now > p[0]:
                    rates[k] = (_i(c.get(k)) - _i(p[1].get(k))) / (now - p[0])
            rows.append(ConnRow(
                server=s.name, cid=cid, name=str(c.get("name") or ""),
                account=str(c.get("account") or ""),
                host=f"{c.get('ip', '')}:{c.get('port', '')}", lang=str(c.get("lang") or ""),
                version=str(c.get("version") or ""), subscriptions=_i(c.get("subscriptions")),
                pending_bytes=_i(c.get("pending_bytes")), out_msgs=_i(c.get("out_msgs")),
                in_msgs=_i(c.get("in_msgs")), out_bytes=_i(c.get("out_bytes")),
                in_bytes=_i(c.get("in_bytes")), out_msgs_rate=rates["out_msgs"],
                in_msgs_rate=rates["in_msgs"], out_bytes_rate=rates["out_bytes"],
                in_bytes_rate=rates["in_bytes"], uptime=str(c.get("uptime") or ""),
                idle=str(c.get("idle") or "")))
    field = SORT_KEYS.get(sort, "pending_bytes")
    if field in ("idle", "uptime"):
        rows.sort(key=lambda r: -_go_duration(getattr(r, field)))
    elif field == "cid":
        rows.sort(key=lambda r: (r.server, r.cid))
    else:
        rows.sort(key=lambda r: -_i(getattr(r, field)))
    return TopFrame(servers=tuple(servers), connections=tuple(rows[:limit]),
                    missing=absent(snap))
