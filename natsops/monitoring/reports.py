"""Reports over every server: connections, accounts, routes, gateways, leafnodes, health; and
acting on a server: kick a client, reload the config.

The link reports read one :class:`~natsops.monitoring.snapshot.Snapshot` (``$SYS`` or HTTP);
``accounts`` and the actions need a system-account connection (``$SYS.REQ.ACCOUNT.PING.STATZ``,
``$SYS.REQ.SERVER.<id>.KICK|RELOAD``). Every report carries ``missing``: the servers that should
have answered and did not (the caller exits 11 INCOMPLETE after printing the rest).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from natsops.errors import NotFound, ServerError, Timeout, UsageError
from natsops.monitoring.gather import GatherOptions
from natsops.monitoring.snapshot import Snapshot, as_int, as_map
from natsops.monitoring.sys import ping_server, sys_ping
from natsops.monitoring.views import absent

if TYPE_CHECKING:
    from nats.aio.client import Client

__all__ = [
    "CONN_SORTS",
    "SLOW_PENDING",
    "AccountRow",
    "ConnRow",
    "HealthRow",
    "KickResult",
    "LinkRow",
    "ReloadResult",
    "account_info_own",
    "account_info_sys",
    "account_rows",
    "connection_rows",
    "connections_gather",
    "find_server",
    "health_rows",
    "kick",
    "link_rows",
    "reload_config",
    "reload_server",
]

# --sort NAME: (the server's connz sort option, the row field sorted on, descending)
CONN_SORTS: dict[str, tuple[str, str]] = {
    "in-msgs": ("msgs_from", "in_msgs"), "out-msgs": ("msgs_to", "out_msgs"),
    "in-bytes": ("bytes_from", "in_bytes"), "out-bytes": ("bytes_to", "out_bytes"),
    "pending": ("pending", "pending"), "subs": ("subs", "subs"),
    "uptime": ("uptime", "uptime_s"), "idle": ("idle", "idle_s"), "rtt": ("rtt", "rtt_s"),
}  # fmt: skip
SLOW_PENDING = 1 << 20  # bytes queued to a client right now that make it "slow"
KICK_SINCE = (2, 10, 0)  # $SYS.REQ.SERVER.<id>.KICK exists from nats-server 2.10.0


def _secs(text: Any) -> float:
    from natsops.units import parse_duration

    try:
        return parse_duration(str(text)) if text else 0.0
    except UsageError:
        return 0.0


# ---- connections ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnRow:
    """One client connection as its server reports it."""

    server: str
    cid: int
    name: str
    account: str
    user: str
    ip: str
    port: int
    lang: str
    version: str
    subs: int
    pending: int
    in_msgs: int
    out_msgs: int
    in_bytes: int
    out_bytes: int
    uptime_s: float
    idle_s: float
    rtt_s: float
    state: str  # open / closed
    reason: str  # why it closed
    stalls: int
    slow: bool  # pending >= SLOW_PENDING, stalled producers, or closed as a slow consumer


def connections_gather(sort: str, top: int, *, account: str = "", subject: str = "",
                       name: str = "", state: str = "open") -> GatherOptions:
    """What to ask every server for a connections report."""
    if sort not in CONN_SORTS:
        raise UsageError(f"unknown sort {sort!r}: use {', '.join(CONN_SORTS)}")
    if state not in ("open", "closed"):
        raise UsageError(f"unknown state {state!r}: use open or closed")
    if top < 1:
        raise UsageError("--top must be at least 1")
    # filters applied here (name, subject) need every connection, not the server's top N
    limit = 1024 if subject or name or top > 1024 else top
    return GatherOptions(parts=("varz", "connz" if state == "open" else "connz_closed"),
                         connz_sort=CONN_SORTS[sort][0], connz_limit=limit,
                         connz_account=account, connz_subs=bool(subject), jsz_detail=False,
                         config_files=False)


def _conn_row(server: str, c: Mapping[str, Any], state: str) -> ConnRow:
    pending, stalls, reason = as_int(c.get("pending_bytes")), as_int(c.get("stalls")), \
        str(c.get("reason") or "")
    return ConnRow(
        server=server, cid=as_int(c.get("cid")), name=str(c.get("name") or ""),
        account=str(c.get("account") or ""), user=str(c.get("authorized_user") or ""),
        ip=str(c.get("ip") or ""), port=as_int(c.get("port")), lang=str(c.get("lang") or ""),
        version=str(c.get("version") or ""), subs=as_int(c.get("subscriptions")),
        pending=pending, in_msgs=as_int(c.get("in_msgs")), out_msgs=as_int(c.get("out_msgs")),
        in_bytes=as_int(c.get("in_bytes")), out_bytes=as_int(c.get("out_bytes")),
        uptime_s=_secs(c.get("uptime")), idle_s=_secs(c.get("idle")), rtt_s=_secs(c.get("rtt")),
        state=state, reason=reason, stalls=stalls,
        slow=pending >= SLOW_PENDING or stalls > 0 or reason.startswith("Slow Consumer"))


def connection_rows(snap: Snapshot, *, sort: str = "in-msgs", top: int = 25, name: str = "",
                    subject: str = "", state: str = "open") -> tuple[tuple[ConnRow, ...], int,
                                                                      tuple[str, ...]]:
    """(the top ``top`` connections across all servers sorted by ``sort``, how many matched,
    the servers missing). ``name`` matches a substring of the connection name; ``subject``
    keeps connections with a subscription that receives messages published on it."""
    from natsops.subjects import covers

    part = "connz" if state == "open" else "connz_closed"
    rows = []
    for s in snap.servers:
        for c in as_map(getattr(s, part)).get("connections") or ():
            if not isinstance(c, Mapping) or name not in str(c.get("name") or ""):
                continue
            subs = [str(x) for x in c.get("subscriptions_list") or ()]
            if subject and not any(covers(p, subject) for p in subs):
                continue
            rows.append(_conn_row(s.name, c, state))
    field = CONN_SORTS[sort][1]
    rows.sort(key=lambda r: (-getattr(r, field), r.server, r.cid))
    return tuple(rows[:top]), len(rows), absent(snap)


# ---- routes, gateways, leafnodes -----------------------------------------------------------


@dataclass(frozen=True)
class LinkRow:
    """One route, gateway or leafnode connection seen from ``server``."""

    server: str
    kind: str  # route / gateway-out / gateway-in / leafnode
    remote: str  # the remote server's name (gateways: the remote gateway/cluster name)
    account: str
    ip: str
    port: int
    rtt_s: float
    pending: int
    in_msgs: int
    out_msgs: int
    in_bytes: int
    out_bytes: int
    subs: int
    uptime_s: float
    detail: str  # compression, solicited/configured, spoke/hub


LINK_PARTS = {"routes": "routez", "gateways": "gatewayz", "leafnodes": "leafz"}


def _link(server: str, kind: str, remote: str, c: Mapping[str, Any], detail: str) -> LinkRow:
    return LinkRow(server=server, kind=kind, remote=remote, account=str(c.get("account") or ""),
                   ip=str(c.get("ip") or ""), port=as_int(c.get("port")),
                   rtt_s=_secs(c.get("rtt")),
                   pending=as_int(c.get("pending_size", c.get("pending_bytes"))),
                   in_msgs=as_int(c.get("in_msgs")), out_msgs=as_int(c.get("out_msgs")),
                   in_bytes=as_int(c.get("in_bytes")), out_bytes=as_int(c.get("out_bytes")),
                   subs=as_int(c.get("subscriptions")), uptime_s=_secs(c.get("uptime")),
                   detail=detail)


def link_rows(snap: Snapshot, what: str) -> tuple[tuple[LinkRow, ...], tuple[str, ...]]:
    """Every route, gateway or leafnode connection (``what``) of every server."""
    if what not in LINK_PARTS:
        raise UsageError(f"unknown link kind {what!r}: use {', '.join(LINK_PARTS)}")
    rows: list[LinkRow] = []
    for s in snap.servers:
        doc = as_map(getattr(s, LINK_PARTS[what]))
        if what == "routes":
            for r in doc.get("routes") or ():
                r = as_map(r)
                how = ", ".join(x for x in ("solicited" if r.get("did_solicit") else "",
                                            "configured" if r.get("is_configured") else "",
                                            f"compression {r['compression']}"
                                            if r.get("compression") else "") if x)
                rows.append(_link(s.name, "route", str(r.get("remote_name") or
                                                       r.get("remote_id") or ""), r, how))
        elif what == "leafnodes":
            for r in doc.get("leafs") or ():
                r = as_map(r)
                how = "spoke" if r.get("is_spoke") else "hub"
                rows.append(_link(s.name, "leafnode", str(r.get("name") or r.get("id") or ""),
                                  r, how))
        else:
            for gw, out in as_map(doc.get("outbound_gateways")).items():
                out = as_map(out)
                rows.append(_link(s.name, "gateway-out", str(gw), as_map(out.get("connection")),
                                  "configured" if out.get("configured") else "implicit"))
            for gw, ins in as_map(doc.get("inbound_gateways")).items():
                for i in ins if isinstance(ins, list) else ():
                    rows.append(_link(s.name, "gateway-in", str(gw),
                                      as_map(as_map(i).get("connection")), ""))
    return tuple(rows), absent(snap)


# ---- health --------------------------------------------------------------------------------


@dataclass(frozen=True)
class HealthRow:
    """One server's /healthz (every failure listed) with its JetStream state."""

    server: str
    status: str
    code: int
    jetstream: bool
    meta_leader: str
    errors: tuple[str, ...]


