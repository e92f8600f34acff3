"""``natsops bootstrap``: a usable local JetStream cluster in one call.

:func:`bootstrap` creates (or finds) a local cluster and returns only when it is usable in the
sense of :mod:`natsops.cluster.ready`. If anything fails, or the caller is cancelled (Ctrl-C),
every process this call started is stopped before the error propagates. With
``BootstrapOptions.operator`` the cluster runs in operator mode from the auth store
(:mod:`natsops.auth.localdev`). :func:`plan` says what a run would do without doing it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from natsops.cluster.contexts import check_free, write_contexts
from natsops.cluster.local import (
    LocalCluster,
    plan_nodes,
    validate_cluster_name,
    validate_node_count,
)
from natsops.cluster.process import find_server_binary, server_version
from natsops.cluster.ready import Progress, silent, started, wait_usable
from natsops.cluster.status import ClusterStatus, cluster_status
from natsops.context import Settings
from natsops.errors import Conflict
from natsops.files import check_output_dir
from natsops.validate import server_size

log = logging.getLogger(__name__)

__all__ = [
    "BootstrapOptions",
    "BootstrapPlan",
    "BootstrapResult",
    "bootstrap",
    "bring_up",
    "plan",
]

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
    operator: str | None = None  # operator mode: this operator of the auth store
    store: Path | None = None  # the auth store (operator mode; default: the usual one)


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


@dataclass(frozen=True)
class BootstrapPlan:
    """What :func:`bootstrap` would do (``--dry-run``)."""

    action: str
    name: str
    dir: str
    binary: str
    version: str
    nodes: tuple[dict[str, Any], ...]  # name and ports, as cluster.json or the new plan has them
    running: tuple[str, ...] | None = None  # an existing cluster's running nodes

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        if self.running is None:
            del doc["running"]
        return doc


def check_inputs(opts: BootstrapOptions) -> None:
    """Refuse bad values before anything is written: sizes the server would reject (an
    invalid unit, zero, negative, past int64) and a --dir that cannot be created."""
    server_size(opts.max_mem, "--max-mem")
    server_size(opts.max_file, "--max-file")
    check_output_dir(opts.dir.expanduser(), what="--dir")


def plan(opts: BootstrapOptions, env: Mapping[str, str]) -> BootstrapPlan:
    """Describe the cluster bootstrap would start or report; change nothing."""
    check_inputs(opts)
    if LocalCluster.exists(opts.dir):
        c = LocalCluster.load(opts.dir)
        d = c.describe()
        return BootstrapPlan("report or restart existing cluster", d["name"], d["dir"],
                             d["binary"], d["version"], tuple(d["nodes"]),
                             tuple(c.running_nodes()))
    validate_node_count(opts.nodes, opts.allow_even)
    validate_cluster_name(opts.name)
    if opts.operator:  # the operator must be in the store, as bootstrap will need it
        from natsops.auth.store import Store, default_store_root

        Store(opts.store or default_store_root(env)).resolve_operator(opts.operator)
    if opts.write_contexts:
        check_free(opts.name, opts.dir.expanduser(), env)
    exe = find_server_binary(opts.server_bin, env)
    specs = plan_nodes(opts.nodes, opts.base_port)
    return BootstrapPlan("create and start", opts.name, str(opts.dir), str(exe),
                         server_version(exe),
                         tuple({"name": s.name, **s.ports()} for s in specs))


async def bootstrap(opts: BootstrapOptions, env: Mapping[str, str],
                    progress: Progress = silent) -> BootstrapResult:
    """Start a local cluster (or report the one running in ``opts.dir``) and wait until usable."""
    check_inputs(opts)
    if opts.operator:
        from natsops.auth.localdev import bootstrap_operator
        from natsops.auth.store import Store, default_store_root

        store = Store(opts.store or default_store_root(env))
        return await bootstrap_operator(opts, store, store.resolve_operator(opts.operator), env,
                                        progress=progress)
    t0 = time.monotonic()
    directory = opts.dir.expanduser()
    created = False
    if LocalCluster.exists(directory):
        log.info("%s holds a cluster already: starting what is not running", directory)
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
        validate_cluster_name(opts.name)
        if opts.write_contexts:  # before anything is written or started
            check_free(opts.name, directory, env)
        binary = find_server_binary(opts.server_bin, env)
        specs = plan_nodes(opts.nodes, opts.base_port)
        log.info("new cluster %s in %s: %d nodes, nats-server %s", opts.name, directory,
                 opts.nodes, binary)
        log.debug("ports: %s", ", ".join(f"{s.name} {s.ports()}" for s in specs))
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
    progress: Progress = silent,
    extra: Mapping[str, Any] | None = None,
) -> BootstrapResult:
    """Start the nodes that are not running, wait until usable, write the contexts.

    On any failure (Ctrl-C, a timeout, a crash) every node this call started is stopped.
    """
    already = cluster.running_nodes()
    progress(f"starting {len(cluster.nodes) - len(already)} nats-server processes")
    with started(cluster) as ids:
        replicas = await wait_usable(cluster, timeout=opts.timeout, restartable=ids,
                                     probe_settings=probe_settings, progress=progress)
        log.info("cluster %s usable after %.1fs", cluster.name, time.monotonic() - t0)
        contexts: tuple[str, ...] = cluster.contexts
        if opts.write_contexts:
            contexts = write_ctx()
            log.info("natscli contexts written: %s", ", ".join(contexts) or "none")
            if contexts != cluster.contexts:
                cluster.contexts = contexts
                cluster.save()
        status = await cluster_status(cluster)
    return BootstrapResult(status=status, created=created, started=ids,
                           already_running=tuple(already), contexts=contexts,
                           seconds=time.monotonic() - t0, probe_replicas=replicas,
                           extra=dict(extra or {}))
