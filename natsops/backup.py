"""Stream backup and restore over the JetStream snapshot/restore API.

A natsops backup is one uncompressed tar file (the snapshot inside is already S2-compressed):

    backup.json      {"config": StreamConfig, "state": StreamState} as natscli writes it
    stream.tar.s2    the snapshot bytes exactly as the server sent them (opaque: the format
                     changed in nats-server 2.15, restores auto-detect it)
    manifest.json    natsops and server versions, counts, sequences, sizes, SHA-256 of the snapshot

It is written under a temporary name in the target folder and renamed only when complete,
checksummed and fsynced, so an interrupted backup never leaves a file that looks valid.
:func:`restore_stream` also accepts a natscli backup directory (``backup.json`` +
``stream.tar.s2``). A restore checks the archive first, refuses names and subjects in use,
restores as R1, verifies counts and sequences against the manifest, then scales to the target
replica count; on any failure it deletes the stream it created.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import secrets
import tarfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from natsops._version import __version__
from natsops.errors import (
    Conflict,
    NatsopsError,
    NotFound,
    ServerError,
    Timeout,
    Unreachable,
    UsageError,
)
from natsops.findings import Finding, Severity
from natsops.jetstream._api import paged, request

if TYPE_CHECKING:
    from nats.aio.client import Client

    from natsops.connection import Conn

__all__ = [
    "ARCHIVE_FORMAT",
    "BackupResult",
    "BackupSource",
    "Manifest",
    "RestoreResult",
    "backup_all",
    "backup_stream",
    "open_backup",
    "restore_stream",
    "verify_backup",
]

ARCHIVE_FORMAT = "natsops-stream-backup/1"
S2_MAGIC = b"\xff\x06\x00\x00S2sTwO"
SNAPPY_MAGIC = b"\xff\x06\x00\x00sNaPpY"
SNAPSHOT_MEMBER = "stream.tar.s2"
META_MEMBER = "backup.json"
MANIFEST_MEMBER = "manifest.json"

Progress = Callable[[int, "int | None"], None]


def _no_progress(done: int, total: int | None) -> None:
    pass


@dataclass(frozen=True)
class Manifest:
    """What a backup holds; written as ``manifest.json`` and checked on verify and restore."""

    stream: str
    messages: int
    bytes: int
    first_seq: int
    last_seq: int
    num_deleted: int
    consumer_count: int
    replicas: int
    storage: str
    snapshot_bytes: int
    snapshot_sha256: str | None
    created: str
    format: str = ARCHIVE_FORMAT
    natsops_version: str = __version__
    server_version: str | None = None
    server_name: str | None = None
    include_consumers: bool = True

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Manifest:
        known = {f for f in cls.__dataclass_fields__}
        try:
            return cls(**{k: v for k, v in doc.items() if k in known})
        except TypeError as exc:
            raise UsageError(f"manifest.json is incomplete: {exc}") from None


@dataclass(frozen=True)
class BackupResult:
    path: str
    manifest: Manifest
    seconds: float

    @property
    def mb_per_s(self) -> float:
        return self.manifest.bytes / 1e6 / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class RestoreResult:
    stream: str
    source: str
    manifest: Manifest
    replicas: int
    messages: int
    bytes: int
    first_seq: int
    last_seq: int
    consumer_count: int
    seconds: float


@dataclass(frozen=True)
class BackupSource:
    """An opened backup: its config, state, manifest and where the snapshot bytes are."""

    path: Path
    kind: str  # "natsops" or "natscli"
    config: dict[str, Any]
    state: dict[str, Any]
    manifest: Manifest
    snapshot_file: Path
    snapshot_offset: int
    snapshot_size: int
    has_manifest: bool = True

    def read_chunks(self, size: int) -> Any:
        """Yield the snapshot bytes in chunks of ``size``."""
        with open(self.snapshot_file, "rb") as fh:
            fh.seek(self.snapshot_offset)
            left = self.snapshot_size
            while left > 0:
                data = fh.read(min(size, left))
                if not data:
                    raise UsageError(f"{self.path}: snapshot is truncated")
                left -= len(data)
                yield data


# ---- JetStream API -------------------------------------------------------------------------


async def _final_request(conn: Conn, subject: str, timeout: float, what: str) -> dict[str, Any]:
    """The restore's closing empty request (to the deliver subject, not an API subject)."""
    from natsops.jetstream.errors import api_error, from_nats_exception

    try:
        msg = await conn.nc.request(subject, b"", timeout=timeout)
        reply = json.loads(msg.data) if msg.data else {}
    except ValueError:
        raise ServerError(f"{what}: the final reply is not JSON") from None
    except Exception as exc:
        raise from_nats_exception(exc, what) from None
    if isinstance(reply.get("error"), dict):
        raise api_error(what, reply["error"])
    return dict(reply)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _manifest_from(config: dict[str, Any], state: dict[str, Any], **kw: Any) -> Manifest:
    return Manifest(
        stream=str(config.get("name", "")),
        messages=int(state.get("messages", 0)),
        bytes=int(state.get("bytes", 0)),
        first_seq=int(state.get("first_seq", 0)),
        last_seq=int(state.get("last_seq", 0)),
        num_deleted=int(state.get("num_deleted", 0)),
        consumer_count=int(state.get("consumer_count", 0)),
        replicas=int(config.get("num_replicas", 1) or 1),
        storage=str(config.get("storage", "file")),
        **kw,
    )