HEALTH_GATHER = GatherOptions(parts=("varz", "jsz", "healthz"), healthz_details=True,
                              jsz_detail=False, config_files=False)


def health_rows(snap: Snapshot) -> tuple[tuple[HealthRow, ...], tuple[str, ...]]:
    rows = []
    for s in snap.servers:
        h = as_map(s.healthz)
        errs = [str(h["error"])] if h.get("error") else []
        for e in h.get("errors") or ():
            e = as_map(e)
            where = " > ".join(str(e[k]) for k in ("account", "stream", "consumer") if e.get(k))
            errs.append(f"{e.get('type', '')}{' ' + where if where else ''}: {e.get('error', '')}")
        if not h:
            errs.append(s.errors.get("healthz", "no healthz answer"))
        rows.append(HealthRow(server=s.name, status=str(h.get("status") or "unknown"),
                              code=as_int(h.get("status_code")), jetstream=s.jetstream,
                              meta_leader=str(s.meta.get("leader") or ""),
                              errors=tuple(dict.fromkeys(errs))))
    return tuple(rows), absent(snap)


# ---- accounts ($SYS) -----------------------------------------------------------------------


@dataclass(frozen=True)
class AccountRow:
    """One account summed over every server that has it loaded."""

    account: str
    servers: tuple[str, ...]
    connections: int
    leafnodes: int
    subscriptions: int
    sent_msgs: int
    sent_bytes: int
    received_msgs: int
    received_bytes: int
    slow_consumers: int
    js_memory: int
    js_storage: int
    js_streams: int
    js_consumers: int


