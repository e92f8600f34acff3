"""``natsops bootstrap``: a usable local JetStream cluster, and production configs per host.

:func:`bootstrap` starts (or finds) a local cluster and returns only when it is usable: every
node's full ``/healthz`` is ok, the JetStream meta leader is known, and a stream with
``min(3, nodes)`` replicas can be created, written to and removed. If anything fails, or the
caller is cancelled (Ctrl-C), every process this call started is stopped before the error
propagates. :func:`render_production` writes one config and one systemd unit per host.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from natsops._version import __version__
from natsops.cluster.local import LocalCluster, NodeSpec, plan_nodes
from natsops.cluster.process import find_server_binary
from natsops.context import Secret, Settings, save_context, selected_context, write_private
from natsops.errors import Conflict, NatsopsError, Timeout, UsageError

__all__ = [
    "BootstrapOptions",
    "BootstrapResult",
    "ClusterStatus",
    "NodeStatus",
    "RenderedHost",
    "bootstrap",
    "bring_up",
    "cluster_status",
    "render_production",
    "start_nodes",
    "wait_usable",
]

Progress = Callable[[str], None]


def _noop(_: str) -> None:
    pass


@dataclass(frozen=True)
class BootstrapOptions:
    """What ``natsops bootstrap`` was asked for."""

    dir: Path
    nodes: int = 3
    name: str = "C1"
    base_port: int | None = 4222  # None: pick free ports
    server_bin: str | None = None
    allow_even: bool = False
    timeout: float = 30.0
    max_mem: str = "1GB"
    # a cap, not an allocation: big enough for the guide's ORDERS recipe (R3, max_bytes 50GB)
    max_file: str = "64GB"
    write_contexts: bool = True
    select_context: bool | None = None  # None: select only if nothing is selected


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


@dataclass(frozen=True)
class BootstrapResult:
    """What bootstrap did and what it left running."""

    status: ClusterStatus
    created: bool
    started: tuple[str, ...]
    already_running: tuple[str, ...]
    contexts: tuple[str, ...]
    seconds: float
    probe_replicas: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)


def validate_node_count(nodes: int, allow_even: bool) -> None:
    if nodes < 1:
        raise UsageError("--nodes must be at least 1")
    if nodes % 2 == 0 and not allow_even:
        raise UsageError(
            f"--nodes {nodes} is even: Raft needs an odd number of nodes to keep a majority "
            "(3 or 5); pass --allow-even to do it anyway"
        )


def _valid_cluster_name(name: str) -> None:
    if not name or any(c.isspace() for c in name) or any(c in name for c in ".*>/\\\"'"):
        raise UsageError(f"invalid cluster name {name!r}: no spaces, dots, wildcards or quotes")


def start_nodes(cluster: LocalCluster, names: list[str] | None = None) -> list[str]:
    """Start the given (default: all) nodes that are not running; returns the started names.

    If starting one fails, the ones started by this call are stopped again.
    """
    started: list[str] = []
    try:
        for n in cluster.nodes:
            if names is not None and n.name not in names:
                continue
            if cluster.start_node(n.name) is not None:
                started.append(n.name)
    except BaseException:
        cluster.stop_all(grace=5, only=started)
        raise
    return started


async def _health_of(url: str, timeout: float) -> tuple[bool, str | None]:
    from natsops.monitoring import MonitorClient

    try:
        async with MonitorClient(url, timeout=timeout) as mon:
            h = await mon.healthz()
    except NatsopsError as exc:
        return False, str(exc)
    return h.ok, h.error


async def wait_usable(
    cluster: LocalCluster,
    *,
    timeout: float = 30.0,
    probe: bool = True,
    probe_settings: Settings | None = None,
    restartable: Collection[str] = (),
    kick_after: float = 5.0,
    progress: Progress = _noop,
) -> int:
    """Wait until the cluster is usable (see module doc); returns the probe's replica count.

    ``restartable`` names nodes this caller started: one that never reaches the meta leader
    within ``kick_after`` seconds while the others do is restarted once.
    """
    from natsops.monitoring import MonitorClient

    deadline = time.monotonic() + timeout
    last: dict[str, str] = {}

    def check_processes() -> None:
        for n in cluster.nodes:
            proc = cluster.process(n.name)
            if proc is None or not proc.running:
                tail = (proc.log_tail(40) if proc else []) or _tail(cluster.log_path(n.name))
                raise NatsopsError(
                    f"{n.name} exited during start-up: {_log_error(tail)}",
                    hint=f"see {cluster.log_path(n.name)}",
                )

    def remaining() -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            detail = "; ".join(f"{k}: {v}" for k, v in sorted(last.items())) or "no answer"
            raise Timeout(f"cluster {cluster.name} not usable after {timeout:g}s ({detail})",
                          hint=f"see the logs in {cluster.dir}")
        return left

    # 1. every node's full /healthz is ok
    progress("waiting for /healthz on every node")
    pending = {n.name: n for n in cluster.nodes}
    while pending:
        check_processes()
        results = await asyncio.gather(
            *(_health_of(n.monitor_url, min(2.0, remaining())) for n in pending.values()))
        for (name, _), (ok, err) in zip(list(pending.items()), results, strict=True):
            if ok:
                del pending[name]
                last.pop(name, None)
            else:
                last[name] = err or "not healthy"
        if pending:
            await asyncio.sleep(min(0.1, remaining()))

    # 2. every node is in contact with the same JetStream meta leader
    progress("waiting for a JetStream meta leader")

    async def meta_seen_by(n: NodeSpec) -> dict[str, Any]:
        try:
            async with MonitorClient(n.monitor_url, timeout=min(2.0, remaining())) as mon:
                jsz = await mon.jsz()
        except NatsopsError as exc:
            last[n.name] = str(exc)
            return {}
        return dict(jsz.get("meta_cluster") or {})

    since = time.monotonic()
    kicked = False
    names = [n.name for n in cluster.nodes]
    while len(cluster.nodes) > 1:
        check_processes()
        metas = dict(zip(names, await asyncio.gather(*(meta_seen_by(n) for n in cluster.nodes)),
                         strict=True))
        seen = {name: m.get("leader") or None for name, m in metas.items()}
        lost = sorted(name for name, leader in seen.items() if not leader)
        leaders = set(seen.values())
        if not lost and len(leaders) == 1:
            # errata E7: ready only when the meta leader's own view has every peer current
            leader = next(iter(leaders))
            peers = {r.get("name"): r for r in metas.get(str(leader), {}).get("replicas") or []}
            lost = sorted(name for name in names if name != leader and not (
                peers.get(name, {}).get("current") and not peers.get(name, {}).get("offline")))
            if not lost:
                break
            last["meta"] = f"{', '.join(lost)} not current in the meta leader's view"
        else:
            last["meta"] = (f"{', '.join(lost)} not in contact with the meta leader" if lost
                            else "nodes disagree on the meta leader")
        # A node whose routes are up but whose JetStream never gets current with the meta
        # leader (seen with 2.10 when all nodes start at once) stays so: restart it, once, if
        # this caller started it.
        kick = [name for name in lost if name in restartable]
        if lost and not kicked and kick and len(lost) < len(seen) and \
                time.monotonic() - since > kick_after:
            progress(f"restarting {', '.join(kick)}: not current with the meta leader")
            for name in kick:
                cluster.stop_node(name, grace=5)
                cluster.start_node(name)
            kicked = True
        await asyncio.sleep(min(0.1, remaining()))
    last.pop("meta", None)

    if not probe:
        return 0
    # 3. a replicated stream can be placed, written to and removed
    replicas = min(3, len(cluster.nodes))
    progress(f"placing an R{replicas} probe stream")
    await _probe(probe_settings or app_settings(cluster), replicas, remaining, last,
                 check_processes)
    return replicas


def app_settings(cluster: LocalCluster) -> Settings:
    """Settings for the local cluster's APP account (its `app` user)."""
    creds = cluster.credentials()
    return Settings(servers=tuple(cluster.client_urls), user="app",
                    password=Secret(creds.get("app", "")), timeout=2.0,
                    connection_name=f"natsops {__version__} bootstrap probe")