# ---- backup --------------------------------------------------------------------------------


class _TarWriter:
    """Write a tar whose big member is streamed: its header is patched once the size is known."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.mtime = int(time.time())

    def _info(self, name: str, size: int) -> tarfile.TarInfo:
        ti = tarfile.TarInfo(name)
        ti.size = size
        ti.mtime = self.mtime
        ti.mode = 0o600
        return ti

    def add_bytes(self, name: str, data: bytes) -> None:
        self.fh.write(self._info(name, len(data)).tobuf(format=tarfile.GNU_FORMAT))
        self.fh.write(data)
        self._pad(len(data))

    def begin_stream(self, name: str) -> int:
        pos = self.fh.tell()
        self.fh.write(self._info(name, 0).tobuf(format=tarfile.GNU_FORMAT))
        return pos

    def end_stream(self, name: str, header_pos: int, size: int) -> None:
        self._pad(size)
        end = self.fh.tell()
        self.fh.seek(header_pos)
        self.fh.write(self._info(name, size).tobuf(format=tarfile.GNU_FORMAT))
        self.fh.seek(end)

    def _pad(self, size: int) -> None:
        rem = size % tarfile.BLOCKSIZE
        if rem:
            self.fh.write(b"\0" * (tarfile.BLOCKSIZE - rem))

    def close(self) -> None:
        self.fh.write(b"\0" * (2 * tarfile.BLOCKSIZE))


async def backup_stream(
    conn: Conn,
    stream: str,
    path: Path,
    *,
    consumers: bool = True,
    chunk_size: int = 128 * 1024,
    window_size: int = 8 * 1024 * 1024,
    stall_timeout: float = 10.0,
    force: bool = False,
    progress: Progress = _no_progress,
) -> BackupResult:
    """Snapshot ``stream`` into the archive ``path`` (atomically: temp file, fsync, rename)."""
    if stall_timeout <= 0:
        raise UsageError("the stall timeout must be above zero")
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{path} is a directory; give the archive's file name")
    if path.exists() and not force:
        raise Conflict(f"{path} exists", hint="pass --force to replace it")
    if not path.parent.is_dir():
        raise NotFound(f"folder {path.parent} does not exist")
    nc = conn.nc
    # fail before creating any file if the stream is missing
    info = await request(conn, f"STREAM.INFO.{stream}", what=f"stream {stream}")
    total_guess = int(info.get("state", {}).get("bytes", 0)) or None

    tmp = path.parent / f".{path.name}.partial-{secrets.token_hex(4)}"
    t0 = time.monotonic()
    inbox = nc.new_inbox()
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    last_activity = time.monotonic()
    received = 0
    digest = hashlib.sha256()
    # a local file written chunk by chunk from the callback; closed (and removed) below
    fh = open(tmp, "wb")  # noqa: ASYNC230, SIM115
    try:
        os.fchmod(fh.fileno(), 0o600)
        tar = _TarWriter(fh)
        header_pos = -1
        early: list[bytes] = []

        async def on_chunk(msg: Any) -> None:
            nonlocal last_activity
            last_activity = time.monotonic()
            if done.done():
                return
            if not msg.data:
                status = (msg.headers or {}).get("Status") if msg.headers else None
                if status and status not in ("204",):
                    desc = (msg.headers or {}).get("Description", "")
                    done.set_exception(ServerError(f"snapshot of {stream} aborted by the server: "
                                                   f"{status} {desc}".strip()))
                else:
                    done.set_result(None)
                return
            # ack first (before disk I/O): the server stops after 5 s without acks
            if msg.reply:
                await nc.publish(msg.reply, b"")
            if header_pos < 0:
                # chunks can overtake the API reply (they come from the stream leader); they
                # are written in order right after the reply. At most one window is buffered.
                early.append(msg.data)
                return
            write(msg.data)

        def write(data: bytes) -> None:
            nonlocal received
            fh.write(data)
            digest.update(data)
            received += len(data)
            progress(received, total_guess)

        sub = await nc.subscribe(inbox, cb=on_chunk, pending_bytes_limit=max(
            4 * window_size, 64 * 1024 * 1024), pending_msgs_limit=1_000_000)
        try:
            req = {"deliver_subject": inbox, "no_consumers": not consumers,
                   "chunk_size": chunk_size, "window_size": window_size}
            reply = await request(conn, f"STREAM.SNAPSHOT.{stream}", req,
                                  what=f"snapshot of {stream}")
            config, state = reply.get("config") or {}, reply.get("state") or {}
            tar.add_bytes(META_MEMBER, json.dumps({"config": config, "state": state},
                                                  indent=2).encode())
            header_pos = tar.begin_stream(SNAPSHOT_MEMBER)
            for data in early:  # no await between here and the header: order is kept
                write(data)
            early.clear()
            while not done.done():
                if nc.is_closed or not nc.is_connected:
                    raise Unreachable(f"connection lost during the backup of {stream}")
                idle = time.monotonic() - last_activity
                if idle > stall_timeout:
                    raise Timeout(f"backup of {stream} stalled: no data for {stall_timeout:g}s",
                                  hint="raise --stall-timeout, or check the stream leader")
                await asyncio.wait([done], timeout=min(0.25, stall_timeout))
            done.result()
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        if received == 0 and int(state.get("messages", 0)) > 0:
            raise ServerError(f"snapshot of {stream} ended without data")
        tar.end_stream(SNAPSHOT_MEMBER, header_pos, received)
        server_info = getattr(nc, "_server_info", None) or {}
        manifest = _manifest_from(
            config, state, snapshot_bytes=received, snapshot_sha256=digest.hexdigest(),
            created=_now(), server_version=server_info.get("version"),
            server_name=server_info.get("server_name"), include_consumers=consumers)
        tar.add_bytes(MANIFEST_MEMBER, json.dumps(_manifest_doc(manifest), indent=2,
                                                  sort_keys=True).encode())
        tar.close()
        fh.flush()
        os.fsync(fh.fileno())
        fh.close()
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        fh.close()
        tmp.unlink(missing_ok=True)
        raise
    return BackupResult(path=str(path), manifest=manifest, seconds=time.monotonic() - t0)


def _manifest_doc(m: Manifest) -> dict[str, Any]:
    return {k: getattr(m, k) for k in m.__dataclass_fields__}


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


async def list_stream_names(conn: Conn, subject: str | None = None) -> list[str]:
    """Every stream name of the account (all pages), optionally those using ``subject``."""
    page = await paged(conn, "STREAM.NAMES", "streams",
                       body={"subject": subject} if subject else None, what="stream names")
    return sorted({str(n) for n in page.items})


async def backup_all(
    conn: Conn,
    directory: Path,
    *,
    force: bool = False,
    progress: Callable[[str, int, int | None], None] | None = None,
    **kw: Any,
) -> list[BackupResult]:
    """Back up every stream of the account (KV and object buckets included) into ``directory``.

    One archive per stream, ``<stream>.tar``. Stops at the first failure (earlier archives stay:
    each is complete and checksummed).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    results = []
    for name in await list_stream_names(conn):
        def cb(done: int, total: int | None, _n: str = name) -> None:
            if progress is not None:
                progress(_n, done, total)

        results.append(await backup_stream(conn, name, directory / f"{name}.tar", force=force,
                                           progress=cb, **kw))
    return results