async def account_rows(nc: Client, *, expected: int = 0, timeout: float = 3.0,
                       account: str = "") -> tuple[AccountRow, ...]:
    """Per account: connections, subscriptions, messages (``$SYS.REQ.ACCOUNT.PING.STATZ``,
    unused accounts included) and JetStream usage (``PING.JSZ`` with account details)."""
    body: dict[str, Any] = {"include_unused": True}
    if account:
        body["accounts"] = [account]
    statz, jsz = await asyncio.gather(
        sys_ping(nc, "STATZ", body, expected=expected, timeout=timeout,
                 subject="$SYS.REQ.ACCOUNT.PING.STATZ"),
        sys_ping(nc, "JSZ", {"accounts": True, **({"account": account} if account else {})},
                 expected=expected, timeout=timeout))
    acc: dict[str, dict[str, Any]] = {}
    for env in statz.replies:
        server = str(as_map(env.get("server")).get("name", ""))
        for a in as_map(env.get("data")).get("account_statz") or ():
            a = as_map(a)
            row = acc.setdefault(str(a.get("acc")), {"servers": set()})
            row["servers"].add(server)
            _add_statz(row, a)
    for env in jsz.replies:  # usage is replicated: the largest copy per account
        for d in as_map(env.get("data")).get("account_details") or ():
            d = as_map(d)
            row = acc.setdefault(str(d.get("name")), {"servers": set()})
            row["js_memory"] = max(row.get("js_memory", 0), as_int(d.get("memory")))
            row["js_storage"] = max(row.get("js_storage", 0), as_int(d.get("storage")))
            detail = d.get("stream_detail") or ()
            row["js_streams"] = max(row.get("js_streams", 0), as_int(d.get("streams"),
                                                                     len(detail)))
            row["js_consumers"] = max(row.get("js_consumers", 0), as_int(d.get("consumers")))
    fields = [f for f in AccountRow.__dataclass_fields__ if f not in ("account", "servers")]
    return tuple(AccountRow(account=name, servers=tuple(sorted(r.pop("servers"))),
                            **{f: r.get(f, 0) for f in fields})
                 for name, r in sorted(acc.items()) if not account or name == account)


