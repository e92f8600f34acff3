"""A running server whose config differs from its file on disk (edited, not reloaded).

``varz.config_digest`` is the digest of the config the server runs; ``nats-server -t -c FILE``
prints the digest of the file now. Different: the edit was never reloaded, or the reload
failed (a failed reload leaves the old digest and logs ``Failed to reload server
configuration``). Comment-only edits do not change the digest. Needs the config files: the
local cluster's (``--dir``). nats-server 2.10 has no config digest: only a file that fails
``-t`` is reported there.
"""

from __future__ import annotations

from collections.abc import Iterator

from natsops.doctor.checks._util import doc
from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import Snapshot

ID = "config-reload"


@check(ID, title="Running config matches the file on disk", severity=Severity.WARN)
def config_reload(snap: Snapshot) -> Iterator[Finding]:
    for s in snap.servers:
        f = doc(snap.config_files.get(s.name))
        if not f:
            continue
        running = doc(s.varz).get("config_digest")
        ev = {"server": s.name, "file": f.get("path"), "file_digest": f.get("digest"),
              "running_digest": running, "config_load_time": doc(s.varz).get("config_load_time")}
        if f.get("error"):
            yield Finding.warn(ID, s.name, f"the config file of {s.name} does not pass "
                               f"`nats-server -t`: {f['error']}", evidence={**ev,
                                                                            "error": f["error"]},
                               fix=f"Fix {f.get('path')} (`nats-server -t -c {f.get('path')}`) "
                                   "before the next reload or restart: the server would refuse "
                                   "it.")
        elif running and f.get("digest") and running != f.get("digest"):
            yield Finding.warn(ID, s.name, f"{s.name} runs a config that differs from "
                               f"{f.get('path')}: edited but not reloaded, or the reload failed",
                               evidence=ev,
                               fix=f"Reload it: `nats-server --signal reload=<pid of {s.name}>` "
                                   "(or SIGHUP), then check its log for 'Failed to reload'; "
                                   "settings a reload cannot change need `natsops cluster "
                                   f"restart {s.name}`.")
