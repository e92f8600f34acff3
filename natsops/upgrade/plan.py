"""The plan of a rolling upgrade: the order, and per server what it leads and hosts, the
step-downs it needs, the gates it waits for and the unavailability to expect.

Followers go first, the meta leader last (it is stepped down first when its turn comes, so the
meta group changes leader once, not once per restart).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from natsops.monitoring.snapshot import Snapshot
from natsops.upgrade.state import Group, groups, meta_leader_of, meta_leaders, server_version

__all__ = ["GATES", "ServerStep", "UpgradePlan", "build_plan"]

GATES = (
    "full /healthz ok on 3 polls in a row spread over at least 2 s",
    "current with the JetStream meta leader (the meta leader's view)",
    "every stream and consumer with a replica on it current again (each group leader's view)",
    "a local topology: every gateway and leafnode connected again",
)


@dataclass(frozen=True)
class ServerStep:
    """What happens to one server."""

    name: str
    version: str  # running now
    meta_leader: bool
    leads: tuple[str, ...]  # R>1 groups it leads: stepped down before the restart
    hosts: tuple[str, ...]  # every group with a replica on it (gated after the restart)
    r1: tuple[str, ...]  # single-replica groups on it: unavailable while it restarts
    skip: str | None = None  # why it is not restarted (already at the target)

    @property
    def step_downs(self) -> tuple[str, ...]:
        meta = ("JetStream meta leader",) if self.meta_leader else ()
        return meta + self.leads

    @property
    def unavailable(self) -> str:
        if self.skip:
            return "none (not restarted)"
        parts = []
        if self.r1:
            parts.append(f"{len(self.r1)} R1 group(s) down for the whole restart "
                         f"({', '.join(self.r1[:5])}{' ...' if len(self.r1) > 5 else ''})")
        if self.step_downs:
            parts.append(f"{len(self.step_downs)} leader change(s): each group elects in "
                         "~25 ms, publishers see at most one request timeout")
        parts.append("clients connected to it reconnect to another server (lame duck)")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "meta_leader": self.meta_leader,
                "leads": list(self.leads), "hosts": list(self.hosts), "r1": list(self.r1),
                "step_downs": list(self.step_downs), "gates": list(GATES) if not self.skip
                else [], "unavailable": self.unavailable, "skip": self.skip}


@dataclass(frozen=True)
class UpgradePlan:
    steps: tuple[ServerStep, ...]
    target_version: str | None  # None: --restart-only
    target_binary: str | None
    strategy: str
    meta_leader: str | None
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def order(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.steps)

    @property
    def to_restart(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.steps if not s.skip)

    def step(self, name: str) -> ServerStep:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {"order": list(self.order), "target_version": self.target_version,
                "target_binary": self.target_binary, "strategy": self.strategy,
                "meta_leader": self.meta_leader, "versions_before": dict(self.versions),
                "servers": [s.to_dict() for s in self.steps], "gates": list(GATES)}


def _on(gs: Sequence[Group], name: str) -> list[Group]:
    return [g for g in gs if name in g.members]


def build_plan(snap: Snapshot, servers: Sequence[str], *, target_version: str | None,
               target_binary: str | None, strategy: str,
               already_done: Sequence[str] = ()) -> UpgradePlan:
    """Order ``servers`` (followers by name, the meta leader last) and describe each step.

    A server already running ``target_version`` (or listed in ``already_done``, from the
    journal) is kept in the order but skipped.
    """
    gs = groups(snap)
    leader = meta_leader_of(snap)
    leaders = {v for v in meta_leaders(snap).values() if v}  # a topology: one per domain
    order = sorted(servers, key=lambda n: (n in leaders, n))
    steps = []
    versions = {n: server_version(snap, n) or "" for n in servers}
    for n in order:
        mine = _on(gs, n)
        skip = None
        if n in already_done:
            skip = "done (journal)"
        elif target_version is not None and versions[n] == target_version:
            skip = f"already runs {target_version}"
        steps.append(ServerStep(
            name=n, version=versions[n], meta_leader=n in leaders,
            leads=tuple(g.subject for g in mine if g.leader == n and g.replicas > 1),
            hosts=tuple(g.subject for g in mine),
            r1=tuple(g.subject for g in mine if g.replicas == 1), skip=skip))
    return UpgradePlan(tuple(steps), target_version, target_binary, strategy, leader, versions)