async def _probe(settings: Settings, replicas: int, remaining: Callable[[], float],
                 last: dict[str, str], check_processes: Callable[[], None]) -> None:
    """Create an R``replicas`` stream, publish to it, delete it; retry until the deadline."""
    from nats.js.api import StorageType, StreamConfig

    from natsops.connection import connect

    name = f"NATSOPS_PROBE_{secrets.token_hex(4).upper()}"
    subject = f"natsops.probe.{name.lower()}"
    while True:
        check_processes()
        try:
            async with connect(settings.with_(timeout=max(0.5, min(2.0, remaining())))) as conn:
                try:
                    await conn.js.add_stream(StreamConfig(
                        name=name, subjects=[subject], num_replicas=replicas, max_msgs=10,
                        storage=StorageType.FILE))
                    ack = await conn.js.publish(subject, b"probe")
                    if ack.stream == name:
                        return
                    last["probe"] = f"probe publish acked by {ack.stream}, expected {name}"
                finally:
                    # a probe must not survive us, whatever happened above
                    with contextlib.suppress(Exception):
                        await conn.js.delete_stream(name)
        except Exception as exc:  # the meta group or the account may still be forming
            last["probe"] = f"{type(exc).__name__}: {exc}".strip(": ")
        await asyncio.sleep(min(0.2, remaining()))


