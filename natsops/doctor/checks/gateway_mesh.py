"""Every cluster connected to every other one by gateways (a full mesh), both ways.

Each server with a gateway must hold an outbound gateway connection to every other cluster
and receive an inbound one from it. The clusters that should exist come from every answering
server: its own gateway name, the remotes configured in varz ``gateway.gateways`` and the
names in gatewayz. gatewayz lists only *connected* gateways (a configured remote that is down
is simply absent), so the configured list is what reveals it.
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


@check(ID, title="Gateways fully meshed", severity=Severity.FAIL, suite="server")
def gateway_mesh(snap: Snapshot) -> Iterator[Finding]:
    clusters: set[str] = set()
    for s in snap.servers:
        clusters |= _names(s)
    for s in snap.servers:
        own = doc(doc(s.varz).get("gateway")).get("name")
        if not own or s.gatewayz is None:
            continue
        gz = doc(s.gatewayz)
        out, inb = doc(gz.get("outbound_gateways")), doc(gz.get("inbound_gateways"))
        no_out = sorted(c for c in clusters - {own}
                        if not doc(doc(out.get(c)).get("connection")))
        no_in = sorted(c for c in clusters - {own} if not inb.get(c))
        if not no_out and not no_in:
            continue
        ev = {"server": s.name, "cluster": own, "clusters": sorted(clusters),
              "no_outbound": no_out, "no_inbound": no_in}
        fix = (f"Check that {', '.join(no_out or no_in)} run (`natsops server ls`), that their "
               f"gateway listeners are reachable from {s.name} (the URLs in its gateway "
               "config, firewalls, advertise addresses) and that gateway names, auth and TLS "
               f"agree; {s.name}'s log names the failing gateway. "
               "`natsops server report gateways` shows every connection.")
        if no_out:
            yield Finding.fail(ID, s.name, f"{s.name} (cluster {own}) has no outbound gateway "
                               f"to {', '.join(no_out)}: its messages and interest do not "
                               "reach " + ("that cluster" if len(no_out) == 1 else
                                           "those clusters"), evidence=ev, fix=fix)
        else:
            yield Finding.warn(ID, s.name, f"{s.name} (cluster {own}) receives no inbound "
                               f"gateway from {', '.join(no_in)}", evidence=ev, fix=fix)
