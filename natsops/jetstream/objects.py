"""Object store buckets: streams ``OBJ_<bucket>`` on ``$O.<bucket>.C.>`` and ``$O.<bucket>.M.>``.

Buckets are created through the stream API (placement, direct get and compression kept, and
the bucket name passed explicitly: nats-py's ``create_object_store(config=...)`` loses it).
Objects move in chunks: ``put`` reads one chunk at a time from the file and sends it to the
object's own chunk subject (purged again if the upload does not finish), ``get`` writes each
chunk to a temporary file next to the target, checks size and SHA-256 digest, and only then
renames it into place. Both give up when the server stops answering (:mod:`natsops.faults`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from natsops.errors import Conflict, NatsopsError, NotFound, ServerError, Unreachable, UsageError
from natsops.faults import (
    DEFAULT_STALL_TIMEOUT,
    Watchdog,
    cleanup,
    connection_lost,
    note_cleanup,
)
from natsops.files import atomic_write, check_name_length, check_output_file
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
from natsops.jetstream.streams import Purge, add_stream, purge_stream, update_stream
from natsops.validate import subject_fits

if TYPE_CHECKING:
    from natsops.connection import Conn
    from natsops.jetstream.streams import StreamEdit

__all__ = [
    "CHUNK_SIZE",
    "BucketEditFlags",
    "ObjectBucketOptions",
    "ObjectBucketStatus",
    "ObjectDownload",
    "ObjectEntry",
    "add_object_bucket",
    "delete_object",
    "delete_object_bucket",
    "get_object",
    "list_object_buckets",
    "list_objects",
    "object_bucket_config",
    "object_bucket_status",
    "object_info",
    "plan_object_edit",
    "put_object",
    "seal_object_bucket",
]

CHUNK_SIZE = 128 * 1024  # nats.go / natscli default
Progress = Callable[[int, int], None]  # (bytes done, bytes total)


@dataclass(frozen=True)
class ObjectBucketOptions:
    """``object add`` options (natscli flag names and defaults)."""

    ttl: str | None = None
    replicas: int = 1
    storage: str = "file"
    max_bucket_size: str | None = None
    description: str | None = None
    cluster: str | None = None
    tags: tuple[str, ...] = ()
    compress: bool = False
    metadata: tuple[str, ...] = ()


def object_bucket_config(bucket: str, o: ObjectBucketOptions) -> dict[str, Any]:
    """The stream config natscli/nats.go use for an object store."""
    return bucket_stream_config(
        bucket, stream=f"OBJ_{bucket}", subjects=[f"$O.{bucket}.C.>", f"$O.{bucket}.M.>"],
        ttl=o.ttl, replicas=o.replicas, storage=o.storage, max_bucket_size=o.max_bucket_size,
        description=o.description, cluster=o.cluster, tags=o.tags, compress=o.compress,
        metadata=o.metadata)


@dataclass(frozen=True)
class ObjectBucketStatus:
    bucket: str
    objects_bytes: int
    messages: int
    ttl_s: float
    replicas: int
    storage: str
    sealed: bool
    compressed: bool
    placement: Mapping[str, Any] | None
    cluster: ClusterView | None
    stream: StreamInfo

    @classmethod
    def from_stream(cls, si: StreamInfo) -> ObjectBucketStatus:
        c = si.config
        return cls(bucket=si.name[4:], objects_bytes=si.bytes, messages=si.messages,
                   ttl_s=int(c.get("max_age") or 0) / 1e9, replicas=si.replicas,
                   storage=si.storage, sealed=bool(c.get("sealed")),
                   compressed=c.get("compression") == "s2", placement=c.get("placement"),
                   cluster=si.cluster, stream=si)


async def add_object_bucket(conn: Conn, bucket: str,
                            options: ObjectBucketOptions) -> ObjectBucketStatus:
    si = await add_stream(conn, object_bucket_config(bucket, options))
    return ObjectBucketStatus.from_stream(si)


async def object_bucket_status(conn: Conn, bucket: str) -> ObjectBucketStatus:
    si = await bucket_stream(conn, f"OBJ_{check_bucket(bucket)}", f"object bucket {bucket}")
    return ObjectBucketStatus.from_stream(si)


async def plan_object_edit(conn: Conn, bucket: str, flags: BucketEditFlags) -> StreamEdit:
    """What ``object edit`` would change on the bucket's ``OBJ_`` stream (nothing is sent).

    An object store keeps no history and its values are chunks: ``history`` and
    ``max_value_size`` are refused.
    """
    if flags.history is not None or flags.max_value_size is not None:
        raise UsageError("an object store has no --history or --max-value-size (KV only)")
    return await plan_bucket_edit(conn, f"OBJ_{check_bucket(bucket)}",
                                  f"object bucket {bucket}", "object store", flags)


async def list_object_buckets(conn: Conn) -> list[ObjectBucketStatus]:
    return [ObjectBucketStatus.from_stream(s) for s in await bucket_streams(conn, "$O.>", "OBJ_")]


async def delete_object_bucket(conn: Conn, bucket: str) -> None:
    await delete_bucket_stream(conn, f"OBJ_{check_bucket(bucket)}", f"object bucket {bucket}")


async def seal_object_bucket(conn: Conn, bucket: str) -> ObjectBucketStatus:
    """Make the bucket read-only for good (stream ``sealed: true``)."""
    st = await object_bucket_status(conn, bucket)
    cfg = {**st.stream.config, "sealed": True}
    return ObjectBucketStatus.from_stream(await update_stream(conn, cfg))


@dataclass(frozen=True)
class ObjectEntry:
    """One object's metadata."""

    bucket: str
    name: str
    size: int
    chunks: int
    digest: str
    mtime: str
    description: str | None
    nuid: str

    @classmethod
    def parse(cls, info: Any) -> ObjectEntry:
        return cls(bucket=info.bucket, name=info.name, size=int(info.size or 0),
                   chunks=int(info.chunks or 0), digest=str(info.digest or ""),
                   mtime=str(info.mtime or ""), description=info.description,
                   nuid=str(info.nuid or ""))


