"""What KV buckets and object stores share: the stream settings natscli gives both, lookups."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from natsops.errors import NotFound, UsageError
from natsops.jetstream.models import StreamInfo
from natsops.jetstream.spec import diff_configs, ns, strip_server_metadata
from natsops.jetstream.streams import (
    StreamEdit,
    StreamFlags,
    apply_stream_flags,
    delete_stream,
    parse_metadata,
    split_list,
    stream_info,
    stream_names,
)
from natsops.units import format_bytes, parse_duration, parse_size
from natsops.validate import name_length

if TYPE_CHECKING:
    from natsops.connection import Conn

_BUCKET_RE = re.compile(r"^[a-zA-Z0-9_-]+$")
_TWO_MINUTES = 120.0


def check_bucket(name: str) -> str:
    if not _BUCKET_RE.match(name or ""):
        raise UsageError(f"invalid bucket name {name!r}: use letters, digits, '-' and '_'")
    # the bucket's stream is KV_<name> or OBJ_<name>: the longer prefix bounds both
    return name_length(name, "bucket", prefix="OBJ_")


def bucket_stream_config(bucket: str, *, stream: str, subjects: list[str], ttl: str | None,
                         replicas: int, storage: str, max_bucket_size: str | None,
                         description: str | None, cluster: str | None, tags: tuple[str, ...],
                         compress: bool, metadata: tuple[str, ...]) -> dict[str, Any]:
    """The stream both bucket kinds sit on: discard new, rollups, direct get, placement kept."""
    check_bucket(bucket)
    if not 1 <= replicas <= 5:
        raise UsageError(f"invalid --replicas {replicas}: use 1 to 5")
    if storage not in ("file", "memory"):
        raise UsageError(f"invalid --storage {storage!r}: use file or memory")
    secs = 0.0 if ttl in (None, "", "-1", "0") else parse_duration(str(ttl), what="--ttl")
    cfg: dict[str, Any] = {
        "name": stream, "subjects": subjects, "max_age": ns(secs), "storage": storage,
        "num_replicas": replicas, "retention": "limits", "discard": "new",
        "max_bytes": parse_size(max_bucket_size or "-1", what="--max-bucket-size"),
        "allow_rollup_hdrs": True, "allow_direct": True, "max_msgs": -1, "max_consumers": -1,
        # the server refuses a duplicate window longer than max_age
        "duplicate_window": ns(min(secs, _TWO_MINUTES) if secs else _TWO_MINUTES),
        "compression": "s2" if compress else "none",
    }
    if description:
        cfg["description"] = description
    if cluster or tags:
        cfg["placement"] = {k: v for k, v in (("cluster", cluster), ("tags", split_list(tags)))
                            if v}
    if metadata:
        cfg["metadata"] = parse_metadata(metadata)
    return cfg


async def bucket_stream(conn: Conn, stream: str, label: str) -> StreamInfo:
    """The bucket's stream, or NotFound naming the bucket (not the stream)."""
    try:
        return await stream_info(conn, stream)
    except NotFound:
        raise NotFound(f"{label} not found") from None


async def bucket_streams(conn: Conn, subject: str, prefix: str) -> list[StreamInfo]:
    names = [n for n in await stream_names(conn, subject) if n.startswith(prefix)]
    return [await stream_info(conn, n) for n in names]


async def delete_bucket_stream(conn: Conn, stream: str, label: str) -> None:
    await bucket_stream(conn, stream, label)
    await delete_stream(conn, stream)


@dataclass(frozen=True)
class BucketEditFlags:
    """``kv edit`` / ``object edit`` options; None means "keep". ``history`` and
    ``max_value_size`` are for KV buckets only."""

    replicas: int | None = None
    history: int | None = None
    ttl: str | None = None
    max_bucket_size: str | None = None
    max_value_size: str | None = None
    description: str | None = None
    cluster: str | None = None
    tags: tuple[str, ...] | None = None
    compress: bool | None = None
    storage: str | None = None
    metadata: tuple[str, ...] | None = None

    def given(self) -> bool:
        return any(getattr(self, f.name) is not None for f in fields(self))


