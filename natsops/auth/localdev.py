"""``natsops bootstrap --operator NAME``: the local cluster in operator mode, from the auth store.

The cluster folder and processes are the ones :mod:`natsops.bootstrap` manages; only the server
configs differ: each node gets the operator, the system account and a full resolver (every
account of the store preloaded, saved-if-newer at start), so creds from the store work at once
and later edits go through ``natsops auth push``. The account ``APP`` (JetStream) and its user
``app`` are created in the store when missing; the natscli contexts ``natsops-<name>`` and
``natsops-<name>-sys`` point at the creds files of ``APP/app`` and ``SYS/sys``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path

from natsops.auth import ops
from natsops.auth.config import ResolverOptions, render_config
from natsops.auth.store import Store
from natsops.bootstrap import BootstrapOptions, BootstrapResult, bring_up
from natsops.cluster.contexts import check_free, save_contexts
from natsops.cluster.local import HOST, LocalCluster, plan_nodes, validate_node_count
from natsops.cluster.process import find_server_binary
from natsops.cluster.ready import Progress, silent
from natsops.context import Settings, write_private
from natsops.errors import Conflict

__all__ = ["APP_ACCOUNT", "APP_USER", "bootstrap_operator", "operator_marker",
           "write_operator_configs"]

APP_ACCOUNT = "APP"
APP_USER = "app"
_MARKER = "natsops-operator-mode.json"


def write_operator_configs(cluster: LocalCluster, store: Store, op: str) -> None:
    """Render every node's config in operator mode (0600: it is plain, but keep it private)."""
    clustered = len(cluster.nodes) > 1
    for n in cluster.nodes:
        opts = ResolverOptions(dir=str(cluster.node_dir(n.name) / "jwt"), preload_all=True,
                               interval="1m")
        lines = [
            f"# nats-server for {n.name} of local cluster {cluster.name}, operator mode ({op})",
            f"server_name: {json.dumps(n.name)}",
            f'listen: "{HOST}:{n.client_port}"',
            f'http: "{HOST}:{n.http_port}"',
            "jetstream {",
            f"  store_dir: {json.dumps(str(cluster.store_dir(n.name)))}",
            f"  max_memory_store: {cluster.max_mem}",
            f"  max_file_store: {cluster.max_file}",
            "}",
        ]
        if clustered:
            routes = ", ".join(json.dumps(o.cluster_url) for o in cluster.nodes if o is not n)
            lines += [f"cluster {{ name: {json.dumps(cluster.name)}, "
                      f'listen: "{HOST}:{n.cluster_port}", routes: [{routes}] }}']
        text = "\n".join(lines) + "\n" + render_config(store, op, opts)
        cluster.node_dir(n.name).mkdir(parents=True, exist_ok=True)
        write_private(cluster.config_path(n.name), text)
    write_private(cluster.dir / _MARKER, json.dumps({"operator": op,
                                                     "store": str(store.root)}) + "\n")


def operator_marker(directory: Path) -> tuple[str, Path] | None:
    """``(operator, store root)`` of a local cluster in operator mode, else None."""
    try:
        doc = json.loads((directory / _MARKER).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or not doc.get("operator") or not doc.get("store"):
        return None
    return str(doc["operator"]), Path(str(doc["store"]))


def _ensure_app(store: Store, op: str, progress: Progress) -> None:
    store.system_account(op)  # NotFound with a hint when the operator has no SYS
    if APP_ACCOUNT not in store.account_names(op):
        progress(f"creating account {APP_ACCOUNT} (JetStream) in the store")
        ops.add_account(store, op, APP_ACCOUNT, jetstream=True)
    if APP_USER not in store.user_names(op, APP_ACCOUNT):
        progress(f"creating user {APP_ACCOUNT}/{APP_USER} in the store")
        ops.add_user(store, op, APP_ACCOUNT, APP_USER)


def _write_contexts(cluster: LocalCluster, store: Store, op: str, env: Mapping[str, str],
                    select: bool | None) -> tuple[str, ...]:
    app = {"description": f"natsops local cluster {cluster.name} ({op}/{APP_ACCOUNT}/{APP_USER})",
           "creds": str(store.creds_path(op, APP_ACCOUNT, APP_USER))}
    sys = {"description": f"natsops local cluster {cluster.name} ({op}/SYS/sys)",
           "creds": str(store.creds_path(op, "SYS", "sys"))}
    return save_contexts(cluster, app, sys, env, select)


async def bootstrap_operator(opts: BootstrapOptions, store: Store, op: str,
                             env: Mapping[str, str],
                             progress: Progress = silent) -> BootstrapResult:
    """Start (or find) the local cluster in operator mode and wait until APP/app can use it."""
    t0 = time.monotonic()
    directory = opts.dir.expanduser()
    _ensure_app(store, op, progress)
    created = False
    if LocalCluster.exists(directory):
        cluster = LocalCluster.load(directory)
        marker = directory / _MARKER
        if not marker.is_file() or json.loads(marker.read_text()).get("operator") != op:
            raise Conflict(f"{directory} holds cluster {cluster.name}, not in operator mode "
                           f"for {op}", hint="use another --dir")
    else:
        validate_node_count(opts.nodes, opts.allow_even)
        if opts.write_contexts:  # before anything is written or started
            check_free(opts.name, directory, env)
        binary = find_server_binary(opts.server_bin, env)
        progress(f"rendering operator-mode configs for {opts.nodes} nodes in {directory}")
        cluster = LocalCluster.create(directory, name=opts.name,
                                      nodes=plan_nodes(opts.nodes, opts.base_port),
                                      binary=binary, max_mem=opts.max_mem,
                                      max_file=opts.max_file, env=env)
        write_operator_configs(cluster, store, op)
        created = True
    probe_as = Settings(servers=tuple(cluster.client_urls), timeout=5.0,
                        creds=str(store.creds_path(op, APP_ACCOUNT, APP_USER)))
    return await bring_up(
        cluster, opts, created=created, t0=t0, progress=progress, probe_settings=probe_as,
        write_ctx=lambda: _write_contexts(cluster, store, op, env, opts.select_context),
        extra={"operator": op, "store": str(store.root)})
