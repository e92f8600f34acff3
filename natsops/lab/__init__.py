"""``natsops lab``: a multi-host NATS deployment on one machine, with faults on command.

Each nats-server runs in its own network namespace (``<id>-n1``...) with its own address on a
bridge that lives in a namespace of its own (``<id>-hub``); a client namespace (``<id>-cli``)
on the same bridge is where natsops reaches the lab from (``natsops lab exec -- CMD``). Nothing
is added to the host's interfaces or routes. ``<id>`` is ``nl`` and 5 hex digits of the lab
directory's path, so two labs never share a name and every interface name stays short.

The cluster itself is an ordinary natsops local cluster (:class:`~natsops.cluster.local.
LocalCluster`, ``DIR/cluster.json``) whose nodes carry their address and namespace: its configs
come from the same template (with short route pings: ``cluster { ping_interval: "1s", ping_max:
3 }``), its processes are started and stopped by pid the same way, and ``cluster status``,
``doctor --dir`` and ``upgrade --rolling --dir`` work on it from inside the lab.

``lab up --topology FILE`` runs a whole topology instead (clusters joined by gateways, leaf
sites, TLS): an ordinary local topology (:class:`~natsops.cluster.deployment.LocalDeployment`,
``DIR/topology.json``, as ``bootstrap --topology`` writes it) rendered by the topology renderer,
only placed differently (:class:`~natsops.topology.local.Placement`): every server on its own
lab address with the standard ports, its monitor on that address, short pings on every link
(routes, gateways, leafnodes), in its own namespace. Servers are numbered across the whole
topology (``<id>-n1``... in file order); faults name servers, or a cluster or leaf site for all
of its servers.

``DIR/lab.json`` lists every namespace and link of the lab, each written *before* it is
created, and the cuts in force: ``lab down`` removes them all even after natsops crashed
half-way. Faults: a cut between two nodes is a pair of blackhole routes (:mod:`natsops.lab.net`);
``partition`` cuts a group of nodes from the others, ``isolate`` one pair; ``kill`` (SIGKILL),
``freeze``/``thaw`` (SIGSTOP/SIGCONT) and ``restart`` act on a node's process by pid. The client
namespace is never cut off: doctor sees both sides of a partition.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import signal
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from natsops.cluster.deployment import LocalDeployment
from natsops.cluster.local import LocalCluster, NodeSpec, validate_cluster_name, validate_node_count
from natsops.cluster.process import find_server_binary, proc_state, stop_pid
from natsops.cluster.ready import Progress, silent
from natsops.errors import Conflict, NatsopsError, NotFound, UsageError
from natsops.files import check_output_dir
from natsops.lab import net

if TYPE_CHECKING:
    from natsops.cluster.target import Local
    from natsops.topology.model import Topology

__all__ = [
    "LAB_FILE",
    "ROUTE_PING",
    "Lab",
    "LabDown",
    "LabNode",
    "LabOptions",
    "LabStatus",
    "down",
    "down_sync",
    "exec_argv",
    "fault",
    "heal",
    "lab_id",
    "load",
    "partition",
    "plan",
    "restart",
    "status",
    "up",
]

LAB_FILE = "lab.json"
SUBNET = "10.200.0"  # a /24 inside the lab's own hub namespace: no clash with anything outside
CLIENT_ADDR = f"{SUBNET}.2"
ROUTE_PING = ("1s", 3)  # cluster ping_interval, ping_max: a dead route is closed after ~4 s
PORTS = (4222, 6222, 8222)  # every node has its own address: the standard ports
MAX_SERVERS = 240  # addresses .11 to .250 of the lab's /24


def lab_id(directory: Path) -> str:
    """``nl`` + 5 hex digits of the lab directory's absolute path."""
    return "nl" + hashlib.sha1(str(directory.resolve()).encode()).hexdigest()[:5]


