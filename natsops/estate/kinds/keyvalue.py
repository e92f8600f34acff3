"""Kind ``KeyValue``: a KV bucket (stream ``KV_<name>``), as ``natsops kv add`` makes it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from natsops.estate.buckets import BucketKind
from natsops.estate.kinds import register
from natsops.estate.model import Resource


@register
class KeyValueKind(BucketKind):
    kind = "KeyValue"
    prefix = "KV_"
    fields = ("description", "history", "ttl", "max_value_size", "max_bytes", "storage",
              "replicas", "placement", "compression", "metadata")
    defaults: ClassVar[Mapping[str, Any]] = {
        "description": "", "history": 1, "ttl": 0, "max_value_size": -1, "max_bytes": -1,
        "storage": "file", "replicas": 1, "compression": False, "metadata": {}}
    immutable: ClassVar[Mapping[str, str]] = {
        "storage": "storage cannot change (the server refuses it)"}

    def stream_config(self, bucket: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        from natsops.jetstream.kv import BucketOptions, bucket_config

        def build(**kw: Any) -> BucketOptions:
            return BucketOptions(history=int(spec.get("history") or 1),
                                 max_value_size=str(spec.get("max_value_size", -1)), **kw)

        return bucket_config(bucket, self.options(bucket, spec, build))

    def bucket_spec(self, cfg: Mapping[str, Any]) -> dict[str, Any]:
        return {**super().bucket_spec(cfg),
                "history": int(cfg.get("max_msgs_per_subject") or 1),
                "max_value_size": int(cfg.get("max_msg_size", -1))}

    def nack(self, resource: Resource) -> tuple[dict[str, Any], list[str]] | None:
        from natsops.estate.nack import keyvalue_cr

        return keyvalue_cr(resource)
