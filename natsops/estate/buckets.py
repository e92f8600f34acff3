"""What the KeyValue and ObjectStore kinds share: a bucket is a stream with a fixed shape.

A bucket's spec uses the client libraries' bucket config names (``history``, ``ttl``,
``max_value_size``, ``max_bytes``, ``storage``, ``replicas``, ``placement``, ``compression``,
``description``, ``metadata``); it is turned into the stream config ``natsops kv add`` /
``object add`` would submit, and the live stream's config is read back into the same names.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from natsops.estate import fields as f
from natsops.estate.kinds import Kind, owner_metadata, without_owner
from natsops.estate.kinds.stream import apply_stream_action, stream_live
from natsops.estate.model import Action, Doc, Live, Op, Resource
from natsops.jetstream._buckets import check_bucket
from natsops.jetstream.spec import strip_server_metadata

if TYPE_CHECKING:
    from natsops.estate.context import EstateContext

__all__ = ["BucketKind"]

BUCKET_CHECKS: dict[str, f.Check] = {
    "history": f.integer(1, 64), "storage": f.one_of("file", "memory"),
    "replicas": f.integer(1, 5), "compression": f.boolean, "placement": f.mapping,
    "metadata": f.mapping, "description": f.string, "ttl": f.integer(0),
    "max_bytes": f.integer(-1), "max_value_size": f.integer(-1),
}


def _normalise(key: str, value: Any) -> Any:
    if key == "ttl":
        return f.duration_ns(value, "ttl")
    if key in ("max_bytes", "max_value_size"):
        return f.size_bytes(value, key)
    return value


class BucketKind(Kind):
    """A bucket kind: subclasses give the stream prefix, fields and the stream config builder."""

    order = 20
    prefix: ClassVar[str] = ""
    fields: ClassVar[tuple[str, ...]] = ()

    def stream_config(self, bucket: str, spec: Mapping[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def bucket_spec(self, cfg: Mapping[str, Any]) -> dict[str, Any]:
        """The live stream config in the bucket's vocabulary."""
        out = {"description": cfg.get("description") or "", "ttl": int(cfg.get("max_age") or 0),
               "max_bytes": int(cfg.get("max_bytes", -1)), "storage": cfg.get("storage"),
               "replicas": int(cfg.get("num_replicas") or 1),
               "compression": cfg.get("compression") == "s2",
               "placement": cfg.get("placement") or {}, "metadata": cfg.get("metadata") or {}}
        return {k: v for k, v in out.items() if k in self.fields}

    def options(self, bucket: str, spec: Mapping[str, Any],
                build: Callable[..., Any]) -> Any:
        placement = spec.get("placement") or {}
        return build(
            ttl=f"{int(spec.get('ttl') or 0)}ns" if spec.get("ttl") else None,
            replicas=int(spec.get("replicas") or 1), storage=str(spec.get("storage") or "file"),
            max_bucket_size=str(spec.get("max_bytes", -1)),
            description=spec.get("description") or None, cluster=placement.get("cluster"),
            tags=tuple(placement.get("tags") or ()), compress=bool(spec.get("compression")),
            metadata=tuple(f"{k}={v}" for k, v in (spec.get("metadata") or {}).items()))

    def load(self, doc: Doc) -> Resource:
        name = f.name_of(doc, "bucket", what="bucket name")
        try:
            check_bucket(name)
        except Exception as exc:
            raise doc.error("metadata.name", str(exc)) from None
        spec = f.check_fields(doc, (*self.fields, "bucket"), BUCKET_CHECKS, _normalise)
        spec.pop("bucket", None)
        return Resource(self.kind, name, spec, doc.where(), doc)

    async def fetch_live(self, ctx: EstateContext,
                         names: Collection[str] | None) -> dict[str, Live]:
        n = len(self.prefix)
        out: dict[str, Live] = {}
        for stream, si in (await ctx.streams()).items():
            bucket = stream[n:]
            if stream.startswith(self.prefix) and (names is None or bucket in names):
                out[bucket] = stream_live(self.kind, bucket, si, self.bucket_spec(si.config))
        return out

    def config(self, action: Action) -> dict[str, Any]:
        assert action.desired is not None
        spec = action.desired.spec
        cfg = self.stream_config(action.name, spec)
        if action.op is Op.UPDATE and action.live is not None:
            cfg = {**action.live.detail.config, **cfg}
        cfg = strip_server_metadata(cfg)
        cfg["metadata"] = owner_metadata(spec.get("metadata"))
        return cfg

    async def apply(self, ctx: EstateContext, action: Action) -> str:
        cfg = None if action.op is Op.DELETE else self.config(action)
        return await apply_stream_action(ctx, action, f"{self.prefix}{action.name}", cfg)

    def export(self, live: Live) -> dict[str, Any]:
        spec = f.strip_defaults(without_owner(live.config), self.defaults)
        if "ttl" in spec:
            spec["ttl"] = f.human_duration(spec["ttl"])
        for k in ("max_bytes", "max_value_size"):
            if k in spec:
                spec[k] = f.human_size(spec[k])
        return {"kind": self.kind, "metadata": {"name": live.name}, "spec": spec}