@dataclass
class Lab:
    """What ``DIR/lab.json`` records (see module doc)."""

    dir: Path
    id: str
    namespaces: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)  # "NAMESPACE/IFNAME"
    cuts: list[tuple[str, str]] = field(default_factory=list)  # sorted node-name pairs

    @property
    def hub(self) -> str:
        return f"{self.id}-hub"

    @property
    def client(self) -> str:
        return f"{self.id}-cli"

    @property
    def path(self) -> Path:
        return self.dir / LAB_FILE

    def save(self) -> None:
        doc = {"id": self.id, "namespaces": self.namespaces, "links": self.links,
               "cuts": [list(c) for c in self.cuts]}
        tmp = self.dir / f".{LAB_FILE}.tmp"
        tmp.write_text(json.dumps(doc, indent=2) + "\n")
        tmp.replace(self.path)

    def record(self, what: str, item: str) -> None:
        """Add ``item`` to the namespaces or links and save, before it is created."""
        items: list[str] = getattr(self, what)
        if item not in items:
            items.append(item)
            self.save()

    def cluster(self) -> Local:
        """The lab's servers: a local cluster (``--nodes``) or a local topology
        (``--topology``)."""
        from natsops.cluster.target import load_local

        return load_local(self.dir)


def load(directory: Path) -> Lab:
    """The lab in ``directory``; NotFound when there is none, UsageError when damaged."""
    path = directory.expanduser() / LAB_FILE
    if not path.is_file():
        raise NotFound(f"no natsops lab in {directory} (no {LAB_FILE})",
                       hint="start one with `natsops lab up --dir DIR`")
    try:
        doc = json.loads(path.read_text())
        lab = Lab(dir=directory.expanduser().resolve(), id=str(doc["id"]),
                  namespaces=[str(n) for n in doc.get("namespaces") or ()],
                  links=[str(n) for n in doc.get("links") or ()],
                  cuts=[(str(a), str(b)) for a, b in doc.get("cuts") or ()])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path} is damaged: {exc}") from None
    # never touch a namespace this lab did not name: every one carries its id
    if not re.fullmatch(r"nl[0-9a-f]{5}", lab.id) or any(
            not n.startswith(f"{lab.id}-") for n in lab.namespaces + lab.links):
        raise UsageError(f"{path} is damaged: a namespace or link without the lab's id "
                         f"{lab.id!r}", hint="remove the lab's namespaces by hand: ip netns list")
    return lab


# ---- up -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LabOptions:
    """What ``natsops lab up`` was asked for."""

    dir: Path
    nodes: int | None = None  # None: 3 for a new lab, what it has for an existing one
    name: str | None = None  # None: "lab" for a new lab
    server_bin: str | None = None
    timeout: float = 60.0
    write_contexts: bool = True
    topology: Path | None = None  # a topology file to run instead of one cluster

    @property
    def count(self) -> int:
        return 3 if self.nodes is None else self.nodes

    @property
    def cluster_name(self) -> str:
        return self.name or "lab"


def _plan(lab: Lab, count: int) -> list[NodeSpec]:
    return [NodeSpec(f"n{i}", *PORTS, host=_address(i), netns=f"{lab.id}-n{i}")
            for i in range(1, count + 1)]


def _address(i: int) -> str:
    return f"{SUBNET}.{10 + i}"


def _load_topology(path: Path, env: Mapping[str, str]) -> Topology:
    """The validated topology file, refused when a lab cannot run it."""
    import logging

    from natsops.topology.load import load_topology

    loaded = load_topology(path, env)
    for w in loaded.warnings:
        logging.getLogger(__name__).warning("%s", w)
    topo = loaded.topology
    count = sum(1 for _ in topo.all_nodes())
    if count > MAX_SERVERS:
        raise UsageError(f"--topology: {path} has {count} servers; a lab has at most "
                         f"{MAX_SERVERS}")
    if topo.auth.operator_mode:
        raise UsageError(f"topology {topo.name} runs operator {topo.auth.operator}: a lab "
                         "runs plain accounts only", hint="try it with plain accounts "
                         "(auth: accounts:)")
    return topo


