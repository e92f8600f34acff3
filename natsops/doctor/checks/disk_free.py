"""Free space on the filesystem of each server's JetStream store_dir.

No monitoring endpoint reports free disk space (jsz gives only JetStream's own use and limit,
and ``disabled`` once the disk filled up: the ``js-usage`` check). So this is measured with
statvfs, for a local cluster only (``--dir``, or the cluster of the context in use), where
the store_dir paths the servers report are on this host. For remote servers it says nothing.

Thresholds: filesystem use above 80% is a WARN and above 95% a FAIL. JetStream's remaining
allowance (``max_storage - storage``) larger than the free space is reported as INFO: the
server will try to write more than the disk holds (unset ``max_file_store`` is 75% of the
free space at start-up, and servers sharing a disk each count the same free space).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from natsops.doctor.checks._util import as_int, doc, format_bytes
from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import Snapshot

ID = "disk-free"
WARN_PCT, FAIL_PCT = 80.0, 95.0
FIX = ("store_dir {path} has {avail} free. Free space or grow the volume; give JetStream a "
       "dedicated volume and an explicit `max_file_store` below its real capacity (leave room "
       "for compaction and snapshots); grow the disk before raising the limit.")


def _headroom(snap: Snapshot, name: str) -> int:
    s = snap.server(name)
    jsz = doc(s.jsz if s is not None else None)
    limit = as_int(doc(jsz.get("config")).get("max_storage"))
    return max(limit - as_int(jsz.get("storage")), 0) if limit > 0 else 0


@check(ID, title="Free disk space for JetStream", severity=Severity.FAIL, suite="jetstream")
def disk_free(snap: Snapshot) -> Iterator[Finding]:
    shared: dict[tuple[int, ...], list[tuple[str, Mapping[str, Any]]]] = {}
    for name, d in sorted(snap.disk.items()):
        d = doc(d)
        total, avail, free = as_int(d.get("total")), as_int(d.get("avail")), as_int(d.get("free"))
        if d.get("error") or total <= 0:
            continue
        used = total - free
        pct = 100.0 * used / max(used + avail, 1)
        ev = {"server": name, "store_dir": d.get("path"), "total": total, "avail": avail,
              "used_pct": round(pct, 1), "js_headroom": _headroom(snap, name)}
        fix = FIX.format(path=d.get("path"), avail=format_bytes(avail))
        if pct >= WARN_PCT:
            yield (Finding.fail if pct >= FAIL_PCT else Finding.warn)(
                ID, name, f"{name}: the store_dir filesystem is {pct:.0f}% full "
                f"({format_bytes(avail)} free of {format_bytes(total)}): JetStream shuts down "
                "on this server when it runs out", evidence=ev, fix=fix)
        fs = (as_int(d.get("fsid")),) if d.get("fsid") else (total, free)
        shared.setdefault(fs, []).append((name, ev))
    for group in shared.values():  # servers whose store_dirs share one filesystem
        names = [n for n, _ in group]
        avail = as_int(group[0][1]["avail"])
        headroom = sum(as_int(ev["js_headroom"]) for _, ev in group)
        if headroom <= avail:
            continue
        first = group[0][1]
        yield Finding.info(
            ID, names[0], f"JetStream on {', '.join(names)} may still write "
            f"{format_bytes(headroom)} but {first['store_dir']}'s filesystem has "
            f"{format_bytes(avail)} free", evidence={"servers": names, "js_headroom": headroom,
                                                     "avail": avail},
            fix=FIX.format(path=first["store_dir"], avail=format_bytes(avail)))
