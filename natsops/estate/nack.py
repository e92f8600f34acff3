"""Recipes as NACK custom resources (``jetstream.nats.io/v1beta2``: Stream, Consumer, KeyValue,
ObjectStore), field names as in NACK's CRDs (deploy/crds.yml of nats-io/nack).

NACK writes durations as Go duration strings (``720h``) and names fields in camelCase; fields a
CRD has no place for are reported, never silently dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from natsops.estate.model import Resource

__all__ = [
    "NackDoc",
    "consumer_cr",
    "keyvalue_cr",
    "nack_json",
    "objectstore_cr",
    "render_nack",
    "stream_cr",
    "write_nack",
]

API_VERSION = "jetstream.nats.io/v1beta2"

# StreamConfig field -> NACK Stream spec field (where not plain camelCase)
_STREAM_NAMES = {
    "num_replicas": "replicas", "discard_new_per_subject": "discardPerSubject",
    "allow_rollup_hdrs": "allowRollup", "first_seq": "firstSequence",
    "allow_atomic": "allowAtomicPublish", "subject_delete_marker_ttl": "subjectDeleteMarkerTtl",
    "allow_msg_ttl": "allowMsgTtl",
}
_STREAM_FIELDS = {
    "description", "subjects", "retention", "max_consumers", "max_msgs", "max_bytes", "discard",
    "max_age", "max_msgs_per_subject", "max_msg_size", "storage", "num_replicas", "no_ack",
    "duplicate_window", "placement", "mirror", "sources", "sealed", "deny_delete", "deny_purge",
    "allow_rollup_hdrs", "compression", "first_seq", "subject_transform", "republish",
    "allow_direct", "mirror_direct", "allow_msg_ttl", "subject_delete_marker_ttl",
    "allow_msg_counter", "allow_atomic", "allow_msg_schedules", "persist_mode",
    "consumer_limits", "metadata", "discard_new_per_subject",
}
_STREAM_DURATIONS = {"max_age", "duplicate_window", "subject_delete_marker_ttl"}
_CONSUMER_NAMES = {
    "idle_heartbeat": "heartbeatInterval", "max_batch": "maxRequestBatch",
    "max_expires": "maxRequestExpires", "max_bytes": "maxRequestMaxBytes",
    "num_replicas": "replicas", "priority_timeout": "pinnedTtl",
}
_CONSUMER_FIELDS = {
    "deliver_policy", "opt_start_seq", "opt_start_time", "deliver_subject", "ack_policy",
    "ack_wait", "max_deliver", "backoff", "filter_subject", "filter_subjects", "replay_policy",
    "sample_freq", "max_waiting", "rate_limit_bps", "max_ack_pending", "deliver_group",
    "description", "flow_control", "headers_only", "idle_heartbeat", "max_batch",
    "max_expires", "max_bytes", "inactive_threshold", "pause_until", "priority_policy",
    "priority_timeout", "priority_groups", "num_replicas", "mem_storage", "metadata",
}
_CONSUMER_DURATIONS = {"ack_wait", "idle_heartbeat", "max_expires", "inactive_threshold",
                       "priority_timeout"}
_DELIVER = {"by_start_sequence": "byStartSequence", "by_start_time": "byStartTime",
            "last_per_subject": "lastPerSubject"}
_KV_FIELDS = {"description", "history", "ttl", "max_value_size", "max_bytes", "storage",
              "replicas", "placement", "compression"}
_OBJ_FIELDS = {"description", "ttl", "max_bytes", "storage", "replicas", "placement",
               "compression", "metadata"}


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def go_duration(ns: Any) -> Any:
    """API nanoseconds as a Go duration string (``720h``, ``1500ms``, ``7ns``)."""
    if isinstance(ns, bool) or not isinstance(ns, int):
        return ns
    if ns == 0:
        return "0s"
    for unit, size in (("h", 3600 * 10**9), ("m", 60 * 10**9), ("s", 10**9), ("ms", 10**6),
                       ("us", 10**3)):
        if ns % size == 0:
            return f"{ns // size}{unit}"
    return f"{ns}ns"


def k8s_name(name: str) -> str:
    """A DNS-1123 object name for a NATS name (``ORDERS/workers`` -> ``orders-workers``)."""
    out = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    return out[:253] or "unnamed"


def _source(src: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in src.items():
        if k == "external" and isinstance(v, Mapping):
            if v.get("api"):
                out["externalApiPrefix"] = v["api"]
            if v.get("deliver"):
                out["externalDeliverPrefix"] = v["deliver"]
        elif k == "subject_transforms" and isinstance(v, list):
            out["subjectTransforms"] = [{"source": t.get("src"), "dest": t.get("dest")}
                                        for t in v]
        else:
            out[camel(k)] = v
    return out


def _convert(spec: Mapping[str, Any], known: set[str], names: Mapping[str, str],
             durations: set[str]) -> tuple[dict[str, Any], list[str]]:
    out: dict[str, Any] = {}
    dropped: list[str] = []
    for k, v in spec.items():
        if k not in known:
            dropped.append(k)
            continue
        if k in durations:
            v = go_duration(v)
        out[names.get(k) or camel(k)] = v
    return out, dropped


def _cr(kind: str, name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": k8s_name(name)},
            "spec": dict(spec)}


def stream_cr(res: Resource) -> tuple[dict[str, Any], list[str]]:
    spec, dropped = _convert(res.spec, _STREAM_FIELDS, _STREAM_NAMES, _STREAM_DURATIONS)
    if isinstance(res.spec.get("mirror"), Mapping):
        spec["mirror"] = _source(res.spec["mirror"])
    if isinstance(res.spec.get("sources"), list):
        spec["sources"] = [_source(s) for s in res.spec["sources"]]
    for key, api in (("republish", "republish"), ("subjectTransform", "subject_transform")):
        if isinstance(res.spec.get(api), Mapping):
            r = res.spec[api]
            spec[key] = ({"source": r.get("src"), "destination": r.get("dest")}
                         if key == "republish" else {"source": r.get("src"),
                                                     "dest": r.get("dest")})
    if isinstance(res.spec.get("consumer_limits"), Mapping):
        lim = res.spec["consumer_limits"]
        spec["consumerLimits"] = {
            **({"inactiveThreshold": go_duration(lim["inactive_threshold"])}
               if "inactive_threshold" in lim else {}),
            **({"maxAckPending": lim["max_ack_pending"]} if "max_ack_pending" in lim else {})}
    return _cr("Stream", res.name, {"name": res.name, **spec}), dropped


def consumer_cr(res: Resource) -> tuple[dict[str, Any], list[str]]:
    stream, _, name = res.name.partition("/")
    spec, dropped = _convert(res.spec, _CONSUMER_FIELDS, _CONSUMER_NAMES, _CONSUMER_DURATIONS)
    if "deliverPolicy" in spec:
        spec["deliverPolicy"] = _DELIVER.get(spec["deliverPolicy"], spec["deliverPolicy"])
    if isinstance(spec.get("backoff"), list):
        spec["backoff"] = [go_duration(v) for v in spec["backoff"]]
    if isinstance(spec.get("sampleFreq"), int):
        spec["sampleFreq"] = str(spec["sampleFreq"])
    return _cr("Consumer", res.name, {"durableName": name, "streamName": stream, **spec}), \
        dropped


def _bucket_cr(kind: str, res: Resource, known: set[str]) -> tuple[dict[str, Any], list[str]]:
    spec, dropped = _convert(res.spec, known, {}, {"ttl"})
    return _cr(kind, res.name, {"bucket": res.name, **spec}), dropped


def keyvalue_cr(res: Resource) -> tuple[dict[str, Any], list[str]]:
    return _bucket_cr("KeyValue", res, _KV_FIELDS)


def objectstore_cr(res: Resource) -> tuple[dict[str, Any], list[str]]:
    return _bucket_cr("ObjectStore", res, _OBJ_FIELDS)


@dataclass(frozen=True)
class NackDoc:
    """One custom resource: the file it goes to, the document, the recipe fields NACK lacks."""

    file: str
    resource: Resource
    document: Mapping[str, Any]
    dropped: tuple[str, ...]


def render_nack(resources: Sequence[Resource]) -> tuple[list[NackDoc], list[Resource]]:
    """NACK documents for every resource whose kind NACK has; and the resources left out."""
    from natsops.estate.kinds import handler

    docs: list[NackDoc] = []
    skipped: list[Resource] = []
    for res in resources:
        made = handler(res.kind).nack(res)
        if made is None:
            skipped.append(res)
            continue
        doc, dropped = made
        file = f"{res.kind.lower()}-{doc['metadata']['name']}.yaml"
        docs.append(NackDoc(file, res, doc, tuple(dropped)))
    return docs, skipped


def write_nack(docs: Sequence[NackDoc], out: Path, *, dry_run: bool = False,
               force: bool = False) -> list[Path]:
    """Write each document to ``out/<kind>-<name>.yaml`` (atomically); return the paths.

    An existing file with other content is refused (:class:`~natsops.errors.Conflict`, nothing
    written) unless ``force``; one with the same content is fine. ``dry_run``: check the folder
    could be written and return the paths, writing nothing."""
    import yaml

    from natsops.files import check_output_dir, refuse_overwrite, write_atomic

    folder = check_output_dir(out)
    if dry_run:
        return [folder / d.file for d in docs]
    texts = [(folder / d.file, yaml.safe_dump(dict(d.document), sort_keys=False)) for d in docs]
    refuse_overwrite(texts, force=force)
    folder.mkdir(parents=True, exist_ok=True)
    for path, text in texts:
        write_atomic(path, text)
    return [path for path, _ in texts]


def nack_json(docs: Sequence[NackDoc], paths: Sequence[Path],
              skipped: Sequence[Resource]) -> dict[str, Any]:
    """What ``render nack --json`` prints: files written, fields left out, resources skipped."""
    return {"files": [str(p) for p in paths],
            "dropped": {f"{d.resource.kind} {d.resource.name}": list(d.dropped)
                        for d in docs if d.dropped},
            "skipped": [f"{r.kind} {r.name}" for r in skipped]}