def _topology_plan(lab: Lab, topo: Topology) -> dict[str, tuple[str, str]]:
    """Each server's (address, namespace), numbered across the topology in file order."""
    return {n.name: (_address(i), f"{lab.id}-n{i}")
            for i, n in enumerate(topo.all_nodes(), 1)}


def _group_of(target: Local, name: str) -> str:
    return target.group_of(name).name if isinstance(target, LocalDeployment) else target.name


def _owner(target: Local, name: str) -> LocalCluster:
    """The local cluster that runs server ``name`` (a topology: its cluster or leaf site)."""
    return target.cluster_of(name) if isinstance(target, LocalDeployment) else target


def _netns(lab: Lab, name: str) -> None:
    lab.record("namespaces", name)
    if not net.netns_exists(name):
        net.ip("netns", "add", name)


def _attach(lab: Lab, netns: str, ifname: str, address: str) -> None:
    """A veth from the hub's bridge (``ifname``) to ``netns`` (``eth0``, ``address``/24)."""
    lab.record("links", f"{lab.hub}/{ifname}")
    net.ip("-n", lab.hub, "link", "add", ifname, "type", "veth", "peer", "name", "eth0",
           "netns", netns, ok_errors=("File exists",))
    net.ip("-n", lab.hub, "link", "set", ifname, "master", "br0", "up")
    net.ip("-n", netns, "addr", "add", f"{address}/24", "dev", "eth0",
           ok_errors=("File exists", "already assigned"))
    net.ip("-n", netns, "link", "set", "eth0", "up")
    net.ip("-n", netns, "link", "set", "lo", "up")


def build_network(lab: Lab, nodes: Sequence[NodeSpec]) -> None:
    """Create what is missing of the hub, the client and one namespace per node."""
    _netns(lab, lab.hub)
    lab.record("links", f"{lab.hub}/br0")
    net.ip("-n", lab.hub, "link", "add", "br0", "type", "bridge", ok_errors=("File exists",))
    net.ip("-n", lab.hub, "link", "set", "br0", "up")
    _netns(lab, lab.client)
    _attach(lab, lab.client, "vc", CLIENT_ADDR)
    for i, n in enumerate(nodes, 1):
        assert n.netns is not None
        _netns(lab, n.netns)
        _attach(lab, n.netns, f"v{i}", n.host)


def _fresh(directory: Path) -> Lab:
    """A new lab for ``directory``, refused when its namespaces exist already."""
    check_output_dir(directory, what="--dir")
    lab = Lab(dir=directory.resolve(), id=lab_id(directory))
    taken = [n for n in (lab.hub, lab.client) if net.netns_exists(n)]
    if taken:
        raise Conflict(f"network namespace {taken[0]} exists already (a lab in {directory} "
                       "whose lab.json is gone?)", hint=f"remove it: ip netns delete {taken[0]}")
    return lab


def _new(opts: LabOptions, directory: Path, env: Mapping[str, str],
         progress: Progress) -> tuple[Lab, Local]:
    if opts.topology is not None:
        return _new_topology(opts, opts.topology, directory, env, progress)
    _check_cluster(opts)
    lab = _fresh(directory)
    if opts.write_contexts:
        from natsops.cluster.contexts import check_free

        check_free(opts.cluster_name, directory, env,
                   rename="start this lab with another --name, or stop the other cluster first")
    binary = find_server_binary(opts.server_bin, env)
    lab.dir.mkdir(parents=True, exist_ok=True)
    lab.save()  # first: whatever is created from now on is recorded in it
    cluster = LocalCluster.create(directory, name=opts.cluster_name,
                                  nodes=_plan(lab, opts.count), binary=binary, env=env,
                                  route_ping=ROUTE_PING)
    return lab, cluster


