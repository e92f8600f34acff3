"""Kind ``ObjectStore``: an object store (stream ``OBJ_<name>``), as ``natsops object add``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from natsops.estate.buckets import BucketKind
from natsops.estate.kinds import register
from natsops.estate.model import Resource


@register
class ObjectStoreKind(BucketKind):
    kind = "ObjectStore"
    prefix = "OBJ_"
    fields = ("description", "ttl", "max_bytes", "storage", "replicas", "placement",
              "compression", "metadata")
    defaults: ClassVar[Mapping[str, Any]] = {
        "description": "", "ttl": 0, "max_bytes": -1, "storage": "file", "replicas": 1,
        "compression": False, "metadata": {}}
    immutable: ClassVar[Mapping[str, str]] = {
        "storage": "storage cannot change (the server refuses it)"}

    def stream_config(self, bucket: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        from natsops.jetstream.objects import ObjectBucketOptions, object_bucket_config

        return object_bucket_config(bucket, self.options(bucket, spec, ObjectBucketOptions))

    def nack(self, resource: Resource) -> tuple[dict[str, Any], list[str]] | None:
        from natsops.estate.nack import objectstore_cr

        return objectstore_cr(resource)
