"""The natscli contexts of a local cluster: ``natsops-<name>`` (APP) and ``natsops-<name>-sys``.

Both are written 0600 into natscli's context folder; removing them is part of purging the cluster.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from natsops.cluster.local import LocalCluster
from natsops.context import config_root, save_context, selected_context

__all__ = ["context_names", "purge", "remove_contexts", "save_contexts", "write_contexts"]


def context_names(cluster_name: str) -> tuple[str, str]:
    """The APP and the system context names of a cluster."""
    return (f"natsops-{cluster_name}", f"natsops-{cluster_name}-sys")


def save_contexts(cluster: LocalCluster, app: Mapping[str, Any], sys: Mapping[str, Any],
                  env: Mapping[str, str], select: bool | None) -> tuple[str, ...]:
    """Write the pair with the cluster's URLs and the given fields (user/password or creds).

    ``select``: True selects the APP context, None selects it only if none is selected yet.
    """
    url = ",".join(cluster.client_urls)
    base, sys_name = context_names(cluster.name)
    select_it = bool(select or (select is None and selected_context(env) is None))
    save_context(sys_name, {**sys, "url": url}, env)
    save_context(base, {**app, "url": url}, env, select=select_it)
    return (base, sys_name)


def write_contexts(cluster: LocalCluster, env: Mapping[str, str],
                   select: bool | None) -> tuple[str, ...]:
    """The pair for a cluster with password users (``app`` in APP, ``sys`` in the system
    account)."""
    creds = cluster.credentials()
    return save_contexts(
        cluster,
        {"description": f"natsops local cluster {cluster.name} (APP account)",
         "user": "app", "password": creds["app"]},
        {"description": f"natsops local cluster {cluster.name} (system account, monitoring only)",
         "user": "sys", "password": creds["sys"]},
        env, select)


def remove_contexts(names: Iterable[str], env: Mapping[str, str]) -> tuple[str, ...]:
    """Delete the named context files; returns the names that existed."""
    folder = config_root(env) / "nats" / "context"
    removed = []
    for name in names:
        if not name or "/" in name or ".." in name:
            continue  # never a path outside the context folder
        path = folder / f"{name}.json"
        if path.is_file():
            path.unlink()
            removed.append(name)
    return tuple(removed)


def purge(cluster: LocalCluster, env: Mapping[str, str]) -> tuple[str, ...]:
    """Delete the cluster's directory (its nodes must be stopped) and the contexts it wrote;
    returns the contexts removed."""
    cluster.purge()
    return remove_contexts(cluster.contexts, env)
