"""When a local topology is usable, and starting its servers with a roll-back.

A topology (:class:`~natsops.cluster.deployment.LocalDeployment`) is usable when, within one
:class:`~natsops.cluster.ready.Deadline`:

1. every server's full ``/healthz`` is ok;
2. its links are up: every server of a cluster has an outbound gateway to every other cluster
   of its supercluster, each cluster has an inbound gateway from every server of the others,
   and every leaf-site server has all its leafnode connections (``/gatewayz``, ``/leafz``);
3. every JetStream (the clusters of a supercluster, each leaf site) has one meta leader with
   every other server current in its view;
4. a probe stream can be created and written to in every cluster and leaf site with
   JetStream (``min(3, nodes)`` replicas), and deleted.

:func:`started_all` is the one start-then-roll-back for a topology: if anything fails before the
``with`` block ends, exactly the servers it started are stopped by pid. :func:`start_topology`
of a whole topology starts the clusters first and the leaf sites once the clusters' meta leader
is elected; a JetStream still without a leader at the deadline is named with the shape that
stalls it (:mod:`natsops.cluster.meta_stall`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from natsops.cluster.deployment import Group, LocalDeployment
from natsops.cluster.ready import (
    Deadline,
    Progress,
    check_processes,
    meta_verdict,
    others_running,
    probe_stream,
    silent,
    started,
)
from natsops.errors import NatsopsError, Timeout

__all__ = [
    "Links",
    "TopologyReady",
    "link_problems",
    "restart_topology_node",
    "start_topology",
    "started_all",
    "wait_topology_usable",
]


@dataclass(frozen=True)
class TopologyReady:
    """What a start-and-wait did: the servers it started, the probe replicas per group."""

    started: tuple[str, ...]
    probes: dict[str, int]


@contextlib.contextmanager
def started_all(dep: LocalDeployment,
                names: Iterable[str] | None = None) -> Iterator[tuple[str, ...]]:
    """Start the given (default: all) servers that are not running; yield the names started.

    On any exception before the block ends (Ctrl-C and cancellation included), exactly the
    servers started here are stopped by pid, in every group.
    """
    wanted = None if names is None else {dep.node(n).name for n in names}
    ids: list[str] = []
    with contextlib.ExitStack() as stack:
        for c in dep.clusters():
            mine = None if wanted is None else [n.name for n in c.nodes if n.name in wanted]
            ids += stack.enter_context(started(c, mine))
        yield tuple(ids)


# ---- readiness --------------------------------------------------------------------------------

async def _monitor(url: str, timeout: float, endpoint: str,
                   verify: ssl.SSLContext | None = None) -> dict[str, Any] | str:
    """One endpoint's document, or why it could not be read."""
    from natsops.monitoring import MonitorClient

    try:
        async with MonitorClient(url, timeout=timeout, verify=verify or True) as mon:
            if endpoint == "healthz":
                h = await mon.healthz()
                return {"ok": h.ok, "error": h.error}
            return await mon.get(endpoint)
    except NatsopsError as exc:
        return str(exc)


def _check_processes(dep: LocalDeployment, groups: Iterable[Group] | None = None) -> None:
    """Raise if a server of ``groups`` (default: every group) is not running."""
    for g in dep.groups if groups is None else groups:
        check_processes(dep.cluster(g.name))


async def _wait_healthz(dep: LocalDeployment, deadline: Deadline) -> None:
    pending = {n.name: dep.monitor_url(n) for n in dep.nodes}
    verify = dep.monitor_tls()
    while pending:
        _check_processes(dep)
        docs = await asyncio.gather(*(_monitor(u, deadline.cap(2.0), "healthz", verify)
                                      for u in pending.values()))
        for name, doc in zip(list(pending), docs, strict=True):
            if isinstance(doc, dict) and doc["ok"]:
                del pending[name]
                deadline.pending.pop(name, None)
            else:
                deadline.pending[name] = (doc if isinstance(doc, str)
                                          else doc["error"] or "not healthy")
        if pending:
            await deadline.sleep(0.1)


Links = dict[str, str]
"""Link problems by subject (a server or a cluster): empty when every link is up."""


