"""Key/Value buckets: streams ``KV_<bucket>`` on ``$KV.<bucket>.>``.

Buckets are created here through the stream API (not nats-py's ``create_key_value``), because
nats-py ignores ``placement`` and leaves ``allow_direct`` off; natscli/nats.go buckets have
``allow_direct: true``. Values are read and written with nats-py's KeyValue, which uses direct
get when the bucket allows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from natsops.errors import NatsopsError, NotFound, Timeout, Unreachable, UsageError
from natsops.faults import DEFAULT_STALL_TIMEOUT, Watchdog, connection_lost
from natsops.jetstream._buckets import (
    BucketEditFlags,
    bucket_stream,
    bucket_stream_config,
    bucket_streams,
    check_bucket,
    delete_bucket_stream,
    plan_bucket_edit,
)
from natsops.jetstream.errors import from_nats_exception
from natsops.jetstream.models import ClusterView, StreamInfo
from natsops.jetstream.spec import ns
from natsops.jetstream.streams import add_stream, stream_info
from natsops.units import parse_duration, parse_size
from natsops.validate import count, payload_size, subject_fits

if TYPE_CHECKING:
    from natsops.connection import Conn
    from natsops.jetstream.streams import StreamEdit

__all__ = [
    "BucketEditFlags",
    "BucketOptions",
    "BucketStatus",
    "KVEntry",
    "add_bucket",
    "bucket_config",
    "bucket_status",
    "check_bucket",
    "check_key",
    "delete_bucket",
    "delete_key",
    "get_key",
    "key_history",
    "list_buckets",
    "list_keys",
    "plan_kv_edit",
    "purge_key",
    "put_key",
    "watch",
]

# the most revisions ``key_history`` reads (natscli and nats.go cap history at 64; a bucket made
# by hand with a larger max_msgs_per_subject still reads whole up to this)
HISTORY_READ_LIMIT = 10_000

_KEY_RE = re.compile(r"^[-/_=.a-zA-Z0-9]+$")


def check_key(key: str, *, pattern: bool = False) -> str:
    ok = bool(_KEY_RE.match(key.replace("*", "a").replace(">", "a") if pattern else key))
    if not ok or key.startswith(".") or key.endswith(".") or ".." in key:
        raise UsageError(f"invalid key {key!r}: use letters, digits and - / _ = . "
                         "(not at the start or end)")
    subject_fits(f"$KV.{'b' * 32}.{key}", f"key ({len(key)} characters)")
    return key


@dataclass(frozen=True)
class BucketOptions:
    """``kv add`` options (natscli flag names and defaults)."""

    history: int = 1
    ttl: str | None = None
    replicas: int = 1
    storage: str = "file"
    max_value_size: str | None = None
    max_bucket_size: str | None = None
    description: str | None = None
    cluster: str | None = None
    tags: tuple[str, ...] = ()
    compress: bool = False
    marker_ttl: str | None = None
    metadata: tuple[str, ...] = ()


def bucket_config(bucket: str, o: BucketOptions) -> dict[str, Any]:
    """The stream config natscli/nats.go use for a bucket (allow_direct on, placement kept)."""
    if not 1 <= o.history <= 64:
        raise UsageError(f"invalid --history {o.history}: use 1 to 64")
    cfg = bucket_stream_config(
        bucket, stream=f"KV_{bucket}", subjects=[f"$KV.{bucket}.>"], ttl=o.ttl,
        replicas=o.replicas, storage=o.storage, max_bucket_size=o.max_bucket_size,
        description=o.description, cluster=o.cluster, tags=o.tags, compress=o.compress,
        metadata=o.metadata)
    cfg.update(max_msgs_per_subject=o.history, deny_delete=True, deny_purge=False,
               max_msg_size=parse_size(o.max_value_size or "-1", what="--max-value-size"))
    if o.marker_ttl:
        cfg["allow_msg_ttl"] = True
        cfg["subject_delete_marker_ttl"] = ns(parse_duration(o.marker_ttl, what="--marker-ttl"))
    return cfg


@dataclass(frozen=True)
class BucketStatus:
    """A bucket as ``kv info`` shows it."""

    bucket: str
    values: int
    bytes: int
    history: int
    ttl_s: float
    replicas: int
    storage: str
    direct: bool
    compressed: bool
    placement: Mapping[str, Any] | None
    cluster: ClusterView | None
    stream: StreamInfo

    @classmethod
    def from_stream(cls, si: StreamInfo) -> BucketStatus:
        c = si.config
        return cls(bucket=si.name[3:], values=si.messages, bytes=si.bytes,
                   history=int(c.get("max_msgs_per_subject") or 1),
                   ttl_s=int(c.get("max_age") or 0) / 1e9, replicas=si.replicas,
                   storage=si.storage, direct=bool(c.get("allow_direct")),
                   compressed=c.get("compression") == "s2", placement=c.get("placement"),
                   cluster=si.cluster, stream=si)


async def add_bucket(conn: Conn, bucket: str, options: BucketOptions) -> BucketStatus:
    return BucketStatus.from_stream(await add_stream(conn, bucket_config(bucket, options)))


async def bucket_status(conn: Conn, bucket: str) -> BucketStatus:
    si = await bucket_stream(conn, f"KV_{check_bucket(bucket)}", f"bucket {bucket}")
    return BucketStatus.from_stream(si)


async def plan_kv_edit(conn: Conn, bucket: str, flags: BucketEditFlags) -> StreamEdit:
    """What ``kv edit`` would change on the bucket's ``KV_`` stream (nothing is sent)."""
    return await plan_bucket_edit(conn, f"KV_{check_bucket(bucket)}", f"bucket {bucket}",
                                  "bucket", flags)


