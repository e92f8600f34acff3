"""Core NATS messages, as natscli's ``pub``/``sub``/``req``/``reply`` send and show them.

Every function takes an open :class:`~natsops.connection.Conn`; none prints. Payloads are kept
as bytes; :func:`safe_text` and :meth:`Message.to_dict` show them without letting binary or
control bytes reach a terminal.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from natsops.errors import NotFound, Timeout, Unreachable, UsageError

if TYPE_CHECKING:
    from nats.aio.msg import Msg

    from natsops.connection import Conn

__all__ = ["Message", "PubResult", "next_message", "parse_headers", "publish", "render_body",
           "reply", "request", "safe_text", "subscribe", "validate_subject"]


def validate_subject(subject: str, *, wildcards: bool) -> str:
    """``subject`` if it is a valid subject (with ``*``/``>`` only when ``wildcards``)."""
    tokens = subject.split(".")
    bad = (not subject or any(not t or any(c.isspace() for c in t) for t in tokens)
           or (">" in tokens[:-1]))
    if not bad and not wildcards:
        bad = any(t in ("*", ">") for t in tokens)
    if bad:
        kind = "subject" if wildcards else "subject (no wildcards)"
        raise UsageError(f"invalid {kind}: {subject!r}")
    return subject


def parse_headers(values: Sequence[str]) -> dict[str, str]:
    """``-H key:value`` flags (as natscli) into a header map; a malformed one is a usage error."""
    out: dict[str, str] = {}
    for v in values:
        key, sep, val = v.partition(":")
        if not sep or not key.strip() or any(c.isspace() for c in key.strip()):
            raise UsageError(f"invalid header {v!r}: use -H key:value")
        out[key.strip()] = val.strip()
    return out


def render_body(body: bytes, count: int) -> bytes:
    """``{{Count}}`` (the message number, from 1) and ``{{Time}}`` (RFC 3339) in ``body``.

    natscli's pub templates; other text is sent as given.
    """
    if b"{{" not in body:
        return body
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()).encode()
    for token, value in ((b"{{Count}}", str(count).encode()), (b"{{Time}}", stamp)):
        body = body.replace(token, value)
    return body


def safe_text(data: bytes) -> str:
    """The payload as printable text: UTF-8 with control characters escaped, or a hex-escaped
    rendering when it is not UTF-8 (never raw bytes on a terminal)."""
    try:
        text = data.decode()
    except UnicodeDecodeError:
        return "".join(chr(b) if 32 <= b < 127 else f"\\x{b:02x}" for b in data)
    return "".join(c if c.isprintable() or c in "\n\t" else repr(c)[1:-1] for c in text)


@dataclass(frozen=True)
class Message:
    """One received message."""

    subject: str
    data: bytes
    reply: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    received: float = 0.0  # unix time it arrived

    @classmethod
    def of(cls, msg: Msg) -> Message:
        return cls(msg.subject, bytes(msg.data), msg.reply or "", dict(msg.headers or {}),
                   time.time())

    @property
    def binary(self) -> bool:
        try:
            self.data.decode()
        except UnicodeDecodeError:
            return True
        return False

    def to_dict(self) -> dict[str, Any]:
        """A JSON line: ``data`` as text, or base64 with ``encoding: base64`` when binary."""
        d: dict[str, Any] = {"subject": self.subject, "reply": self.reply or None,
                             "headers": dict(self.headers), "size": len(self.data),
                             "time": time.strftime("%Y-%m-%dT%H:%M:%S",
                                                   time.gmtime(self.received))
                             + f".{int(self.received % 1 * 1000):03d}Z"}
        if self.binary:
            d.update(data=base64.b64encode(self.data).decode(), encoding="base64")
        else:
            d.update(data=self.data.decode(), encoding="utf-8")
        return d


@dataclass(frozen=True)
class PubResult:
    """One published message; with JetStream, the stream's acknowledgement."""

    subject: str
    size: int
    stream: str | None = None
    seq: int | None = None
    duplicate: bool = False


def _lost(conn: Conn) -> Unreachable:
    return Unreachable(f"lost the connection to server {conn.server_name or '?'}")


async def publish(conn: Conn, subject: str, body: bytes, *, count: int = 1,
                  headers: Mapping[str, str] | None = None,
                  jetstream: bool = False) -> list[PubResult]:
    """Publish ``count`` messages (``{{Count}}`` rendered per message) and flush.

    With ``jetstream`` each is published through JetStream and its ack returned: no stream
    for the subject is :class:`NotFound` (exit 4).
    """
    validate_subject(subject, wildcards=False)
    if count < 1:
        raise UsageError("--count must be at least 1")
    hdrs = dict(headers or {}) or None
    out: list[PubResult] = []
    for i in range(1, count + 1):
        data = render_body(body, i)
        if jetstream:
            out.append(await _js_publish(conn, subject, data, hdrs))
        else:
            await conn.nc.publish(subject, data, headers=hdrs)
            out.append(PubResult(subject, len(data)))
    if not jetstream:
        await conn.nc.flush(timeout=max(1, int(conn.settings.timeout)))
    return out


