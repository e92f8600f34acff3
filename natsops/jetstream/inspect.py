"""Look inside streams: read messages, count subjects, delete one message, find assets, state.

Reads go through ``DIRECT.GET`` when the stream has ``allow_direct`` (any replica answers;
``view`` asks for batches of up to :data:`BATCH` messages) and ``STREAM.MSG.GET`` (the leader,
one message per request) otherwise. Nothing reads more than the asked-for messages into
memory: ``view`` hands every message to a callback as it arrives.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from natsops.errors import NotFound, ServerError, UsageError
from natsops.faults import DEFAULT_STALL_TIMEOUT, Watchdog
from natsops.jetstream._api import api_prefix, check_name, paged, request
from natsops.jetstream.errors import JSApiError, from_nats_exception
from natsops.jetstream.models import ConsumerInfo, StreamInfo
from natsops.jetstream.streams import list_streams, stream_info
from natsops.validate import subject as check_subject

if TYPE_CHECKING:
    from natsops.connection import Conn

__all__ = [
    "BATCH", "ConsumerFilter", "Found", "StoredMsg", "StreamFilter", "StreamState", "SubjectCount",
    "View", "consumer_matches", "delete_message", "find_consumers", "find_streams",
    "get_message", "parse_time", "stream_matches", "stream_state", "subject_counts",
    "view_messages",
]

BATCH = 256
BATCH_BYTES = 4 << 20  # a direct-get batch stops after this much payload (at least one message)
_DIRECT_HDRS = ("Nats-Stream", "Nats-Sequence", "Nats-Time-Stamp", "Nats-Subject",
                "Nats-Num-Pending", "Nats-Last-Sequence")


def parse_time(text: str | None) -> float | None:
    """Seconds since the epoch of an RFC 3339 time with up to nanoseconds, None if unusable."""
    if not text or text.startswith("0001-01-01"):
        return None
    head, _, rest = text.partition(".")
    frac, zone = "", "Z"
    if rest:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        frac, zone = rest[:digits], rest[digits:] or "Z"
    elif head.endswith("Z") or "+" in head[10:] or head[10:].count("-"):
        for i in range(len(head) - 1, 9, -1):
            if head[i] in "Z+-":
                head, zone = head[:i], head[i:]
                break
    try:
        base = datetime.fromisoformat(head + ("+00:00" if zone == "Z" else zone))
    except ValueError:
        return None
    return base.timestamp() + float(f"0.{frac or 0}")


def _rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class StoredMsg:
    """One message as stored: sequence, subject, time, headers and payload."""

    stream: str
    seq: int
    subject: str
    time: str
    headers: Mapping[str, tuple[str, ...]]
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def is_text(self) -> bool:
        """True when the payload is UTF-8 without control characters other than tab/newline."""
        try:
            text = self.data.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return all(c.isprintable() or c in "\t\n\r" for c in text)

    def preview(self, limit: int = 512) -> str:
        """The payload shown safely: text as is, else escaped bytes; cut at ``limit`` bytes."""
        chunk = self.data[:limit]
        more = f" ... ({self.size:,} bytes)" if self.size > limit else ""
        if self.is_text or (self.size > limit and _text_prefix(chunk)):
            return chunk.decode("utf-8", errors="replace") + more
        return "binary: " + chunk.hex(" ") + more

    def to_json(self) -> dict[str, Any]:
        """natscli's message JSON: subject, seq, time, headers, base64 data."""
        return {"stream": self.stream, "seq": self.seq, "subject": self.subject,
                "time": self.time, "size": self.size,
                "headers": {k: list(v) for k, v in self.headers.items()},
                "data": base64.b64encode(self.data).decode()}


