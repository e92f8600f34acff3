"""One async gatherer per asset: ask the server, evaluate, and turn "cannot ask" into UNKNOWN."""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from natsops.check.evaluate import (
    ConsumerThresholds,
    CredentialThresholds,
    MetaThresholds,
    StreamThresholds,
    evaluate_consumer,
    evaluate_credential,
    evaluate_kv,
    evaluate_meta,
    evaluate_stream,
)
from natsops.check.model import CheckResult, Threshold, parse_threshold
from natsops.errors import NatsopsError, NotFound, UsageError

if TYPE_CHECKING:
    from natsops.access import SystemAccess
    from natsops.connection import Conn
    from natsops.context import Settings

__all__ = [
    "check_connection",
    "check_consumer",
    "check_credential",
    "check_kv",
    "check_meta",
    "check_stream",
    "consumer_thresholds",
    "guarded",
    "meta_thresholds",
    "stream_thresholds",
]


async def guarded(suite: str, name: str, work: Callable[[], Awaitable[CheckResult]]) -> CheckResult:
    """``await work()``; a missing asset or an unreachable/refusing server is UNKNOWN.

    Bad input (UsageError) is not a check result: it propagates (exit 2).
    """
    try:
        return await work()
    except UsageError:
        raise
    except NatsopsError as exc:
        return CheckResult(suite, name, unknown=str(exc))


async def _connected(settings: Settings, fn: Callable[[Conn], Awaitable[CheckResult]]
                     ) -> CheckResult:
    from natsops.connection import connect

    async with connect(settings) as conn:
        return await fn(conn)


async def check_stream(settings: Settings, stream: str, t: StreamThresholds) -> CheckResult:
    """``check stream``: STREAM.INFO of ``stream`` evaluated against ``t``."""
    from natsops.jetstream._api import check_name, request

    check_name(stream)

    async def fn(conn: Conn) -> CheckResult:
        return evaluate_stream(await request(conn, f"STREAM.INFO.{stream}",
                                             what=f"stream {stream}"), t)

    return await guarded("stream", stream, lambda: _connected(settings, fn))


async def check_consumer(settings: Settings, stream: str, consumer: str,
                         t: ConsumerThresholds) -> CheckResult:
    """``check consumer``: CONSUMER.INFO evaluated against ``t``."""
    from natsops.jetstream._api import check_name, request

    check_name(stream)
    check_name(consumer, "consumer")

    async def fn(conn: Conn) -> CheckResult:
        info = await request(conn, f"CONSUMER.INFO.{stream}.{consumer}",
                             what=f"consumer {stream} > {consumer}")
        return evaluate_consumer(info, t, time.time())

    return await guarded("consumer", f"{stream}_{consumer}", lambda: _connected(settings, fn))


async def check_kv(settings: Settings, bucket: str, values: Threshold,
                   key: str | None = None) -> CheckResult:
    """``check kv``: the bucket exists, ``key`` holds a value, the number of values."""
    from natsops.jetstream._api import request
    from natsops.jetstream._buckets import check_bucket
    from natsops.jetstream.kv import check_key

    check_bucket(bucket)
    if key is not None:
        check_key(key)

    async def fn(conn: Conn) -> CheckResult:
        info = await request(conn, f"STREAM.INFO.KV_{bucket}", what=f"bucket {bucket}")
        op, found = None, True
        if key is not None:
            try:
                msg = await request(conn, f"STREAM.MSG.GET.KV_{bucket}",
                                    {"last_by_subj": f"$KV.{bucket}.{key}"},
                                    what=f"key {key}")
                op = _kv_operation(msg.get("message", {}).get("hdrs"))
            except NotFound:
                found = False
        return evaluate_kv(bucket, info, values, key=key, key_op=op, key_found=found)

    return await guarded("kv", bucket, lambda: _connected(settings, fn))


def _kv_operation(hdrs: str | None) -> str:
    if not hdrs:
        return "PUT"
    for line in base64.b64decode(hdrs).decode(errors="replace").split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "kv-operation":
            return v.strip().upper()
    return "PUT"


async def check_meta(access: SystemAccess, t: MetaThresholds) -> CheckResult:
    """``check meta``: the meta leader's view of the meta group (system account)."""
    from natsops.access import system_connection
    from natsops.monitoring.sys import sys_ping

    async def work() -> CheckResult:
        async with system_connection(access, "natsops check") as (conn, _):
            res = await sys_ping(conn.nc, "JSZ", {"leader_only": True}, expected=1,
                                 timeout=min(conn.settings.timeout, 2.0))
        if not res.replies:
            return CheckResult("meta", "JetStream Meta Cluster",
                               unknown="no meta leader answered $SYS.REQ.SERVER.PING.JSZ")
        return evaluate_meta(res.replies[0], t)

    return await guarded("meta", "JetStream Meta Cluster", work)