_STORAGE = {"f": "file", "file": "file", "m": "memory", "mem": "memory", "memory": "memory"}


def _refuse_storage(label: str, current: str, wanted: str | None, kind: str) -> None:
    if wanted is None:
        return
    new = _STORAGE.get(wanted.strip().lower())
    if new is None:
        raise UsageError(f"invalid --storage {wanted!r}: use file or memory")
    if new != current:
        raise UsageError(
            f"cannot change the storage of {label} from {current} to {new}: the server keeps a "
            "stream's storage type for its whole life; nothing was changed",
            hint=f"create a new {kind} with --storage {new} and copy the data into it")


def check_edit_flags(f: BucketEditFlags, bucket: str | None = None) -> None:
    """What can be refused before connecting: the bucket's name, no option given, a history
    outside 1-64, an unknown storage, and sizes and durations (named by the bucket's flags)."""
    if bucket is not None:
        check_bucket(bucket)
    if not f.given():
        raise UsageError("nothing to change: give at least one option (see --help)")
    if f.storage is not None and f.storage.strip().lower() not in _STORAGE:
        raise UsageError(f"invalid --storage {f.storage!r}: use file or memory")
    if f.history is not None and not 1 <= f.history <= 64:
        raise UsageError(f"invalid --history {f.history}: use 1 to 64")
    if f.ttl not in (None, "", "-1"):
        parse_duration(str(f.ttl), what="--ttl")
    for flag, size in (("--max-bucket-size", f.max_bucket_size),
                       ("--max-value-size", f.max_value_size)):
        if size is not None:
            parse_size(size, what=flag)


def bucket_edit_config(current: StreamInfo, label: str, kind: str,
                       f: BucketEditFlags) -> dict[str, Any]:
    """The bucket stream's new config: ``current`` with the given flags, checked first.

    Refused (UsageError, nothing changed): a storage change, history outside 1-64, and a
    max bucket size below the bytes the bucket holds (the server would delete values to fit).
    """
    check_edit_flags(f)
    _refuse_storage(label, current.storage, f.storage, kind)
    compression = None if f.compress is None else ("s2" if f.compress else "none")
    cfg = apply_stream_flags(current.config, StreamFlags(
        replicas=f.replicas, description=f.description, max_bytes=f.max_bucket_size,
        max_msg_size=f.max_value_size, max_age=f.ttl, max_msgs_per_subject=f.history,
        cluster=f.cluster, tags=f.tags, compression=compression, metadata=f.metadata))
    if f.ttl is not None:  # as on add: the duplicate window may not outlast the TTL
        secs = int(cfg.get("max_age") or 0) / 1e9
        cfg["duplicate_window"] = ns(min(secs, _TWO_MINUTES) if secs else _TWO_MINUTES)
    limit = int(cfg.get("max_bytes") or -1)
    if f.max_bucket_size is not None and 0 < limit < current.bytes:
        raise UsageError(
            f"--max-bucket-size {f.max_bucket_size} is below the {format_bytes(current.bytes)} "
            f"{label} holds: the server would delete data to fit; nothing was changed",
            hint=f"give at least {format_bytes(current.bytes)}, or remove data first")
    return strip_server_metadata(cfg)


async def plan_bucket_edit(conn: Conn, stream: str, label: str, kind: str,
                           flags: BucketEditFlags) -> StreamEdit:
    """What editing the bucket on ``stream`` would change (nothing is sent)."""
    current = await bucket_stream(conn, stream, label)
    cfg = bucket_edit_config(current, label, kind, flags)
    return StreamEdit(current=current, config=cfg,
                      changes=tuple(diff_configs(current.config, cfg)))
