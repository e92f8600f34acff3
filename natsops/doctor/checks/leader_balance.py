"""One server leading far more than its share of replicated streams or consumers.

After rolling restarts leaders pile onto the servers that stayed up, and one server then does
most of the writing and acknowledging. The share is the one ``natsops stream cluster
balance`` plans with: ceil(R>1 groups / servers that host them). A server leading more than
twice its share, and at least two more than it, is a WARN (small counts are never "far").
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.jetstream.balance import Group, plan_moves
from natsops.monitoring.snapshot import Snapshot

ID = "leader-balance"
FACTOR, MARGIN = 2.0, 2  # "far more": above FACTOR x share and above share + MARGIN


def _group(name: str, leader: str | None, host: str, peers: Iterable[Mapping[str, object]]
           ) -> Group:
    others = [p for p in peers if p.get("name")]
    members = {str(p["name"]) for p in others} | {host} | ({leader} if leader else set())
    current = {str(p["name"]) for p in others if p.get("current") and not p.get("offline")}
    return Group(stream=name, consumer=None, leader=leader or "",
                 peers=tuple(sorted(members)), current=tuple(sorted(current - {leader or ""})))


def _groups(snap: Snapshot, kind: str) -> dict[str, list[Group]]:
    """Replicated groups per cluster (a supercluster's clusters are balanced each on its own)."""
    out: dict[str, list[Group]] = {}
    if kind == "stream":
        for st in snap.streams:
            if st.replicas > 1:
                out.setdefault(str(st.cluster.get("name") or ""), []).append(
                    _group(st.subject, st.leader, st.server, st.peers))
        return out
    for c in snap.consumers:
        peers = [p for p in c.cluster.get("replicas") or () if isinstance(p, Mapping)]
        if peers:
            out.setdefault(str(c.cluster.get("name") or ""), []).append(
                _group(f"{c.account} > {c.stream} > {c.name}", c.leader, c.server, peers))
    return out


@check(ID, title="Leaders spread over the servers", severity=Severity.WARN, suite="jetstream")
def leader_balance(snap: Snapshot) -> Iterator[Finding]:
    for kind in ("stream", "consumer"):
        for _, groups in sorted(_groups(snap, kind).items()):
            yield from _far(kind, groups)


def _far(kind: str, groups: list[Group]) -> Iterator[Finding]:
    plan = plan_moves("stream", groups)
    far = max(FACTOR * plan.share, plan.share + MARGIN)
    for server, led in sorted(plan.before.items()):
        if led > far:
            yield Finding.warn(
                ID, server, f"{server} leads {led} of {plan.groups} replicated {kind}s (its "
                f"share is {plan.share}): it does most of the {kind} work",
                evidence={"server": server, "kind": kind, "leads": led, "groups": plan.groups,
                          "share": plan.share, "leaders": dict(sorted(plan.before.items())),
                          "moves_planned": len(plan.moves)},
                fix=f"Spread the leaders: `natsops {kind} cluster balance --dry-run` shows the "
                    f"step-downs, then `natsops {kind} cluster balance` (per account: use "
                    "that account's context).")