def _text_prefix(chunk: bytes) -> bool:
    # a cut can split a UTF-8 sequence: allow up to 3 undecodable bytes at the end
    for cut in range(4):
        try:
            text = chunk[:len(chunk) - cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
        return all(c.isprintable() or c in "\t\n\r" for c in text)
    return False


def parse_header_block(raw: bytes) -> dict[str, tuple[str, ...]]:
    """Headers of a ``NATS/1.0`` block, keeping repeated keys in order."""
    out: dict[str, list[str]] = {}
    for line in raw.decode("utf-8", errors="replace").split("\r\n")[1:]:
        key, sep, value = line.partition(":")
        if sep and key.strip():
            out.setdefault(key.strip(), []).append(value.strip())
    return {k: tuple(v) for k, v in out.items()}


def _from_api(stream: str, m: Mapping[str, Any]) -> StoredMsg:
    hdrs = parse_header_block(base64.b64decode(m["hdrs"])) if m.get("hdrs") else {}
    return StoredMsg(stream=stream, seq=int(m.get("seq") or 0), subject=str(m.get("subject", "")),
                     time=str(m.get("time", "")), headers=hdrs,
                     data=base64.b64decode(m.get("data") or b""))


def _from_direct(stream: str, msg: Any) -> StoredMsg:
    h = dict(msg.headers or {})
    return StoredMsg(stream=stream, seq=int(h.get("Nats-Sequence") or 0),
                     subject=str(h.get("Nats-Subject") or ""), time=str(h.get("Nats-Time-Stamp")
                                                                          or ""),
                     headers={k: (str(v),) for k, v in h.items() if k not in _DIRECT_HDRS},
                     data=bytes(msg.data or b""))


def _direct_status(msg: Any) -> str:
    return str((msg.headers or {}).get("Status") or "")


async def get_message(conn: Conn, stream: str, seq: int | None = None, *,
                      last_for: str | None = None) -> StoredMsg:
    """Message ``seq`` or the last one on subject ``last_for``; NotFound (exit 4) when absent."""
    check_name(stream)
    if (seq is None) == (last_for is None):
        raise UsageError("give a sequence or --last-for SUBJECT, not both")
    if seq is not None and seq < 1:
        raise UsageError(f"invalid sequence {seq}: sequences start at 1")
    if last_for is not None:
        check_subject(last_for, "--last-for")
    body: dict[str, Any] = {"seq": seq} if seq is not None else {"last_by_subj": last_for}
    what = f"message {seq}" if seq is not None else f"last message on {last_for}"
    si = await stream_info(conn, stream)
    if si.config.get("allow_direct"):
        import json

        try:
            msg = await conn.nc.request(f"{api_prefix(conn)}.DIRECT.GET.{stream}",
                                        json.dumps(body).encode(), timeout=conn.settings.timeout)
        except Exception as exc:
            raise from_nats_exception(exc, f"stream {stream} {what}") from None
        status = _direct_status(msg)
        if status == "404":
            raise NotFound(f"stream {stream} has no {what}")
        if status:
            raise ServerError(f"stream {stream} {what}: status {status} "
                              f"{(msg.headers or {}).get('Description', '')}".rstrip())
        return _from_direct(stream, msg)
    reply = await request(conn, f"STREAM.MSG.GET.{stream}", body, what=f"stream {stream} {what}")
    return _from_api(stream, reply.get("message") or {})


async def delete_message(conn: Conn, stream: str, seq: int) -> None:
    """Securely erase exactly message ``seq`` (natscli ``rmm``); NotFound when it is absent."""
    check_name(stream)
    if seq < 1:
        raise UsageError(f"invalid sequence {seq}: sequences start at 1")
    try:
        reply = await request(conn, f"STREAM.MSG.DELETE.{stream}", {"seq": seq},
                              what=f"stream {stream} message {seq}")
    except JSApiError as exc:
        # 10043: deleted or never stored; 10057 "stream store EOF": past the last sequence
        if exc.err_code == 10043 or (exc.err_code == 10057 and "EOF" in exc.message):
            raise NotFound(f"stream {stream} has no message {seq}") from None
        raise
    if not reply.get("success"):
        raise ServerError(f"stream {stream}: message {seq} was not deleted")


@dataclass(frozen=True)
class View:
    """What to show: a subject filter, a start (sequence or time) and a count."""

    subject: str | None = None
    start_seq: int | None = None
    since_s: float | None = None  # seconds back from now
    count: int = 25

    def __post_init__(self) -> None:
        if self.start_seq is not None and self.since_s is not None:
            raise UsageError("--since and --start-seq cannot be combined")
        if self.count < 1:
            raise UsageError("-n/--count must be at least 1")
        if self.start_seq is not None and self.start_seq < 1:
            raise UsageError("--start-seq must be at least 1")
        if self.since_s is not None and self.since_s <= 0:
            raise UsageError("--since must be a positive duration")
        if self.subject is not None:
            check_subject(self.subject, "--subject")


async def view_messages(conn: Conn, stream: str, view: View, emit: Callable[[StoredMsg], None],
                        *, stall_timeout: float = DEFAULT_STALL_TIMEOUT) -> int:
    """Hand up to ``view.count`` messages, in sequence order, to ``emit``; return how many.

    Stops early at the end of the stream. A server that stops answering for
    ``stall_timeout`` seconds, or a lost connection, raises Unreachable (exit 3).
    """
    si = await stream_info(conn, stream)
    dog = Watchdog(conn, f"stream view {stream}", stall_timeout)
    body: dict[str, Any] = {"next_by_subj": view.subject or ">"}
    if view.since_s is not None:
        body["start_time"] = _rfc3339(time.time() - view.since_s)
    else:
        body["seq"] = max(view.start_seq or 1, si.first_seq or 1)
    batches = si.config.get("allow_direct") and _batch_direct_get(conn.server_version)
    reader = _direct_batches if batches else _msg_gets
    return await dog.run(reader(conn, stream, body, view.count, emit, dog))


def _batch_direct_get(version: str) -> bool:
    """Batched direct gets (``batch`` in ``DIRECT.GET``, ended by a 204) exist from 2.11 on;
    a 2.10 server answers one message and no end-of-batch, so the reader would stall."""
    import re

    m = re.match(r"v?(\d+)\.(\d+)", version)
    return m is None or (int(m.group(1)), int(m.group(2))) >= (2, 11)


async def _msg_gets(conn: Conn, stream: str, body: dict[str, Any], count: int,
                    emit: Callable[[StoredMsg], None], dog: Watchdog) -> int:
    shown = 0
    while shown < count:
        try:
            # the watchdog, not the request's own timeout, says when the server stalled
            reply = await request(conn, f"STREAM.MSG.GET.{stream}", body,
                                  what=f"stream {stream}", timeout=dog.stall + 1)
        except NotFound:
            return shown  # past the last matching message
        m = _from_api(stream, reply.get("message") or {})
        dog.tick()
        emit(m)
        shown += 1
        body = {"next_by_subj": body["next_by_subj"], "seq": m.seq + 1}
    return shown


async def _direct_batches(conn: Conn, stream: str, body: dict[str, Any], count: int,
                          emit: Callable[[StoredMsg], None], dog: Watchdog) -> int:
    import json

    nc = conn.nc
    shown = 0
    while shown < count:
        want = min(BATCH, count - shown)
        inbox = nc.new_inbox()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        sub = await nc.subscribe(inbox, cb=queue.put)
        try:
            ask = {**body, "batch": want, "max_bytes": BATCH_BYTES}
            await nc.publish(f"{api_prefix(conn)}.DIRECT.GET.{stream}", json.dumps(ask).encode(),
                             reply=inbox)
            last, got, done = 0, 0, False
            while not done:
                msg = await queue.get()
                dog.tick()
                status = _direct_status(msg)
                if status == "404":
                    return shown
                if status == "204":  # end of batch
                    done = True
                elif status:
                    raise ServerError(f"stream {stream} direct get: status {status} "
                                      f"{(msg.headers or {}).get('Description', '')}".rstrip())
                else:
                    m = _from_direct(stream, msg)
                    emit(m)
                    shown, got, last = shown + 1, got + 1, m.seq
                    pending = (msg.headers or {}).get("Nats-Num-Pending")
                    if pending is not None and int(pending) == 0:
                        return shown
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        if got == 0:
            return shown
        body = {"next_by_subj": body["next_by_subj"], "seq": last + 1}
    return shown


@dataclass(frozen=True)
class SubjectCount:
    subject: str
    messages: int


async def subject_counts(conn: Conn, stream: str, filter_subject: str | None = None
                         ) -> list[SubjectCount]:
    """Messages per subject (STREAM.INFO ``subjects_filter``, every page), most first."""
    check_name(stream)
    filt = filter_subject or ">"
    check_subject(filt, "subject filter")
    counts: dict[str, int] = {}
    offset = 0
    while True:
        reply = await request(conn, f"STREAM.INFO.{stream}",
                              {"subjects_filter": filt, "offset": offset},
                              what=f"stream {stream}")
        page = (reply.get("state") or {}).get("subjects") or {}
        counts.update({str(k): int(v) for k, v in page.items()})
        total, limit = int(reply.get("total") or 0), int(reply.get("limit") or 0)
        offset += len(page)
        if not page or limit <= 0 or offset >= total:
            break
    return [SubjectCount(s, n) for s, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


@dataclass(frozen=True)
class StreamState:
    """The compact health line of ``stream state``."""

    name: str
    messages: int
    bytes: int
    first_seq: int
    last_seq: int
    leader: str
    replicas: int
    current: int  # replicas (leader included) that are current
    consumers: int
    last_activity: str  # time of the last message, "" when empty
    healthy: bool
    raw: Mapping[str, Any] = field(repr=False, compare=False)


async def stream_state(conn: Conn, stream: str) -> StreamState:
    si = await stream_info(conn, stream)
    st = si.raw.get("state") or {}
    last = str(st.get("last_ts") or "")
    cl = si.cluster
    current = sum(1 for p in cl.peers if p.healthy) if cl else 1
    return StreamState(name=si.name, messages=si.messages, bytes=si.bytes,
                       first_seq=si.first_seq, last_seq=si.last_seq,
                       leader=cl.leader if cl else "", replicas=si.replicas, current=current,
                       consumers=si.consumers, last_activity="" if parse_time(last) is None
                       else last, healthy=(cl is None or cl.healthy) and not si.lost_msgs,
                       raw=si.raw)


def _overlaps(a: str, b: str) -> bool:
    """Whether two subject patterns can match a common subject."""
    x, y = a.split("."), b.split(".")
    for p, q in zip(x, y, strict=False):
        if p == ">" or q == ">":
            return True
        if p != q and "*" not in (p, q):
            return False
    return len(x) == len(y)


@dataclass(frozen=True)
class StreamFilter:
    """``stream find`` properties; every one given must hold."""

    empty: bool = False
    idle_s: float | None = None
    leader: str | None = None
    replicas: int | None = None
    subject: str | None = None

    def __post_init__(self) -> None:
        if self.replicas is not None and not 1 <= self.replicas <= 5:
            raise UsageError("--replicas must be between 1 and 5")
        if self.idle_s is not None and self.idle_s <= 0:
            raise UsageError("--idle must be a positive duration")
        if self.subject is not None:
            check_subject(self.subject, "--subject")


def stream_matches(si: StreamInfo, f: StreamFilter, now: float) -> bool:
    if f.empty and si.messages:
        return False
    if f.idle_s is not None:
        last = parse_time(str((si.raw.get("state") or {}).get("last_ts") or ""))
        if last is not None and now - last < f.idle_s:
            return False
    if f.leader is not None and (si.cluster.leader if si.cluster else "") != f.leader:
        return False
    if f.replicas is not None and si.replicas != f.replicas:
        return False
    return f.subject is None or any(_overlaps(f.subject, s)
                                    for s in si.config.get("subjects") or [])


@dataclass(frozen=True)
class Found:
    """What ``find`` matched, and what could not be judged: streams or consumers the cluster
    listed as missing or offline (``stream`` or ``stream consumer`` names)."""

    streams: tuple[StreamInfo, ...] = ()
    consumers: tuple[ConsumerInfo, ...] = ()
    unknown: tuple[str, ...] = ()


async def find_streams(conn: Conn, f: StreamFilter) -> Found:
    """Streams whose info matches every property of ``f``, by name."""
    res = await list_streams(conn)
    now = time.time()
    return Found(streams=tuple(sorted((s for s in res.streams if stream_matches(s, f, now)),
                                      key=lambda s: s.name)),
                 unknown=tuple(sorted({*res.missing, *res.offline})))


@dataclass(frozen=True)
class ConsumerFilter(StreamFilter):
    """``consumer find``: ``empty`` = nothing pending or awaiting ack; ``idle`` = no delivery
    and no ack for that long; ``subject`` overlaps a filter (no filter: the whole stream)."""


def consumer_matches(ci: ConsumerInfo, f: ConsumerFilter, now: float,
                     stream_replicas: int = 1, stream_subjects: Sequence[str] = ()) -> bool:
    if f.empty and (ci.num_pending or ci.num_ack_pending):
        return False
    if f.idle_s is not None:
        raw_af = ci.raw.get("ack_floor") or {}
        times = [parse_time(ci.last_delivery), parse_time(raw_af.get("last_active"))]
        seen = [t for t in times if t is not None]
        if seen and now - max(seen) < f.idle_s:
            return False
        if not seen and (parse_time(ci.created) or now) > now - f.idle_s:
            return False  # never active, but created within the window
    if f.leader is not None and (ci.cluster.leader if ci.cluster else "") != f.leader:
        return False
    if f.replicas is not None and (int(ci.config.get("num_replicas") or 0)
                                   or stream_replicas) != f.replicas:
        return False
    if f.subject is None:
        return True
    filters = list(ci.config.get("filter_subjects") or [])
    if ci.config.get("filter_subject"):
        filters.append(ci.config["filter_subject"])
    # no filter: the consumer sees its whole stream, so the stream's subjects decide
    return any(_overlaps(f.subject, s) for s in (filters or stream_subjects))


async def find_consumers(conn: Conn, f: ConsumerFilter, stream: str | None = None) -> Found:
    """Consumers (of ``stream``, or of every stream) matching every property of ``f``."""
    unknown: set[str] = set()
    if stream:
        streams: tuple[StreamInfo, ...] = (await stream_info(conn, stream),)
    else:
        res = await list_streams(conn)
        streams, unknown = res.streams, {*res.missing, *res.offline}
    now = time.time()
    found: list[ConsumerInfo] = []
    for si in streams:
        page = await paged(conn, f"CONSUMER.LIST.{si.name}", "consumers",
                           what=f"stream {si.name}")
        found.extend(c for c in (ConsumerInfo.parse(x) for x in page.items)
                     if consumer_matches(c, f, now, si.replicas,
                                         tuple(si.config.get("subjects") or ())))
        unknown.update(f"{si.name} {c}" for c in (*page.missing, *page.offline))
    return Found(consumers=tuple(sorted(found, key=lambda c: (c.stream, c.name))),
                 unknown=tuple(sorted(unknown)))
