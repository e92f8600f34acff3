"""JetStream usage per server: near max_memory/max_storage, reservations above the limits."""

from __future__ import annotations

from collections.abc import Iterator

from natsops.doctor.checks._util import as_int, doc, format_bytes
from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import UNLIMITED, Snapshot

ID = "js-usage"
WARN_PCT, FAIL_PCT = 80.0, 90.0
FIX = ("Add limits to unbounded streams (max_bytes/max_age), purge or move streams, or raise "
       "`jetstream {{ max_{kind}_store }}` in the config of {server} (raising reloads live, "
       "lowering is refused by a reload).")


@check(ID, title="JetStream storage and memory headroom", severity=Severity.FAIL,
       suite="jetstream")
def js_usage(snap: Snapshot) -> Iterator[Finding]:
    for s in snap.servers:
        jsz = doc(s.jsz)
        if not jsz:
            continue
        # a server never configured for JetStream reports it disabled with zero limits
        if jsz.get("disabled") and any(doc(jsz.get("config")).get(k) for k in
                                       ("max_memory", "max_storage", "store_dir")):
            yield Finding.fail(ID, s.name, f"JetStream is disabled on {s.name} (it shuts "
                               "JetStream down after running out of disk or memory)",
                               evidence={"server": s.name, "disabled": True},
                               fix=f"Free disk space under store_dir of {s.name}, then restart "
                               "it; see its log for 'JetStream out of'.")
            continue
        cfg = doc(jsz.get("config"))
        for kind, used_k, max_k, res_k in (("file", "storage", "max_storage", "reserved_storage"),
                                           ("memory", "memory", "max_memory", "reserved_memory")):
            limit = as_int(cfg.get(max_k))
            if limit <= 0:
                continue
            used = as_int(jsz.get(used_k))
            pct = 100.0 * used / limit
            ev = {"server": s.name, "store": kind, "used": used, "max": limit,
                  "pct": round(pct, 1), "reserved": as_int(jsz.get(res_k))}
            fix = FIX.format(kind=kind, server=s.name)
            if pct >= WARN_PCT:
                yield (Finding.fail if pct >= FAIL_PCT else Finding.warn)(
                    ID, s.name, f"{s.name}: JetStream {kind} store at {pct:.0f}% "
                    f"({format_bytes(used)} of {format_bytes(limit)})", evidence=ev, fix=fix)
            reserved = as_int(jsz.get(res_k))
            if limit < reserved < UNLIMITED:
                yield Finding.warn(
                    ID, s.name, f"{s.name}: streams reserve {format_bytes(reserved)} of "
                    f"{kind} store but the limit is {format_bytes(limit)} (overcommitted)",
                    evidence=ev, fix=fix)
