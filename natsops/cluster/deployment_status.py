"""What a local topology looks like now: every cluster and leaf site, and their links."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

from natsops.cluster.deployment import LocalDeployment
from natsops.cluster.deployment_ready import link_problems
from natsops.cluster.status import ClusterStatus, cluster_status

__all__ = ["GroupStatus", "TopologyStatus", "topology_status"]


@dataclass(frozen=True)
class GroupStatus:
    """One cluster or leaf site: how it is linked, and its nodes as seen now."""

    kind: str  # "cluster" or "leaf"
    domain: str | None
    gateways: tuple[str, ...]
    hub: str | None
    account: str | None
    cluster: ClusterStatus
    ports: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # gateway, leafnode


@dataclass(frozen=True)
class TopologyStatus:
    """A local topology: its groups, and what is not linked (by server or cluster)."""

    name: str
    dir: str
    source: str
    binary: str
    version: str
    tls: bool
    groups: tuple[GroupStatus, ...]
    links_down: dict[str, str]
    contexts: tuple[str, ...] = ()
    operator: str | None = None  # operator mode: the auth store's operator the servers run
    store: str | None = None

    @property
    def running(self) -> int:
        return sum(g.cluster.running for g in self.groups)

    @property
    def healthy(self) -> bool:
        return all(g.cluster.healthy for g in self.groups) and not self.links_down


async def topology_status(dep: LocalDeployment, *, timeout: float = 2.0) -> TopologyStatus:
    """Every group's nodes (pid, health, version, meta leader) and the links that are down."""
    tls = dep.monitor_tls()
    statuses = await asyncio.gather(*(cluster_status(c, timeout=timeout, monitor_tls=tls)
                                      for c in dep.clusters()))
    running = set(dep.running_nodes())
    links = await link_problems(dep, timeout) if running else {}
    # a stopped server's links are down by design: its state already says so
    links = {k: v for k, v in links.items() if k.startswith("cluster ") or k in running}
    groups = tuple(GroupStatus(kind=g.kind, domain=g.domain, gateways=g.gateways, hub=g.hub,
                               account=g.account, cluster=s, ports=g.ports)
                   for g, s in zip(dep.groups, statuses, strict=True))
    return TopologyStatus(name=dep.name, dir=str(dep.dir), source=dep.source,
                          binary=str(dep.binary), version=dep.version, tls=bool(dep.tls_ca),
                          groups=groups, links_down=links, contexts=dep.contexts,
                          operator=dep.operator, store=dep.store)