# ---- reading and verifying -----------------------------------------------------------------


def open_backup(path: Path) -> BackupSource:
    """Open a natsops archive or a natscli backup directory (no server needed)."""
    path = Path(path)
    if not path.exists():
        raise NotFound(f"backup {path} not found")
    if path.is_dir():
        meta_p, snap_p = path / META_MEMBER, path / SNAPSHOT_MEMBER
        if not meta_p.is_file() or not snap_p.is_file():
            raise UsageError(f"{path} is not a natscli backup (needs {META_MEMBER} and "
                             f"{SNAPSHOT_MEMBER})")
        meta = _load_json(meta_p.read_bytes(), f"{meta_p}")
        config, state = _config_state(meta, str(meta_p))
        size = snap_p.stat().st_size
        manifest = _manifest_from(config, state, snapshot_bytes=size, snapshot_sha256=None,
                                  created="", format="natscli")
        return BackupSource(path=path, kind="natscli", config=config, state=state,
                            manifest=manifest, snapshot_file=snap_p, snapshot_offset=0,
                            snapshot_size=size, has_manifest=False)
    try:
        with tarfile.open(path, "r:") as tf:
            members = {m.name: m for m in tf.getmembers()}
            for name in (META_MEMBER, SNAPSHOT_MEMBER, MANIFEST_MEMBER):
                if name not in members:
                    raise UsageError(f"{path} is not a complete natsops backup (no {name})")
            meta = _load_json(_read_member(tf, members[META_MEMBER]), f"{path}:{META_MEMBER}")
            mdoc = _load_json(_read_member(tf, members[MANIFEST_MEMBER]),
                              f"{path}:{MANIFEST_MEMBER}")
            snap = members[SNAPSHOT_MEMBER]
    except tarfile.TarError as exc:
        raise UsageError(f"{path} is not a natsops backup archive: {exc}") from None
    config, state = _config_state(meta, f"{path}:{META_MEMBER}")
    manifest = Manifest.from_json(mdoc)
    if manifest.format != ARCHIVE_FORMAT:
        raise UsageError(f"{path}: unsupported backup format {manifest.format!r}")
    return BackupSource(path=path, kind="natsops", config=config, state=state, manifest=manifest,
                        snapshot_file=path, snapshot_offset=snap.offset_data,
                        snapshot_size=snap.size)