def _tail(path: Path, lines: int = 40) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return []


def _log_error(lines: list[str]) -> str:
    for line in reversed(lines):
        if "[FTL]" in line or "[ERR]" in line:
            return line.split("] ", 2)[-1].strip()
    return lines[-1].strip() if lines else "no log output"


async def cluster_status(cluster: LocalCluster, *, timeout: float = 2.0) -> ClusterStatus:
    """Pid, health, version and meta leader of every node (concurrently)."""
    from natsops.monitoring import MonitorClient

    async def one(n: NodeSpec) -> NodeStatus:
        pid = cluster.pid(n.name)
        healthy, err, version, leader, js, conns = False, None, None, None, False, None
        if pid is not None:
            try:
                async with MonitorClient(n.monitor_url, timeout=timeout) as mon:
                    h, summary = await asyncio.gather(mon.healthz(), mon.summary())
                healthy, err = h.ok, h.error
                version, leader, js = summary.version, summary.meta_leader, summary.jetstream
                conns = summary.connections
            except NatsopsError as exc:
                err = str(exc)
        else:
            err = "not running"
        return NodeStatus(name=n.name, pid=pid, running=pid is not None,
                          client_url=n.client_url, monitor_url=n.monitor_url,
                          cluster_url=n.cluster_url, healthy=healthy, health_error=err,
                          version=version, meta_leader=leader, jetstream=js, connections=conns)

    nodes = tuple(await asyncio.gather(*(one(n) for n in cluster.nodes)))
    leaders = [n.meta_leader for n in nodes if n.meta_leader]
    return ClusterStatus(name=cluster.name, dir=str(cluster.dir), binary=str(cluster.binary),
                         version=cluster.version, nodes=nodes,
                         meta_leader=leaders[0] if leaders else None, contexts=cluster.contexts)


def write_contexts(cluster: LocalCluster, env: Mapping[str, str],
                   select: bool | None) -> tuple[str, ...]:
    """Write natscli contexts ``natsops-<name>`` (app) and ``natsops-<name>-sys`` (0600)."""
    creds = cluster.credentials()
    url = ",".join(cluster.client_urls)
    base = f"natsops-{cluster.name}"
    save_context(base, {"description": f"natsops local cluster {cluster.name} (APP account)",
                        "url": url, "user": "app", "password": creds["app"]}, env)
    save_context(f"{base}-sys", {"description": f"natsops local cluster {cluster.name} "
                                 "(system account, monitoring only)",
                                 "url": url, "user": "sys", "password": creds["sys"]}, env)
    if select or (select is None and selected_context(env) is None):
        save_context(base, {"description": f"natsops local cluster {cluster.name} (APP account)",
                            "url": url, "user": "app", "password": creds["app"]}, env,
                     select=True)
    return (base, f"{base}-sys")


async def bootstrap(opts: BootstrapOptions, env: Mapping[str, str],
                    progress: Progress = _noop) -> BootstrapResult:
    """Start a local cluster (or report the one running in ``opts.dir``) and wait until usable."""
    t0 = time.monotonic()
    directory = opts.dir.expanduser()
    created = False
    if LocalCluster.exists(directory):
        cluster = LocalCluster.load(directory)
        if len(cluster.nodes) != opts.nodes or cluster.name != opts.name:
            raise Conflict(
                f"{directory} already holds cluster {cluster.name} with {len(cluster.nodes)} "
                f"nodes (asked for {opts.name} with {opts.nodes})",
                hint="use another --dir, or remove it with "
                f"`natsops cluster down --purge --dir {directory}`",
            )
        if opts.server_bin:
            cluster.binary = find_server_binary(opts.server_bin, env)
    else:
        validate_node_count(opts.nodes, opts.allow_even)
        _valid_cluster_name(opts.name)
        binary = find_server_binary(opts.server_bin, env)
        specs = plan_nodes(opts.nodes, opts.base_port)
        progress(f"rendering configs for {opts.nodes} nodes in {directory}")
        cluster = LocalCluster.create(directory, name=opts.name, nodes=specs, binary=binary,
                                      max_mem=opts.max_mem, max_file=opts.max_file, env=env)
        created = True

    return await bring_up(
        cluster, opts, created=created, t0=t0, progress=progress,
        write_ctx=lambda: write_contexts(cluster, env, opts.select_context))


