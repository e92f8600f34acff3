"""Highly available (R>1) streams and consumers per server, against a limit.

Each HA asset is a Raft group the server runs (elections, heartbeats, a WAL). jsz
``ha_assets`` counts the server's Raft nodes, the meta group's included: the streams and
consumers are one fewer on a clustered server. With ``jetstream { limits { max_ha_assets: N
} }`` the server refuses new R>1 assets past N: near it is a WARN, at 95% a FAIL. Without it, the
advice is ``nats audit``'s CLUSTER_003 default of 1000 per server (the operations guide
gives no number): above it is a WARN. nats-server 2.10 does not report ``max_ha_assets``:
the limit is then read from the server's config file when doctor has it (``--dir``,
``--config-dir``).
"""

from __future__ import annotations

from collections.abc import Iterator

from natsops.doctor.checks._util import as_int, doc, near_limit
from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import Snapshot

ID = "ha-assets"
ADVISED_MAX = 1000  # per server, when the server sets no max_ha_assets
WARN_PCT, FAIL_PCT = 80.0, 95.0
FIX = ("Fewer Raft groups per server: use R1 for consumers that can be recreated, "
       "remove unused streams and consumers (`natsops stream find --empty`, `natsops consumer "
       "find --idle 24h`), or add servers so the groups spread out.")


@check(ID, title="HA assets per server within limits", severity=Severity.FAIL,
       suite="jetstream")
def ha_assets(snap: Snapshot) -> Iterator[Finding]:
    for s in snap.servers:
        jsz = doc(s.jsz)
        js = doc(doc(s.varz).get("jetstream"))
        if not s.jetstream:
            continue
        raft = as_int(jsz.get("ha_assets", doc(js.get("stats")).get("ha_assets")))
        count = max(raft - 1, 0) if s.meta else raft  # without the meta group
        limit = as_int(doc(jsz.get("limits")).get("max_ha_assets")) or as_int(
            doc(js.get("limits")).get("max_ha_assets"))
        ev: dict[str, object] = {"server": s.name, "ha_assets": count}
        if limit <= 0:  # 2.10 does not report its limit: the config file says it (--dir)
            limit = as_int(doc(snap.config_files.get(s.name)).get("max_ha_assets"))
            if limit > 0:
                ev["limit_from"] = doc(snap.config_files.get(s.name)).get("path")
        if limit > 0:
            f = near_limit(ID, s.name, count, limit, f"{s.name}: HA assets (max_ha_assets)",
                           warn_pct=WARN_PCT, fail_pct=FAIL_PCT, evidence=ev,
                           fix="New R>1 streams and consumers are refused at the limit. "
                               + FIX + f" Or raise `jetstream {{ limits {{ max_ha_assets }} }}`"
                               f" on {s.name}.")
            if f is not None:
                yield f
        elif count > ADVISED_MAX:
            yield Finding.warn(ID, s.name, f"{s.name} runs {count} HA assets (R>1 streams and "
                               f"consumers), above the advised {ADVISED_MAX} per server",
                               evidence={**ev, "advised_max": ADVISED_MAX}, fix=FIX)