async def _store(conn: Conn, bucket: str) -> Any:
    await object_bucket_status(conn, bucket)
    try:
        return await conn.js.object_store(bucket)
    except Exception as exc:
        raise from_nats_exception(exc, f"object bucket {bucket}") from None


def _check_object_name(name: str) -> str:
    if not name or name.strip() != name:
        raise UsageError(f"invalid object name {name!r}")
    encoded = base64.urlsafe_b64encode(name.encode()).decode()
    subject_fits(f"$O.{'b' * 32}.M.{encoded}", f"object name ({len(name)} characters)")
    return name


async def _call(what: str, coro: Any) -> Any:
    from nats.js.errors import DigestMismatchError, NotFoundError

    try:
        return await coro
    except NotFoundError:
        raise NotFound(f"{what} not found") from None
    except DigestMismatchError:
        raise ServerError(f"{what}: SHA-256 digest mismatch") from None
    except Exception as exc:
        raise from_nats_exception(exc, what) from None


async def object_info(conn: Conn, bucket: str, name: str) -> ObjectEntry:
    obs = await _store(conn, bucket)
    info = await _call(f"object {bucket} > {name}", obs.get_info(_check_object_name(name)))
    return ObjectEntry.parse(info)


async def list_objects(conn: Conn, bucket: str) -> list[ObjectEntry]:
    """Every live object in the bucket, sorted by name ([] for an empty bucket)."""
    from nats.js.errors import NotFoundError

    obs = await _store(conn, bucket)
    try:
        infos = await obs.list(ignore_deletes=True)
    except NotFoundError:
        return []
    except Exception as exc:
        raise from_nats_exception(exc, f"object bucket {bucket}") from None
    return sorted((ObjectEntry.parse(i) for i in infos), key=lambda e: e.name)


async def delete_object(conn: Conn, bucket: str, name: str) -> None:
    obs = await _store(conn, bucket)
    await _call(f"object {bucket} > {name}", obs.delete(_check_object_name(name)))


async def put_object(conn: Conn, bucket: str, path: str | Path, *, name: str | None = None,
                     description: str | None = None, chunk_size: int = CHUNK_SIZE,
                     progress: Progress | None = None,
                     stall_timeout: float = DEFAULT_STALL_TIMEOUT) -> ObjectEntry:
    """Upload ``path`` in ``chunk_size`` pieces (one in memory at a time).

    The chunks go to ``$O.<bucket>.C.<nuid>``, a subject of their own; the object exists once
    its metadata is written. If the upload fails, stalls (no acknowledgement for
    ``stall_timeout`` seconds: Unreachable) or is cancelled, its chunks are purged by that
    subject, and the error says so (or says what is left to purge).
    """
    if chunk_size < 1024:
        raise UsageError("--chunk-size must be at least 1KiB")
    fh, total, base = _open_source(path)
    with fh:
        obj = _check_object_name(name or base)
        obs = await _store(conn, bucket)
        old = await _existing(obs, bucket, obj)
        dog = Watchdog(conn, f"the upload of {bucket} > {obj}", stall_timeout)
        upload = _Upload(conn, bucket, obj, chunk_size, dog, progress)
        info = await dog.run(upload.run(fh, total, description))
    if old is not None and old.nuid and not old.deleted:  # the replaced object's chunks
        with contextlib.suppress(NatsopsError):
            await purge_stream(conn, f"OBJ_{bucket}", Purge(subject=_chunks(bucket, old.nuid)))
    return ObjectEntry.parse(info)


