"""Fault policy of long operations: stall detection, and saying what a clean-up did.

A :class:`Watchdog` holds a progress clock (``tick()`` on every chunk, message or reply). Its
:meth:`Watchdog.run` awaits a coroutine and raises :class:`~natsops.errors.Unreachable` (exit 3)
naming the server when the connection is lost or when no progress was made for
``stall_timeout`` seconds (a frozen server keeps its TCP connection open and says nothing).

A clean-up (a temp file removed, a half-restored stream deleted, an object's chunks purged)
records what it did with :func:`note_cleanup` on the exception that caused it: appended to a
natsops error's message, or as a note on a cancellation, which the CLI prints
after "terminated (SIGTERM)".
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

from natsops.errors import NatsopsError, Unreachable, UsageError

if TYPE_CHECKING:
    from nats.aio.client import Client

    from natsops.connection import Conn

__all__ = ["DEFAULT_STALL_TIMEOUT", "Watchdog", "check_stall_timeout", "cleanup", "cleanup_notes",
           "connection_lost", "note_cleanup", "server_label"]

T = TypeVar("T")

DEFAULT_STALL_TIMEOUT = 10.0  # as stream backup/restore
_HINT = "check that server (frozen, overloaded, partitioned?), or raise --stall-timeout"


def check_stall_timeout(seconds: float) -> float:
    """``seconds`` when usable as a stall timeout; UsageError naming the flag otherwise."""
    if not 0 < seconds <= 86400:
        raise UsageError("--stall-timeout must be above 0 and at most 24h")
    return seconds


def note_cleanup(exc: BaseException, text: str) -> None:
    """Record on ``exc`` what the clean-up after it did (or could not do)."""
    if isinstance(exc, NatsopsError):
        exc.message += f"; {text}"
    notes = cleanup_notes(exc)
    notes.append(text)
    exc.natsops_cleanup = notes  # type: ignore[attr-defined]


def cleanup_notes(exc: BaseException) -> list[str]:
    """What clean-ups noted on ``exc`` (:func:`note_cleanup`); Python 3.10 has no add_note."""
    return list(getattr(exc, "natsops_cleanup", ()))


async def cleanup(aw: Awaitable[T], timeout: float) -> T:
    """Run a clean-up step to its end, within ``timeout`` seconds, even if the task is asked to
    stop again meanwhile (a second signal, a watchdog): a half-done clean-up helps nobody.
    Raises what the step raised, or asyncio.TimeoutError."""
    task = asyncio.ensure_future(asyncio.wait_for(aw, timeout))
    while not task.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(task)
    return task.result()


def server_label(nc: Client) -> str:
    """``server NAME (host:port)`` for the server ``nc`` is (or was last) connected to."""
    info = getattr(nc, "_server_info", None) or {}
    srv = getattr(nc, "_current_server", None)
    uri = getattr(srv, "uri", None)
    addr = ""
    if uri is not None:
        parts = urlsplit(uri.geturl() if hasattr(uri, "geturl") else str(uri))
        addr = f"{parts.hostname}:{parts.port}" if parts.hostname else ""
    name = str(info.get("server_name") or "")
    if name and addr:
        return f"server {name} ({addr})"
    return f"server {name or addr or '(unknown)'}"


def connection_lost(nc: Client) -> bool:
    return bool(nc.is_closed or not nc.is_connected)


class Watchdog:
    """Progress clock over one connection; see the module docstring."""

    def __init__(self, conn: Conn, what: str, stall_timeout: float = DEFAULT_STALL_TIMEOUT,
                 *, lost: Callable[[], bool] | None = None) -> None:
        self.nc, self.what = conn.nc, what
        self.stall = check_stall_timeout(stall_timeout)
        self.server = server_label(conn.nc)  # now: after a loss the client forgets it
        self.last = time.monotonic()
        self._lost = lost or (lambda: connection_lost(self.nc))

    def tick(self, *_args: object) -> None:
        """Record progress (usable as a progress callback: any arguments are ignored)."""
        self.last = time.monotonic()

    def problem(self) -> Unreachable | None:
        """Unreachable when the connection is lost or nothing moved for too long."""
        if self._lost():
            return Unreachable(f"connection to {self.server} lost during {self.what}",
                               hint="check that server")
        if time.monotonic() - self.last > self.stall:
            return Unreachable(f"{self.what} stalled: no answer from {self.server} for "
                               f"{self.stall:g}s", hint=_HINT)
        return None

    async def run(self, aw: Awaitable[T]) -> T:
        """Await ``aw`` in this task; when it stalls or the connection drops, cancel it (its
        clean-ups run) and raise Unreachable, with what the clean-ups noted.

        An error ``aw`` raises because the connection dropped becomes Unreachable as well.
        """
        me = asyncio.current_task()
        assert me is not None
        found: list[Unreachable] = []

        async def watch() -> None:
            while not found:
                await asyncio.sleep(min(0.25, self.stall))
                problem = self.problem()
                if problem is not None:
                    found.append(problem)
            while True:  # again until it stops: wait_for may swallow one (natsops.cli.signals)
                me.cancel()
                await asyncio.sleep(1.0)

        watcher = asyncio.ensure_future(watch())
        try:
            return await aw
        except BaseException as exc:
            if not found and isinstance(exc, Exception) and self._lost():
                found.append(Unreachable(f"connection to {self.server} lost during {self.what}",
                                         hint="check that server"))
            if not found:
                raise
            if isinstance(exc, asyncio.CancelledError) and hasattr(me, "uncancel"):
                me.uncancel()
            for note in cleanup_notes(exc):
                note_cleanup(found[0], note)
            raise found[0] from None
        finally:
            watcher.cancel()

