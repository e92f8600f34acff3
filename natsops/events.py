"""What just happened: JetStream advisories and server events, as they arrive.

:func:`watch_events` subscribes to ``$JS.EVENT.ADVISORY.>`` in the account in use (stream and
consumer leader elections, create/update/delete actions, API audits, max deliveries,
terminations...) and, over a system-account connection (:mod:`natsops.access`), to
``$SYS.ACCOUNT.*.CONNECT``/``DISCONNECT``, ``$SYS.SERVER.*.SHUTDOWN``,
``$SYS.SERVER.*.CLIENT.AUTH.ERR`` and the system account's own advisories (meta leader).

nats-server 2.15 publishes no dedicated slow-consumer event: a client cut off as a slow
consumer shows up as a ``client_disconnect`` whose reason starts with "Slow Consumer"; it is
reported as kind ``slow_consumer``.

Fault policy: no reconnect. A lost connection ends the watch with
:class:`~natsops.errors.Unreachable` (exit 3) naming the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import json
import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from natsops.errors import AuthError, UsageError

if TYPE_CHECKING:
    from nats.aio.msg import Msg

    from natsops.access import SystemAccess
    from natsops.connection import Conn
    from natsops.context import Settings
    from natsops.monitoring.gather import Access
    from natsops.monitoring.snapshot import Snapshot

__all__ = ["ACCOUNT_SUBJECTS", "KINDS", "SYSTEM_SUBJECTS", "Event", "ServerRates", "event_of",
           "parse_kinds", "server_watch", "watch_events"]

ACCOUNT_SUBJECTS = ("$JS.EVENT.ADVISORY.>",)
SYSTEM_SUBJECTS = ("$JS.EVENT.ADVISORY.>", "$SYS.ACCOUNT.*.CONNECT", "$SYS.ACCOUNT.*.DISCONNECT",
                   "$SYS.SERVER.*.SHUTDOWN", "$SYS.SERVER.*.CLIENT.AUTH.ERR")

# the kinds --filter knows (a glob such as 'consumer_*' may name several)
KINDS = ("api_audit", "api_error", "api_limit_reached", "stream_action", "consumer_action",
         "consumer_pause", "stream_leader_elected", "stream_quorum_lost",
         "consumer_leader_elected", "consumer_quorum_lost", "domain_leader_elected",
         "max_deliver", "nak", "terminated", "snapshot_create", "snapshot_complete",
         "restore_create", "restore_complete", "server_out_of_space", "server_removed",
         "client_connect", "client_disconnect", "slow_consumer", "auth_error",
         "server_shutdown")

_SEEN = 1024  # advisory ids remembered (the same one may come over both connections)


def parse_kinds(values: Sequence[str]) -> tuple[str, ...]:
    """``--filter a,b`` (repeatable, globs allowed) into kinds; an unknown name is a usage
    error."""
    out: list[str] = []
    for v in values:
        for k in (p.strip().lower() for p in v.split(",")):
            if not k:
                continue
            if not fnmatch.filter(KINDS, k):
                raise UsageError(f"unknown event kind {k!r}: use {', '.join(KINDS)}")
            out.append(k)
    return tuple(out)


@dataclass(frozen=True)
class Event:
    """One advisory or server event: when, what kind, who, what happened, and its document."""

    time: str
    kind: str
    subject: str
    who: str
    what: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"time": self.time, "kind": self.kind, "subject": self.subject,
                "who": self.who, "what": self.what, "event": dict(self.data)}


def _kind(subject: str, doc: Mapping[str, Any]) -> str:
    typ = str(doc.get("type", ""))
    if subject.endswith(".CLIENT.AUTH.ERR"):
        return "auth_error"
    if subject.endswith(".SHUTDOWN") and subject.startswith("$SYS.SERVER."):
        return "server_shutdown"
    kind = typ.rsplit(".", 1)[-1] if typ else subject.lower().replace(".", "_")
    if kind == "client_disconnect" and str(doc.get("reason", "")).startswith("Slow Consumer"):
        return "slow_consumer"
    if kind == "api_audit" and '"error"' in str(doc.get("response", "")):
        return "api_error"
    return kind


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _server(doc: Mapping[str, Any]) -> str:
    """The server an event names: an object with a name (server events) or a plain string."""
    s = doc.get("server")
    return str(s) if isinstance(s, str) else str(_m(s).get("name", ""))


def _client(doc: Mapping[str, Any]) -> str:
    c = _m(doc.get("client"))
    name = c.get("name") or f"cid {c.get('id', '?')}"
    return f"{name} ({c.get('acc', '?')}@{c.get('host', '?')})"


def _describe(kind: str, doc: Mapping[str, Any]) -> tuple[str, str]:
    """(who, what) of an event, one line each."""
    stream, consumer = doc.get("stream", ""), doc.get("consumer", "")
    server = _server(doc)
    if kind.endswith("leader_elected"):
        leader = doc.get("leader", "")
        asset = f"consumer {stream} > {consumer}" if consumer else (
            f"stream {stream}" if stream else "meta group")
        return leader, f"{asset}: new leader {leader}"
    if kind.endswith("quorum_lost"):
        asset = f"consumer {stream} > {consumer}" if consumer else f"stream {stream}"
        return server, f"{asset}: quorum lost"
    if kind in ("stream_action", "consumer_action"):
        asset = f"consumer {stream} > {consumer}" if consumer else f"stream {stream}"
        return doc.get("domain") or "", f"{asset} {doc.get('action', '?')}"
    if kind in ("max_deliver", "nak", "terminated"):
        extra = f" after {doc.get('deliveries')} deliveries" if doc.get("deliveries") else ""
        reason = f": {doc['reason']}" if doc.get("reason") else ""
        return (f"{stream} > {consumer}",
                f"message {doc.get('stream_seq', '?')} {kind}{extra}{reason}")
    if kind in ("api_audit", "api_error"):
        who = _client(doc)
        resp = str(doc.get("response", ""))
        err = ""
        with contextlib.suppress(ValueError, AttributeError):
            e = _m(json.loads(resp).get("error"))
            err = f": {e.get('description', '')} (err_code {e.get('err_code', '?')})" if e else ""
        return who, f"{doc.get('subject', '?')}{err}"
    if kind in ("client_connect", "client_disconnect", "slow_consumer", "auth_error"):
        verb = {"client_connect": "connected to", "auth_error": "failed to authenticate on"
                }.get(kind, "disconnected from")
        reason = f": {doc['reason']}" if doc.get("reason") else ""
        return _client(doc), f"{verb} {server or '?'}{reason}"
    if kind == "server_shutdown":
        return server, f"server {server or doc.get('id', '?')} shut down"
    return server or stream, ", ".join(f"{k}={v}" for k, v in doc.items()
                                       if k not in ("type", "id", "timestamp"))[:200]


def event_of(subject: str, data: bytes) -> Event:
    """The event a message carries (a payload that is not JSON is kept as text)."""
    try:
        doc = json.loads(data)
    except ValueError:
        doc = {"payload": data.decode(errors="replace")}
    if not isinstance(doc, dict):
        doc = {"payload": doc}
    kind = _kind(subject, doc)
    who, what = _describe(kind, doc)
    stamp = str(doc.get("timestamp") or _m(doc.get("server")).get("time") or "")
    if not stamp:
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"
    return Event(stamp, kind, subject, str(who), what, doc)


def _wanted(kind: str, kinds: Sequence[str]) -> bool:
    return not kinds or any(fnmatch.fnmatchcase(kind, k) for k in kinds)


def account_settings(settings: Settings, cluster_dir: Path | None) -> Settings:
    """The account connection's settings: with ``--dir`` and no server chosen, the local
    cluster's client URLs (its no-auth user is the APP account)."""
    if cluster_dir is None or settings.sources.get("servers"):
        return settings
    from natsops.cluster.local import LocalCluster

    return settings.with_(servers=tuple(LocalCluster.load(cluster_dir).client_urls))