def _new_topology(opts: LabOptions, path: Path, directory: Path, env: Mapping[str, str],
                  progress: Progress) -> tuple[Lab, LocalDeployment]:
    from natsops.topology.local import LaunchOptions, Placement, create

    topo = _load_topology(path, env)
    lab = _fresh(directory)
    placed = _topology_plan(lab, topo)
    placement = Placement(addresses={k: a for k, (a, _) in placed.items()},
                          netns={k: ns for k, (_, ns) in placed.items()}, ping=ROUTE_PING)
    lab.dir.mkdir(parents=True, exist_ok=True)
    lab.save()  # first: whatever is created from now on is recorded in it
    dep = create(topo, directory, LaunchOptions(dir=directory, server_bin=opts.server_bin,
                                                write_contexts=opts.write_contexts),
                 env, progress, placement)
    return lab, dep


@dataclass(frozen=True)
class LabPlan:
    """What ``lab up`` would create (``--dry-run``)."""

    action: str
    dir: str
    id: str
    namespaces: tuple[str, ...]
    client_address: str
    nodes: tuple[dict[str, str], ...]  # name, address, netns, group (its cluster/leaf site)
    route_ping_interval: str
    route_ping_max: int
    topology: str | None = None  # the topology's name (``--topology``)


def plan(opts: LabOptions, env: Mapping[str, str] | None = None) -> LabPlan:
    """Describe the lab ``up`` would create or bring back; change nothing (no root needed)."""
    directory = opts.dir.expanduser()
    _check_choice(opts)
    topology: str | None = None
    if (directory / LAB_FILE).is_file():
        lab, action = load(directory), "bring back the lab"
        target = lab.cluster()
        _check_same(directory, target, opts, env or {})
        if net.netns_exists(lab.client) and len(target.running_nodes()) == len(target.nodes):
            action = "report the running lab (nothing to start)"
        nodes = [(n.name, n.host, str(n.netns), _group_of(target, n.name)) for n in target.nodes]
        topology = target.name if isinstance(target, LocalDeployment) else None
    elif opts.topology is not None:
        lab, action = Lab(dir=directory.resolve(), id=lab_id(directory)), "create the lab"
        topo = _load_topology(opts.topology, env or {})
        placed = _topology_plan(lab, topo)
        nodes = [(n.name, *placed[n.name], topo.group_of(n.name).name)
                 for n in topo.all_nodes()]
        topology = topo.name
    else:
        _check_cluster(opts)
        check_output_dir(directory, what="--dir")
        lab, action = Lab(dir=directory.resolve(), id=lab_id(directory)), "create the lab"
        nodes = [(n.name, n.host, str(n.netns), opts.cluster_name)
                 for n in _plan(lab, opts.count)]
    return LabPlan(action=action, dir=str(lab.dir), id=lab.id,
                   namespaces=(lab.hub, lab.client, *(ns for _, _, ns, _ in nodes)),
                   client_address=CLIENT_ADDR,
                   nodes=tuple({"name": name, "address": address, "netns": ns, "group": group}
                               for name, address, ns, group in nodes),
                   route_ping_interval=ROUTE_PING[0], route_ping_max=ROUTE_PING[1],
                   topology=topology)


def _check_cluster(opts: LabOptions) -> None:
    """The node count and cluster name of a lab without a topology."""
    validate_node_count(opts.count, allow_even=False)
    validate_cluster_name(opts.cluster_name)
    if opts.count > 9:
        raise UsageError("--nodes: a lab has at most 9 nodes")


def _check_choice(opts: LabOptions) -> None:
    if opts.topology is not None and (opts.nodes is not None or opts.name is not None):
        raise UsageError(f"--{'nodes' if opts.nodes is not None else 'name'} and --topology: "
                         "choose one (a topology names its own clusters and servers)")