# ---- acting ($SYS) -------------------------------------------------------------------------


async def find_server(nc: Client, name: str, *, timeout: float = 2.0) -> Mapping[str, Any]:
    """The ``server`` envelope (id, name, ver...) of the server called ``name``."""
    # not IDZ: every server answers IDZ whatever the filter says, so the first reply is
    # often another server's; VARZ honours server_name and its envelope names the server
    env = await ping_server(nc, "VARZ", name, timeout=timeout)
    srv = as_map(env.get("server")) if env is not None else {}
    if srv.get("name") == name and srv.get("id"):
        return {"name": name, "id": srv["id"], "host": srv.get("host", "")}
    raise NotFound(f"no server named {name!r} answered", hint="natsops server ls lists them")


async def _request(nc: Client, subject: str, body: Mapping[str, Any], timeout: float) -> Any:
    from nats.errors import NoRespondersError
    from nats.errors import TimeoutError as NatsTimeout

    try:
        msg = await nc.request(subject, json.dumps(dict(body)).encode(), timeout=timeout)
    except NoRespondersError:
        return None
    except NatsTimeout:
        raise Timeout(f"{subject}: no answer in {timeout:g}s") from None
    try:
        doc = json.loads(msg.data) if msg.data else {}
    except ValueError:
        raise ServerError(f"{subject}: the answer is not JSON") from None
    err = as_map(as_map(doc).get("error"))
    if err:
        raise ServerError(f"{subject}: {err.get('description') or err}")
    return doc


def _version(text: str) -> tuple[int, ...]:
    import re

    m = re.match(r"(\d+)\.(\d+)\.(\d+)", text)
    return tuple(int(x) for x in m.groups()) if m else ()


@dataclass(frozen=True)
class KickResult:
    cid: int
    server: str
    name: str  # the connection's name
    account: str
    closed: bool  # the server lists it among the closed connections afterwards
    reason: str


async def kick(nc: Client, cid: int, *, server: str = "", timeout: float = 3.0) -> KickResult:
    """Disconnect client ``cid`` (on ``server``, else on whichever server has it) with
    ``$SYS.REQ.SERVER.<id>.KICK {"cid": N}``, then wait until its server lists it closed."""
    if cid < 1:
        raise UsageError(f"invalid connection id {cid}: a CID is a positive number")
    body: dict[str, Any] = {"cid": cid, "auth": True}
    if server:
        one = await ping_server(nc, "CONNZ", server, body, timeout=timeout)
        replies: tuple[Mapping[str, Any], ...] = (one,) if one is not None else ()
    else:
        replies = (await sys_ping(nc, "CONNZ", body, timeout=timeout)).replies
    hits = [(as_map(e.get("server")), c) for e in replies
            for c in as_map(e.get("data")).get("connections") or () if as_int(c.get("cid")) == cid]
    if not hits:
        where = f"on {server}" if server else "on any server"
        raise NotFound(f"no open client connection {cid} {where}",
                       hint="natsops server report connections lists them")
    if len(hits) > 1:
        names = ", ".join(str(s.get("name")) for s, _ in hits)
        raise UsageError(f"connection {cid} exists on several servers ({names})",
                         hint="pick one with --server-name NAME")
    srv, conn = hits[0]
    ver = _version(str(srv.get("ver", "")))
    if ver and ver < KICK_SINCE:
        raise UsageError(f"server {srv.get('name')} runs nats-server {srv.get('ver')}: it has no "
                         "kick request (needs 2.10.0 or newer)")
    subject = f"$SYS.REQ.SERVER.{srv.get('id')}.KICK"
    if await _request(nc, subject, {"cid": cid}, timeout) is None:
        raise UsageError(f"server {srv.get('name')} does not answer {subject}: it has no kick "
                         "request (needs nats-server 2.10.0 or newer)")
    reason = await _closed_reason(nc, str(srv.get("name")), cid, timeout)
    return KickResult(cid=cid, server=str(srv.get("name")), name=str(conn.get("name") or ""),
                      account=str(conn.get("account") or ""), closed=reason is not None,
                      reason=reason or "")


async def _closed_reason(nc: Client, server: str, cid: int, timeout: float) -> str | None:
    deadline = time.monotonic() + timeout
    while True:
        res = await sys_ping(nc, "CONNZ", {"cid": cid, "state": 1, "server_name": server,
                                           "exact_match": True}, expected=1, timeout=timeout)
        for e in res.replies:
            for c in as_map(e.get("data")).get("connections") or ():
                if as_int(c.get("cid")) == cid:
                    return str(c.get("reason") or "closed")
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(0.05)