async def watch_events(
    account: Settings | None,
    system: SystemAccess | None,
    *,
    kinds: Sequence[str] = (),
    count: int = 0,
    notice: Callable[[str], None] = lambda _: None,
) -> AsyncGenerator[Event, None]:
    """Yield events of ``kinds`` (all when empty), ``count`` of them or until stopped.

    ``account``: the account whose JetStream advisories to follow; ``system``: the logins to
    try for server events. When no system login works but an account connection is open, the
    watch goes on without server events (``notice`` says so).
    """
    from natsops.access import system_connection
    from natsops.connection import connect
    from natsops.messages import next_message

    if count < 0:
        raise UsageError("--count must not be negative")
    queue: asyncio.Queue[Msg] = asyncio.Queue()

    async def cb(msg: Msg) -> None:
        queue.put_nowait(msg)

    async with contextlib.AsyncExitStack() as stack:
        conns: list[tuple[Conn, tuple[str, ...]]] = []
        if account is not None:
            conn = await stack.enter_async_context(
                connect(account.with_(connection_name="natsops events")))
            conns.append((conn, ACCOUNT_SUBJECTS))
        if system is not None:
            try:
                conn, _ = await stack.enter_async_context(
                    system_connection(system, name="natsops events"))
                conns.append((conn, SYSTEM_SUBJECTS))
            except AuthError as exc:
                if not conns:
                    raise
                notice(f"no server events (connect/disconnect, shutdown, auth errors): {exc}")
        for conn, subjects in conns:
            for s in subjects:
                await conn.nc.subscribe(s, cb=cb)
            await conn.nc.flush(timeout=max(1, int(conn.settings.timeout)))
        notice("listening: " + ", ".join(
            f"{'server events and system' if s is SYSTEM_SUBJECTS else 'account'} advisories "
            f"via {c.server_name or '?'}" for c, s in conns))
        seen: dict[str, None] = {}
        shown = 0
        while not count or shown < count:
            msg = None
            for conn, _ in conns:  # a lost connection ends the watch (exit 3 naming it)
                msg = await next_message(conn, queue, 0.5 / len(conns)) or msg
                if msg is not None:
                    break
            if msg is None:
                continue
            ev = event_of(msg.subject, msg.data)
            eid = str(ev.data.get("id", ""))
            if eid and eid in seen:
                continue
            if eid:
                seen[eid] = None
                if len(seen) > _SEEN:
                    seen.pop(next(iter(seen)))
            if _wanted(ev.kind, kinds):
                shown += 1
                yield ev


