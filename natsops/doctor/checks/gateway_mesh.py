"""Every cluster connected to every other one by gateways (a full mesh), both ways.

Each server with a gateway must hold an outbound gateway connection to every other cluster
(FAIL), and each cluster must receive an inbound one from every other cluster on some server
(WARN: a remote server dials one server of the cluster, not each). The clusters that should
exist come from every answering server: its own gateway name, the remotes configured in varz
``gateway.gateways`` and the names in gatewayz. gatewayz lists only *connected* gateways (a
configured remote that is down is simply absent), so the configured list is what reveals it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from natsops.doctor.checks._util import doc
from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import ServerView, Snapshot

ID = "gateway-mesh"


def _names(s: ServerView) -> set[str]:
    gw = doc(doc(s.varz).get("gateway"))
    names = {str(gw["name"])} if gw.get("name") else set()
    names |= {str(g["name"]) for g in gw.get("gateways") or ()
              if isinstance(g, Mapping) and g.get("name")}
    gz = doc(s.gatewayz)
    names |= {str(k) for k in doc(gz.get("outbound_gateways"))}
    names |= {str(k) for k in doc(gz.get("inbound_gateways"))}
    return names


def _fix(servers: str, targets: list[str]) -> str:
    return (f"Check that {', '.join(targets)} run (`natsops server ls`), that their gateway "
            f"listeners are reachable from {servers} (the URLs in the gateway config, "
            "firewalls, advertise addresses) and that gateway names, auth and TLS agree; the "
            "servers' logs name the failing gateway. `natsops server report gateways` shows "
            "every connection.")


@check(ID, title="Gateways fully meshed", severity=Severity.FAIL, suite="server")
def gateway_mesh(snap: Snapshot) -> Iterator[Finding]:
    clusters: set[str] = set()
    for s in snap.servers:
        clusters |= _names(s)
    # each server dials one outbound gateway to every other cluster; inbound ones land on
    # whichever server the remote picked, so inbound is judged per cluster
    inbound: dict[str, set[str]] = {}
    no_outbound: dict[str, tuple[str, list[str]]] = {}
    for s in snap.servers:
        own = doc(doc(s.varz).get("gateway")).get("name")
        if not own or s.gatewayz is None:
            continue
        gz = doc(s.gatewayz)
        out = doc(gz.get("outbound_gateways"))
        inbound.setdefault(own, set()).update(
            str(c) for c, conns in doc(gz.get("inbound_gateways")).items() if conns)
        missing = sorted(c for c in clusters - {own}
                         if not doc(doc(out.get(c)).get("connection")))
        if missing:
            no_outbound[s.name] = (own, missing)
    no_inbound = {own: sorted(clusters - {own} - got) for own, got in inbound.items()}
    for name, (own, missing) in sorted(no_outbound.items()):
        yield Finding.fail(
            ID, name, f"{name} (cluster {own}) has no outbound gateway to {', '.join(missing)}: "
            "its messages and interest do not reach " + ("that cluster" if len(missing) == 1
                                                         else "those clusters"),
            evidence={"server": name, "cluster": own, "clusters": sorted(clusters),
                      "no_outbound": missing, "no_inbound": no_inbound.get(own, [])},
            fix=_fix(name, missing))
    reported = {own for own, _ in no_outbound.values()}
    for own, missing in sorted(no_inbound.items()):
        if missing and own not in reported:
            yield Finding.warn(
                ID, f"cluster {own}", f"no server of cluster {own} receives an inbound "
                f"gateway from {', '.join(missing)}",
                evidence={"cluster": own, "clusters": sorted(clusters), "no_inbound": missing},
                fix=_fix(f"cluster {own}", missing))