async def link_problems(dep: LocalDeployment, timeout: float = 2.0) -> Links:
    """What is not connected yet: gateways between clusters, leafnodes of the leaf sites."""
    problems: Links = {}
    gw_nodes = [(g, n) for g in dep.groups if g.gateways and not g.is_leaf
                for n in dep.cluster(g.name).nodes]
    leaf_nodes = [(g, n) for g in dep.groups if g.is_leaf and g.leaf_connections
                  for n in dep.cluster(g.name).nodes]
    verify = dep.monitor_tls()
    docs = await asyncio.gather(
        *(_monitor(dep.monitor_url(n), timeout, "gatewayz", verify) for _, n in gw_nodes),
        *(_monitor(dep.monitor_url(n), timeout, "leafz", verify) for _, n in leaf_nodes))
    inbound: dict[tuple[str, str], int] = {}  # (cluster, from cluster) -> connections
    for (g, n), doc in zip(gw_nodes, docs[:len(gw_nodes)], strict=True):
        if isinstance(doc, str):
            problems[n.name] = doc
            continue
        out = doc.get("outbound_gateways") or {}
        missing = [p for p in g.gateways if p not in out]
        if missing:
            problems[n.name] = f"no outbound gateway to {', '.join(missing)}"
        for peer, conns in (doc.get("inbound_gateways") or {}).items():
            inbound[(g.name, peer)] = inbound.get((g.name, peer), 0) + len(conns or ())
    for g in dep.groups:
        for peer in g.gateways if not g.is_leaf else ():
            want = len(dep.cluster(peer).nodes)
            have = inbound.get((g.name, peer), 0)
            if have < want:
                problems[f"cluster {g.name}"] = (f"{have} of {want} inbound gateway "
                                                 f"connections from {peer}")
    for (g, n), doc in zip(leaf_nodes, docs[len(gw_nodes):], strict=True):
        if isinstance(doc, str):
            problems[n.name] = doc
            continue
        have = int(doc.get("leafnodes") or 0)
        if have < g.leaf_connections:
            problems[n.name] = (f"{have} of {g.leaf_connections} leafnode connections to "
                                f"{g.hub}")
    return problems


async def _wait_links(dep: LocalDeployment, deadline: Deadline) -> None:
    while True:
        _check_processes(dep)
        problems = await link_problems(dep, deadline.cap(2.0))
        for key in [k for k in deadline.pending if k.startswith("link ")]:
            del deadline.pending[key]
        if not problems:
            return
        deadline.pending.update({f"link {k}": v for k, v in problems.items()})
        await deadline.sleep(0.1)


async def _wait_meta(dep: LocalDeployment, deadline: Deadline, unit: list[Group],
                     running: list[Group] | None = None) -> None:
    """Wait for one meta leader of ``unit`` (servers of ``running`` must stay up)."""
    nodes = [n for g in unit for n in dep.cluster(g.name).nodes]
    key = _meta_key(unit)
    verify = dep.monitor_tls()
    while len(nodes) > 1:
        _check_processes(dep, running)
        docs = await asyncio.gather(*(_monitor(dep.monitor_url(n), deadline.cap(2.0), "jsz",
                                               verify) for n in nodes))
        views = {n.name: dict(d.get("meta_cluster") or {}) if isinstance(d, dict) else {}
                 for n, d in zip(nodes, docs, strict=True)}
        verdict = meta_verdict(views)
        if verdict.ready:
            break
        deadline.pending[key] = str(verdict.reason)
        await deadline.sleep(0.1)
    deadline.pending.pop(key, None)


def _meta_key(unit: list[Group]) -> str:
    return f"meta {'+'.join(g.name for g in unit)}"


async def wait_metas(dep: LocalDeployment, deadline: Deadline, units: list[list[Group]],
                     running: list[Group] | None = None) -> None:
    """Wait for a meta leader in each JetStream of ``units``; a unit still without one when
    the deadline passes is named with the shape that stalls it (:mod:`natsops.cluster.
    meta_stall`), when it is in that shape."""
    try:
        await asyncio.gather(*(_wait_meta(dep, deadline, u, running) for u in units))
    except Timeout:
        _name_meta_stall(dep, deadline, units)
        raise


def _name_meta_stall(dep: LocalDeployment, deadline: Deadline,
                     units: list[list[Group]]) -> None:
    """Raise the stall of a unit still without a meta leader (its meta wait, or a server's
    health, is pending on it) when it is in the shape that stalls; else return."""
    from natsops.cluster.meta_stall import meta_stall

    for u in units:
        servers = {n.name for g in u for n in dep.cluster(g.name).nodes}
        waiting = _meta_key(u) in deadline.pending or any(
            k in servers and "meta leader" in v for k, v in deadline.pending.items())
        stall = meta_stall(dep, u) if waiting else None
        if stall is not None:
            raise stall.error(deadline.seconds) from None


async def _probe(dep: LocalDeployment, deadline: Deadline, group: Group) -> int:
    login, settings = dep.login("app", group.name), dep.settings("app", group.name)
    if login is None or settings is None or not login.jetstream:
        return 0  # no user of a JetStream account to place it with
    c = dep.cluster(group.name)
    replicas = min(3, len(c.nodes))
    await probe_stream(c, deadline, replicas=replicas, settings=settings)
    return replicas


