"""Object store buckets: streams ``OBJ_<bucket>`` on ``$O.<bucket>.C.>`` and ``$O.<bucket>.M.>``.

Buckets are created through the stream API (placement, direct get and compression kept, and
the bucket name passed explicitly: nats-py's ``create_object_store(config=...)`` loses it).
Objects move through nats-py's ObjectStore in chunks: ``put`` reads one chunk at a time from
the file, ``get`` writes each chunk to a temporary file next to the target, checks size and
SHA-256 digest, and only then renames it into place.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from natsops.errors import Conflict, NotFound, ServerError, UsageError
from natsops.files import atomic_write, check_name_length, check_output_file
from natsops.jetstream._buckets import (
    bucket_stream,
    bucket_stream_config,
    bucket_streams,
    check_bucket,
    delete_bucket_stream,
)
from natsops.jetstream.errors import from_nats_exception
from natsops.jetstream.models import ClusterView, StreamInfo
from natsops.jetstream.streams import add_stream, update_stream
from natsops.validate import subject_fits

if TYPE_CHECKING:
    from natsops.connection import Conn

__all__ = [
    "CHUNK_SIZE",
    "ObjectBucketOptions",
    "ObjectBucketStatus",
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


class _ProgressReader:
    """A file reader that reports bytes read (nats-py calls ``readinto`` in a worker thread)."""

    def __init__(self, fh: BinaryIO, total: int, progress: Progress | None) -> None:
        self._fh, self._total, self._progress, self.done = fh, total, progress, 0

    def readinto(self, buf: bytearray) -> int:
        n = self._fh.readinto(buf)  # type: ignore[attr-defined]
        self.done += n or 0
        if self._progress:
            self._progress(self.done, self._total)
        return int(n or 0)


async def put_object(conn: Conn, bucket: str, path: str | Path, *, name: str | None = None,
                     description: str | None = None, chunk_size: int = CHUNK_SIZE,
                     progress: Progress | None = None) -> ObjectEntry:
    """Upload ``path`` in ``chunk_size`` pieces (one in memory at a time)."""
    from nats.js.api import ObjectMeta, ObjectMetaOptions

    if chunk_size < 1024:
        raise UsageError("--chunk-size must be at least 1KiB")
    fh, total, base = _open_source(path)
    with fh:
        obj = _check_object_name(name or base)
        obs = await _store(conn, bucket)
        meta = ObjectMeta(name=obj, description=description,
                          options=ObjectMetaOptions(max_chunk_size=chunk_size))
        reader = _ProgressReader(fh, total, progress)
        info = await _call(f"object {bucket} > {obj}", obs.put(obj, reader, meta=meta))
    return ObjectEntry.parse(info)


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


async def get_object(conn: Conn, bucket: str, name: str, dest: str | Path, *,
                     overwrite: bool = False, progress: Progress | None = None) -> ObjectEntry:
    """Download ``name`` into ``dest`` atomically: temp file, digest check, then rename.

    If anything fails (or the task is cancelled) the temp file is removed and ``dest`` is left
    as it was.
    """
    target = _target(dest, name, overwrite)
    obs = await _store(conn, bucket)
    info = ObjectEntry.parse(await _call(f"object {bucket} > {name}",
                                         obs.get_info(_check_object_name(name))))
    if info.digest:
        want = _expected_digest(info.digest)
    with atomic_write(target) as fh:
        writer = _DigestWriter(fh, info.size, progress)
        if info.size:
            await _call(f"object {bucket} > {name}", obs.get(name, writeinto=writer))
        if writer.done != info.size:
            raise ServerError(f"object {bucket} > {name}: got {writer.done} of {info.size} bytes")
        if info.digest and writer.sha.digest() != want:
            raise ServerError(f"object {bucket} > {name}: SHA-256 digest mismatch")
    return info
