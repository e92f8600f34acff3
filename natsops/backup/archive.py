"""The backup archive: its manifest, a streaming tar writer, the reader and the checksum.

A natsops backup is one uncompressed tar file (the snapshot inside is already S2-compressed):

    backup.json      {"config": StreamConfig, "state": StreamState} as natscli writes it
    stream.tar.s2    the snapshot bytes exactly as the server sent them (opaque: the format
                     changed in nats-server 2.15, restores auto-detect it)
    manifest.json    natsops and server versions, counts, sequences, sizes, SHA-256 of the snapshot

:func:`open_backup` also reads a natscli backup directory (``backup.json`` + ``stream.tar.s2``,
no manifest: one is derived from ``backup.json``, without a checksum).
"""

from __future__ import annotations

import hashlib
import json
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from natsops._version import __version__
from natsops.errors import NotFound, UsageError

__all__ = [
    "ARCHIVE_FORMAT",
    "BackupSource",
    "Manifest",
    "Progress",
    "SnapshotDigest",
    "TarWriter",
    "open_backup",
    "snapshot_digest",
]

ARCHIVE_FORMAT = "natsops-stream-backup/1"
S2_MAGIC = b"\xff\x06\x00\x00S2sTwO"
SNAPPY_MAGIC = b"\xff\x06\x00\x00sNaPpY"
SNAPSHOT_MEMBER = "stream.tar.s2"
META_MEMBER = "backup.json"
MANIFEST_MEMBER = "manifest.json"

Progress = Callable[[int, "int | None"], None]
"""Called with (bytes done, bytes expected or None) as a transfer moves."""


def no_progress(done: int, total: int | None) -> None:
    """The default :data:`Progress`: report nothing."""


def now() -> str:
    """The current UTC time as the manifest writes it."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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
        known = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in doc.items() if k in known})
        except TypeError as exc:
            raise UsageError(f"manifest.json is incomplete: {exc}") from None

    @classmethod
    def from_stream(cls, config: dict[str, Any], state: dict[str, Any], *, snapshot_bytes: int,
                    snapshot_sha256: str | None, created: str, **kw: Any) -> Manifest:
        """The manifest of a stream with ``config`` and ``state`` (as STREAM.INFO gives them)."""
        return cls(
            stream=str(config.get("name", "")),
            messages=int(state.get("messages", 0)),
            bytes=int(state.get("bytes", 0)),
            first_seq=int(state.get("first_seq", 0)),
            last_seq=int(state.get("last_seq", 0)),
            num_deleted=int(state.get("num_deleted", 0)),
            consumer_count=int(state.get("consumer_count", 0)),
            replicas=int(config.get("num_replicas", 1) or 1),
            storage=str(config.get("storage", "file")),
            snapshot_bytes=snapshot_bytes,
            snapshot_sha256=snapshot_sha256,
            created=created,
            **kw,
        )

    def to_json(self) -> dict[str, Any]:
        """The ``manifest.json`` document (every field, plain JSON values)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


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

    def read_chunks(self, size: int) -> Iterator[bytes]:
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


@dataclass(frozen=True)
class SnapshotDigest:
    """The snapshot bytes as read back: size, SHA-256 (hex) and the first bytes (the format)."""

    size: int
    sha256: str
    head: bytes

    @property
    def framed(self) -> bool:
        """Whether the snapshot starts with an S2 or snappy stream header."""
        return self.head.startswith((S2_MAGIC, SNAPPY_MAGIC))


def snapshot_digest(src: BackupSource, chunk_size: int = 1024 * 1024) -> SnapshotDigest:
    """Read the whole snapshot of ``src`` once: its size, SHA-256 and header bytes."""
    digest = hashlib.sha256()
    size = 0
    head = b""
    for chunk in src.read_chunks(chunk_size):
        if not head:
            head = chunk[:10]
        digest.update(chunk)
        size += len(chunk)
    return SnapshotDigest(size=size, sha256=digest.hexdigest(), head=head)


class TarWriter:
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
        """Write a placeholder header for ``name``; returns its position for :meth:`end_stream`."""
        pos = self.fh.tell()
        self.fh.write(self._info(name, 0).tobuf(format=tarfile.GNU_FORMAT))
        return pos

    def end_stream(self, name: str, header_pos: int, size: int) -> None:
        """Pad the streamed member and rewrite its header with the real ``size``."""
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


def open_backup(path: Path) -> BackupSource:
    """Open a natsops archive or a natscli backup directory (no server needed)."""
    path = Path(path)
    if not path.exists():
        raise NotFound(f"backup {path} not found")
    if path.is_dir():
        return _open_natscli_dir(path)
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


def _open_natscli_dir(path: Path) -> BackupSource:
    meta_p, snap_p = path / META_MEMBER, path / SNAPSHOT_MEMBER
    if not meta_p.is_file() or not snap_p.is_file():
        raise UsageError(f"{path} is not a natscli backup (needs {META_MEMBER} and "
                         f"{SNAPSHOT_MEMBER})")
    config, state = _config_state(_load_json(meta_p.read_bytes(), f"{meta_p}"), str(meta_p))
    size = snap_p.stat().st_size
    manifest = Manifest.from_stream(config, state, snapshot_bytes=size, snapshot_sha256=None,
                                    created="", format="natscli")
    return BackupSource(path=path, kind="natscli", config=config, state=state,
                        manifest=manifest, snapshot_file=snap_p, snapshot_offset=0,
                        snapshot_size=size, has_manifest=False)


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