async def _purge_subject(conn: Conn, stream: str, subject: str) -> None:
    """Purge ``subject``. A chunk published just before may still sit in the stream's ingest
    queue when a purge runs, and be stored after it: an empty message on the subject, once
    acknowledged, proves everything before it is stored; then the purge removes it all."""
    try:
        await conn.js.publish(subject, b"", stream=stream)
    except Exception as exc:
        raise from_nats_exception(exc, f"stream {stream}") from None
    await purge_stream(conn, stream, Purge(subject=subject))


def _chunks(bucket: str, nuid: str) -> str:
    return f"$O.{bucket}.C.{nuid}"


async def _existing(obs: Any, bucket: str, name: str) -> Any:
    from nats.js.errors import NotFoundError

    try:
        return await obs.get_info(name)
    except NotFoundError:
        return None
    except Exception as exc:
        raise from_nats_exception(exc, f"object {bucket} > {name}") from None


class _Upload:
    """One object upload: chunks on their own subject, then the metadata (a rollup)."""

    def __init__(self, conn: Conn, bucket: str, name: str, chunk_size: int, dog: Watchdog,
                 progress: Progress | None) -> None:
        self.conn, self.bucket, self.name, self.chunk_size = conn, bucket, name, chunk_size
        self.dog, self.progress = dog, progress
        self.nuid = secrets.token_hex(11)
        self.subject = _chunks(bucket, self.nuid)
        self.meta = f"$O.{bucket}.M.{base64.urlsafe_b64encode(name.encode()).decode()}"
        self.chunks = 0
        self.meta_sent = False

    async def _publish(self, subject: str, data: bytes,
                       headers: dict[str, str] | None = None) -> None:
        try:  # the watchdog gives up first (a silent server is exit 3, not a timeout)
            await self.conn.js.publish(subject, data, timeout=self.dog.stall + 5,
                                       stream=f"OBJ_{self.bucket}", headers=headers)
        except Exception as exc:
            raise from_nats_exception(exc, f"object {self.bucket} > {self.name}") from None

    async def run(self, fh: BinaryIO, total: int, description: str | None) -> Any:
        from nats.js.api import ObjectInfo, ObjectMetaOptions

        sha, done = hashlib.sha256(), 0
        try:
            while data := await asyncio.to_thread(fh.read, self.chunk_size):
                sha.update(data)
                await self._publish(self.subject, data)
                self.chunks += 1
                done += len(data)
                self.dog.tick()
                if self.progress:
                    self.progress(done, total)
            info = ObjectInfo(
                name=self.name, description=description, bucket=self.bucket, nuid=self.nuid,
                size=done, chunks=self.chunks, mtime=datetime.now(timezone.utc).isoformat(),
                digest="SHA-256=" + base64.urlsafe_b64encode(sha.digest()).decode(),
                options=ObjectMetaOptions(max_chunk_size=self.chunk_size))
            self.meta_sent = True
            await self._publish(self.meta, json.dumps(info.as_dict()).encode(),
                                headers={"Nats-Rollup": "sub"})
        except BaseException as exc:
            await self._purge(exc)
            raise
        return info

    async def _stored(self) -> bool:
        """Whether the metadata of this upload reached the bucket (then it is complete)."""
        try:
            msg = await self.conn.js.get_last_msg(f"OBJ_{self.bucket}", self.meta)
        except Exception:  # not found, or no answer: treat as not stored
            return False
        return bool(json.loads(msg.data or b"{}").get("nuid") == self.nuid)

    async def _purge(self, exc: BaseException) -> None:
        """Remove the chunks sent so far; note on ``exc`` what became of them."""
        if not self.chunks:
            return
        what = f"{self.chunks} chunk(s) of the unfinished object ({self.subject})"
        try:
            if connection_lost(self.conn.nc):
                raise Unreachable("connection lost")
            if self.meta_sent and await cleanup(self._stored(), min(5.0, self.dog.stall)):
                note_cleanup(exc, f"the object {self.bucket} > {self.name} was stored before "
                                  "the stop")
                return
            purge = _purge_subject(self.conn, f"OBJ_{self.bucket}", self.subject)
            await cleanup(purge, min(5.0, self.dog.stall))
        except Exception as failed:
            note_cleanup(exc, f"could not purge {what}: {str(failed) or type(failed).__name__}; "
                              f"run: natsops stream purge OBJ_{self.bucket} "
                              f"--subject '{self.subject}' --force")
        else:
            note_cleanup(exc, f"purged the {what}")