def _check_same(directory: Path, target: Local, opts: LabOptions,
                env: Mapping[str, str]) -> None:
    """Conflict unless the lab in ``directory`` is the one ``opts`` asks for."""
    again = f"use another --dir, or `natsops lab down --purge --dir {directory}` first"
    if isinstance(target, LocalDeployment):
        if opts.nodes is not None or opts.name is not None:
            raise Conflict(f"{directory} holds a lab running topology {target.name} (asked "
                           "for --nodes/--name)", hint=again)
        if opts.topology is not None:
            from natsops.topology.local import same_topology

            try:
                same_topology(target, _load_topology(opts.topology, env))
            except Conflict as exc:
                raise Conflict(str(exc), hint=again) from None
        return
    if opts.topology is not None:
        raise Conflict(f"{directory} holds lab {target.name} with {len(target.nodes)} nodes, "
                       f"not a topology (asked for --topology {opts.topology})", hint=again)
    if opts.nodes not in (None, len(target.nodes)) or opts.name not in (None, target.name):
        raise Conflict(f"{directory} holds lab {target.name} with {len(target.nodes)} "
                       f"nodes (asked for {opts.name or target.name} with "
                       f"{opts.nodes or len(target.nodes)})", hint=again)


async def up(opts: LabOptions, env: Mapping[str, str], progress: Progress = silent) -> LabStatus:
    """Create (or bring back) the lab in ``opts.dir`` and wait until its cluster is usable.

    A lab created by this call is torn down again when starting it fails.
    """
    net.require_privileges()
    _check_choice(opts)
    directory = opts.dir.expanduser()
    if (directory / LAB_FILE).is_file():
        lab, created = load(directory), False
        cluster = lab.cluster()
        _check_same(directory, cluster, opts, env)
    elif LocalCluster.exists(directory) or LocalDeployment.exists(directory):
        raise Conflict(f"{directory} holds a local cluster or topology that is not a lab",
                       hint="give another --dir")
    else:
        existed = directory.exists()
        try:
            lab, cluster = _new(opts, directory, env, progress)
        except BaseException:  # nothing was created yet: leave no lab.json behind
            (directory / LAB_FILE).unlink(missing_ok=True)
            if not existed:
                import shutil

                shutil.rmtree(directory, ignore_errors=True)
            raise
        created = True
    try:
        progress(f"creating namespaces {lab.id}-* and the bridge")
        build_network(lab, cluster.nodes)
        if isinstance(cluster, LocalDeployment):
            await _start_topology(lab, cluster, opts, env, progress)
        else:
            await _start(lab, cluster, opts, env, progress)
    except BaseException:
        if created:
            with contextlib.suppress(Exception):
                down_sync(directory, grace=5)
        raise
    return await status(directory)


async def _start(lab: Lab, cluster: LocalCluster, opts: LabOptions, env: Mapping[str, str],
                 progress: Progress) -> None:
    from natsops.cluster.ready import started, wait_usable

    progress(f"starting {len(cluster.nodes)} nats-server processes, one per namespace")
    with started(cluster) as ids, net.inside(lab.client):
        await wait_usable(cluster, timeout=opts.timeout, restartable=ids, progress=progress)
    if opts.write_contexts:
        from natsops.cluster.contexts import write_contexts

        cluster.contexts = write_contexts(cluster, env, select=None)
        cluster.save()


async def _start_topology(lab: Lab, dep: LocalDeployment, opts: LabOptions,
                          env: Mapping[str, str], progress: Progress) -> None:
    from natsops.cluster.deployment_ready import start_topology
    from natsops.topology.local import write_contexts

    if opts.server_bin:  # this start runs it (as `bootstrap --topology` does)
        exe = find_server_binary(opts.server_bin, env)
        for c in dep.clusters():
            c.binary = exe
    progress(f"starting {len(dep.nodes)} nats-server processes, one per namespace")
    with net.inside(lab.client):
        await start_topology(dep, timeout=opts.timeout, progress=progress)
    if opts.write_contexts:
        contexts = write_contexts(dep, env, select=None)
        if contexts != dep.contexts:
            dep.contexts = contexts
            dep.save()


# ---- status ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class LabNode:
    """One node of a lab as seen now."""

    name: str
    address: str
    netns: str
    pid: int | None
    process: str  # running | frozen | stopped
    group: str  # its cluster (or leaf site)
    healthz: str | None  # "ok", the error, or None when not asked (stopped or frozen)
    cut_from: tuple[str, ...]
    client_url: str
    monitor_url: str


