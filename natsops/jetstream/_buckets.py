"""What KV buckets and object stores share: the stream settings natscli gives both, lookups."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from natsops.errors import NotFound, UsageError
from natsops.jetstream.models import StreamInfo
from natsops.jetstream.spec import ns
from natsops.jetstream.streams import (
    delete_stream,
    parse_metadata,
    split_list,
    stream_info,
    stream_names,
)
from natsops.units import parse_duration, parse_size
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
