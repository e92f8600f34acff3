"""Version skew: servers more than one minor version apart, or mixed versions lingering."""

from __future__ import annotations

import re
from collections.abc import Iterator

from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import Snapshot

ID = "version-skew"
_VER = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")
FIX = ("Finish the rolling upgrade: one server at a time, lame-duck it, replace the binary, "
       "restart, and wait until `natsops doctor` is healthy before the next one.")


@check(ID, title="Server versions consistent", severity=Severity.FAIL)
def version_skew(snap: Snapshot) -> Iterator[Finding]:
    versions: dict[str, list[str]] = {}
    for s in snap.servers:
        if s.version:
            versions.setdefault(s.version, []).append(s.name)
    if len(versions) < 2:
        return
    parsed = {v: m.groups() for v in versions if (m := _VER.match(v))}
    majors = {int(g[0]) for g in parsed.values()}
    minors = sorted({(int(g[0]), int(g[1])) for g in parsed.values()})
    ev = {"versions": {v: sorted(n) for v, n in sorted(versions.items())}}
    text = ", ".join(f"{v} ({', '.join(sorted(n))})" for v, n in sorted(versions.items()))
    if len(majors) > 1 or (minors and minors[-1][1] - minors[0][1] > 1):
        yield Finding.fail(ID, "deployment", f"servers run versions more than one minor apart: "
                           f"{text}", evidence=ev, fix=FIX)
    elif len(minors) > 1:
        yield Finding.warn(ID, "deployment", f"two minor versions in one deployment (an upgrade "
                           f"in progress?): {text}", evidence=ev, fix=FIX)
    else:
        yield Finding.info(ID, "deployment", f"mixed patch versions: {text}", evidence=ev,
                           fix=FIX)