async def wait_topology_usable(dep: LocalDeployment, *, timeout: float = 30.0,
                               probe: bool = True,
                               progress: Progress = silent) -> dict[str, int]:
    """Wait until the topology is usable (see the module doc); returns the probe's replica
    count per group (0: not probed, as it has no JetStream or no APP user)."""
    deadline = Deadline(timeout, f"topology {dep.name}", hint=f"see the logs in {dep.dir}")
    progress(f"waiting for /healthz on {len(dep.nodes)} servers")
    try:
        await _wait_healthz(dep, deadline)
    except Timeout:  # /healthz fails while there is no meta leader
        _name_meta_stall(dep, deadline, dep.js_units())
        raise
    if any(g.gateways or g.is_leaf for g in dep.groups):
        progress("waiting for gateway and leafnode connections")
        await _wait_links(dep, deadline)
    units = dep.js_units()
    if any(len(u) > 1 or len(dep.cluster(u[0].name).nodes) > 1 for u in units):
        progress("waiting for a JetStream meta leader in every domain")
        await wait_metas(dep, deadline, units)
    if not probe:
        return {}
    progress("placing a probe stream in every cluster and leaf site")
    groups = [g for u in units for g in u]
    counts = await asyncio.gather(*(_probe(dep, deadline, g) for g in groups))
    return dict(zip((g.name for g in groups), counts, strict=True))


async def start_topology(dep: LocalDeployment, names: Iterable[str] | None = None, *,
                         timeout: float = 30.0, probe: bool = True,
                         progress: Progress = silent) -> TopologyReady:
    """Start the given (default: all) stopped servers and wait until the topology is usable,
    or stop them again."""
    wanted = None
    if names is not None:
        names = list(names)
        others_running(dep, names, "topology")
        wanted = {dep.node(n).name for n in names}
    deadline = Deadline(timeout, f"topology {dep.name}", hint=f"see the logs in {dep.dir}")
    with contextlib.ExitStack() as stack:
        ids = await _start_clusters_first(dep, deadline, stack, progress, wanted)
        probes = await wait_topology_usable(dep, timeout=deadline.remaining(), probe=probe,
                                            progress=progress)
    return TopologyReady(started=ids, probes=probes)


def _label(g: Group) -> str:
    kind = f"leaf site of {g.hub}" if g.is_leaf else "JetStream" if g.jetstream else "core-only"
    return f"{g.name} ({kind})"


async def _start_clusters_first(dep: LocalDeployment, deadline: Deadline,
                                stack: contextlib.ExitStack, progress: Progress,
                                wanted: set[str] | None = None) -> tuple[str, ...]:
    """Start the (``wanted``) stopped servers of the clusters, wait for their meta leader, then
    those of the leaf sites (each after its hub); the servers started are stopped by ``stack``
    if what follows fails.

    Seen by the clusters before their first meta election, leaf sites with JetStream (other
    domains sharing the system account) can stall it for good when the supercluster has a
    core-only cluster (:mod:`natsops.cluster.meta_stall`). The core-only clusters start with the
    JetStream ones: their gateway URLs count in the meta group's first size, which nats-server
    corrects only once it sees them.
    """
    clusters = [g for g in dep.groups if not g.is_leaf]
    leafs = [g for g in dep.groups if g.is_leaf]
    down = {n for c in dep.clusters() for n in (x.name for x in c.nodes)
            if (wanted is None or n in wanted) and c.pid(n) is None}
    ids: list[str] = []
    for step, groups in (("clusters", clusters), ("leaf sites", leafs)):
        todo = [n.name for g in groups for n in dep.cluster(g.name).nodes if n.name in down]
        if not todo:
            continue
        if step == "leaf sites" and ids:
            units = [u for u in dep.js_units() if not u[0].is_leaf]
            js = [u for u in units if len(u) > 1 or len(dep.cluster(u[0].name).nodes) > 1]
            if js:
                progress("waiting for the JetStream meta leader of "
                         f"{', '.join('+'.join(g.name for g in u) for u in js)} before the "
                         "leaf sites start")
                await wait_metas(dep, deadline, js, clusters)
                progress(f"meta leader elected after {deadline.elapsed():.1f}s")
        which = [g for g in groups if any(n.name in down for n in dep.cluster(g.name).nodes)]
        progress(f"starting {len(todo)} server{'s' if len(todo) > 1 else ''} of {step} "
                 f"{', '.join(map(_label, which))}")
        ids += stack.enter_context(started_all(dep, todo))
    return tuple(ids)


async def restart_topology_node(dep: LocalDeployment, name: str, *, grace: float = 10.0,
                                timeout: float = 30.0,
                                progress: Progress = silent) -> TopologyReady:
    """Stop one server by pid, start it again and wait until the topology is usable."""
    others_running(dep, [name], "topology")
    dep.stop_all(grace=grace, only=[name])
    return await start_topology(dep, [name], timeout=timeout, progress=progress)
