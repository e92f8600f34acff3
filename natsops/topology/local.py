"""``natsops bootstrap --topology``: a whole topology started on loopback, to try it before
deploying it.

:func:`launch` takes a validated :class:`~natsops.topology.model.Topology`, moves every node
onto ``127.0.0.1`` with ports the OS hands out (:func:`~natsops.topology.relocate.relocate`),
renders each node's config with the production renderer
(:func:`~natsops.topology.server_conf.render_server_config`: the same gateways, leaf remotes,
accounts and bcrypt hashes), generates a throwaway CA and certificates for ``127.0.0.1`` when the
topology asks for TLS, and starts every server. It returns when the topology is usable in the
sense of :mod:`natsops.cluster.deployment_ready` (health, gateways and leafnodes connected, one
meta leader per JetStream, a probe stream in every cluster and leaf site); the clusters start
first and the leaf sites once the clusters' meta leader is elected (see
:mod:`natsops.cluster.meta_stall` for why). If anything fails,
every server it started is stopped by pid. Run it again on the same directory to report the
running topology (and start what is stopped).

The state is a :class:`~natsops.cluster.deployment.LocalDeployment` (``topology.json``), which
``natsops cluster status|start|stop|down`` and ``doctor --dir`` read. One natscli context pair
per cluster and leaf site is written, ``natsops-<name>`` (an APP user) and ``natsops-<name>-sys``,
with the CA when TLS is on.

A :class:`Placement` says where the servers run: by default all on loopback with free ports;
``natsops lab --topology`` gives each server its own address (standard ports, the monitor on
that address), its own network namespace and short pings (:func:`create`).

:func:`launch` runs the topology it is given as it is: a caller (a test) can hand it one the
loader would refuse, e.g. two leaf sites sharing a JetStream domain, to see what doctor says.

A topology with ``auth: {operator: NAME}`` runs that operator of the user's auth store (see
:mod:`natsops.topology.local_operator`): every server gets the operator, the system account and
a resolver of the topology's type with every account preloaded (a MEMORY resolver's preload is
an include file beside the config, which ``auth push`` rewrites: :mod:`natsops.auth.
push_preload`), leaf remotes log in with creds, and the contexts
point at creds files in the store (the APP contexts of leaf sites at a user of the account the
site binds). The store is the user's and outlives the topology.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from natsops.cluster.contexts import check_free, save_contexts
from natsops.cluster.deployment import CLUSTER, LEAF, Group, LocalDeployment, LocalLogin
from natsops.cluster.deployment_ready import start_topology
from natsops.cluster.deployment_status import TopologyStatus, topology_status
from natsops.cluster.local import LocalCluster, NodeSpec
from natsops.cluster.process import find_server_binary, server_version
from natsops.cluster.ready import Progress, silent
from natsops.context import Secret, write_private
from natsops.errors import Conflict, UsageError
from natsops.files import check_output_dir
from natsops.topology.model import Cluster, LeafSite, Ports, Topology
from natsops.topology.passwords import (
    SECRETS_FILE,
    Passwords,
    resolve_passwords,
    save_passwords,
)
from natsops.topology.relocate import relocate
from natsops.topology.server_conf import PRELOAD_INCLUDE, TlsPaths, render_server_config

if TYPE_CHECKING:
    from natsops.topology.local_operator import LocalOperator

log = logging.getLogger(__name__)

__all__ = ["LaunchOptions", "LaunchPlan", "LaunchResult", "Placement", "create", "launch",
           "launch_file", "plan", "same_topology", "write_contexts"]

HOST = "127.0.0.1"
# The servers check a password's bcrypt hash at every connection: production cost (11) costs
# ~0.1 s of CPU per connect. These passwords are generated, local and thrown away with the
# directory, so the cheapest cost bcrypt allows keeps clients and tests fast.
LOCAL_BCRYPT_COST = 4


@dataclass(frozen=True)
class LaunchOptions:
    """Where and how to start a topology locally."""

    dir: Path | None = None  # None: ./.natsops/<topology name>
    server_bin: str | None = None
    timeout: float = 60.0
    write_contexts: bool = True
    select_context: bool | None = None  # None: select only if nothing is selected
    store: Path | None = None  # operator mode: the auth store (None: NATSOPS_STORE/default)


@dataclass(frozen=True)
class Placement:
    """Where a topology's servers run on this machine. Without ``addresses``: every server on
    127.0.0.1 with ports the OS hands out, monitors on loopback. With ``addresses`` (every
    server's own address, ``natsops lab``): the standard ports on that address, the monitor
    listening publicly (reached on that address), each server in its ``netns``."""

    addresses: Mapping[str, str] = field(default_factory=dict)
    netns: Mapping[str, str] = field(default_factory=dict)
    ping: tuple[str, int] | None = None  # short pings on every link (see server_conf)


LOOPBACK = Placement()


@dataclass(frozen=True)
class LaunchResult:
    """What :func:`launch` did and what it left running."""

    status: TopologyStatus
    created: bool
    started: tuple[str, ...]
    already_running: tuple[str, ...]
    contexts: tuple[str, ...]
    seconds: float
    probes: Mapping[str, int]
    operator: str | None = None
    store: str | None = None
    store_created: tuple[str, ...] = ()  # accounts and users bootstrap added to the store


@dataclass(frozen=True)
class LaunchPlan:
    """What :func:`launch` would do (``--dry-run``): ports are picked only when it starts."""

    action: str
    name: str
    dir: str
    tls: bool
    groups: tuple[dict[str, Any], ...]  # name, kind, nodes, links, domain
    running: tuple[str, ...] = ()
    operator: str | None = None
    store: str | None = None
    store_changes: tuple[str, ...] = ()  # accounts and users it would add to the store


def default_dir(topo: Topology) -> Path:
    return Path(".natsops") / topo.name


def plan(path: Path, opts: LaunchOptions, env: Mapping[str, str]) -> LaunchPlan:
    """Load and validate the topology file; say what :func:`launch_file` would start."""
    from natsops.topology.load import load_topology

    topo = load_topology(path, env).topology
    directory = (opts.dir or default_dir(topo)).expanduser()
    groups = tuple({"name": g.name, "kind": LEAF if isinstance(g, LeafSite) else CLUSTER,
                    "nodes": [n.name for n in g.nodes],
                    "gateways": list(topo.gateway_peers(g.name)) if isinstance(g, Cluster)
                    else [], "hub": getattr(g, "hub", None),
                    "domain": g.domain if isinstance(g, LeafSite) else topo.domain}
                   for g in _groups(topo))
    if LocalDeployment.exists(directory):
        dep = LocalDeployment.load(directory)
        same_topology(dep, topo)
        _same_store(dep, opts)
        return LaunchPlan("report or restart the existing topology", topo.name, str(dep.dir),
                          bool(dep.tls_ca), groups, tuple(dep.running_nodes()), dep.operator,
                          dep.store)
    store = _store_root(topo, opts, env, directory)
    changes: tuple[str, ...] = ()
    if store is not None:  # checks the operator and the leaf sites' accounts; changes nothing
        from natsops.auth.store import Store
        from natsops.topology.local_operator import store_changes

        changes = store_changes(topo, Store(store))
    return LaunchPlan("create and start", topo.name, str(directory), topo.tls is not None,
                      groups, operator=topo.auth.operator,
                      store=str(store) if store else None, store_changes=changes)


async def launch_file(path: Path, opts: LaunchOptions, env: Mapping[str, str],
                      progress: Progress = silent) -> LaunchResult:
    """Load and validate the topology file, then :func:`launch` it."""
    from natsops.topology.load import load_topology

    loaded = load_topology(path, env)
    for w in loaded.warnings:
        log.warning("%s", w)
    return await launch(loaded.topology, opts, env, progress=progress)


async def launch(topo: Topology, opts: LaunchOptions, env: Mapping[str, str],
                 progress: Progress = silent) -> LaunchResult:
    """Start ``topo`` on loopback (or report the one running in the directory), wait until
    usable, write the contexts (see the module doc)."""
    t0 = time.monotonic()
    directory = (opts.dir or default_dir(topo)).expanduser()
    created = False
    store_created: tuple[str, ...] = ()
    if LocalDeployment.exists(directory):
        dep = LocalDeployment.load(directory)
        same_topology(dep, topo)
        _same_store(dep, opts)
        if opts.server_bin:  # this start runs it (as bootstrap does for one cluster)
            exe = find_server_binary(opts.server_bin, env)
            for c in dep.clusters():
                c.binary = exe
    else:
        dep, store_created = _create(topo, directory, opts, env, progress, LOOPBACK)
        created = True
    already = tuple(dep.running_nodes())
    ready = await start_topology(dep, timeout=opts.timeout, progress=progress)
    contexts = dep.contexts
    if opts.write_contexts:
        contexts = write_contexts(dep, env, opts.select_context)
        if contexts != dep.contexts:
            dep.contexts = contexts
            dep.save()
    status = await topology_status(dep)
    return LaunchResult(status=status, created=created, started=ready.started,
                        already_running=already, contexts=contexts,
                        seconds=time.monotonic() - t0, probes=ready.probes,
                        operator=dep.operator, store=dep.store, store_created=store_created)


def _groups(topo: Topology) -> list[Cluster | LeafSite]:
    return [*topo.clusters, *topo.leafs]


def same_topology(dep: LocalDeployment, topo: Topology) -> None:
    """Conflict unless ``dep`` runs ``topo`` (same name, groups and servers)."""
    want = sorted(g.name for g in _groups(topo))
    have = sorted(g.name for g in dep.groups)
    same = sorted(n.name for n in topo.all_nodes()) == sorted(n.name for n in dep.nodes)
    if dep.name != topo.name or want != have or not same:
        def servers(names: list[str]) -> str:
            return ", ".join(sorted(names))

        raise Conflict(f"{dep.dir} already holds topology {dep.name} (servers "
                       f"{servers([n.name for n in dep.nodes])}), not {topo.name} as the file "
                       f"has it (servers {servers([n.name for n in topo.all_nodes()])})",
                       hint="use another --dir, or remove it with "
                       f"`natsops cluster down --purge --dir {dep.dir}`")


def _store_root(topo: Topology, opts: LaunchOptions, env: Mapping[str, str],
                directory: Path) -> Path | None:
    """The auth store an operator-mode topology runs (None: plain accounts); never inside the
    topology's folder."""
    from natsops.auth.store import default_store_root
    from natsops.topology.local_operator import check_store

    if not topo.auth.operator_mode:
        if opts.store is not None:
            raise UsageError(f"--store does not go with --topology {topo.file or topo.name}: "
                             "it has plain accounts (--store is for auth: {operator: NAME})")
        return None
    root = (opts.store or default_store_root(env)).expanduser()
    check_store(root, directory)
    return root


def _same_store(dep: LocalDeployment, opts: LaunchOptions) -> None:
    """A running topology keeps the store it was started with (its contexts point into it)."""
    if opts.store is None or dep.store is None:
        return
    if opts.store.expanduser().resolve() != Path(dep.store).resolve():
        raise Conflict(f"{dep.dir} runs operator {dep.operator} of the auth store {dep.store}, "
                       f"not of {opts.store}", hint="drop --store, or use another --dir")


def create(topo: Topology, directory: Path, opts: LaunchOptions, env: Mapping[str, str],
           progress: Progress = silent, placement: Placement = LOOPBACK) -> LocalDeployment:
    """Write ``topo``, placed as ``placement`` says, into ``directory`` (starts nothing): a
    directory this call created is removed again if writing fails. An operator-mode topology
    adds the users it needs to the auth store (see :mod:`natsops.topology.local_operator`)."""
    return _create(topo, directory, opts, env, progress, placement)[0]


def _create(topo: Topology, directory: Path, opts: LaunchOptions, env: Mapping[str, str],
            progress: Progress, placement: Placement
            ) -> tuple[LocalDeployment, tuple[str, ...]]:
    """:func:`create`, and what it added to the auth store."""
    store = _store_root(topo, opts, env, directory)
    if LocalCluster.exists(directory):
        raise Conflict(f"{directory} holds a local cluster, not a topology",
                       hint="use another --dir")
    existed = directory.exists()
    check_output_dir(directory, what="--dir")
    try:
        return _write(topo, directory, opts, env, progress, placement, store)
    except BaseException:
        if not existed:  # nothing half-written: a directory without topology.json is no use
            shutil.rmtree(directory, ignore_errors=True)
        raise


def _place(topo: Topology, root: Path, placement: Placement) -> Topology:
    """``topo`` moved onto this machine (see :class:`Placement`), stores under ``root``."""
    if placement.addresses:
        own = {n.name: replace(n, host=placement.addresses[n.name],
                               listen=placement.addresses[n.name], ports=Ports())
               for n in topo.all_nodes()}
        local = replace(topo.with_nodes(own), monitor="public")  # in its own namespace
    else:
        local = replace(relocate(topo, host=HOST), monitor="local")  # loopback only, always
    return local.with_nodes({n.name: replace(n, jetstream=replace(
        n.jetstream, store_dir=str(root / local.group_of(n.name).name / n.name / "jetstream")))
        for n in local.all_nodes()})


def _write(topo: Topology, directory: Path, opts: LaunchOptions, env: Mapping[str, str],
           progress: Progress, placement: Placement, store: Path | None
           ) -> tuple[LocalDeployment, tuple[str, ...]]:
    """Render the relocated topology into ``directory``; ``topology.json`` is written last.
    Returns it and what was added to the auth store (operator mode)."""
    if opts.write_contexts:  # before anything is written or started
        for g in _groups(topo):
            check_free(g.name, directory / g.name, env,
                       rename=f"rename cluster {g.name} in the topology file, or stop the other "
                       "one first")
    binary = find_server_binary(opts.server_bin, env)
    version = server_version(binary)
    root = directory.resolve()
    local = _place(topo, root, placement)
    groups = _groups(local)
    progress(f"rendering configs for {sum(len(g.nodes) for g in groups)} servers in {root}")
    root.mkdir(parents=True, exist_ok=True)
    pw = resolve_passwords(local, env, saved=root / SECRETS_FILE, cost=LOCAL_BCRYPT_COST)
    save_passwords(pw, root / SECRETS_FILE)
    tls = _generate_tls(local, root / "tls") if local.tls is not None else None
    lop = None
    if store is not None:
        from natsops.auth.store import Store
        from natsops.topology.local_operator import prepare

        lop = prepare(local, Store(store), progress)
    for g in groups:
        _write_group(local, g, root / g.name, pw, tls, binary, version, placement, lop)
    dep = LocalDeployment(dir=root, name=topo.name, groups=tuple(_group(local, g) for g in groups),
                          binary=binary, version=version, created=time.time(),
                          source=str(Path(topo.file).resolve()) if topo.file else "",
                          tls_ca=str(root / "tls" / "ca.pem") if tls else None,
                          operator=lop.op if lop else None,
                          store=str(store.resolve()) if store else None)
    if lop is not None:
        dep.write_credentials(lop.app, lop.sys, {s: lg for s, lg in lop.sites.items()
                                                 if lg is not lop.app})
    else:
        dep.write_credentials(*_logins(local, pw.clear))
    dep.save()
    log.info("topology %s in %s: %s", topo.name, root,
             ", ".join(f"{g.name} ({len(g.nodes)})" for g in groups))
    return dep, lop.created if lop else ()


def _write_group(topo: Topology, g: Cluster | LeafSite, gdir: Path, pw: Passwords,
                 tls: Mapping[str, TlsPaths] | None, binary: Path, version: str,
                 placement: Placement, lop: LocalOperator | None) -> None:
    """The group's LocalCluster (``cluster.json``) and every node's config and secrets."""
    cluster = LocalCluster(
        dir=gdir, name=g.name, binary=binary, version=version, created=time.time(),
        nodes=tuple(NodeSpec(n.name, n.ports.client, n.ports.cluster, n.ports.monitor,
                             host=n.host, netns=placement.netns.get(n.name))
                    for n in g.nodes),
        max_mem=g.nodes[0].jetstream.max_memory, max_file=g.nodes[0].jetstream.max_file)
    for n in g.nodes:
        ndir = cluster.node_dir(n.name)
        ob = None
        if lop is not None:  # leaf creds copied beside the config, as `natsops render` does
            ob = lop.setup.blocks(topo, n, creds_dir=ndir, interval="1m")
            ndir.mkdir(parents=True, exist_ok=True)
            for c in lop.setup.creds_for(topo, n):
                write_private(ndir / c.file, lop.setup.creds_text(c))
        conf = render_server_config(topo, n.name, pw, tls=tls[n.name] if tls else None,
                                    operator=ob, ping=placement.ping)
        ndir.mkdir(parents=True, exist_ok=True)
        write_private(cluster.config_path(n.name), conf.text)
        if conf.secrets is not None:
            write_private(cluster.node_dir(n.name) / conf.secrets_name, conf.secrets)
        if conf.preload is not None:
            write_private(cluster.node_dir(n.name) / PRELOAD_INCLUDE, conf.preload)
    cluster.save()


def _group(topo: Topology, g: Cluster | LeafSite) -> Group:
    js = any(n.jetstream.enabled for n in g.nodes)
    if isinstance(g, LeafSite):
        return Group(g.name, LEAF, domain=g.domain, hub=g.hub, account=g.account,
                     leaf_connections=2 if g.system else 1, jetstream=js)
    peers = tuple(c.name for c in topo.clusters if c.name != g.name) if topo.gateways else ()
    ports = {n.name: {k: v for k, v in topo.used_ports(n).items()
                      if k in ("gateway", "leafnode")} for n in g.nodes}
    return Group(g.name, CLUSTER, domain=topo.domain, gateways=peers, jetstream=js,
                 ports={k: v for k, v in ports.items() if v})


def _logins(topo: Topology, clear: Mapping[str, str]) -> tuple[LocalLogin | None, LocalLogin]:
    """The APP user natsops logs in as (the first user of the first JetStream account, else of
    any account) and the system account's ``sys`` user."""
    accounts = sorted(topo.auth.accounts, key=lambda a: not a.jetstream)
    app = next(((a, a.users[0]) for a in accounts if a.users), None)
    sys = LocalLogin("sys", Secret(clear["sys"]), topo.auth.system_account)
    if app is None:
        return None, sys
    acc, user = app
    return LocalLogin(user.name, Secret(clear[f"user:{acc.name}:{user.name}"]), acc.name,
                      acc.jetstream), sys


def _generate_tls(topo: Topology, folder: Path) -> dict[str, TlsPaths]:
    """A throwaway CA and one certificate per server for ``127.0.0.1``/``localhost`` (keys
    0600): the topology's own certificates name its production hosts."""
    from natsops.tls import generate_ca, issue_cert, write_pair
    from natsops.topology.render import node_sans

    ca = generate_ca(f"natsops local CA for topology {topo.name}")
    write_pair(ca, folder / "ca.pem", folder / "ca-key.pem")
    paths: dict[str, TlsPaths] = {}
    for n in topo.all_nodes():
        dns, ips = node_sans(n)  # relocated: 127.0.0.1, localhost and the server's name
        pair = issue_cert(ca, n.name, dns_names=dns, ip_addresses=ips)
        cert, key = folder / f"{n.name}.pem", folder / f"{n.name}-key.pem"
        write_pair(pair, cert, key)
        paths[n.name] = TlsPaths(ca=str(folder / "ca.pem"), cert=str(cert), key=str(key))
    return paths


def write_contexts(dep: LocalDeployment, env: Mapping[str, str],
                   select: bool | None) -> tuple[str, ...]:
    """``natsops-<group>`` (the APP user) and ``natsops-<group>-sys`` for every cluster and
    leaf site, on that group's servers, with the CA when TLS is on. The first cluster's APP
    context is selected when ``select`` (or when nothing is selected and ``select`` is None)."""
    sys = dep.login("sys")
    if dep.login("app") is None or sys is None:
        return ()  # a topology whose accounts have no user: nothing to log in with
    tls = {"ca": dep.tls_ca} if dep.tls_ca else {}
    op = f"{dep.operator}/" if dep.operator else ""
    written: list[str] = []
    for i, g in enumerate(dep.groups):
        app = dep.login("app", g.name)
        assert app is not None
        what = f"natsops local cluster {g.name}"
        c = dep.cluster(g.name)
        pair = save_contexts(
            c,
            {"description": f"{what} ({op}{app.account}/{app.user})",
             **app.context_fields(), **tls},
            {"description": f"{what} ({op}{sys.account}/{sys.user}: system account, "
                            "monitoring only)", **sys.context_fields(), **tls},
            env, select if i == 0 else False)
        if pair != c.contexts:  # the group's own record: `cluster down --purge` removes them
            c.contexts = pair
            c.save()
        written += pair
    return tuple(written)