@dataclass(frozen=True)
class ServerRates:
    """One refresh of ``server watch``: per server totals and per-second rates.

    Each row: server, version, connections, subscriptions, slow_consumers (total since start),
    slow_new (since the previous refresh), mem, cpu, in/out msgs and bytes per second.
    ``missing``: expected servers that did not answer this time.
    """

    servers: tuple[dict[str, Any], ...]
    missing: tuple[str, ...]
    time: str = ""  # UTC, when the refresh was gathered


async def server_watch(
    access: Access,
    *,
    interval: float = 1.0,
    count: int = 0,
    monitors: Sequence[str] = (),
    cluster_dir: Path | None = None,
    transport: str = "auto",
    stop: Callable[[], bool] | None = None,
) -> AsyncGenerator[ServerRates, None]:
    """Yield a refresh every ``interval`` seconds (``count`` of them, or until ``stop()``).

    The first gathering is the baseline of the rates and is not yielded. A refresh in which no
    server answered ends the watch with :class:`~natsops.errors.Unreachable` (exit 3); one in
    which some did not names them in ``missing`` and the watch goes on.
    """
    from natsops.errors import Unreachable
    from natsops.monitoring.gather import GatherOptions, watch
    from natsops.monitoring.views import top_frame

    if count < 0:
        raise UsageError("--count must not be negative")
    if not 0 < interval <= 3600:
        raise UsageError("--interval must be above 0s and at most 1h")
    opts = GatherOptions(parts=("varz",), config_files=False)
    snaps = watch(access, opts, monitors=monitors, cluster_dir=cluster_dir, transport=transport,
                  interval=interval, stop=stop, name="natsops server watch")
    previous: Snapshot | None = None
    shown = 0
    async with contextlib.aclosing(snaps):
        async for snap in snaps:
            if not snap.servers:
                detail = "; ".join(f"{u}: {e}" for u, e in sorted(snap.unreachable.items()))
                raise Unreachable(f"no server answered{': ' + detail if detail else ''}")
            if previous is not None:
                frame = top_frame(snap, previous)
                before = {s.name: (s.varz or {}).get("slow_consumers", 0) for s in previous.servers}
                rows = tuple({**r, "slow_new": max(0, int(r["slow_consumers"]) - int(
                    before.get(r["server"], r["slow_consumers"]) or 0))} for r in frame.servers)
                shown += 1
                yield ServerRates(rows, frame.missing,
                                  time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
                if count and shown >= count:
                    return
            previous = snap
