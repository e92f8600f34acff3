"""Network partitions: a server cut off from the majority of its cluster, and which side holds
the quorum.

A server's ``/healthz`` does not say it is cut off: measured in a natsops lab (3 nodes, route
pings every 1 s, ``ping_max`` 3), a meta leader whose routes were cut kept ``/healthz`` ok and
kept calling itself meta leader, with every peer "current" in its own view, for 12 s, while the
other two had elected a new leader after 4 s. With the default route pings (2 min) the routes
even stay listed for minutes. What does tell is each server's ``/routez``: the peers it has a
route to (``remote_name``). A server whose routes reach fewer than a quorum of the cluster
(itself included) is cut off; a server that reaches a quorum is on the side that holds it.
Two servers that both answer yet have no route to each other have a cut between them.

Several clusters (a super-cluster, leaf sites): each cluster is judged on its own routes (a cut
between clusters is a gateway matter: ``gateway-mesh``). The JetStream meta group then spans
the clusters, so the side holding a cluster's majority is not said to hold the meta quorum or
to have elected the meta leader: the finding names the meta leader that side sees.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from natsops.doctor.checks._util import as_int, doc
from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.jetstream.inspect import parse_time
from natsops.monitoring.snapshot import ServerView, Snapshot

ID = "partition"
WARMUP = 3.0  # seconds after a server started during which its routes may still be forming
FIX = ("Restore the network between {server} and {missing}: their cluster (route) ports must "
       "be reachable both ways (firewalls, security groups, the addresses in `cluster.routes` "
       "and `cluster.advertise`). While cut off, {server} serves no JetStream writes and its "
       "clients should reconnect to the other side. In a natsops lab: `natsops lab heal`.")
FIX_PAIR = ("Restore the network between {a} and {b} (their route ports, both ways): both run "
            "but cannot talk, so they relay through the others or not at all. In a natsops "
            "lab: `natsops lab heal`.")


def _young(s: ServerView) -> bool:
    """Started less than WARMUP seconds before it answered (its own clock: varz start, now)."""
    v = doc(s.varz)
    start, now = (parse_time(x) if isinstance(x, str) else None for x in (v.get("start"),
                                                                           v.get("now")))
    return start is not None and now is not None and now - start < WARMUP


def _peers(s: ServerView) -> set[str] | None:
    """The servers ``s`` has a route to (None when its routez is unknown)."""
    if s.routez is None:
        return None
    return {str(doc(r).get("remote_name")) for r in doc(s.routez).get("routes") or ()
            if doc(r).get("remote_name")} - {s.name}


def _alone(snap: Snapshot) -> bool:
    """Every server that answered is in one cluster, without gateways: the inventory and the
    meta group then name that cluster's servers (in a super-cluster or with leaf sites in
    their own domains they name others too)."""
    return len({s.cluster for s in snap.servers}) == 1 and not any(
        doc(doc(s.varz).get("gateway")).get("name") for s in snap.servers)


@check(ID, title="No server cut off from its cluster", severity=Severity.FAIL)
def partition(snap: Snapshot) -> Iterator[Finding]:
    clusters: dict[str, dict[str, set[str]]] = {}
    for s in snap.servers:
        peers = _peers(s)
        if s.cluster and peers is not None:  # a standalone server has no routes to lose
            clusters.setdefault(s.cluster, {})[s.name] = peers
    alone = _alone(snap)
    for routed in clusters.values():
        members = set(routed).union(*routed.values())
        size = len(members)
        if alone:
            members |= set(snap.expected) | set(snap.meta_peers)
            size = max(len(members), as_int(snap.meta_view.get("cluster_size")))
        if size >= 2:
            yield from _cluster(snap, routed, members, size, alone)


def _cluster(snap: Snapshot, routed: Mapping[str, set[str]], members: set[str],
             size: int, alone: bool) -> Iterator[Finding]:
    quorum = size // 2 + 1
    sides = {name: {name} | peers for name, peers in routed.items()}
    holding = max((side for side in sides.values() if len(side) >= quorum), key=len,
                  default=None)
    for s in snap.servers:
        if s.name not in sides or _young(s):
            continue
        side = sides[s.name]
        if len(side) >= quorum:
            continue
        # a peer may still list a route to s that s already dropped (its pings have not
        # timed out yet): s is not on the side that holds the quorum
        others = holding - {s.name} if holding else None
        yield _cut_off(snap, s, side, members, size, quorum,
                       others if others and len(others) >= quorum else None, routed, alone)
    yield from _pairs(snap, routed, sides, quorum)


def _pairs(snap: Snapshot, routed: Mapping[str, set[str]], sides: Mapping[str, set[str]],
           quorum: int) -> Iterator[Finding]:
    """Two servers that both run (they answered, or another server has a route to them) and
    are not cut off from the majority, with no route between them."""
    alive = set(routed).union(*routed.values())
    pairs: set[tuple[str, str]] = set()
    for a, peers in routed.items():
        for b in alive - {a} - peers:
            if b not in routed or a not in routed[b]:
                pairs.add((min(a, b), max(a, b)))
    for a, b in sorted(pairs):
        views = [v for n in (a, b) if (v := snap.server(n)) is not None]
        if any(_young(v) for v in views) or any(len(sides.get(n, alive)) < quorum
                                                for n in (a, b)):
            continue  # routes still forming, or reported above as cut off
        unseen = [n for n in (a, b) if n not in routed]
        via = sorted(n for n, peers in routed.items() if set(unseen) <= peers and n not in
                     (a, b)) if unseen else []
        yield Finding.warn(
            ID, f"{a}-{b}", f"no route between {a} and {b}, although both run"
            + (f" ({unseen[0]} did not answer this gathering; {', '.join(via)} "
               f"{'has' if len(via) == 1 else 'have'} a route to it)" if unseen else ""),
            evidence={"servers": [a, b],
                      "routes_of": {n: sorted(routed[n]) for n in (a, b) if n in routed}},
            fix=FIX_PAIR.format(a=a, b=b))


def _leader_of(snap: Snapshot, side: set[str]) -> str | None:
    seen = {doc(s.meta).get("leader") for s in snap.servers if s.name in side}
    seen.discard(None)
    seen.discard("")
    return str(next(iter(seen))) if len(seen) == 1 else None


def _cut_off(snap: Snapshot, s: ServerView, side: set[str], members: set[str], size: int,
             quorum: int, holding: set[str] | None, answered: Iterable[str],
             alone: bool) -> Finding:
    others = sorted(members - {s.name})
    reach = sorted(side - {s.name})
    missing = sorted(members - side)
    health = doc(s.healthz)
    healthy = health.get("status") == "ok" or health.get("status_code") == 200
    claims = doc(s.meta).get("leader") == s.name
    msg = (f"{s.name} is cut off from the majority of cluster {s.cluster or '?'}: routes to "
           f"{len(reach)} of {len(others)} other servers"
           + (f" ({', '.join(reach)})" if reach else ""))
    if healthy:
        msg += ", yet its /healthz says ok"
    if claims:
        msg += "; it still calls itself JetStream meta leader"
    leader = _leader_of(snap, holding) if holding else None
    if holding and not alone:  # the meta group spans the clusters: only this one's majority
        msg += (f"; {', '.join(sorted(holding))} hold the majority of cluster "
                f"{s.cluster or '?'} ({len(holding)} of {size}, {quorum} needed)")
        msg += (f" and see {leader} as JetStream meta leader" if leader and leader != s.name
                else " (they see no other meta leader yet)")
    elif holding:
        msg += (f"; {', '.join(sorted(holding))} hold the quorum ({len(holding)} of {size}, "
                f"{quorum} needed)")
        msg += (f" and elected {leader} meta leader" if leader and leader != s.name
                else " (no meta leader elected there yet)")
    elif members - set(answered):
        unseen = sorted(members - set(answered))
        msg += (f"; {', '.join(unseen)} did not answer this gathering: if they reach each "
                f"other they hold the quorum ({quorum} of {size}); `natsops doctor --transport "
                "http` reads every server's monitor and sees both sides")
    elif not alone:
        msg += (f"; no side reaches a majority of cluster {s.cluster or '?'} ({quorum} of "
                f"{size}): streams replicated in it have no quorum")
    else:
        msg += f"; no side reaches a quorum ({quorum} of {size}): JetStream is unavailable"
    return Finding.fail(
        ID, s.name, msg,
        evidence={"server": s.name, "routes_to": reach, "unreachable": missing,
                  "cluster_size": size, "quorum_needed": quorum, "healthz": dict(health),
                  "claims_meta_leader": claims,
                  "quorum_side": sorted(holding) if holding else None,
                  "quorum_side_leader": leader},
        fix=FIX.format(server=s.name, missing=", ".join(missing) or "the others"))
