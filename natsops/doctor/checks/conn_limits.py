"""Connections near their limit: per server (varz ``max_connections``) and per account.

Past ``max_connections`` a server refuses new clients ("maximum connections exceeded").
Per-account limits are visible only in operator mode (the account JWT's ``limits.conn``,
enforced over the whole deployment, so the servers' ``client_connections`` are summed);
config-file accounts' ``limits { max_connections }`` appear in no monitoring endpoint.
"""

from __future__ import annotations

from collections.abc import Iterator

from natsops.doctor.checks._util import account_usage, as_int, doc, near_limit
from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import Snapshot

ID = "conn-limits"
WARN_PCT, FAIL_PCT = 80.0, 95.0


@check(ID, title="Connections below their limits", severity=Severity.FAIL, suite="server")
def conn_limits(snap: Snapshot) -> Iterator[Finding]:
    for s in snap.servers:
        varz = doc(s.varz)
        f = near_limit(
            ID, s.name, as_int(varz.get("connections")), as_int(varz.get("max_connections")),
            f"{s.name}: client connections", warn_pct=WARN_PCT, fail_pct=FAIL_PCT,
            evidence={"server": s.name},
            fix=f"Raise `max_connections` in the config of {s.name} and reload it, or spread "
                "clients over more servers; find who holds the connections: `natsops server "
                f"report connections` (a leak shows as many idle connections of one name).")
        if f is not None:
            yield f
    for key, name, used, limit, use in account_usage(snap, "client_connections", "conn"):
        f = near_limit(
            ID, name, used, limit, f"account {name}: client connections", warn_pct=WARN_PCT,
            fail_pct=FAIL_PCT, evidence={"account": key, "name": name, "servers": use},
            fix=f"Raise the account's connection limit (`nsc edit account {name} --conns N` "
                f"then push it) or close idle clients: `natsops server report connections "
                f"--account {name}`.")
        if f is not None:
            yield f
