"""The canary: natsops' own R3 stream, written to at a steady rate through the whole upgrade.

Every message carries a ``Nats-Msg-Id``; a publish that fails or times out is retried with the
same id until it is acknowledged (the stream's duplicate window makes the retry safe). At the
end every acknowledged id must be in the stream exactly once: that is the proof that the
upgrade lost and duplicated nothing. The stream is deleted afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from natsops.connection import Conn
from natsops.context import Settings
from natsops.upgrade.conn import durable

__all__ = ["Canary", "CanaryResult", "canary"]


@dataclass(frozen=True)
class CanaryResult:
    stream: str
    acked: int
    stored: int
    missing: int  # acknowledged but not in the stream
    duplicated: int  # ids stored more than once
    retries: int
    longest_stall: float  # seconds: the longest time between two acknowledgements
    seconds: float
    error: str | None = None  # the stream could not be read back

    @property
    def ok(self) -> bool:
        return self.error is None and self.missing == 0 and self.duplicated == 0


@dataclass
class Canary:
    conn: Conn
    stream: str
    subject: str
    rate: float = 50.0
    timeout: float = 0.5
    acked: dict[str, int] = field(default_factory=dict)  # id -> stream sequence
    retries: int = 0
    longest_stall: float = 0.0
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _started: float = 0.0

    async def create(self) -> None:
        from nats.js.api import DiscardPolicy, StorageType, StreamConfig

        cfg = StreamConfig(name=self.stream, subjects=[self.subject], num_replicas=3,
                           storage=StorageType.FILE, max_age=24 * 3600.0,
                           duplicate_window=600.0, discard=DiscardPolicy.OLD,
                           description="natsops upgrade canary (deleted after the upgrade)")
        # the cluster may still be settling (a resumed upgrade, a leader just elected): retry a
        # timeout or a refusal for a while, then fail with a natsops error, never a raw one
        from nats.errors import Error as NatsError
        from nats.js.errors import APIError

        from natsops.errors import ServerError, Timeout

        deadline = time.monotonic() + 20.0
        while True:
            try:
                await self.conn.js.add_stream(cfg)
                return
            except (NatsError, APIError, asyncio.TimeoutError) as exc:
                if time.monotonic() > deadline:
                    what = f"creating the canary stream {self.stream}"
                    if isinstance(exc, APIError):
                        raise ServerError(f"{what}: {exc.description}") from None
                    raise Timeout(f"{what}: no answer in 20 s ({type(exc).__name__})") from None
            await asyncio.sleep(0.5)

    def start(self) -> None:
        self._started = time.monotonic()
        self._task = asyncio.ensure_future(self._run())

    async def _publish(self, n: int) -> None:
        from nats.errors import Error as NatsError

        msg_id = f"{self.stream}-{n}"
        while True:
            try:
                ack = await self.conn.js.publish(self.subject, msg_id.encode(),
                                                 timeout=self.timeout,
                                                 headers={"Nats-Msg-Id": msg_id})
                self.acked[msg_id] = int(ack.seq)
                return
            except (NatsError, asyncio.TimeoutError, OSError):
                self.retries += 1
                await asyncio.sleep(0.05)

    async def _run(self) -> None:
        n = 0
        period = 1.0 / self.rate
        last_ack = time.monotonic()
        next_at = last_ack
        while not self._stop.is_set():
            await self._publish(n)
            now = time.monotonic()
            self.longest_stall = max(self.longest_stall, now - last_ack)
            last_ack = now
            n += 1
            next_at = max(next_at + period, now)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), max(0.0, next_at - now))

    async def finish(self, *, timeout: float = 10.0) -> CanaryResult:
        """Stop publishing (the publish in flight completes), read the stream back, compare."""
        self._stop.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout)
            except asyncio.TimeoutError:
                self._task.cancel()
        seconds = time.monotonic() - self._started
        try:
            ids = await asyncio.wait_for(self._read_ids(), 60.0)
        except Exception as exc:  # the result must say why it could not verify, not crash
            return CanaryResult(self.stream, len(self.acked), 0, 0, 0, self.retries,
                                self.longest_stall, seconds, error=f"{type(exc).__name__}: "
                                f"{exc}")
        counts = Counter(ids)
        missing = sum(1 for i in self.acked if counts[i] == 0)
        dup = sum(1 for _, c in counts.items() if c > 1)
        return CanaryResult(self.stream, len(self.acked), len(ids), missing, dup, self.retries,
                            round(self.longest_stall, 3), round(seconds, 3))

    async def _read_ids(self) -> list[str]:
        info = await self.conn.js.stream_info(self.stream)
        first, last = int(info.state.first_seq), int(info.state.last_seq)
        ids: list[str] = []
        for lo in range(first, last + 1, 200):
            got = await asyncio.gather(*(self._get(s) for s in range(lo, min(lo + 200, last + 1))))
            ids += [g for g in got if g is not None]
        return ids

    async def _get(self, seq: int) -> str | None:
        from nats.js.errors import NotFoundError

        for _ in range(20):
            try:
                m = await self.conn.js.get_msg(self.stream, seq)
                hdrs: dict[str, Any] = dict(m.headers or {})
                return str(hdrs.get("Nats-Msg-Id") or (m.data or b"").decode())
            except NotFoundError:
                return None
            except Exception:  # a leader change while reading: ask again
                await asyncio.sleep(0.1)
        raise RuntimeError(f"message {seq} of {self.stream} could not be read")

    async def delete(self) -> None:
        with contextlib.suppress(Exception):
            await self.conn.js.delete_stream(self.stream)


@asynccontextmanager
async def canary(settings: Settings, *, rate: float = 50.0) -> AsyncIterator[Canary]:
    """Create the canary stream on a reconnecting connection; yield it (not yet started)."""
    tag = secrets.token_hex(4).upper()
    async with durable(settings, "natsops upgrade canary") as conn:
        c = Canary(conn, f"NATSOPS_CANARY_{tag}", f"natsops.canary.{tag}", rate=rate)
        await c.create()
        yield c
