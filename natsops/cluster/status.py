"""What a local cluster's nodes look like now: pid, URLs, health, version, meta leader."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass

from natsops.cluster.local import LocalCluster, NodeSpec
from natsops.errors import NatsopsError

__all__ = ["ClusterStatus", "NodeStatus", "cluster_status"]


@dataclass(frozen=True)
class NodeStatus:
    """One node as seen now."""

    name: str
    pid: int | None
    running: bool
    client_url: str
    monitor_url: str
    cluster_url: str
    healthy: bool
    health_error: str | None
    version: str | None
    meta_leader: str | None
    jetstream: bool
    connections: int | None


@dataclass(frozen=True)
class ClusterStatus:
    """A local cluster and its nodes."""

    name: str
    dir: str
    binary: str
    version: str
    nodes: tuple[NodeStatus, ...]
    meta_leader: str | None
    contexts: tuple[str, ...] = ()

    @property
    def running(self) -> int:
        return sum(1 for n in self.nodes if n.running)

    @property
    def healthy(self) -> bool:
        return all(n.healthy for n in self.nodes)


async def _node_status(cluster: LocalCluster, n: NodeSpec, timeout: float,
                       tls: ssl.SSLContext | None) -> NodeStatus:
    from natsops.monitoring import MonitorClient

    pid = cluster.pid(n.name)
    healthy, err, version, leader, js, conns = False, None, None, None, False, None
    monitor_url = n.monitor_url.replace("http://", "https://") if tls else n.monitor_url
    if pid is not None:
        try:
            async with MonitorClient(monitor_url, timeout=timeout, verify=tls or True) as mon:
                h, summary = await asyncio.gather(mon.healthz(), mon.summary())
            healthy, err = h.ok, h.error
            version, leader, js = summary.version, summary.meta_leader, summary.jetstream
            conns = summary.connections
        except NatsopsError as exc:
            err = str(exc)
    else:
        err = "not running"
    return NodeStatus(name=n.name, pid=pid, running=pid is not None, client_url=n.client_url,
                      monitor_url=monitor_url, cluster_url=n.cluster_url, healthy=healthy,
                      health_error=err, version=version, meta_leader=leader, jetstream=js,
                      connections=conns)


async def cluster_status(cluster: LocalCluster, *, timeout: float = 2.0,
                         monitor_tls: ssl.SSLContext | None = None) -> ClusterStatus:
    """Pid, health, version and meta leader of every node (concurrently); ``monitor_tls``:
    the monitors serve https, verified with this context."""
    nodes = tuple(await asyncio.gather(*(_node_status(cluster, n, timeout, monitor_tls)
                                         for n in cluster.nodes)))
    leaders = [n.meta_leader for n in nodes if n.meta_leader]
    return ClusterStatus(name=cluster.name, dir=str(cluster.dir), binary=str(cluster.binary),
                         version=cluster.version, nodes=nodes,
                         meta_leader=leaders[0] if leaders else None, contexts=cluster.contexts)
