"""Servers running JetStream with no max_memory_store / max_file_store in their config file.

Unset, the server takes 75% of RAM and 75% of the free disk *at start-up* as its limits: one
runaway stream can fill the disk the OS needs, and lowering the limit later needs a restart
(the guide: "jetstream.max_memory / jetstream.max_file — per-server JetStream limits, prevent
runaway streams"). varz cannot tell a configured limit from the computed default, so this needs
the config files (a local cluster's, or ``--config-dir``).
"""

from __future__ import annotations

from collections.abc import Iterator

from natsops.doctor.checks._util import doc, format_bytes
from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import Snapshot

ID = "js-limits"


@check(ID, title="JetStream limits set in the config", severity=Severity.WARN, suite="jetstream")
def js_limits(snap: Snapshot) -> Iterator[Finding]:
    for s in snap.servers:
        f = doc(snap.config_files.get(s.name))
        unset = f.get("js_limits_unset") or ()
        if not unset or not s.jetstream:
            continue
        js_cfg = doc(doc(doc(s.varz).get("jetstream")).get("config"))
        effective = {"memory": js_cfg.get("max_memory"), "file": js_cfg.get("max_storage")}
        keys = [u["key"] for u in unset]
        now = ", ".join(f"{u['key']} is {format_bytes(v)} ({u['default']})" for u in unset
                        if isinstance(v := effective.get(u["kind"]), int))
        yield Finding.warn(
            ID, s.name, f"{s.name} runs JetStream without {' and '.join(keys)} in "
            f"{f.get('path')}: the server computed its own limit" + (f" ({now})" if now else ""),
            evidence={"server": s.name, "file": f.get("path"), "unset": keys,
                      "effective": effective},
            fix="Set them from your sizing (`natsops sizing ...`), then restart the server: "
                "jetstream { " + ", ".join(f"{k}: <size>" for k in keys) + " }")