def _read_member(tf: tarfile.TarFile, m: tarfile.TarInfo) -> bytes:
    f = tf.extractfile(m)
    if f is None:
        raise UsageError(f"{m.name} in the archive is not a file")
    return f.read()


def _load_json(data: bytes, where: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise UsageError(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise UsageError(f"{where} is not a JSON object")
    return doc


def _config_state(meta: dict[str, Any], where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    config, state = meta.get("config"), meta.get("state")
    if not isinstance(config, dict) or not isinstance(state, dict) or not config.get("name"):
        raise UsageError(f"{where} lacks the stream config or state")
    return config, state


def verify_backup(path: Path) -> tuple[BackupSource, list[Finding]]:
    """Check an archive without a server: manifest, sizes, snapshot format and SHA-256."""
    src = open_backup(path)
    subject = str(path)
    findings: list[Finding] = []
    m = src.manifest
    digest = hashlib.sha256()
    size = 0
    first = b""
    for chunk in src.read_chunks(1024 * 1024):
        if not first:
            first = chunk[:10]
        digest.update(chunk)
        size += len(chunk)
    if size != m.snapshot_bytes:
        findings.append(Finding.fail("backup/size", subject, f"snapshot is {size} bytes, the "
                                     f"manifest says {m.snapshot_bytes}",
                                     evidence={"actual": size, "manifest": m.snapshot_bytes}))
    if m.snapshot_sha256 is None:
        findings.append(Finding.info("backup/no-checksum", subject,
                                     "natscli backup: no checksum to verify"))
    elif digest.hexdigest() != m.snapshot_sha256:
        findings.append(Finding.fail(
            "backup/checksum", subject, "snapshot SHA-256 does not match the manifest",
            evidence={"actual": digest.hexdigest(), "manifest": m.snapshot_sha256},
            fix="the archive is damaged: take a new backup"))
    if size and not first.startswith((S2_MAGIC, SNAPPY_MAGIC)):
        findings.append(Finding.fail("backup/format", subject,
                                     "snapshot does not start with an S2/snappy stream header",
                                     evidence={"first_bytes": first.hex()}))
    if m.messages and not size:
        findings.append(Finding.fail("backup/empty", subject,
                                     f"manifest lists {m.messages} messages but the snapshot "
                                     "is empty"))
    if str(src.config.get("name")) != m.stream:
        findings.append(Finding.fail("backup/name", subject, "backup.json and manifest name "
                                     "different streams",
                                     evidence={"config": src.config.get("name"),
                                               "manifest": m.stream}))
    if int(src.state.get("messages", -1)) != m.messages:
        findings.append(Finding.fail("backup/state", subject, "backup.json state and manifest "
                                     "disagree on the message count"))
    if not any(f.severity >= Severity.WARN for f in findings):
        findings.append(Finding.ok(
            "backup/ok", subject,
            f"{m.stream}: {m.messages} messages, seq {m.first_seq}..{m.last_seq}, "
            f"{m.snapshot_bytes} snapshot bytes" + (", checksum ok" if m.snapshot_sha256 else ""),
            evidence=_manifest_doc(m)))
    return src, findings


# ---- restore -------------------------------------------------------------------------------


async def _stream_exists(conn: Conn, name: str) -> bool:
    try:
        await request(conn, f"STREAM.INFO.{name}", what=f"stream {name}")
    except NotFound:
        return False
    return True


async def _delete_stream(conn: Conn, name: str) -> bool:
    try:
        await request(conn, f"STREAM.DELETE.{name}", what=f"stream {name}",
                      timeout=max(conn.settings.timeout, 10))
    except NotFound:
        return False
    return True


async def restore_stream(
    conn: Conn,
    source: Path,
    *,
    name: str | None = None,
    replicas: int | None = None,
    subjects: list[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    chunk_size: int = 512 * 1024,
    in_flight: int = 8,
    stall_timeout: float = 10.0,
    ready_timeout: float = 60.0,
    progress: Progress = _no_progress,
) -> RestoreResult:
    """Restore a backup as a new stream; verify it; scale it; delete it again on failure.

    ``overrides`` replaces StreamConfig fields of the restored stream (the restore test drops
    ``max_bytes`` so its temporary copy reserves no storage next to the original).
    """
    t0 = time.monotonic()
    src, findings = await asyncio.to_thread(verify_backup, Path(source))
    bad = [f for f in findings if f.severity >= Severity.FAIL]
    if bad:
        raise UsageError(f"{source}: {bad[0].message}; nothing was restored")
    config = dict(src.config)
    target = name or str(config["name"])
    if not target or any(c in target for c in " .*>/\\\t\r\n"):
        raise UsageError(f"invalid stream name {target!r}")
    want_replicas = replicas or int(config.get("num_replicas", 1) or 1)
    if want_replicas < 1 or want_replicas > 5:
        raise UsageError("--replicas must be between 1 and 5")
    config["name"] = target
    if subjects is not None:
        config["subjects"] = subjects
    config.update(overrides or {})
    config["num_replicas"] = 1  # restore as R1, then scale: the path that works for big streams

    # preflight: nothing is created unless all of this passes
    version = str((getattr(conn.nc, "_server_info", None) or {}).get("version", ""))
    if target != src.config["name"] and _older_than(version, (2, 15)):
        raise UsageError(
            f"restoring {src.config['name']} under another name ({target}) needs nats-server "
            f"2.15 or newer: {version} snapshots carry the stream name; nothing was restored",
            hint="restore under the original name (delete or rename the original first)")
    if await _stream_exists(conn, target):
        raise Conflict(f"stream {target} already exists; nothing was restored",
                       hint="restore under another name with --name NEW")
    for subj in config.get("subjects") or []:
        users = await list_stream_names(conn, subj)
        if users:
            raise Conflict(
                f"subject {subj} is used by stream {users[0]}; nothing was restored",
                hint="delete that stream, or restore with other subjects (--subjects)")

    nc = conn.nc
    started = False
    try:
        reply = await _restore_request(conn, target, config, src.state)
        started = True
        deliver = reply.get("deliver_subject")
        if not deliver:
            raise ServerError("restore reply has no deliver_subject")
        await _send_snapshot(nc, src, deliver, chunk_size, in_flight, stall_timeout, progress)
        timeout = max(60.0, src.snapshot_size / 20e6)
        final = await _final_request(conn, deliver, timeout, f"restore of {target}")
        state = final.get("state") or {}
        _compare(src.manifest, state, target)
        if want_replicas > 1:
            await _scale(conn, target, want_replicas, ready_timeout)
        info = await request(conn, f"STREAM.INFO.{target}", what=f"stream {target}")
        state = info.get("state") or state
        _compare(src.manifest, state, target)
    except BaseException as exc:
        if started:
            try:
                deleted = await asyncio.shield(_delete_stream(conn, target))
            except Exception as cleanup:  # say so: the user must know a stream may be left
                if isinstance(exc, NatsopsError):
                    exc.message += f"; could not delete the partly restored {target}: {cleanup}"
            else:
                if isinstance(exc, NatsopsError):
                    exc.message += (f"; the partly restored stream {target} was deleted"
                                    if deleted else "; no stream was created")
        raise
    return RestoreResult(
        stream=target, source=str(source), manifest=src.manifest, replicas=want_replicas,
        messages=int(state.get("messages", 0)), bytes=int(state.get("bytes", 0)),
        first_seq=int(state.get("first_seq", 0)), last_seq=int(state.get("last_seq", 0)),
        consumer_count=int(state.get("consumer_count", 0)), seconds=time.monotonic() - t0)


async def _restore_request(conn: Conn, target: str, config: dict[str, Any],
                           state: dict[str, Any], placement_wait: float = 5.0) -> dict[str, Any]:
    """STREAM.RESTORE; a placement refusal (10005) is retried briefly: right after a stream is
    deleted its storage reservation can take a moment to be released on every server."""
    from natsops.jetstream.errors import JSApiError

    deadline = time.monotonic() + placement_wait
    while True:
        try:
            return await request(conn, f"STREAM.RESTORE.{target}",
                                 {"config": config, "state": state},
                                 what=f"restore of {target}",
                                 timeout=max(conn.settings.timeout, 10))
        except JSApiError as exc:
            if exc.err_code != 10005 or time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.5)


def _older_than(version: str, floor: tuple[int, int]) -> bool:
    try:
        major, minor = (int(x) for x in version.split(".")[:2])
    except ValueError:
        return False  # unknown: let the server decide
    return (major, minor) < floor


async def _send_snapshot(nc: Client, src: BackupSource, deliver: str, chunk_size: int,
                         in_flight: int, stall_timeout: float, progress: Progress) -> None:
    """Send the snapshot as requests, ``in_flight`` chunks ahead; every reply must be empty."""
    inbox = nc.new_inbox()
    window = asyncio.Semaphore(max(1, in_flight))
    pending: set[str] = set()
    failure: list[BaseException] = []
    all_acked = asyncio.Event()
    all_acked.set()
    sent = 0

    async def on_ack(msg: Any) -> None:
        token = msg.subject.rsplit(".", 1)[-1]
        if token not in pending:
            return
        pending.discard(token)
        if msg.data or (msg.headers and msg.headers.get("Status") not in (None, "", "200")):
            text = msg.data.decode(errors="replace")[:300] if msg.data else str(msg.headers)
            try:
                err = json.loads(msg.data).get("error", {})
                text = f"{err.get('description', text)} ({err.get('err_code')})"
            except (ValueError, AttributeError):
                pass
            failure.append(ServerError(f"restore chunk refused: {text}"))
        window.release()
        if not pending:
            all_acked.set()

    sub = await nc.subscribe(f"{inbox}.*", cb=on_ack)
    try:
        for i, chunk in enumerate(src.read_chunks(chunk_size)):
            if failure:
                raise failure[0]
            try:
                await asyncio.wait_for(window.acquire(), stall_timeout)
            except asyncio.TimeoutError:
                raise Timeout(f"restore stalled: chunks not acknowledged for "
                              f"{stall_timeout:g}s") from None
            if failure:
                raise failure[0]
            if nc.is_closed or not nc.is_connected:
                raise Unreachable("connection lost during the restore")
            token = str(i)
            pending.add(token)
            all_acked.clear()
            await nc.publish(deliver, chunk, reply=f"{inbox}.{token}")
            sent += len(chunk)
            progress(sent, src.snapshot_size)
        try:
            await asyncio.wait_for(all_acked.wait(), stall_timeout)
        except asyncio.TimeoutError:
            raise Timeout(f"restore stalled: last chunks not acknowledged for "
                          f"{stall_timeout:g}s") from None
        if failure:
            raise failure[0]
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()


def _compare(m: Manifest, state: dict[str, Any], target: str) -> None:
    got = {k: int(state.get(k, 0)) for k in ("messages", "bytes", "first_seq", "last_seq")}
    want = {"messages": m.messages, "bytes": m.bytes, "first_seq": m.first_seq,
            "last_seq": m.last_seq}
    diff = {k: (want[k], got[k]) for k in want if want[k] != got[k]}
    if diff:
        text = ", ".join(f"{k} {w} in the backup vs {g} restored" for k, (w, g) in diff.items())
        raise ServerError(f"restored stream {target} does not match the backup: {text}")


def _replicated(info: dict[str, Any], replicas: int) -> tuple[bool, str]:
    """(every replica current, a short description) from a stream or consumer info."""
    cl = info.get("cluster") or {}
    peers = cl.get("replicas") or []
    ok = bool(cl.get("leader")) and len(peers) == replicas - 1 and all(
        p.get("current") and not p.get("offline") for p in peers)
    return ok, f"leader {cl.get('leader')!r}, replicas " + ", ".join(
        f"{p.get('name')}:{'current' if p.get('current') else 'behind'}" for p in peers)


async def _scale(conn: Conn, name: str, replicas: int, timeout: float) -> None:
    """Raise the replica count; wait until the stream is fully replicated and every consumer
    has a leader whose peers are current."""
    info = await request(conn, f"STREAM.INFO.{name}", what=f"stream {name}")
    config = dict(info["config"])
    config["num_replicas"] = replicas
    await request(conn, f"STREAM.UPDATE.{name}", config, what=f"stream {name}",
                  timeout=max(conn.settings.timeout, 10))
    consumers = (await paged(conn, f"CONSUMER.NAMES.{name}", "consumers",
                             what=f"consumers of {name}")).items
    pending = [(f"stream {name}", f"STREAM.INFO.{name}")] + [
        (f"consumer {name} > {c}", f"CONSUMER.INFO.{name}.{c}") for c in consumers]
    deadline = time.monotonic() + timeout
    last = "no info yet"
    while pending and time.monotonic() < deadline:
        what, subject = pending[0]
        try:
            info = await request(conn, subject, what=what)
        except (Timeout, ServerError) as exc:
            last = f"{what}: {exc}"
        else:
            if subject.startswith("STREAM."):
                ok, state = _replicated(info, replicas)
            else:
                # the server scales consumers after their stream, on its own time (2.10 can
                # leave one at its old size for a while): wait for a leader and current peers
                peers = len((info.get("cluster") or {}).get("replicas") or [])
                ok, state = _replicated(info, peers + 1)
            if ok:
                pending.pop(0)
                continue
            last = f"{what}: {state}"
        await asyncio.sleep(0.2)
    if pending:
        raise Timeout(f"stream {name} did not reach R{replicas} within {timeout:g}s ({last})")
