"""Streams that keep data forever (no limit at all), and discard-new streams about to refuse.

KV buckets and object stores are not judged here: a bucket keeps its data by design, and a
limit that trims it loses live keys or object chunks (see the ``bucket`` check).
"""

from __future__ import annotations

from collections.abc import Iterator

from natsops.doctor.checks._util import as_int
from natsops.doctor.checks.buckets import bucket_of
from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import Snapshot

ID = "retention"


@check(ID, title="Streams have retention limits", severity=Severity.FAIL, suite="jetstream")
def retention(snap: Snapshot) -> Iterator[Finding]:
    for st in snap.streams:
        cfg = st.config
        if not cfg or bucket_of(st) is not None:
            continue  # gathered without config; buckets: see the bucket check
        max_bytes = as_int(cfg.get("max_bytes"), -1)
        limits = {"max_msgs": as_int(cfg.get("max_msgs"), -1), "max_bytes": max_bytes,
                  "max_age": as_int(cfg.get("max_age")),
                  "max_msgs_per_subject": as_int(cfg.get("max_msgs_per_subject"), -1)}
        ev = {"account": st.account, "stream": st.name, "retention": cfg.get("retention"),
              **limits, "bytes": as_int(st.state.get("bytes"))}
        if cfg.get("retention", "limits") == "limits" and limits["max_age"] <= 0 and all(
                limits[k] <= 0 for k in ("max_msgs", "max_bytes", "max_msgs_per_subject")):
            yield Finding.warn(ID, st.subject, f"stream {st.subject} has no retention limit: it "
                               "keeps every message forever", evidence=ev,
                               fix=f"`natsops stream edit {st.name} --max-age 30d --max-bytes 10GB`"
                               " (values that match the retention you need)")
        if cfg.get("discard") == "new" and max_bytes > 0:
            pct = 100.0 * as_int(st.state.get("bytes")) / max_bytes
            if pct >= 95:
                yield Finding.fail(ID, st.subject, f"stream {st.subject} (discard new) is at "
                                   f"{pct:.0f}% of max_bytes: new messages are about to be "
                                   "refused", evidence={**ev, "pct": round(pct, 1)},
                                   fix=f"Purge or raise the limit: `natsops stream edit {st.name} "
                                   f"--max-bytes {max_bytes * 2}`")

