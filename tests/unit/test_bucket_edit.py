"""kv edit / object edit without a server: the new config and what is refused."""

from __future__ import annotations

import pytest

from natsops.errors import UsageError
from natsops.jetstream._buckets import BucketEditFlags, bucket_edit_config
from natsops.jetstream.kv import BucketOptions, bucket_config
from natsops.jetstream.models import StreamInfo
from natsops.jetstream.spec import diff_configs


def current(used: int = 5000, **opts: object) -> StreamInfo:
    cfg = bucket_config("cfg", BucketOptions(**opts))  # type: ignore[arg-type]
    cfg["metadata"] = {"_nats.req.level": "0"}
    return StreamInfo.parse({"config": cfg, "state": {"messages": 3, "bytes": used},
                             "created": "2026-01-01T00:00:00Z"})


def test_flags_become_the_bucket_stream_fields() -> None:
    cfg = bucket_edit_config(current(), "bucket cfg", "bucket", BucketEditFlags(
        replicas=3, history=10, ttl="30s", max_bucket_size="1MB", max_value_size="1KB",
        description="d", cluster="east", tags=("ssd,fast",), compress=True, storage="file"))
    changed = {c.field: c.new for c in diff_configs(current().config, cfg)}
    assert changed == {
        "num_replicas": 3, "max_msgs_per_subject": 10, "max_age": 30 * 10**9,
        "duplicate_window": 30 * 10**9, "max_bytes": 1024 * 1024, "max_msg_size": 1024,
        "description": "d", "placement.cluster": "east", "placement.tags": ["ssd", "fast"],
        "compression": "s2"}
    assert "metadata" not in cfg  # server-owned metadata is not sent back
    # a TTL removed again: the duplicate window returns to 2 minutes
    cfg = bucket_edit_config(current(ttl="30s"), "bucket cfg", "bucket",
                             BucketEditFlags(ttl="-1"))
    assert (cfg["max_age"], cfg["duplicate_window"]) == (0, 120 * 10**9)


def test_what_the_server_cannot_do_or_would_lose_data_for_is_refused() -> None:
    edit = bucket_edit_config
    with pytest.raises(UsageError, match="nothing to change"):
        edit(current(), "bucket cfg", "bucket", BucketEditFlags())
    with pytest.raises(UsageError, match="cannot change the storage of bucket cfg from file "
                                         "to memory") as exc:
        edit(current(), "bucket cfg", "bucket", BucketEditFlags(storage="mem"))
    assert "--storage memory" in str(exc.value.hint)
    with pytest.raises(UsageError, match="invalid --storage"):
        edit(current(), "bucket cfg", "bucket", BucketEditFlags(storage="disk"))
    with pytest.raises(UsageError, match="--history 65"):
        edit(current(), "bucket cfg", "bucket", BucketEditFlags(history=65))
    with pytest.raises(UsageError, match="would delete data"):
        edit(current(used=2048), "bucket cfg", "bucket", BucketEditFlags(max_bucket_size="1K"))
    # unlimited is always fine; the same storage is not a change
    assert edit(current(used=2048), "bucket cfg", "bucket",
                BucketEditFlags(max_bucket_size="-1", storage="file"))["max_bytes"] == -1
