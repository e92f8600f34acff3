"""JetStream store_dir in a temporary location.

``/tmp/nats/jetstream`` is the server's default when store_dir is omitted (a configuration
mistake: WARN); ``/dev/shm`` and ``/run`` are memory-backed (data gone on reboot: WARN); any
other path under a temp directory is INFO (fine for tests, wrong in production).
"""

from __future__ import annotations

from collections.abc import Iterator

from natsops.doctor.checks._util import doc
from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import Snapshot

ID = "store-dir"
DEFAULT = "/tmp/nats/jetstream"
VOLATILE = ("/dev/shm/", "/run/")
TEMP = ("/tmp/", "/var/tmp/")


@check(ID, title="JetStream store_dir on durable storage", severity=Severity.WARN,
       suite="jetstream")
def store_dir(snap: Snapshot) -> Iterator[Finding]:
    for s in snap.servers:
        path = str(doc(doc(s.jsz).get("config")).get("store_dir") or "")
        if not path:
            continue
        p = path.rstrip("/") + "/"
        ev = {"server": s.name, "store_dir": path}
        fix = (f"Give {s.name} a dedicated, durable volume: `jetstream {{ store_dir: "
               f"\"/var/lib/nats/jetstream\" }}` (move the data while the server is stopped).")
        if p.startswith(DEFAULT + "/") or p.startswith(VOLATILE):
            why = "the default used when store_dir is not set" if p.startswith(DEFAULT) \
                else "memory-backed: lost on reboot"
            yield Finding.warn(ID, s.name, f"{s.name} stores JetStream data in {path} ({why})",
                               evidence=ev, fix=fix)
        elif p.startswith(TEMP):
            yield Finding.info(ID, s.name, f"{s.name} stores JetStream data under a temporary "
                               f"directory: {path}", evidence=ev, fix=fix)
