"""Gather a :class:`~natsops.monitoring.snapshot.Snapshot`: once, for every server, two transports.

* ``sys``: one connection as a system-account user; one ``$SYS.REQ.SERVER.PING.<X>`` per
  document, every server answers each (the request count depends on neither the number of
  servers nor of streams).
* ``http``: the monitor port of every server we know (``--monitor`` URLs or a local cluster),
  all requests in parallel (the count grows with the number of servers only).

Both fill the same documents with the same options (the ``$SYS`` JSON keys differ from the HTTP
query names: ``consumer`` vs ``consumers``, ``state: 1`` vs ``state=closed``). The expected set
of servers comes from an inventory (``--expect N``, a local cluster's nodes) and from the meta
group's peer list; a server that does not answer becomes a finding, never silence.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from natsops.access import Login, SystemAccess, system_connection
from natsops.context import Settings
from natsops.errors import AuthError, NatsopsError, Unreachable, UsageError
from natsops.monitoring.inventory import (
    Inventory,
    config_digests,
    config_file_for,
    local_inventory,
)
from natsops.monitoring.snapshot import ServerView, Snapshot, as_map
from natsops.monitoring.sys import sys_ping

if TYPE_CHECKING:
    import httpx
    from nats.aio.client import Client

log = logging.getLogger(__name__)

__all__ = [
    "PARTS",
    "Access",
    "GatherOptions",
    "gather",
    "gather_http",
    "gather_sampled",
    "gather_sys",
    "store_disk",
    "watch",
]

# every document a Snapshot can hold; views ask for fewer (``top`` needs varz + connz only)
PARTS = ("varz", "jsz", "connz", "connz_closed", "connz_subs", "routez", "leafz", "gatewayz",
         "healthz", "healthz_js", "accountz")  # fmt: skip


@dataclass(frozen=True)
class GatherOptions:
    """What to gather and how long to wait."""

    expect: int = 0  # --expect N: how many servers should answer (0: use the inventory)
    expected_names: tuple[str, ...] = ()  # names from an inventory (local cluster)
    parts: tuple[str, ...] = PARTS
    connz_limit: int = 16  # top-N connections by pending bytes (and recently closed)
    connz_sort: str = "pending"
    jsz_config: bool = True  # stream/consumer config (limits, replicas, max_ack_pending)
    jsz_detail: bool = True  # streams and consumers (False: server totals and meta group only)
    timeout: float = 3.0  # overall deadline of one gathering
    gap: float = 0.3  # $SYS: stop after this much silence when the server count is unknown
    config_files: bool = True  # digest the local cluster's config files (nats-server -t)
    max_accounts: int = 200  # operator mode: accounts whose JWT claim is compared per server
    connz_account: str = ""  # connz of this account only (server-side filter)
    connz_subs: bool = False  # connz with each connection's subscription subjects
    healthz_details: bool = False  # healthz listing every failure (errors[])
    monitor_ca: str | None = None  # CA file that https monitors' certificates chain to

    def __post_init__(self) -> None:
        unknown = set(self.parts) - set(PARTS)
        if unknown:
            raise UsageError(f"unknown snapshot parts: {', '.join(sorted(unknown))}")


# The $SYS request bodies use the server's JSON option names, which differ from the HTTP query
# names for some options: where they do, the HTTP name is given after a "|"
# ("consumer|consumers": $SYS "consumer", HTTP "consumers").
_CLOSED = {"sys": 1, "http": "closed"}


def _requests(o: GatherOptions, transport: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Per part: (endpoint, options) for ``transport`` "sys" (X of PING.X) or "http"."""
    jsz: dict[str, Any] = {}
    if o.jsz_detail:
        jsz = {"accounts": True, "streams": True, "consumer|consumers": True}
        if o.jsz_config:
            jsz["config"] = True
    conn: dict[str, Any] = {"sort": o.connz_sort, "limit": o.connz_limit, "auth": True}
    if o.connz_account:
        conn["acc"] = o.connz_account
    if o.connz_subs:
        conn["subscriptions|subs"] = True
    table: dict[str, tuple[str, dict[str, Any]]] = {
        "varz": ("varz", {}),
        "jsz": ("jsz", jsz),
        "connz": ("connz", conn),
        "connz_closed": ("connz", {**conn, "sort": "stop", "state": _CLOSED[transport]}),
        "connz_subs": ("connz", {**conn, "sort": "subs"}),
        "routez": ("routez", {}),
        "leafz": ("leafz", {}),
        "gatewayz": ("gatewayz", {}),
        "healthz": ("healthz", {"details": True} if o.healthz_details else {}),
        "healthz_js": ("healthz", {"js-enabled-only": True}),
        "accountz": ("accountz", {}),
    }
    side = 0 if transport == "sys" else 1
    out = {}
    for part, (endpoint, params) in table.items():
        if part in o.parts:
            opts = {k.split("|")[side] if "|" in k else k: v for k, v in params.items()}
            out[part] = (endpoint.upper() if transport == "sys" else endpoint, opts)
    return out