@dataclass(frozen=True)
class LabStatus:
    """A lab: its namespaces, nodes and cuts."""

    dir: str
    id: str
    name: str  # the cluster's name (``--nodes``), the topology's (``--topology``)
    topology: bool
    client_netns: str
    client_address: str
    namespaces: tuple[str, ...]
    network_up: bool
    nodes: tuple[LabNode, ...]
    cuts: tuple[tuple[str, str], ...]
    contexts: tuple[str, ...]


def _process_state(pid: int | None) -> str:
    state = None if pid is None else proc_state(pid)
    return "stopped" if state is None else "frozen" if state in ("T", "t") else "running"


async def _health(url: str, verify: ssl.SSLContext | None) -> str:
    from natsops.monitoring import MonitorClient

    try:
        async with MonitorClient(url, timeout=1.5, verify=verify or True) as mon:
            h = await mon.healthz()
    except NatsopsError as exc:
        return str(exc)
    return "ok" if h.ok else str(h.error or "not ok")


async def status(directory: Path, *, health: bool = True) -> LabStatus:
    """Each node's address, process state, health (read from the client namespace), cuts."""
    lab = load(directory)
    cluster = lab.cluster()
    states = {n.name: (cluster.pid(n.name), _process_state(cluster.pid(n.name)))
              for n in cluster.nodes}
    up_now = bool(lab.namespaces) and all(net.netns_exists(n) for n in lab.namespaces)
    healths: dict[str, str | None] = dict.fromkeys(states)
    ask = [n for n in cluster.nodes if states[n.name][1] == "running"]
    deployment = isinstance(cluster, LocalDeployment)

    def monitor(n: NodeSpec) -> str:
        return cluster.monitor_url(n) if isinstance(cluster, LocalDeployment) else n.monitor_url

    if health and up_now and ask:
        verify = cluster.monitor_tls() if isinstance(cluster, LocalDeployment) else None
        with net.inside(lab.client):
            found = await asyncio.gather(*(_health(monitor(n), verify) for n in ask))
        healths.update(zip((n.name for n in ask), found, strict=True))
    nodes = tuple(
        LabNode(name=n.name, address=n.host, netns=str(n.netns), pid=states[n.name][0],
                process=states[n.name][1], group=_group_of(cluster, n.name),
                healthz=healths[n.name],
                cut_from=tuple(sorted({b if a == n.name else a for a, b in lab.cuts
                                       if n.name in (a, b)})),
                client_url=n.client_url, monitor_url=monitor(n))
        for n in cluster.nodes)
    return LabStatus(dir=str(lab.dir), id=lab.id, name=cluster.name, topology=deployment,
                     client_netns=lab.client,
                     client_address=CLIENT_ADDR, namespaces=tuple(lab.namespaces),
                     network_up=up_now, nodes=nodes, cuts=tuple(lab.cuts),
                     contexts=cluster.contexts)


# ---- faults ---------------------------------------------------------------------------------

def _nodes(target: Local, names: Sequence[str]) -> list[NodeSpec]:
    """The servers named; in a topology a cluster or leaf site name means all its servers."""
    if not names:
        raise UsageError("name at least one node")
    found: list[NodeSpec] = []
    for name in names:
        if isinstance(target, LocalDeployment) and name not in {n.name for n in target.nodes} \
                and name in {g.name for g in target.groups}:
            found += target.cluster(name).nodes
        else:
            found.append(target.node(name))
    return list(dict.fromkeys(found))


def _cut(lab: Lab, pairs: Sequence[tuple[NodeSpec, NodeSpec]], dry_run: bool
         ) -> tuple[tuple[str, str], ...]:
    """Record, then drop all traffic between each pair (both directions)."""
    if not lab.namespaces or not net.netns_exists(lab.hub):
        raise UsageError(f"the lab in {lab.dir} is down", hint="natsops lab up --dir DIR")
    new = [p for p in pairs if tuple(sorted((p[0].name, p[1].name))) not in lab.cuts]
    for a, b in new:
        lab.cuts.append((min(a.name, b.name), max(a.name, b.name)))
    lab.cuts.sort()
    if dry_run:
        return tuple(lab.cuts)
    lab.save()
    for a, b in new:
        assert a.netns is not None
        assert b.netns is not None
        net.blackhole(a.netns, b.host)
        net.blackhole(b.netns, a.host)
    return tuple(lab.cuts)


