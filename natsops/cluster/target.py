"""A local cluster or a local topology: what ``natsops cluster`` works on.

A directory holding ``cluster.json`` is one cluster (``natsops bootstrap``); one holding
``topology.json`` is a whole topology (``natsops bootstrap --topology``): its clusters and leaf
sites. The functions here take either and do the same thing to every server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from natsops.cluster.deployment import LocalDeployment, is_deployment
from natsops.cluster.local import LocalCluster
from natsops.cluster.ready import Progress, silent
from natsops.cluster.status import ClusterStatus

__all__ = ["DEFAULT_DIR", "Local", "default_local_dir", "load_local", "purge_local",
           "restart_local", "start_local", "status_local"]

Local = LocalCluster | LocalDeployment

if TYPE_CHECKING:
    from natsops.cluster.deployment_status import TopologyStatus


DEFAULT_DIR = Path(".natsops/C1")  # `natsops bootstrap`'s default folder


def default_local_dir(search: Path = Path(".natsops")) -> Path:
    """The folder ``natsops cluster`` works on without ``--dir``: bootstrap's default when it
    holds a cluster, else the only cluster or topology below ``search`` (``bootstrap
    --topology`` writes ``.natsops/<name>``), else the default (reported as missing)."""
    from natsops.errors import UsageError

    if (DEFAULT_DIR / "cluster.json").is_file() or not search.is_dir():
        return DEFAULT_DIR
    found = sorted({p.parent for pattern in ("*/cluster.json", "*/topology.json")
                    for p in search.glob(pattern)})
    if len(found) > 1:
        raise UsageError(f"{len(found)} local clusters in {search}: "
                         f"{', '.join(p.name for p in found)}; choose one with --dir",
                         hint=f"natsops cluster status --dir {found[0]}")
    return found[0] if found else DEFAULT_DIR


def load_local(directory: Path) -> Local:
    """The topology or the cluster in ``directory`` (NotFound when it holds neither).

    A cluster or leaf site of a topology (``DIR/<group>``) means its whole topology: its
    servers are usable only together (one meta group spans the gateways)."""
    for d in (directory, directory.expanduser().resolve().parent):
        if is_deployment(d):
            return LocalDeployment.load(d)
    return LocalCluster.load(directory)


async def status_local(target: Local, *, timeout: float = 2.0) -> ClusterStatus | TopologyStatus:
    """Every server's pid, health, version and meta leader (and a topology's links); each
    monitor request waits ``timeout`` seconds."""
    if isinstance(target, LocalDeployment):
        from natsops.cluster.deployment_status import topology_status

        return await topology_status(target, timeout=timeout)
    from natsops.cluster.status import cluster_status

    return await cluster_status(target, timeout=timeout)


async def start_local(target: Local, names: Iterable[str] | None = None, *,
                      timeout: float = 30.0, progress: Progress = silent) -> tuple[str, ...]:
    """Start the stopped servers (or those named) and wait until usable; the names started.
    If it does not get usable, the servers started are stopped again."""
    if isinstance(target, LocalDeployment):
        from natsops.cluster.deployment_ready import start_topology

        return (await start_topology(target, names, timeout=timeout, progress=progress)).started
    from natsops.cluster.ready import start_usable

    return (await start_usable(target, names, timeout=timeout, progress=progress)).started


async def restart_local(target: Local, name: str, *, grace: float = 10.0,
                        timeout: float = 30.0, progress: Progress = silent) -> None:
    """Restart one server by pid and wait until the cluster (or topology) is usable again."""
    if isinstance(target, LocalDeployment):
        from natsops.cluster.deployment_ready import restart_topology_node

        await restart_topology_node(target, name, grace=grace, timeout=timeout,
                                    progress=progress)
        return
    from natsops.cluster.ready import restart_node

    await restart_node(target, name, grace=grace, timeout=timeout, progress=progress)


def purge_local(target: Local, env: Mapping[str, str]) -> tuple[str, ...]:
    """Delete the directory (every server stopped) and the contexts it owns; the contexts
    removed."""
    from natsops.cluster import contexts

    if isinstance(target, LocalCluster):
        return contexts.purge(target, env)
    removed: list[str] = []
    for c in target.clusters():
        removed += contexts.purge(c, env)  # each group's own contexts, then its folder
    target.purge()
    return tuple(removed)
