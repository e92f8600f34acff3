"""Take backups: one stream (or every stream of the account) into archives.

The archive is written under a temporary name in the target folder and renamed only when
complete, checksummed and fsynced (:func:`natsops.files.atomic_write`), so an interrupted backup
never leaves a file that looks valid.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from natsops.backup.archive import (
    MANIFEST_MEMBER,
    META_MEMBER,
    SNAPSHOT_MEMBER,
    Manifest,
    Progress,
    TarWriter,
    no_progress,
    now,
)
from natsops.errors import Conflict, ServerError, Unreachable, UsageError
from natsops.faults import server_label
from natsops.files import atomic_write, check_output_dir, check_output_file
from natsops.jetstream._api import request
from natsops.jetstream.streams import list_stream_names, stream_info
from natsops.units import parse_duration, parse_size

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from nats.aio.client import Client

    from natsops.connection import Conn

__all__ = [
    "BackupJob",
    "BackupOptions",
    "BackupResult",
    "backup_all",
    "backup_job",
    "backup_stream",
]

_KiB = 1024


@dataclass(frozen=True)
class BackupOptions:
    """How a snapshot is taken; checked when built."""

    consumers: bool = True  # include the consumers and their state
    chunk_size: int = 128 * _KiB
    window_size: int = 8 * _KiB * _KiB  # bytes the server sends ahead of our acks
    stall_timeout: float = 10.0  # give up when no data arrives for this long
    force: bool = False  # replace an existing archive

    def __post_init__(self) -> None:
        if self.stall_timeout <= 0:
            raise UsageError("the stall timeout must be above zero")
        if not _KiB <= self.chunk_size <= _KiB * _KiB:
            raise UsageError("--chunk-size must be between 1KiB and 1MiB")

    @classmethod
    def parse(cls, *, chunk_size: str = "128KiB", stall_timeout: str = "10s",
              consumers: bool = True, force: bool = False) -> BackupOptions:
        """Options from command-line text (``128KiB``, ``10s``)."""
        return cls(consumers=consumers, force=force,
                   chunk_size=parse_size(chunk_size, what="--chunk-size"),
                   stall_timeout=parse_duration(stall_timeout, what="--stall-timeout"))


@dataclass(frozen=True)
class BackupJob:
    """What ``stream backup`` was asked for: one stream, every stream, or checking an archive."""

    action: Literal["stream", "all", "verify"]
    path: Path  # the archive (stream, verify) or the folder (all)
    stream: str = ""
    restore_test: bool = False


def backup_job(stream: str | None, file: Path | None, *, all_dir: Path | None = None,
               verify: bool = False, restore_test: bool = False) -> BackupJob:
    """The job the arguments of ``stream backup`` describe; UsageError when they do not fit."""
    if verify:
        target = file or (Path(stream) if stream else None)
        if target is None or (stream and file):
            raise UsageError("--verify takes one archive: natsops stream backup --verify FILE")
        return BackupJob("verify", target, restore_test=restore_test)
    if restore_test:
        raise UsageError("--restore-test goes with --verify")
    if all_dir is not None:
        if stream or file:
            raise UsageError("--all takes a folder and no stream name")
        return BackupJob("all", all_dir)
    if not stream or not file:
        raise UsageError("usage: natsops stream backup STREAM FILE (or --all DIR, --verify FILE)")
    return BackupJob("stream", file, stream=stream)


@dataclass(frozen=True)
class BackupResult:
    path: str
    manifest: Manifest
    seconds: float

    @property
    def mb_per_s(self) -> float:
        return self.manifest.bytes / 1e6 / self.seconds if self.seconds > 0 else 0.0


def _check_target(path: Path, force: bool) -> None:
    if path.is_dir():
        raise UsageError(f"{path} is a directory; give the archive's file name")
    if path.exists() and not force:
        raise Conflict(f"{path} exists", hint="pass --force to replace it")
    check_output_file(path, what="backup archive")


async def backup_stream(conn: Conn, stream: str, path: Path, options: BackupOptions | None = None,
                        *, progress: Progress = no_progress) -> BackupResult:
    """Snapshot ``stream`` into the archive ``path`` (atomically: temp file, fsync, rename)."""
    opts = options or BackupOptions()
    path = Path(path)
    _check_target(path, opts.force)
    # fail before creating any file if the stream is missing
    total_guess = (await stream_info(conn, stream)).bytes or None
    log.info("backing up stream %s (%s bytes) to %s", stream, total_guess or 0, path)
    t0 = time.monotonic()
    with atomic_write(path, private=True) as fh:
        manifest = await _Snapshot(conn, stream, fh, opts, progress, total_guess).run()
    log.info("backup of %s complete in %.1fs", stream, time.monotonic() - t0)
    return BackupResult(path=str(path), manifest=manifest, seconds=time.monotonic() - t0)


class _Snapshot:
    """One STREAM.SNAPSHOT: chunks arrive on an inbox, are acked and written into the tar."""

    def __init__(self, conn: Conn, stream: str, fh: IO[bytes], opts: BackupOptions,
                 progress: Progress, total_guess: int | None) -> None:
        self.conn, self.nc, self.stream, self.fh = conn, conn.nc, stream, fh
        self.opts, self.progress, self.total_guess = opts, progress, total_guess
        self.tar = TarWriter(fh)
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.last_activity = time.monotonic()
        self.received = 0
        self.digest = hashlib.sha256()
        self.header_pos = -1
        self.early: list[bytes] = []

    async def on_chunk(self, msg: Any) -> None:
        self.last_activity = time.monotonic()
        if self.done.done():
            return
        if not msg.data:
            status = (msg.headers or {}).get("Status") if msg.headers else None
            if status and status not in ("204",):
                desc = (msg.headers or {}).get("Description", "")
                self.done.set_exception(ServerError(
                    f"snapshot of {self.stream} aborted by the server: {status} {desc}".strip()))
            else:
                self.done.set_result(None)
            return
        # ack first (before disk I/O): the server stops after 5 s without acks
        if msg.reply:
            await self.nc.publish(msg.reply, b"")
        if self.header_pos < 0:
            # chunks can overtake the API reply (they come from the stream leader); they are
            # written in order right after the reply. At most one window is buffered.
            self.early.append(msg.data)
            return
        self.write(msg.data)

    def write(self, data: bytes) -> None:
        self.fh.write(data)
        self.digest.update(data)
        self.received += len(data)
        self.progress(self.received, self.total_guess)

    async def run(self) -> Manifest:
        o, nc = self.opts, self.nc
        sub = await nc.subscribe(nc.new_inbox(), cb=self.on_chunk, pending_msgs_limit=1_000_000,
                                 pending_bytes_limit=max(4 * o.window_size, 64 * _KiB * _KiB))
        try:
            req = {"deliver_subject": sub.subject, "no_consumers": not o.consumers,
                   "chunk_size": o.chunk_size, "window_size": o.window_size}
            reply = await request(self.conn, f"STREAM.SNAPSHOT.{self.stream}", req,
                                  what=f"snapshot of {self.stream}")
            config, state = reply.get("config") or {}, reply.get("state") or {}
            self.tar.add_bytes(META_MEMBER, json.dumps({"config": config, "state": state},
                                                       indent=2).encode())
            self.header_pos = self.tar.begin_stream(SNAPSHOT_MEMBER)
            for data in self.early:  # no await between here and the header: order is kept
                self.write(data)
            self.early.clear()
            await self._wait_done()
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        if self.received == 0 and int(state.get("messages", 0)) > 0:
            raise ServerError(f"snapshot of {self.stream} ended without data")
        self.tar.end_stream(SNAPSHOT_MEMBER, self.header_pos, self.received)
        manifest = Manifest.from_stream(
            config, state, snapshot_bytes=self.received, snapshot_sha256=self.digest.hexdigest(),
            created=now(), include_consumers=o.consumers, **_server_of(nc))
        self.tar.add_bytes(MANIFEST_MEMBER, json.dumps(manifest.to_json(), indent=2,
                                                       sort_keys=True).encode())
        self.tar.close()
        return manifest

    async def _wait_done(self) -> None:
        stall = self.opts.stall_timeout
        server = server_label(self.nc)
        while not self.done.done():
            if self.nc.is_closed or not self.nc.is_connected:
                raise Unreachable(f"connection to {server} lost during the backup of "
                                  f"{self.stream}")
            if time.monotonic() - self.last_activity > stall:
                raise Unreachable(f"backup of {self.stream} stalled: no data from {server} "
                                  f"for {stall:g}s",
                                  hint="raise --stall-timeout, or check the stream leader")
            await asyncio.wait([self.done], timeout=min(0.25, stall))
        self.done.result()


def _server_of(nc: Client) -> dict[str, str | None]:
    info = getattr(nc, "_server_info", None) or {}
    return {"server_version": info.get("version"), "server_name": info.get("server_name")}


async def backup_all(
    conn: Conn,
    directory: Path,
    options: BackupOptions | None = None,
    *,
    progress: Callable[[str, int, int | None], None] | None = None,
) -> list[BackupResult]:
    """Back up every stream of the account (KV and object buckets included) into ``directory``.

    One archive per stream, ``<stream>.tar``. Stops at the first failure (earlier archives stay:
    each is complete and checksummed).
    """
    directory = Path(directory)
    check_output_dir(directory, what="--all folder")
    directory.mkdir(parents=True, exist_ok=True)
    results = []
    for name in await list_stream_names(conn):
        def cb(done: int, total: int | None, _n: str = name) -> None:
            if progress is not None:
                progress(_n, done, total)

        results.append(await backup_stream(conn, name, directory / f"{name}.tar", options,
                                           progress=cb))
    return results