def _more_jsz_pages(docs: Sequence[Mapping[str, Any]], offset: int) -> int | None:
    """The next account offset if any jsz page says there are more accounts (else None)."""
    for d in docs:
        total, limit = d.get("total"), d.get("limit")
        if isinstance(total, int) and isinstance(limit, int) and limit > 0 \
                and total > offset + limit:
            return offset + limit
    return None


def _merge_jsz(first: Mapping[str, Any], more: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(first)
    out["account_details"] = list(first.get("account_details") or []) + list(
        more.get("account_details") or [])
    return out


_ACCOUNT_KEY = re.compile(r"^A[A-Z2-7]{55}$")


def _operator_accounts(accountz: Sequence[Mapping[str, Any]], limit: int) -> list[str]:
    """Account public keys listed by any server (operator mode names accounts by key)."""
    keys: set[str] = set()
    for doc in accountz:
        for name in doc.get("accounts") or ():
            if isinstance(name, str) and _ACCOUNT_KEY.match(name):
                keys.add(name)
    return sorted(keys)[:limit]


def _claim(detail: Mapping[str, Any]) -> dict[str, Any]:
    """The comparable facts of one server's account claim (never the raw JWT)."""
    jwt = detail.get("decoded_jwt")
    jwt = jwt if isinstance(jwt, Mapping) else {}
    nats = jwt.get("nats")
    limits = nats.get("limits") if isinstance(nats, Mapping) else None
    return {"name": jwt.get("name") or detail.get("name_tag"), "jti": jwt.get("jti"),
            "iat": jwt.get("iat"), "issuer": jwt.get("iss") or detail.get("issuer_key"),
            "update_time": detail.get("update_time"), "expired": bool(detail.get("expired")),
            # the claim's limits (numbers only) and this server's use of them
            "limits": {k: v for k, v in limits.items() if k in _LIMIT_KEYS
                       and isinstance(v, int)} if isinstance(limits, Mapping) else {},
            # JetStream limits per replica tier (R1, R3...) when the JWT sets tiered limits
            "tiered_limits": _tiers(limits.get("tiered_limits"))
            if isinstance(limits, Mapping) else {},
            "client_connections": detail.get("client_connections"),
            "leafnode_connections": detail.get("leafnode_connections"),
            "subscriptions": detail.get("subscriptions")}


def _tiers(value: Any) -> dict[str, dict[str, int]]:
    if not isinstance(value, Mapping):
        return {}
    return {str(t): {k: v for k, v in lim.items() if k in _LIMIT_KEYS and isinstance(v, int)}
            for t, lim in value.items() if isinstance(lim, Mapping)}


def user_limits(view: dict[str, Any]) -> dict[str, Any]:
    """Replace each connz connection's user JWT by the one limit checks use (``subs``): the JWT
    is not kept in a Snapshot (archives hold no JWT) but its subscription limit is."""
    import base64
    import json

    for part in ("connz", "connz_subs"):
        d = view.get(part)
        if not isinstance(d, Mapping):
            continue
        conns = []
        for c in d.get("connections") or ():
            token = c.get("jwt") if isinstance(c, Mapping) else None
            if isinstance(token, str) and token.count(".") == 2:
                c = {k: v for k, v in c.items() if k != "jwt"}
                try:
                    body = token.split(".")[1]
                    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
                    subs = claims["nats"]["subs"]
                except (ValueError, KeyError, TypeError):
                    subs = None
                if isinstance(subs, int):
                    c["user_subs_limit"] = subs
            conns.append(c)
        view[part] = {**d, "connections": conns}
    return view


_LIMIT_KEYS = ("conn", "subs", "leaf", "mem_storage", "disk_storage", "streams", "consumer")


# ---- $SYS -----------------------------------------------------------------------------------


async def gather_sys(nc: Client, opts: GatherOptions = GatherOptions()) -> Snapshot:
    """Gather through one system-account connection (see module doc)."""
    expected = max(opts.expect, len(opts.expected_names))
    start = time.monotonic()
    reqs = _requests(opts, "sys")

    async def ping(what: str, body: dict[str, Any]) -> Any:
        return await sys_ping(nc, what, body, expected=expected, timeout=opts.timeout,
                              gap=opts.gap)

    results = await asyncio.gather(*(ping(w, b) for w, b in reqs.values()))
    requests = len(reqs)
    if any(r.no_responders for r in results):
        raise AuthError(
            "no answer to $SYS requests: this connection is not a system-account user",
            hint="use the system account's credentials (--context <name>-sys / --creds), "
            "or the HTTP monitors (--monitor URL)",
        )
    by_part = dict(zip(reqs, results, strict=False))
    # jsz pages accounts (1024 per page): ask for the next pages while any server has more
    if "jsz" in by_part:
        offset = 0
        pages = [r.get("data") or {} for r in by_part["jsz"].replies]
        merged = {str(_srv(r).get("id")): r for r in by_part["jsz"].replies}
        while (nxt := _more_jsz_pages(pages, offset)) is not None:
            offset = nxt
            _, body = reqs["jsz"]
            more = await ping("JSZ", {**body, "offset": offset})
            requests += 1
            pages = []
            for r in more.replies:
                sid = str(_srv(r).get("id"))
                if sid in merged and isinstance(r.get("data"), Mapping):
                    old = merged[sid]
                    merged[sid] = {**old, "data": _merge_jsz(old.get("data") or {}, r["data"])}
                    pages.append(r["data"])
        by_part["jsz"] = replace(by_part["jsz"], replies=tuple(merged.values()))

    views: dict[str, dict[str, Any]] = {}
    for part, res in by_part.items():
        for i, env in enumerate(res.replies):
            srv = _srv(env)
            sid = str(srv.get("id") or srv.get("name") or "")
            if not sid:
                continue
            v = views.setdefault(sid, {
                "name": str(srv.get("name", sid)), "id": sid,
                "cluster": srv.get("cluster") or None, "domain": srv.get("domain") or None,
                "version": str(srv.get("ver", "")), "source": "sys", "errors": {},
            })
            err = env.get("error")
            data = env.get("data")
            if isinstance(err, Mapping) and part not in ("healthz", "healthz_js"):
                v["errors"][part] = f"{err.get('code', '')} {err.get('description', '')}".strip()
            if isinstance(data, Mapping):
                v[part] = _health_doc(data) if part.startswith("healthz") else data
            if part == "varz" and i < len(res.arrivals):
                v["rtt"] = res.arrivals[i]
    if "accountz" in by_part:
        keys = _operator_accounts([r.get("data") or {} for r in by_part["accountz"].replies],
                                  opts.max_accounts)
        answers = await asyncio.gather(*(ping("ACCOUNTZ", {"account": k}) for k in keys))
        requests += len(keys)
        for key, res in zip(keys, answers, strict=True):
            for env in res.replies:
                detail = (env.get("data") or {}).get("account_detail")
                sid = str(_srv(env).get("id") or "")
                if isinstance(detail, Mapping) and sid in views:
                    views[sid].setdefault("account_claims", {})[key] = _claim(detail)
    servers = tuple(ServerView(**user_limits(v))
                    for _, v in sorted(views.items(), key=lambda kv: kv[1]["name"]))
    return Snapshot(servers=servers, transport="sys", expected=opts.expected_names,
                    expected_count=opts.expect, taken_at=time.time(),
                    seconds=time.monotonic() - start, requests=requests)


def _srv(env: Mapping[str, Any]) -> Mapping[str, Any]:
    s = env.get("server")
    return s if isinstance(s, Mapping) else {}


def _health_doc(data: Mapping[str, Any]) -> dict[str, Any]:
    code = data.get("status_code")
    return {"status": data.get("status", ""), "status_code": code if isinstance(code, int) else 200,
            "error": data.get("error") or None, "errors": list(data.get("errors") or [])}


# ---- HTTP -----------------------------------------------------------------------------------


async def gather_http(urls: Sequence[str], opts: GatherOptions = GatherOptions(),
                      *, transport: httpx.AsyncBaseTransport | None = None) -> Snapshot:
    """Gather from the HTTP monitor of every URL, all requests in parallel.

    ``transport`` is a seam for tests (``httpx.MockTransport``).
    """
    from natsops.monitoring.http import MonitorClient

    if not urls:
        raise UsageError("no monitor URL to gather from", hint="pass --monitor URL")
    start = time.monotonic()
    reqs = _requests(opts, "http")
    verify: Any = True
    if opts.monitor_ca:
        import ssl

        try:
            verify = ssl.create_default_context(cafile=opts.monitor_ca)
        except (OSError, ssl.SSLError) as exc:
            raise UsageError(f"cannot read the CA {opts.monitor_ca}: {exc}") from None
    clients = [MonitorClient(u, timeout=opts.timeout, transport=transport, verify=verify)
               for u in urls]

    rtts: dict[str, float] = {}

    async def one(mon: MonitorClient, part: str, endpoint: str, params: dict[str, Any]) -> Any:
        t0 = time.monotonic()
        if endpoint == "healthz":
            h = await mon.healthz(**{k.replace("-", "_"): v for k, v in params.items()})
            return {"status": h.status, "status_code": h.http_status, "error": h.error,
                    "errors": list(h.errors)}
        doc = await mon.get(endpoint, **params)
        if part == "varz":
            rtts[mon.base_url] = time.monotonic() - t0
        if part == "jsz":
            offset = 0
            while (nxt := _more_jsz_pages([doc], offset)) is not None:
                offset = nxt
                doc = _merge_jsz(doc, await mon.get(endpoint, **params, offset=offset))
        return doc

    async def server(mon: MonitorClient) -> tuple[str, dict[str, Any] | None, str | None]:
        results = await asyncio.gather(*(one(mon, p, e, q) for p, (e, q) in reqs.items()),
                                       return_exceptions=True)
        docs: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for part, res in zip(reqs, results, strict=False):
            if isinstance(res, NatsopsError):
                errors[part] = str(res)
            elif isinstance(res, BaseException):
                raise res
            else:
                docs[part] = res
        varz = docs.get("varz")
        if varz is None:
            return mon.base_url, None, errors.get("varz", "no varz")
        claims: dict[str, Any] = {}
        if "accountz" in docs:
            keys = _operator_accounts([docs["accountz"]], opts.max_accounts)
            got = await asyncio.gather(*(mon.accountz(acc=k) for k in keys),
                                       return_exceptions=True)
            for key, res in zip(keys, got, strict=True):
                detail = res.get("account_detail") if isinstance(res, dict) else None
                if isinstance(detail, Mapping):  # an error: the account is not loaded here
                    claims[key] = _claim(detail)
        js = docs.get("jsz") or {}
        view = {
            **docs,
            "name": str(varz.get("server_name") or varz.get("server_id") or mon.base_url),
            "id": str(varz.get("server_id", "")),
            "cluster": (varz.get("cluster") or {}).get("name") or None,
            "domain": (js.get("config") or {}).get("domain") or None,
            "version": str(varz.get("version", "")),
            "source": mon.base_url,
            "errors": errors,
            "rtt": rtts.get(mon.base_url),
            "account_claims": claims,
            "monitor_tls": mon.tls_chain,
        }
        return mon.base_url, view, None

    try:
        answers = await asyncio.gather(*(server(m) for m in clients))
    finally:
        await asyncio.gather(*(m.aclose() for m in clients))
    servers = tuple(sorted((ServerView(**user_limits(v)) for _, v, _ in answers
                            if v is not None),
                           key=lambda s: s.name))
    unreachable = {u: e or "no answer" for u, v, e in answers if v is None}
    return Snapshot(servers=servers, transport="http", expected=opts.expected_names,
                    expected_count=opts.expect, unreachable=unreachable, taken_at=time.time(),
                    seconds=time.monotonic() - start,
                    requests=sum(m.requests for m in clients))


# ---- choosing a transport ------------------------------------------------------------------

# Who to log in as: Settings used as given (library callers), a SystemAccess (the CLI: every
# login worth trying, see natsops.access), or None (the local cluster's own sys user).
Access = Settings | SystemAccess | None


@dataclass(frozen=True)
class _Plan:
    opts: GatherOptions
    access: SystemAccess
    urls: tuple[str, ...]
    http_first: bool
    transport: str
    inventory: Inventory | None = None


def _plan(access: Access, opts: GatherOptions, monitors: Sequence[str],
          cluster_dir: Path | None, transport: str) -> _Plan:
    if transport not in ("auto", "sys", "http"):
        raise UsageError(f"unknown transport {transport!r}: use auto, sys or http")
    if transport == "sys" and monitors:
        raise UsageError("--transport sys and --monitor exclude each other: --monitor URLs "
                         "are read over HTTP", hint="drop one of them (--transport http reads "
                         "the --monitor URLs)")
    acc = SystemAccess.of(access, cluster_dir)
    if acc.gather_timeout:  # an explicit --timeout / NATS_TIMEOUT (natsops.access)
        opts = replace(opts, timeout=acc.gather_timeout)
    inv = _inventory(cluster_dir or acc.cluster_dir)
    if inv is None and not monitors:  # the first local cluster to try: its monitors, if need be
        inv = next((i for lg in acc.logins if (i := _inventory(lg.cluster_dir))), None)
        inv = None if inv is None else replace(inv, names=(), configs=())
    if inv is not None and inv.names:
        opts = replace(opts, expected_names=tuple(opts.expected_names or inv.names))
    ca = opts.monitor_ca or (inv.ca if inv is not None else None) or (
        acc.base.tls_ca if acc.base is not None else None)
    opts = replace(opts, monitor_ca=ca)
    urls = tuple(monitors) or (inv.monitors if inv else ())
    http_first = transport == "http" or (transport == "auto" and bool(monitors))
    return _Plan(opts, acc, urls, http_first, transport, inv)


def _inventory(directory: Path | None) -> Inventory | None:
    return local_inventory(directory) if directory is not None else None


def _with_login(plan: _Plan, login: Login) -> _Plan:
    """The plan once ``login`` worked: its local cluster's nodes are the ones expected."""
    if (plan.inventory is not None and plan.inventory.names) or login.cluster_dir is None:
        return replace(plan, access=plan.access.only(login))
    inv = local_inventory(login.cluster_dir)
    opts = replace(plan.opts, expected_names=tuple(plan.opts.expected_names or inv.names))
    return replace(plan, opts=opts, access=plan.access.only(login), inventory=inv,
                   urls=plan.urls or inv.monitors)


def _digests(plan: _Plan) -> asyncio.Future[dict[str, dict[str, Any]]] | None:
    """``nats-server -t`` of the local cluster's config files, started now (or None)."""
    inv = plan.inventory
    if inv is None or inv.binary is None or not plan.opts.config_files or not inv.configs:
        return None
    return asyncio.ensure_future(config_digests(inv.binary, inv.configs))


def _no_monitor() -> UsageError:
    return UsageError("no HTTP monitor to gather from",
                      hint="pass --monitor URL (repeatable) or --dir of a local cluster")


def _check_answered(snap: Snapshot) -> Snapshot:
    if not snap.servers:
        detail = "; ".join(f"{u}: {e}" for u, e in snap.unreachable.items())
        raise Unreachable(f"no server answered{': ' + detail if detail else ''}")
    return snap


async def _gather_once(plan: _Plan) -> tuple[Snapshot, _Plan]:
    """One Snapshot over $SYS (the first login that is a system user) or HTTP."""
    if not plan.http_first:
        try:
            async with system_connection(plan.access) as (conn, login):
                plan = _with_login(plan, login)
                return _check_answered(await gather_sys(conn.nc, plan.opts)), plan
        except Unreachable:
            if plan.transport == "sys" or not plan.urls:
                raise
    if not plan.urls:
        raise _no_monitor()
    return _check_answered(await gather_http(plan.urls, plan.opts)), plan


async def gather(
    settings: Access,
    opts: GatherOptions = GatherOptions(),
    *,
    monitors: Sequence[str] = (),
    cluster_dir: Path | None = None,
    transport: str = "auto",
    config_dir: Path | None = None,
) -> Snapshot:
    """Gather one Snapshot, choosing the transport.

    ``settings``: how to log in as a system-account user (:data:`Access`). ``transport``:
    ``sys`` (a system-account connection), ``http`` (``monitors``, or the local cluster's
    monitor ports) or ``auto`` (HTTP when ``monitors`` are given, else ``$SYS``, falling back
    to the local cluster's monitors when no server answers). Raises :class:`Unreachable` when
    no server answered. ``config_dir`` holds the servers' config files (``<name>.conf`` or
    ``<name>/*.conf``), digested to compare with what each server runs (a local cluster's are
    found by itself).
    """
    snap, _ = await _gather_planned(_plan(settings, opts, monitors, cluster_dir, transport),
                                    config_dir)
    return snap


async def _gather_planned(plan: _Plan, config_dir: Path | None) -> tuple[Snapshot, _Plan]:
    if config_dir is not None:
        _require_dir(config_dir)
    log.info("gathering %s over %s", ", ".join(plan.opts.parts),
             "HTTP monitors " + ", ".join(plan.urls) if plan.http_first else "$SYS requests")
    files = _digests(plan)  # the inventory known already: digest while gathering
    try:
        snap, plan = await _gather_once(plan)
    except BaseException:
        if files is not None:
            files.cancel()
        raise
    log.info("%d server(s) answered over %s in %.0f ms (%d requests)%s", len(snap.servers),
             snap.transport, snap.seconds * 1000, snap.requests,
             f"; missing: {', '.join(snap.missing)}" if snap.missing else "")
    log.debug("servers: %s", ", ".join(f"{s.name} ({s.source})" for s in snap.servers))
    files = files or _digests(plan)
    inv = plan.inventory
    if inv is not None and inv.names:
        snap = replace(snap, disk=store_disk(snap, inv.names))
    if files is not None:
        snap = replace(snap, config_files=await files)
    elif config_dir is not None and plan.opts.config_files:
        found = tuple((s.name, f) for s in snap.servers
                      if (f := config_file_for(config_dir, s.name)) is not None)
        if found:
            from natsops.cluster.process import find_server_binary

            binary = inv.binary if inv is not None and inv.binary else find_server_binary()
            snap = replace(snap, config_files=await config_digests(binary, found))
    return snap, plan


def store_disk(snap: Snapshot, local: Sequence[str]) -> dict[str, dict[str, Any]]:
    """statvfs of the store_dir of each server in ``local`` (servers running on this host).

    No monitoring endpoint reports free disk space, so only a local cluster's is known.
    """
    out: dict[str, dict[str, Any]] = {}
    for s in snap.servers:
        cfg = as_map(as_map(s.jsz).get("config")) or as_map(
            as_map(as_map(s.varz).get("jetstream")).get("config"))
        path = cfg.get("store_dir")
        if s.name not in local or not isinstance(path, str) or not path:
            continue
        try:
            st = os.statvfs(path)
        except OSError as exc:
            out[s.name] = {"path": path, "error": exc.strerror or str(exc)}
            continue
        out[s.name] = {"path": path, "fsid": st.f_fsid, "total": st.f_blocks * st.f_frsize,
                       "free": st.f_bfree * st.f_frsize, "avail": st.f_bavail * st.f_frsize}
    return out


def _require_dir(path: Path) -> None:
    if not path.is_dir():
        raise UsageError(f"--config-dir {path}: not a directory")


async def gather_sampled(
    settings: Access,
    opts: GatherOptions = GatherOptions(),
    *,
    interval: float,
    monitors: Sequence[str] = (),
    cluster_dir: Path | None = None,
    transport: str = "auto",
    config_dir: Path | None = None,
) -> Snapshot:
    """Gather twice, ``interval`` seconds apart: the second Snapshot, the first as its previous.

    Rates and trends are the deltas between the two (doctor ``--sample``, ``sizing
    --from-cluster``). The second gathering logs in as the first one did.
    """
    if interval <= 0:
        raise UsageError("the interval between two gatherings must be above zero")
    first, plan = await _gather_planned(_plan(settings, opts, monitors, cluster_dir, transport),
                                        config_dir)
    await asyncio.sleep(interval)
    second, _ = await _gather_planned(plan, config_dir)
    return second.with_previous(first)


POLL = 0.05  # seconds between two looks at watch()'s ``stop``


async def _pause(seconds: float, stop: Callable[[], bool] | None) -> bool:
    """Wait ``seconds``; True as soon as ``stop()`` is true (looked at every ``POLL``)."""
    deadline = time.monotonic() + seconds
    while stop is None or not stop():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        await asyncio.sleep(left if stop is None else min(POLL, left))
    return True


async def watch(
    settings: Access,
    opts: GatherOptions = GatherOptions(),
    *,
    monitors: Sequence[str] = (),
    cluster_dir: Path | None = None,
    transport: str = "auto",
    interval: float = 1.0,
    stop: Callable[[], bool] | None = None,
    name: str = "",
) -> AsyncGenerator[Snapshot, None]:
    """Yield a Snapshot every ``interval`` seconds, over one connection (``$SYS``) or HTTP.

    ``stop`` (a function, e.g. a ``threading.Event``'s ``is_set``) ends the watch while it
    waits for the next gathering. ``name`` names the connection (as servers list it).
    """
    plan = _plan(settings, opts, monitors, cluster_dir, transport)
    if not plan.http_first:
        async with system_connection(plan.access, name=name) as (conn, login):
            plan = _with_login(plan, login)
            while True:
                yield await gather_sys(conn.nc, plan.opts)
                if await _pause(interval, stop):
                    return
    if not plan.urls:
        raise _no_monitor()
    while True:
        yield await gather_http(plan.urls, plan.opts)
        if await _pause(interval, stop):
            return