async def list_buckets(conn: Conn) -> list[BucketStatus]:
    return [BucketStatus.from_stream(s) for s in await bucket_streams(conn, "$KV.>", "KV_")]


async def delete_bucket(conn: Conn, bucket: str) -> None:
    await delete_bucket_stream(conn, f"KV_{check_bucket(bucket)}", f"bucket {bucket}")


@dataclass(frozen=True)
class KVEntry:
    """One revision of a key."""

    bucket: str
    key: str
    value: bytes
    revision: int
    operation: str
    created: str | None

    def jsonable(self) -> dict[str, Any]:
        out: dict[str, Any] = {"bucket": self.bucket, "key": self.key,
                               "revision": self.revision, "operation": self.operation,
                               "created": self.created}
        try:
            out["value"] = self.value.decode()
        except UnicodeDecodeError:
            import base64

            out["value_b64"] = base64.b64encode(self.value).decode()
        return out


def _entry(e: Any) -> KVEntry:
    created = e.created
    if isinstance(created, datetime):
        created = created.isoformat()
    return KVEntry(bucket=e.bucket, key=e.key, value=bytes(e.value or b""),
                   revision=int(e.revision or 0), operation=str(e.operation or "PUT"),
                   created=str(created) if created is not None else None)


async def _kv(conn: Conn, bucket: str) -> Any:
    check_bucket(bucket)
    from nats.js.errors import BucketNotFoundError

    try:
        return await conn.js.key_value(bucket)
    except BucketNotFoundError:
        raise NotFound(f"bucket {bucket} not found") from None
    except Exception as exc:
        raise from_nats_exception(exc, f"bucket {bucket}") from None


async def _call(what: str, coro: Any) -> Any:
    from nats.js.errors import KeyDeletedError, KeyNotFoundError, NoKeysError

    try:
        return await coro
    except (KeyNotFoundError, KeyDeletedError, NoKeysError):
        raise NotFound(f"{what} not found") from None
    except Exception as exc:
        raise from_nats_exception(exc, what) from None


async def put_key(conn: Conn, bucket: str, key: str, value: bytes) -> int:
    """Store ``value``; returns the new revision."""
    what = f"key {bucket} > {check_key(key)}"
    payload_size(len(value), conn.nc.max_payload, "the value")
    kv = await _kv(conn, bucket)
    return int(await _call(what, kv.put(key, value)))


async def get_key(conn: Conn, bucket: str, key: str, revision: int | None = None) -> KVEntry:
    if revision is not None:
        count(revision, "--revision", minimum=1)
    what = f"key {bucket} > {check_key(key)}" + (f" revision {revision}" if revision else "")
    kv = await _kv(conn, bucket)
    return _entry(await _call(what, kv.get(key, revision=revision)))


async def delete_key(conn: Conn, bucket: str, key: str) -> None:
    """Put a delete marker (history is kept)."""
    what = f"key {bucket} > {check_key(key)}"
    kv = await _kv(conn, bucket)
    await _call(what, kv.delete(key))


async def purge_key(conn: Conn, bucket: str, key: str) -> None:
    """Remove every revision of ``key``, leaving one purge marker."""
    what = f"key {bucket} > {check_key(key)}"
    kv = await _kv(conn, bucket)
    await _call(what, kv.purge(key))


async def key_history(conn: Conn, bucket: str, key: str) -> list[KVEntry]:
    """Every revision of ``key`` still stored, oldest first (deletes and purges included).

    Read with sequential message gets on the key's subject, not nats-py's ``history()``:
    its watcher can report "no keys" before the buffered entries are counted (nats.py #842),
    so an existing key read as absent now and then.
    """
    from natsops.jetstream.inspect import View, parse_time, view_messages

    what = f"key {bucket} > {check_key(key)}"
    await _kv(conn, bucket)  # NotFound for a missing bucket, as every other key command
    stored: list[Any] = []
    try:
        await view_messages(conn, f"KV_{bucket}", View(subject=f"$KV.{bucket}.{key}",
                                                       count=HISTORY_READ_LIMIT), stored.append)
    except NatsopsError:
        raise
    except Exception as exc:
        raise from_nats_exception(exc, what) from None
    if not stored:
        raise NotFound(f"{what} not found")
    out = []
    for m in stored:
        op = (m.headers.get("KV-Operation") or ("PUT",))[0].upper()
        at = parse_time(m.time)
        created = datetime.fromtimestamp(at, timezone.utc).isoformat() if at else None
        out.append(KVEntry(bucket=bucket, key=key, value=m.data, revision=m.seq,
                           operation=op, created=created))
    return out