def _open_source(path: str | Path) -> tuple[BinaryIO, int, str]:
    p = Path(path)
    try:
        fh = p.open("rb")
    except OSError as exc:
        raise UsageError(f"cannot read {p}: {exc.strerror or exc}") from None
    if not p.is_file():
        fh.close()
        raise UsageError(f"not a file: {p}")
    return fh, os.fstat(fh.fileno()).st_size, p.name


def _target(dest: str | Path, name: str, overwrite: bool) -> Path:
    target = check_name_length(dest, what="-O")
    if target.is_dir():
        target = target / Path(name).name
    if target.exists() and not overwrite:
        raise Conflict(f"{target} exists", hint="use --force to overwrite it")
    return check_output_file(target, what="-O")


class _DigestWriter:
    """Writes chunks to the temp file, hashing and counting them (called in a worker thread)."""

    def __init__(self, fh: BinaryIO, total: int, progress: Progress | None) -> None:
        self._fh, self._total, self._progress = fh, total, progress
        self.sha = hashlib.sha256()
        self.done = 0

    def write(self, data: bytes) -> int:
        self._fh.write(data)
        self.sha.update(data)
        self.done += len(data)
        if self._progress:
            self._progress(self.done, self._total)
        return len(data)


def _expected_digest(digest: str) -> bytes:
    algo, _, value = digest.partition("=")
    if algo.upper() != "SHA-256" or not value:
        raise ServerError(f"unsupported object digest {digest!r}")
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


async def get_object(conn: Conn, bucket: str, name: str, dest: str | Path | BinaryIO, *,
                     overwrite: bool = False, progress: Progress | None = None,
                     stall_timeout: float = DEFAULT_STALL_TIMEOUT) -> ObjectDownload:
    """Download ``name`` into ``dest`` atomically: temp file, digest check, then rename.

    ``dest`` is a file, a folder (the object's base name in it) or an open binary stream
    (standard output: written as it arrives, the digest checked at the end). If anything fails
    (or the task is cancelled) the temp file is removed and the target is left as it was; no
    data for ``stall_timeout`` seconds is Unreachable naming the server.
    """
    target = None if _is_stream(dest) else _target(dest, name, overwrite)  # type: ignore[arg-type]
    obs = await _store(conn, bucket)
    info = ObjectEntry.parse(await _call(f"object {bucket} > {name}",
                                         obs.get_info(_check_object_name(name))))
    want = _expected_digest(info.digest) if info.digest else None
    dog = Watchdog(conn, f"the download of {bucket} > {name}", stall_timeout)

    def tick(done: int, total: int) -> None:
        dog.tick()
        if progress:
            progress(done, total)

    async def transfer(writer: _DigestWriter) -> None:
        if info.size:
            await _call(f"object {bucket} > {name}", obs.get(name, writeinto=writer))
        if writer.done != info.size:  # Unreachable when the connection was lost (dog.run)
            raise ServerError(f"object {bucket} > {name}: got {writer.done} of {info.size} bytes")

    async def fetch(fh: BinaryIO) -> None:
        writer = _DigestWriter(fh, info.size, tick)
        await dog.run(transfer(writer))
        if want is not None and writer.sha.digest() != want:
            raise ServerError(f"object {bucket} > {name}: SHA-256 digest mismatch")

    if target is None:
        await fetch(dest)  # type: ignore[arg-type]
        return ObjectDownload(entry=info, path=None)
    with atomic_write(target) as fh:
        await fetch(fh)
    return ObjectDownload(entry=info, path=str(target))


def _is_stream(dest: object) -> bool:
    return hasattr(dest, "write") and not isinstance(dest, (str, Path))


@dataclass(frozen=True)
class ObjectDownload:
    """What ``object get`` wrote: the object, and the file (None: a stream such as stdout)."""

    entry: ObjectEntry
    path: str | None