@dataclass(frozen=True)
class ReloadResult:
    server: str
    loaded_at: str  # varz config_load_time after the reload
    digest: str  # varz config_digest after the reload
    file: str  # the config file compared with ("" when unknown here)
    file_digest: str  # what ``nats-server -t`` prints for it
    matches: bool | None  # None: no local file to compare with


async def reload_config(nc: Client, name: str, *, configs: Sequence[tuple[str, Any]] = (),
                        binary: Any = None, timeout: float = 5.0) -> ReloadResult:
    """``$SYS.REQ.SERVER.<id>.RELOAD`` on server ``name``; then compare the digest it runs
    with its config file's (``configs``: (server name, path) known locally, e.g. a local
    cluster's) using ``nats-server -t`` of ``binary``."""
    from natsops.monitoring.inventory import config_digests

    srv = await find_server(nc, name, timeout=timeout)
    before = await _varz(nc, name, timeout)
    subject = f"$SYS.REQ.SERVER.{srv['id']}.RELOAD"
    if await _request(nc, subject, {}, timeout) is None:
        raise UsageError(f"server {name} does not answer {subject}: it has no remote reload")
    after = before
    deadline = time.monotonic() + timeout
    while after.get("config_load_time") == before.get("config_load_time"):
        if time.monotonic() >= deadline:
            raise Timeout(f"server {name} did not report a new config load in {timeout:g}s")
        await asyncio.sleep(0.05)
        after = await _varz(nc, name, timeout)
    path = dict(configs).get(name)
    file_digest = ""
    if path is not None and binary is not None:
        got = (await config_digests(binary, [(name, path)]))[name]
        if got.get("error"):
            raise ServerError(f"{path}: {got['error']}")
        file_digest = str(got.get("digest") or "")
    digest = str(after.get("config_digest") or "")
    return ReloadResult(server=name, loaded_at=str(after.get("config_load_time") or ""),
                        digest=digest, file=str(path or ""), file_digest=file_digest,
                        matches=(digest == file_digest) if file_digest else None)


async def _varz(nc: Client, name: str, timeout: float) -> Mapping[str, Any]:
    env = await ping_server(nc, "VARZ", name, timeout=timeout)
    if env is not None:
        return as_map(env.get("data"))
    raise Timeout(f"server {name} did not answer VARZ in {timeout:g}s")


async def reload_server(access: Any, name: str, cluster_dir: Any = None,
                        timeout: float = 5.0) -> ReloadResult:
    """:func:`reload_config` over a system-account connection (:mod:`natsops.access`); the
    config files compared are the local cluster's (``cluster_dir`` or the login's)."""
    from natsops.access import SystemAccess, system_connection
    from natsops.monitoring.inventory import local_inventory

    acc = SystemAccess.of(access, cluster_dir)
    async with system_connection(acc, name="natsops config reload") as (conn, login):
        where = cluster_dir or login.cluster_dir
        inv = local_inventory(where) if where is not None else None
        return await reload_config(conn.nc, name, configs=inv.configs if inv else (),
                                   binary=inv.binary if inv else None, timeout=timeout)


# ---- account info --------------------------------------------------------------------------


