"""KV buckets and object stores, judged by their own rules rather than as plain streams.

A KV bucket (stream ``KV_<bucket>`` on ``$KV.<bucket>.>``) keeps ``history`` values per key and
expires them after its TTL (``max_age``); it needs no other limit, and one that removes the
oldest messages (``discard old`` with ``max_bytes``/``max_msgs``) drops live keys. An object
store (``OBJ_<bucket>`` on ``$O.<bucket>.C.>`` / ``.M.>``) splits each object into chunks: a
limit that removes old chunks leaves objects that can no longer be read, so an object store is
never age- or size-trimmed beyond its own TTL. Buckets refuse writes when full (``discard
new``) or sealed; fixes go through ``natsops kv`` / ``natsops object``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from natsops.doctor.checks._util import as_int, format_bytes, format_duration
from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import Snapshot, StreamView

ID = "bucket"


@dataclass(frozen=True)
class Bucket:
    """What kind of bucket a stream backs: ``kv`` or ``object``, and the bucket's name."""

    kind: str
    name: str

    @property
    def command(self) -> str:
        return "kv" if self.kind == "kv" else "object"

    @property
    def label(self) -> str:
        return f"{'KV bucket' if self.kind == 'kv' else 'object store'} {self.name}"


def bucket_of(st: StreamView) -> Bucket | None:
    """The bucket behind stream ``st`` (name prefix and the bucket's subjects), or None."""
    subjects = {str(s) for s in st.config.get("subjects") or ()}
    if st.name.startswith("KV_"):
        name = st.name[3:]
        if f"$KV.{name}.>" in subjects or not subjects:
            return Bucket("kv", name)
    if st.name.startswith("OBJ_"):
        name = st.name[4:]
        if f"$O.{name}.C.>" in subjects or not subjects:
            return Bucket("object", name)
    return None


def _full(st: StreamView, b: Bucket) -> Finding | None:
    max_bytes = as_int(st.config.get("max_bytes"), -1)
    if max_bytes <= 0 or st.config.get("discard", "old") != "new" or st.config.get("sealed"):
        return None
    used = as_int(st.state.get("bytes"))
    pct = 100.0 * used / max_bytes
    if pct < 90:
        return None
    ev = {"account": st.account, "stream": st.name, "bucket": b.name, "bytes": used,
          "max_bytes": max_bytes, "pct": round(pct, 1)}
    fix = (f"remove keys no longer needed (`natsops kv purge {b.name} KEY`; `natsops kv ls`"
           f" shows the size), or give new buckets a TTL (`natsops kv add ... --ttl 24h`)"
           if b.kind == "kv" else f"delete objects no longer needed (`natsops object ls "
           f"{b.name}`, `natsops object rm {b.name} NAME`)")
    msg = (f"{b.label} is at {pct:.0f}% of its {format_bytes(max_bytes)} limit: writes are "
           "refused when it is full (buckets discard new)")
    return (Finding.fail if pct >= 95 else Finding.warn)(ID, st.subject, msg, evidence=ev,
                                                         fix=fix)


def _trims_live_data(st: StreamView, b: Bucket) -> Finding | None:
    cfg = st.config
    if cfg.get("discard", "old") == "new":
        return None
    limits = {k: as_int(cfg.get(k), -1) for k in ("max_bytes", "max_msgs")}
    set_limits = {k: v for k, v in limits.items() if v > 0}
    if not set_limits:
        return None
    what = ("live keys (the oldest values, even a key's only one) disappear" if b.kind == "kv"
            else "the oldest chunks are removed and their objects can no longer be read")
    return Finding.fail(
        ID, st.subject, f"{b.label} has {', '.join(set_limits)} with discard old: when the limit "
        f"is reached {what}", evidence={"account": st.account, "stream": st.name,
                                        "bucket": b.name, "discard": cfg.get("discard"),
                                        **set_limits},
        fix=f"`natsops stream edit {st.name} --discard new` (what `natsops {b.command} add` "
            "sets: a full bucket refuses writes instead of losing data; nothing is removed)")


def _sealed_kv(st: StreamView, b: Bucket) -> Finding | None:
    if b.kind != "kv" or not st.config.get("sealed"):
        return None
    return Finding.warn(ID, st.subject, f"{b.label} is sealed: every put and delete fails",
                        evidence={"account": st.account, "stream": st.name, "bucket": b.name},
                        fix=f"if writes are expected, copy the keys to a new bucket (`natsops kv "
                            f"add {b.name}2`) and point the clients there")


def _summary(st: StreamView, b: Bucket) -> Finding:
    cfg = st.config
    ttl = as_int(cfg.get("max_age")) / 1e9
    ev: dict[str, Any] = {"account": st.account, "stream": st.name, "bucket": b.name,
                          "ttl": format_duration(ttl) if ttl > 0 else "none",
          "bytes": format_bytes(as_int(st.state.get("bytes")))}
    if b.kind == "kv":
        ev["history"] = as_int(cfg.get("max_msgs_per_subject"), 1)
        ev["keys"] = as_int(st.state.get("num_subjects"))
    else:
        ev["sealed"] = bool(cfg.get("sealed"))
    return Finding.ok(ID, st.subject, f"{b.label}: limits fit a bucket", evidence=ev)


@check(ID, title="KV buckets and object stores keep their data", severity=Severity.FAIL,
       suite="jetstream")
def buckets(snap: Snapshot) -> Iterator[Finding]:
    for st in snap.streams:
        b = bucket_of(st)
        if b is None or not st.config:
            continue
        found = [f for f in (_trims_live_data(st, b), _full(st, b), _sealed_kv(st, b)) if f]
        yield from found or [_summary(st, b)]