async def bring_up(
    cluster: LocalCluster,
    opts: BootstrapOptions,
    *,
    created: bool,
    t0: float,
    write_ctx: Callable[[], tuple[str, ...]],
    probe_settings: Settings | None = None,
    progress: Progress = _noop,
    extra: Mapping[str, Any] | None = None,
) -> BootstrapResult:
    """Start the nodes that are not running, wait until usable, write the contexts.

    On any failure (Ctrl-C, a timeout, a crash) every node this call started is stopped.
    """
    already = cluster.running_nodes()
    progress(f"starting {len(cluster.nodes) - len(already)} nats-server processes")
    started = start_nodes(cluster)
    try:
        replicas = await wait_usable(cluster, timeout=opts.timeout, restartable=started,
                                     probe_settings=probe_settings, progress=progress)
        contexts: tuple[str, ...] = cluster.contexts
        if opts.write_contexts:
            contexts = write_ctx()
            if contexts != cluster.contexts:
                cluster.contexts = contexts
                cluster.save()
        status = await cluster_status(cluster)
    except BaseException:
        cluster.stop_all(grace=5, only=started)
        raise
    return BootstrapResult(status=status, created=created, started=tuple(started),
                           already_running=tuple(already), contexts=contexts,
                           seconds=time.monotonic() - t0, probe_replicas=replicas,
                           extra=dict(extra or {}))


# ---- production configs -------------------------------------------------------------------

@dataclass(frozen=True)
class RenderedHost:
    """Files written for one production host."""

    host: str
    server_name: str
    config: str
    unit: str


def render_production(
    hosts: list[str],
    out: Path,
    *,
    name: str = "C1",
    client_port: int = 4222,
    cluster_port: int = 6222,
    monitor_port: int = 8222,
    store_dir: str = "/var/lib/nats/jetstream",
    config_path: str = "/etc/nats/nats-server.conf",
    server_bin: str = "/usr/local/bin/nats-server",
    run_user: str = "nats",
    max_mem: str = "4GB",
    max_file: str = "100GB",
    lame_duck_duration: str = "2m",
    lame_duck_grace_period: str = "10s",
    allow_even: bool = False,
    force: bool = False,
    listen_host: str = "0.0.0.0",
) -> list[RenderedHost]:
    """Write ``OUT/<host>/nats-server.conf`` and ``nats-server.service`` for every host."""
    from natsops.render import render
    from natsops.units import parse_duration

    hosts = [h.strip() for h in hosts if h.strip()]
    if not hosts:
        raise UsageError("--hosts needs at least one host name")
    if len(set(hosts)) != len(hosts):
        raise UsageError("--hosts lists a host twice")
    validate_node_count(len(hosts), allow_even)
    _valid_cluster_name(name)
    for h in hosts:
        if any(c.isspace() for c in h) or "/" in h or ":" in h:
            raise UsageError(f"invalid host {h!r}: give a host name or IP, without a port")
    if parse_duration(lame_duck_grace_period) >= parse_duration(lame_duck_duration):
        raise UsageError("lame duck grace period must be shorter than the lame duck duration")
    if parse_duration(lame_duck_duration) < 30:
        raise UsageError("lame duck duration must be at least 30s (nats-server refuses less)")
    existing = [h for h in hosts if (out / h / "nats-server.conf").exists()]
    if existing and not force:
        raise Conflict(f"{out / existing[0] / 'nats-server.conf'} exists; pass --force to "
                       "overwrite")
    sys_pw, app_pw, route_pw = (secrets.token_urlsafe(18) for _ in range(3))
    clustered = len(hosts) > 1
    stop_timeout = int(parse_duration(lame_duck_duration)) + 30
    written = []
    for h in hosts:
        conf = render(
            "server.conf.j2",
            purpose=f"production cluster {name}",
            natsops_version=__version__,
            server_name=h,
            listen_host=listen_host,
            client_port=client_port,
            http_host=listen_host,
            http_port=monitor_port,
            lame_duck_duration=lame_duck_duration,
            lame_duck_grace_period=lame_duck_grace_period,
            store_dir=store_dir,
            max_mem=max_mem,
            max_file=max_file,
            routes=[f"nats-route://route:{route_pw}@{o}:{cluster_port}" for o in hosts if o != h]
            if clustered else None,
            cluster_name=name,
            cluster_host=listen_host,
            cluster_port=cluster_port,
            route_user="route",
            route_password=route_pw,
            sys_password=sys_pw,
            app_password=app_pw,
            no_auth_user=False,
        )
        unit = render("nats-server.service.j2", natsops_version=__version__, server_name=h,
                      cluster_name=name, run_user=run_user, binary=server_bin,
                      config_path=config_path, stop_timeout=stop_timeout,
                      store_dir=str(Path(store_dir).parent))
        d = out / h
        d.mkdir(parents=True, exist_ok=True)
        write_private(d / "nats-server.conf", conf)
        (d / "nats-server.service").write_text(unit)
        written.append(RenderedHost(host=h, server_name=h, config=str(d / "nats-server.conf"),
                                    unit=str(d / "nats-server.service")))
    return written
