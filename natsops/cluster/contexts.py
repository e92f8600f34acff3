"""The natscli contexts of a local cluster: ``natsops-<name>`` (APP) and ``natsops-<name>-sys``.

Both are written 0600 into natscli's context folder; removing them is part of purging the cluster.
A context records the cluster that owns it in its ``description`` (``natsops local cluster C1
(APP account) in /abs/dir``), the one field natscli shows and keeps when it rewrites a context:
a second cluster with the same name in another directory is refused instead of rewriting them,
and purging a cluster removes only its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from natsops.cluster.local import LocalCluster
from natsops.context import config_root, load_context, save_context, selected_context
from natsops.errors import Conflict, NatsopsError

__all__ = ["ContextOwner", "check_free", "context_names", "context_owner", "purge",
           "remove_contexts", "save_contexts", "write_contexts"]

_OWNED = re.compile(r"^natsops local cluster (?P<name>\S+) \((?P<role>[^)]*)\) in (?P<dir>/.*)$")
_NATSOPS = "natsops local cluster "


@dataclass(frozen=True)
class ContextOwner:
    """Who wrote a context: natsops for a local cluster (its directory, if recorded) or not."""

    natsops: bool
    dir: Path | None = None
    urls: tuple[str, ...] = ()


def context_owner(name: str, env: Mapping[str, str]) -> ContextOwner | None:
    """The owner of context ``name``, or None when there is no such (readable) context."""
    try:
        _, data = load_context(name, env)
    except NatsopsError:
        return None
    desc = str(data.get("description") or "")
    urls = tuple(u.strip() for u in str(data.get("url") or "").split(",") if u.strip())
    m = _OWNED.match(desc)
    if m:
        return ContextOwner(True, Path(m.group("dir")), urls)
    return ContextOwner(desc.startswith(_NATSOPS), None, urls)


def _same_dir(a: Path, b: Path) -> bool:
    return a.expanduser().resolve() == b.expanduser().resolve()


_RENAME = "start this cluster with another --name (or --no-write-context)"


def check_free(cluster_name: str, directory: Path, env: Mapping[str, str], *,
               rename: str = _RENAME) -> None:
    """Refuse (Conflict, exit 9) when a context of this cluster's names belongs to someone else:
    another directory that still holds a cluster, or the user (a context natsops did not write).
    ``rename`` says how to give the cluster another name.
    """
    for ctx in context_names(cluster_name):
        owner = context_owner(ctx, env)
        if owner is None or (owner.natsops and owner.dir is None):
            continue  # free, or written by an older natsops that recorded no directory
        if not owner.natsops:
            raise Conflict(f"context {ctx} exists and was not written by natsops: {rename}")
        assert owner.dir is not None
        if not _same_dir(owner.dir, directory) and LocalCluster.exists(owner.dir):
            raise Conflict(f"context {ctx} belongs to the local cluster in {owner.dir}: "
                           f"{rename}")


def _owned_by(cluster: LocalCluster, owner: ContextOwner | None) -> bool:
    if owner is None or not owner.natsops:
        return False
    if owner.dir is not None:
        return _same_dir(owner.dir, cluster.dir)
    return set(owner.urls) == set(cluster.client_urls)  # older natsops: the same ports


def _nothing_selected(env: Mapping[str, str]) -> bool:
    """No context selected, or the selected one no longer exists."""
    sel = selected_context(env)
    return sel is None or context_owner(sel, env) is None


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
    check_free(cluster.name, cluster.dir, env)
    select_it = bool(select or (select is None and _nothing_selected(env)))
    owner = f" in {cluster.dir.expanduser().resolve()}"
    save_context(sys_name, {**sys, "url": url,
                            "description": str(sys.get("description", "")) + owner}, env)
    save_context(base, {**app, "url": url,
                        "description": str(app.get("description", "")) + owner}, env,
                 select=select_it)
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
    """Delete the named context files; returns the names that existed.

    A ``context.txt`` selection naming one of them is cleared (natscli then has none selected).
    """
    folder = config_root(env) / "nats" / "context"
    selected = selected_context(env)
    removed = []
    for name in names:
        if not name or "/" in name or ".." in name:
            continue  # never a path outside the context folder
        path = folder / f"{name}.json"
        if path.is_file():
            path.unlink()
            removed.append(name)
    if selected is not None and selected in removed:
        (config_root(env) / "nats" / "context.txt").unlink(missing_ok=True)
    return tuple(removed)


def purge(cluster: LocalCluster, env: Mapping[str, str]) -> tuple[str, ...]:
    """Delete the cluster's directory (its nodes must be stopped) and the contexts it owns
    (another cluster's of the same name stay); returns the contexts removed."""
    mine = [n for n in cluster.contexts if _owned_by(cluster, context_owner(n, env))]
    cluster.purge()
    return remove_contexts(mine, env)