async def list_keys(conn: Conn, bucket: str) -> list[str]:
    """Keys with a current value (deleted/purged keys are left out); [] for an empty bucket."""
    await _kv(conn, bucket)
    try:
        return sorted(k for k, op in await _last_per_key(conn, bucket) if op == "PUT")
    except NatsopsError:
        raise
    except Exception as exc:
        raise from_nats_exception(exc, f"bucket {bucket}") from None


async def _last_per_key(conn: Conn, bucket: str) -> list[tuple[str, str]]:
    """(key, KV-Operation) of every key's last revision.

    Not nats-py's ``keys()``: its watcher can say "no keys" before the entries it already
    received are counted (nats.py #842). Here the server's own count decides: a consumer
    delivering the last message per subject (headers only) is read until the delivery that
    says nothing is pending, and it is empty only when the server says it delivered nothing.
    """
    from nats.errors import TimeoutError as NatsTimeout
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    prefix = f"$KV.{bucket}."
    config = ConsumerConfig(deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
                            ack_policy=AckPolicy.NONE, headers_only=True,
                            inactive_threshold=30.0)
    sub = await conn.js.subscribe(prefix + ">", stream=f"KV_{bucket}", config=config)
    out: list[tuple[str, str]] = []
    name = ""
    try:
        info = await sub.consumer_info()
        name = str(info.name or "")
        if info.num_pending == 0 and not (info.delivered and info.delivered.consumer_seq):
            return out
        while True:
            try:
                msg = await sub.next_msg(timeout=conn.settings.timeout)
            except NatsTimeout:
                raise Timeout(f"bucket {bucket}: the key listing stopped after {len(out)} "
                              f"keys (no delivery in {conn.settings.timeout:g}s)") from None
            op = str((msg.headers or {}).get("KV-Operation") or "PUT").upper()
            out.append((msg.subject[len(prefix):], op))
            if msg.metadata.num_pending == 0:
                return out
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
        if name:  # nats-py leaves the ephemeral consumer to its inactive threshold
            with contextlib.suppress(Exception):
                await conn.js.delete_consumer(f"KV_{bucket}", name)


async def watch(conn: Conn, bucket: str, key: str = ">", *, history: bool = False,
                deletes: bool = True,
                stall_timeout: float = DEFAULT_STALL_TIMEOUT) -> AsyncIterator[KVEntry]:
    """Yield the current value(s) of ``key`` (a key or pattern), then every update, forever.

    A quiet watch checks that it is still alive: after ``stall_timeout / 2`` without updates it
    asks for the bucket's stream. A deleted bucket ends it with NotFound; a lost connection or
    a server that does not answer within ``stall_timeout / 2`` with Unreachable naming it.
    """
    from nats.errors import TimeoutError as NatsTimeout

    check_key(key, pattern=True)
    kv = await _kv(conn, bucket)
    dog = Watchdog(conn, f"the watch of bucket {bucket}", stall_timeout)
    try:
        watcher = await kv.watch(key, include_history=history, ignore_deletes=not deletes)
    except Exception as exc:
        raise from_nats_exception(exc, f"bucket {bucket}") from None
    try:
        while True:
            try:
                e = await watcher.updates(timeout=min(1.0, dog.stall / 2))
            except NatsTimeout:
                if time.monotonic() - dog.last >= dog.stall / 2:
                    await _still_there(conn, bucket, dog)
                elif connection_lost(conn.nc):
                    raise dog.problem() or Unreachable("connection lost") from None
                continue
            if e is None:  # end of the initial values
                continue
            if not hasattr(e, "key"):  # the watcher was stopped
                return
            dog.tick()
            yield _entry(e)
    finally:
        with contextlib.suppress(Exception):
            await watcher.stop()


async def _still_there(conn: Conn, bucket: str, dog: Watchdog) -> None:
    """One liveness probe of a quiet watch: the bucket's stream info, within stall/2."""
    if connection_lost(conn.nc):
        raise dog.problem() or Unreachable(f"connection to {dog.server} lost")
    try:
        await asyncio.wait_for(stream_info(conn, f"KV_{bucket}"), dog.stall / 2)
    except NotFound:
        raise NotFound(f"bucket {bucket} was deleted; the watch ended") from None
    except (asyncio.TimeoutError, NatsopsError) as exc:
        if isinstance(exc, NatsopsError) and not isinstance(exc, Timeout) \
                and not connection_lost(conn.nc):
            raise
        raise Unreachable(f"the watch of bucket {bucket} lost {dog.server}: no answer "
                          f"within {dog.stall / 2:g}s",
                          hint="check that server, or raise --stall-timeout") from None
    dog.tick()