async def _js_publish(conn: Conn, subject: str, data: bytes,
                      hdrs: dict[str, str] | None) -> PubResult:
    from nats.errors import NoRespondersError
    from nats.errors import TimeoutError as NatsTimeout
    from nats.js.errors import APIError, NoStreamResponseError

    try:
        ack = await conn.js.publish(subject, data, headers=hdrs, timeout=conn.settings.timeout)
    except (NoStreamResponseError, NoRespondersError):
        raise NotFound(f"no stream listens on {subject}",
                       hint="publish without --js, or add a stream for the subject") from None
    except NatsTimeout:
        raise Timeout(f"no JetStream ack for {subject} within {conn.settings.timeout:g}s") \
            from None
    except APIError as exc:
        from natsops.errors import ServerError

        raise ServerError(f"publish to {subject} refused: {exc.description or exc}") from None
    return PubResult(subject, len(data), ack.stream, ack.seq, bool(ack.duplicate))


async def next_message(conn: Conn, queue: asyncio.Queue[Msg], wait: float | None) -> Msg | None:
    """The next queued message; None after ``wait`` seconds; Unreachable when the connection
    is gone (the fault policy: exit 3 naming the server, no reconnect)."""
    deadline = None if wait is None else time.monotonic() + wait
    while True:
        left = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
        if left <= 0:
            return None
        try:
            return await asyncio.wait_for(queue.get(), left)
        except TimeoutError:
            if conn.nc.is_closed or not conn.nc.is_connected:
                raise _lost(conn) from None


async def subscribe(conn: Conn, subject: str, *, count: int = 0, queue_group: str = "",
                    notice: Callable[[str], None] = lambda _: None,
                    ) -> AsyncGenerator[Message, None]:
    """Yield messages on ``subject`` (``count`` of them, or until the caller stops).

    ``notice`` is told once the server has the subscription.
    """
    validate_subject(subject, wildcards=True)
    if count < 0:
        raise UsageError("--count must not be negative")
    queue: asyncio.Queue[Msg] = asyncio.Queue()

    async def cb(msg: Msg) -> None:
        queue.put_nowait(msg)

    sub = await conn.nc.subscribe(subject, queue=queue_group, cb=cb)
    await conn.nc.flush(timeout=max(1, int(conn.settings.timeout)))
    group = f" (queue group {queue_group})" if queue_group else ""
    notice(f"subscribed to {subject}{group} on {conn.server_name or '?'}")
    seen = 0
    try:
        while not count or seen < count:
            msg = await next_message(conn, queue, None)
            if msg is not None:
                seen += 1
                yield Message.of(msg)
    finally:
        if conn.nc.is_connected:
            await sub.unsubscribe()


async def request(conn: Conn, subject: str, body: bytes, *,
                  headers: Mapping[str, str] | None = None) -> Message:
    """One request, its reply within the settings' timeout (no responders: exit 4)."""
    from nats.errors import NoRespondersError
    from nats.errors import TimeoutError as NatsTimeout

    validate_subject(subject, wildcards=False)
    try:
        msg = await conn.nc.request(subject, body, timeout=conn.settings.timeout,
                                    headers=dict(headers or {}) or None)
    except NoRespondersError:
        raise NotFound(f"no responders on {subject}") from None
    except NatsTimeout:
        raise Timeout(f"no reply on {subject} within {conn.settings.timeout:g}s") from None
    return Message.of(msg)


async def reply(conn: Conn, subject: str, body: bytes, *, count: int = 0,
                queue_group: str = "NATS-RPLY-22",
                headers: Mapping[str, str] | None = None,
                notice: Callable[[str], None] = lambda _: None) -> AsyncGenerator[Message, None]:
    """Answer requests on ``subject`` with ``body`` (``{{Count}}`` rendered), yielding each
    request once answered; a request without a reply subject is yielded unanswered."""
    hdrs = dict(headers or {}) or None
    n = 0
    async for msg in subscribe(conn, subject, count=count, queue_group=queue_group,
                                 notice=notice):
        n += 1
        if msg.reply:
            await conn.nc.publish(msg.reply, render_body(body, n), headers=hdrs)
            await conn.nc.flush(timeout=max(1, int(conn.settings.timeout)))
        yield msg