def _sum_statz(replies: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for env in replies:
        for a in as_map(env.get("data")).get("account_statz") or ():
            _add_statz(out, as_map(a))
    return out


def _add_statz(row: dict[str, Any], a: Mapping[str, Any]) -> None:
    """Add one server's account_statz entry ``a`` to the totals in ``row``."""
    sent, recv = as_map(a.get("sent")), as_map(a.get("received"))
    for key, val in (("connections", a.get("conns")), ("leafnodes", a.get("leafnodes")),
                     ("subscriptions", a.get("num_subscriptions")),
                     ("sent_msgs", sent.get("msgs")), ("sent_bytes", sent.get("bytes")),
                     ("received_msgs", recv.get("msgs")), ("received_bytes", recv.get("bytes")),
                     ("slow_consumers", a.get("slow_consumers"))):
        row[key] = row.get(key, 0) + as_int(val)


def _jwt_status(detail: Mapping[str, Any]) -> dict[str, Any]:
    """What the server runs of the account's JWT (never the JWT itself)."""
    jwt = as_map(detail.get("decoded_jwt"))
    if not jwt:
        return {"mode": "config", "expired": bool(detail.get("expired"))}
    exp = as_int(jwt.get("exp"))
    return {"mode": "jwt", "name": jwt.get("name"), "issuer": jwt.get("iss"),
            "jti": jwt.get("jti"), "issued_at": as_int(jwt.get("iat")) or None,
            "expires_at": exp or None, "expired": bool(detail.get("expired")),
            "update_time": detail.get("update_time"),
            "problems": [str(as_map(v).get("description"))
                         for v in detail.get("validation_result_jwt") or ()],
            "limits": {k: v for k, v in as_map(jwt.get("nats")).items()
                       if k in ("limits", "tiered_limits")}}


async def account_info_sys(nc: Client, account: str, *, timeout: float = 3.0
                           ) -> dict[str, Any]:
    """The live account ``account`` as every server that has it loaded sees it, over the
    system account: ``$SYS.REQ.ACCOUNT.<acc>.INFO`` (state, JWT), ``.STATZ`` (usage summed over
    the servers with local connections) and ``.JSZ`` (JetStream usage, largest replica)."""
    if not account or any(c in account for c in " .*>"):
        raise UsageError(f"invalid account name {account!r}")

    def ping(what: str, body: Mapping[str, Any]) -> Any:
        return sys_ping(nc, what, body, timeout=timeout,
                        subject=f"$SYS.REQ.ACCOUNT.{account}.{what}")

    info, statz, jsz = await asyncio.gather(ping("INFO", {}), ping("STATZ", {}),
                                            ping("JSZ", {"streams": True, "consumer": True}))
    if info.no_responders:
        raise NotFound("no server answered for the system account's account requests",
                       hint="is this connection a system-account user?")
    servers: dict[str, Any] = {}
    errors = []
    for env in info.replies:
        name = str(as_map(env.get("server")).get("name", ""))
        d = as_map(env.get("data"))
        if not d:
            errors.append(str(as_map(env.get("error")).get("description") or "no data"))
            continue
        servers[name] = {"client_connections": as_int(d.get("client_connections")),
                         "leafnode_connections": as_int(d.get("leafnode_connections")),
                         "subscriptions": as_int(d.get("subscriptions")),
                         "jetstream_enabled": bool(d.get("jetstream_enabled")),
                         "complete": bool(d.get("complete")), "jwt": _jwt_status(d)}
    if not servers:
        raise NotFound(f"account {account!r} is not loaded on any server"
                       + (f" ({errors[0]})" if errors else ""))
    js: dict[str, Any] = {}
    for env in jsz.replies:
        d = as_map(env.get("data"))
        if d and as_int(d.get("storage")) + as_int(d.get("memory")) >= \
                as_int(js.get("storage")) + as_int(js.get("memory")):
            streams = [as_map(s) for s in d.get("stream_detail") or ()]
            js = {"memory": as_int(d.get("memory")), "storage": as_int(d.get("storage")),
                  "streams": len(streams),
                  "consumers": sum(len(s.get("consumer_detail") or ()) for s in streams),
                  "api": dict(as_map(d.get("api")))}
    return {"account": account, "seen_by": "system account", "servers": servers,
            "usage": _sum_statz(statz.replies), "jetstream": js or None}


async def account_info_own(nc: Client, *, timeout: float = 3.0) -> dict[str, Any]:
    """The caller's own account: ``$SYS.REQ.USER.INFO`` (who am I) and ``$JS.API.INFO`` (its
    JetStream limits, usage and tiers); no system-account access needed."""
    from nats.errors import NoRespondersError
    from nats.errors import TimeoutError as NatsTimeout

    who = as_map(as_map(await _request(nc, "$SYS.REQ.USER.INFO", {}, timeout)).get("data"))
    try:
        msg = await nc.request("$JS.API.INFO", b"", timeout=timeout)
        js: Any = json.loads(msg.data) if msg.data else None
    except (NoRespondersError, NatsTimeout):
        js = None  # JetStream is not enabled for this account
    if isinstance(js, dict) and "error" in js:
        js = None if as_int(as_map(js["error"]).get("err_code")) == 10039 else js
    if isinstance(js, dict):
        js = {k: v for k, v in js.items() if k != "type"}
    return {"account": who.get("account_name") or who.get("account"), "user": who.get("user"),
            "seen_by": "the account itself", "permissions": who.get("permissions"),
            "expires": who.get("expires"), "jetstream": js}
