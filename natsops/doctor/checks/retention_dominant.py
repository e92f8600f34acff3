"""Streams whose retention limits compete: none dominant.

The guide: "Pick exactly one of max_age, max_bytes, max_msgs as the dominant constraint per
stream; the others should be safety nets". A limit is dominant when, at the stream's observed
rate (messages and bytes over its first..last timestamps), it removes data well before the
others would: when the two earliest limits are within a factor of 2, what is kept depends on
the traffic shape and none is dominant.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

from natsops.doctor.checks._util import as_int, format_bytes, format_duration
from natsops.doctor.checks.buckets import bucket_of
from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import Snapshot


def _ts(text: Any) -> float | None:
    """RFC 3339 with nanoseconds (the server's format) -> epoch seconds."""
    if not isinstance(text, str) or not text or text.startswith("0001-"):
        return None
    head, _, frac = text.rstrip("Z").partition(".")
    try:
        base = datetime.strptime(head[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    digits = "".join(ch for ch in frac if ch.isdigit())
    return base.timestamp() + (int(digits) / 10 ** len(digits) if digits else 0.0)


def times_to_limit(cfg: Mapping[str, Any], state: Mapping[str, Any]) -> dict[str, float]:
    """Seconds until each configured limit starts removing data, at the observed rate."""
    first, last = _ts(state.get("first_ts")), _ts(state.get("last_ts"))
    msgs, nbytes = as_int(state.get("messages")), as_int(state.get("bytes"))
    out: dict[str, float] = {}
    if as_int(cfg.get("max_age")) > 0:
        out["max_age"] = as_int(cfg.get("max_age")) / 1e9
    if first is None or last is None or last - first < 1 or msgs < 2:
        return out  # no rate to project the size limits with
    span = last - first
    if as_int(cfg.get("max_bytes"), -1) > 0 and nbytes > 0:
        out["max_bytes"] = as_int(cfg.get("max_bytes")) / (nbytes / span)
    if as_int(cfg.get("max_msgs"), -1) > 0:
        out["max_msgs"] = as_int(cfg.get("max_msgs")) / (msgs / span)
    return out


@check("retention-dominant", title="One retention limit dominates", severity=Severity.WARN,
       suite="jetstream")
def retention_dominant(snap: Snapshot) -> Iterator[Finding]:
    for st in snap.streams:
        cfg = st.config
        if not cfg or cfg.get("retention", "limits") != "limits" or bucket_of(st) is not None:
            continue  # a bucket's TTL/size are its own rules (the bucket check)
        times = times_to_limit(cfg, st.state)
        if len(times) < 2:
            continue
        (first, t1), (second, t2) = sorted(times.items(), key=lambda kv: kv[1])[:2]
        if t2 >= 2 * t1:
            continue
        human = {k: format_duration(v) for k, v in times.items()}
        yield Finding.warn(
            "retention-dominant", st.subject,
            f"stream {st.subject}: {first} and {second} would both start removing data within "
            f"a factor of 2 ({human[first]} vs {human[second]} at the current rate), so no "
            "limit dominates and what is kept depends on the traffic",
            evidence={"account": st.account, "stream": st.name, "time_to_limit": human,
                      "max_age": as_int(cfg.get("max_age")), "max_bytes": as_int(
                          cfg.get("max_bytes"), -1), "max_msgs": as_int(cfg.get("max_msgs"), -1),
                      "bytes": format_bytes(as_int(st.state.get("bytes")))},
            fix=f"Keep {first} as the dominant limit and raise {second} to a safety net well "
                f"above it, e.g. `natsops stream edit {st.name} --"
                f"{second.replace('_', '-')} <at least 2x>` (guide: Best Practices, Retention)")