def check_credential(path: Path, t: CredentialThresholds) -> CheckResult:
    """``check credential``: the expiry of a creds file's (or bare JWT file's) JWT, offline."""
    from natsops.auth.creds import parse_creds
    from natsops.auth.jwt import decode

    try:
        text = path.read_text()
    except FileNotFoundError:
        return CheckResult("credential", "Credential", unknown=f"{path}: no such file")
    except OSError as exc:
        return CheckResult("credential", "Credential", unknown=f"{path}: {exc.strerror}")
    token = parse_creds(text, source=str(path)).user if "-----BEGIN" in text else \
        decode(text.strip())
    return evaluate_credential(token.expires, t, time.time())


async def check_connection(settings: Settings, connect: Threshold, rtt: Threshold,
                           req: Threshold) -> CheckResult:
    """``check connection``: time to connect, PING RTT and an inbox round trip (seconds)."""
    from natsops.connection import connect as open_conn
    from natsops.findings import Severity

    async def work() -> CheckResult:
        r = CheckResult("connections", "Connection")
        start = time.monotonic()
        async with open_conn(settings) as conn:
            took = time.monotonic() - start
            r.measure("connect_time", "connected in", took, connect, unit="s",
                      shown=f"{took:.4f}s")
            took = await conn.nc.rtt()
            r.measure("rtt", "rtt", took, rtt, unit="s", shown=f"{took:.4f}s")
            inbox, body = conn.nc.new_inbox(), secrets.token_bytes(100)
            sub = await conn.nc.subscribe(inbox, max_msgs=1)
            t0 = time.monotonic()
            await conn.nc.publish(inbox, body)
            try:
                msg = await sub.next_msg(timeout=settings.timeout)
            except Exception:  # nats-py's TimeoutError: the reply never came
                r.add(Severity.FAIL, "request", f"no round trip within {settings.timeout:g}s")
                return r
            took = time.monotonic() - t0
            r.measure("request_time", "round trip", took, req, unit="s", shown=f"{took:.4f}s")
            if msg.data != body:
                r.add(Severity.FAIL, "request", "round trip payload mismatch")
        return r

    return await guarded("connections", "Connection", work)


Pair = tuple[str | None, str | None]


def stream_thresholds(peer_expect: int | None, peer_lag_crit: str | None,
                      peer_seen_crit: str | None, lag: Pair, seen: Pair,
                      min_sources: int | None, max_sources: int | None, msgs: Pair,
                      subjects: Pair) -> StreamThresholds:
    """StreamThresholds from the flags' text (numbers and durations); UsageError if bad."""
    if peer_expect is not None and peer_expect < 1:
        raise UsageError(f"invalid --peer-expect {peer_expect}: must be 1 or more")
    for flag, v in (("--min-sources", min_sources), ("--max-sources", max_sources)):
        if v is not None and v < 0:
            raise UsageError(f"invalid {flag} {v}: must be 0 or more")
    return StreamThresholds(
        peer_expect=peer_expect,
        peer_lag_crit=parse_threshold(None, peer_lag_crit, what="peer-lag").crit,
        peer_seen_crit=parse_threshold(None, peer_seen_crit, duration=True,
                                       what="peer-seen").crit,
        lag=parse_threshold(*lag, what="lag"),
        seen=parse_threshold(*seen, duration=True, what="seen"),
        min_sources=min_sources, max_sources=max_sources,
        msgs=parse_threshold(*msgs, what="msgs"),
        subjects=parse_threshold(*subjects, inverting=True, what="subjects"))


def consumer_thresholds(outstanding_ack: Pair, waiting: Pair, unprocessed: Pair,
                        redelivery: Pair, last_delivery: Pair,
                        last_ack: Pair) -> ConsumerThresholds:
    """ConsumerThresholds from the flags' text; the two ages are durations."""
    return ConsumerThresholds(
        outstanding_ack=parse_threshold(*outstanding_ack, what="outstanding-ack"),
        waiting=parse_threshold(*waiting, what="waiting"),
        unprocessed=parse_threshold(*unprocessed, what="unprocessed"),
        redelivery=parse_threshold(*redelivery, what="redelivery"),
        last_delivery=parse_threshold(*last_delivery, duration=True, what="last-delivery"),
        last_ack=parse_threshold(*last_ack, duration=True, what="last-ack"))


def meta_thresholds(expect: int | None, lag: Pair, seen: Pair) -> MetaThresholds:
    """MetaThresholds from the flags' text (``lag``, ``seen``: warning and critical)."""
    if expect is not None and expect < 1:
        raise UsageError(f"invalid --expect {expect}: must be 1 or more")
    lag_t = parse_threshold(*lag, what="lag")
    seen_t = parse_threshold(*seen, duration=True, what="seen")
    return MetaThresholds(expect, lag_t.crit, seen_t.crit, lag_t.warn, seen_t.warn)