def partition(directory: Path, names: Sequence[str], *, isolate_from: str | None = None,
              dry_run: bool = False) -> tuple[tuple[str, str], ...]:
    """Cut ``names`` off from every other node (or, with ``isolate_from``, from that node
    only); the client namespace still reaches every node. In a topology, a cluster or leaf
    site name stands for all its servers (cutting two clusters apart cuts their gateways).
    Returns every cut in force (with ``dry_run``: would be, changing nothing)."""
    net.require_privileges()
    lab = load(directory)
    cluster = lab.cluster()
    group = _nodes(cluster, names)
    if isolate_from is not None:
        rest = _nodes(cluster, [isolate_from])
        if set(rest) & set(group):
            raise UsageError(f"cannot isolate {isolate_from} from itself")
    else:
        rest = [n for n in cluster.nodes if n not in group]
        if not rest:
            raise UsageError("that is every node: name the side to cut off")
    return _cut(lab, [(a, b) for a in group for b in rest], dry_run)


def heal(directory: Path, *, dry_run: bool = False) -> tuple[tuple[str, str], ...]:
    """Remove every cut (the recorded ones and any blackhole left in a node's namespace);
    returns the cuts that were in force."""
    net.require_privileges()
    lab = load(directory)
    cluster = lab.cluster()
    was = tuple(lab.cuts)
    if dry_run:
        return was
    for n in cluster.nodes:
        assert n.netns is not None
        for address in net.blackholes(n.netns):
            net.unblackhole(n.netns, address)
    lab.cuts = []
    lab.save()
    return was


FAULTS = {"kill": signal.SIGKILL, "freeze": signal.SIGSTOP, "thaw": signal.SIGCONT}


def fault(directory: Path, what: str, name: str, *, dry_run: bool = False) -> int:
    """``kill`` (SIGKILL), ``freeze`` (SIGSTOP) or ``thaw`` (SIGCONT) a node by pid; returns
    the pid (with ``dry_run``, the pid it would signal)."""
    net.require_privileges()
    cluster = load(directory).cluster()
    node = cluster.node(name)
    pid = cluster.pid(node.name)
    if pid is None:
        raise NotFound(f"{node.name} is not running",
                       hint=f"start it: natsops lab restart {node.name} --dir {directory}")
    if dry_run:
        return pid
    os.kill(pid, FAULTS[what])
    if what == "kill":
        stop_pid(pid, grace=5)  # reaps it; pid file removed below
        _owner(cluster, node.name).pid_path(node.name).unlink(missing_ok=True)
    return pid


async def restart(directory: Path, name: str, *, grace: float = 10.0,
                  timeout: float = 30.0, dry_run: bool = False) -> int:
    """Stop a node by pid (thawing it first if frozen), start it again in its namespace and
    wait for "Server is ready"; returns the new pid (with ``dry_run``: the current one, 0 when
    not running, and nothing is done). (The cluster is not waited for: other faults may be in
    force.)"""
    net.require_privileges()
    lab = load(directory)
    cluster = _owner(lab.cluster(), name)
    node = cluster.node(name)
    pid = cluster.pid(node.name)
    if dry_run:
        return pid or 0
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
    await asyncio.to_thread(cluster.stop_node, node.name, grace=grace)
    proc = cluster.start_node(node.name)
    assert proc is not None
    await asyncio.to_thread(proc.wait_ready, timeout)
    return proc.pid


# ---- exec and down ----------------------------------------------------------------------------

