"""``natsops doctor --serve HOST:PORT``: the doctor's figures and findings for Prometheus.

One gathering per interval, whatever the number of scrapes: a background task gathers a
Snapshot every ``interval`` seconds, runs the checks on it (with the previous gathering as its
sample, so rate-based checks work as with ``--sample``) and renders the exposition text once;
every scrape of ``/metrics`` gets the last text. A gathering that fails turns into
``natsops_doctor_up 0`` with the reason, and the next interval tries again.

Routes: ``/metrics`` (the text format), ``/healthz`` (``ok`` once a gathering finished),
``/`` (a pointer to ``/metrics``); other paths 404, other methods 405. The listener binds the
host given; ``:PORT`` means 127.0.0.1 (the figures name servers, accounts and subjects: exposing
them is a choice, ``0.0.0.0:PORT``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from natsops.doctor import DoctorOptions
from natsops.doctor.archive import read_archive
from natsops.doctor.metrics import CONTENT_TYPE, render_error, render_metrics
from natsops.doctor.registry import Check, run_checks, select_checks
from natsops.errors import NatsopsError, UsageError
from natsops.monitoring.gather import Access, GatherOptions, gather
from natsops.monitoring.snapshot import Snapshot

__all__ = ["Exporter", "parse_listen", "serve"]

log = logging.getLogger(__name__)
MAX_REQUEST = 16 * 1024  # bytes of request line + headers
READ_TIMEOUT = 5.0


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT`` (127.0.0.1) or ``PORT``; port 0 lets the OS pick one."""
    host, sep, port = value.strip().rpartition(":")
    if not sep:
        host, port = "", value.strip()
    host = host.strip("[]") or "127.0.0.1"
    try:
        number = int(port)
    except ValueError:
        raise UsageError(f"--serve {value!r}: expected HOST:PORT, :PORT or PORT") from None
    if not 0 <= number <= 65535:
        raise UsageError(f"--serve {value!r}: port {number} is not between 0 and 65535")
    return host, number


@dataclass
class Exporter:
    """The state the HTTP side reads: the last exposition text and how it was made."""

    text: str = field(default_factory=lambda: render_error("no gathering yet",
                                                           failed_at=time.time()))
    gatherings: int = 0
    scrapes: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def gather_once(self, settings: Access, options: DoctorOptions,
                          checks: Sequence[Check],
                          previous: Snapshot | None, baseline: Snapshot | None
                          ) -> Snapshot | None:
        """Gather, run ``checks``, render; return the Snapshot (None when the gathering
        failed)."""
        try:
            snap = await gather(settings, GatherOptions(expect=options.expect,
                                                        timeout=options.timeout),
                                monitors=options.monitors, cluster_dir=options.cluster_dir,
                                transport=options.transport, config_dir=options.config_dir)
        except NatsopsError as exc:
            log.warning("gathering failed: %s", exc)
            self.text = render_error(str(exc), failed_at=time.time())
            return None
        finally:
            self.gatherings += 1
        snap = snap.with_previous(previous).with_baseline(baseline)
        self.text = render_metrics(snap, run_checks(snap, checks), gathered_at=time.time())
        return replace(snap, previous=None, baseline=None)

    async def loop(self, settings: Access, options: DoctorOptions, interval: float,
                   baseline: Snapshot | None = None) -> None:
        checks = select_checks(options.only, options.skip)  # once, not per gathering
        previous: Snapshot | None = None
        while True:
            started = time.monotonic()
            previous = await self.gather_once(settings, options, checks, previous, baseline)
            self.ready.set()
            await asyncio.sleep(max(interval - (time.monotonic() - started), 0.0))

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
            method, path = _request_line(head)
            status, body, ctype = await self._answer(method, path)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError,
                ValueError, ConnectionError):
            status, body, ctype = "400 Bad Request", "bad request\n", "text/plain"
            method = "GET"
        data = body.encode()
        writer.write(f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: "
                     f"{len(data)}\r\nConnection: close\r\n\r\n".encode()
                     + (b"" if method == "HEAD" else data))
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()

    async def _answer(self, method: str, path: str) -> tuple[str, str, str]:
        if method not in ("GET", "HEAD"):
            return "405 Method Not Allowed", "only GET\n", "text/plain"
        path = path.split("?", 1)[0]
        if path == "/metrics":
            self.scrapes += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ready.wait(), 10.0)
            return "200 OK", self.text, CONTENT_TYPE
        if path == "/healthz":
            ok = self.ready.is_set()
            return ("200 OK" if ok else "503 Service Unavailable",
                    "ok\n" if ok else "no gathering yet\n", "text/plain")
        if path == "/":
            return "200 OK", "natsops doctor: see /metrics\n", "text/plain"
        return "404 Not Found", "not found\n", "text/plain"


def _request_line(head: bytes) -> tuple[str, str]:
    line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise ValueError(f"bad request line {line[:80]!r}")
    return parts[0], parts[1]


async def serve(settings: Access, options: DoctorOptions, *, listen: str,
                interval: float = 15.0, ready: Callable[[str], None] | None = None,
                exporter: Exporter | None = None) -> None:
    """Serve ``/metrics`` on ``listen`` until cancelled; ``ready(url)`` once it listens."""
    if interval <= 0:
        raise UsageError("--interval must be above zero")
    baseline = read_archive(options.since).snapshot if options.since is not None else None
    select_checks(options.only, options.skip)  # unknown ids fail before listening
    host, port = parse_listen(listen)
    state = exporter or Exporter()
    try:
        server = await asyncio.start_server(state.handle, host, port, limit=MAX_REQUEST)
    except OSError as exc:
        raise UsageError(f"--serve {listen}: cannot listen on {host}:{port}: "
                         f"{exc.strerror or exc}") from None
    bound = server.sockets[0].getsockname()
    shown = f"[{bound[0]}]" if ":" in str(bound[0]) else bound[0]
    task = asyncio.create_task(state.loop(settings, options, interval, baseline))
    try:
        async with server:
            if ready is not None:
                ready(f"http://{shown}:{bound[1]}/metrics")
            await asyncio.gather(server.serve_forever(), task)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