def exec_argv(directory: Path, command: Sequence[str], env: Mapping[str, str]
              ) -> tuple[list[str], dict[str, str]]:
    """The argv and environment that run ``command`` in the lab's client namespace, with
    ``NATSOPS_CLUSTER_DIR`` set to the lab (natsops commands find it without ``--dir``)."""
    if not command:
        raise UsageError("give the command to run after --, e.g. natsops lab exec -- natsops "
                         "doctor")
    ip_exe = net.require_privileges()
    lab = load(directory)
    if not net.netns_exists(lab.client):
        raise UsageError(f"the lab in {lab.dir} is down", hint="natsops lab up --dir DIR")
    import shutil

    if shutil.which(command[0], path=env.get("PATH", os.defpath)) is None:
        raise UsageError(f"command {command[0]!r} not found (PATH: "
                         f"{env.get('PATH', os.defpath)})")
    return ([ip_exe, "netns", "exec", lab.client, *command],
            {**env, "NATSOPS_CLUSTER_DIR": str(lab.dir)})


@dataclass(frozen=True)
class LabDown:
    """What ``lab down`` removed."""

    stopped: tuple[str, ...]
    ended: tuple[int, ...]  # other processes still inside the lab's namespaces
    namespaces: tuple[str, ...]
    links: tuple[str, ...]
    contexts: tuple[str, ...] = ()
    purged: bool = False


def _ancestors() -> set[int]:
    out, pid = set(), os.getpid()
    while pid > 1:
        out.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return out


def _end_processes(namespaces: Sequence[str]) -> list[int]:
    mine = _ancestors()
    pids = [p for ns in namespaces for p in net.netns_pids(ns) if p not in mine]
    for p in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGCONT)
        stop_pid(p, grace=5)
    return pids


def _stop_servers(cluster: Local | None, grace: float) -> list[str]:
    if cluster is None:
        return []
    for n in cluster.nodes:  # a frozen server ignores SIGTERM until thawed
        pid = cluster.pid(n.name)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
    return cluster.stop_all(grace=grace)


async def down(directory: Path, *, grace: float = 10.0, purge: bool = False,
               env: Mapping[str, str] | None = None, dry_run: bool = False) -> LabDown:
    """Stop every server by pid, end what else runs in the lab's namespaces, delete every link
    and namespace ``lab.json`` lists (also those of a run that crashed); with ``purge``, the
    directory and the contexts too."""
    return await asyncio.to_thread(down_sync, directory, grace=grace, purge=purge, env=env,
                                   dry_run=dry_run)


def down_sync(directory: Path, *, grace: float = 10.0, purge: bool = False,
              env: Mapping[str, str] | None = None, dry_run: bool = False) -> LabDown:
    """:func:`down`, blocking (also the clean-up of a failed ``up``); with ``dry_run`` what it
    would remove."""
    net.require_privileges()
    lab = load(directory)
    try:
        cluster: Local | None = lab.cluster()
    except NatsopsError:
        cluster = None  # crashed before cluster.json was written: the namespaces still go
    if dry_run:
        return LabDown(stopped=tuple(cluster.running_nodes() if cluster else ()), ended=(),
                       namespaces=tuple(n for n in lab.namespaces if net.netns_exists(n)),
                       links=tuple(lab.links), purged=purge)
    stopped = _stop_servers(cluster, grace)
    ended = _end_processes(lab.namespaces)
    links = []
    for link in reversed(lab.links):
        netns, _, ifname = link.partition("/")
        if net.netns_exists(netns):
            net.ip("-n", netns, "link", "del", ifname, ok_errors=("Cannot find device",))
        links.append(link)
    gone = []
    for ns in reversed(lab.namespaces):
        if net.netns_exists(ns):
            net.ip("netns", "delete", ns, ok_errors=("No such file",))
        gone.append(ns)
    lab.namespaces, lab.links, lab.cuts = [], [], []
    lab.save()
    removed: tuple[str, ...] = ()
    if purge and cluster is not None:
        from natsops.cluster.target import purge_local

        removed = purge_local(cluster, env or {})
    elif purge:
        import shutil

        shutil.rmtree(lab.dir)
    return LabDown(stopped=tuple(stopped), ended=tuple(ended), namespaces=tuple(gone),
                   links=tuple(links), contexts=removed, purged=purge)
