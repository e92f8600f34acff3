"""A push to servers that run a MEMORY resolver: rewrite the preload and reload, or refuse.

A MEMORY resolver serves the accounts of its ``resolver_preload``: it answers no
``$SYS.REQ.CLAIMS.UPDATE`` (nor ``CLAIMS.LIST``), and a JWT sent to an account's own update
subject reaches only the servers where that account is loaded, until their next restart. So a
push changes the preload itself, or it is refused:

- a local topology natsops started (``bootstrap --topology``, it owns the config files; found
  from the logins' local folders: its contexts, or ``auth push --dir``) keeps
  its account JWTs in an include file beside each config
  (:data:`~natsops.topology.server_conf.PRELOAD_INCLUDE`): :func:`push_preload` rewrites it
  from the store (atomically, every account: the preload is the account list) and reloads every
  server's config with SIGHUP by pid (a reload over ``$SYS`` re-registers the system account
  of a MEMORY resolver, and the next server's ``$SYS`` request can go unanswered for a moment),
  then compares the digest it runs (its monitor's ``varz``) with ``nats-server -t`` of the file;
- any other deployment gets :func:`refusal`: the preload must be rendered (``natsops render``)
  and deployed with the configs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from natsops.findings import Finding

if TYPE_CHECKING:
    from nats.aio.client import Client

    from natsops.access import Login, SystemAccess
    from natsops.auth.store import Store
    from natsops.cluster.deployment import LocalDeployment

__all__ = [
    "MEMORY_ID",
    "LocalPreload",
    "local_preload",
    "memory_resolver",
    "push_preload",
    "refusal",
]

MEMORY_ID = "AUTH004"


@dataclass(frozen=True)
class LocalPreload:
    """A local topology whose servers run a MEMORY resolver: its preload file per server."""

    dep: LocalDeployment
    files: dict[str, Path]


async def memory_resolver(nc: Client, expected: int, timeout: float) -> bool:
    """True when no server answers ``$SYS.REQ.CLAIMS.LIST``: no full or cache resolver (a
    MEMORY one, or a URL one)."""
    from natsops.auth.sysreq import collect, no_responders

    msgs = await collect(nc, "$SYS.REQ.CLAIMS.LIST", b"", expected=expected, timeout=timeout,
                         until=no_responders)  # a 503: nobody in the whole system listens
    return not [m for m in msgs if not no_responders(m)]


def local_preload(access: SystemAccess, login: Login, op: str,
                  servers: Sequence[str]) -> LocalPreload | None:
    """The local topology that runs exactly ``servers`` for operator ``op`` with a preload
    include beside every config (found from the logins' local folders), or None."""
    from natsops.cluster.deployment import LocalDeployment, is_deployment
    from natsops.errors import NatsopsError
    from natsops.topology.server_conf import PRELOAD_INCLUDE

    dirs = [d for d in (login.cluster_dir, access.cluster_dir,
                        *(lg.cluster_dir for lg in access.logins)) if d is not None]
    seen: set[Path] = set()
    for d in dirs:
        top = next((p for p in (d, d.parent) if is_deployment(p)), None)
        if top is None or top.resolve() in seen:
            continue
        seen.add(top.resolve())
        try:
            dep = LocalDeployment.load(top)
        except NatsopsError:
            continue
        if dep.operator != op or sorted(n.name for n in dep.nodes) != sorted(servers):
            continue
        files = {name: conf.parent / PRELOAD_INCLUDE for name, conf in dep.config_files()}
        if all(f.is_file() for f in files.values()):
            return LocalPreload(dep, files)
    return None


def refusal(op: str) -> Finding:
    """The FAIL that stops a push to a MEMORY resolver natsops does not own the configs of."""
    return Finding.fail(
        MEMORY_ID, "resolver",
        "the servers run a MEMORY resolver (no answer to $SYS.REQ.CLAIMS.LIST): it serves its "
        "resolver_preload, so the preload must be rendered and deployed, not pushed",
        evidence={"operator": op},
        fix="a local topology natsops started: give its folder (natsops auth push --dir "
            "DIR); elsewhere natsops render TOPOLOGY --out DIR (or natsops auth "
            "render-config), deploy each server's resolver-preload.conf and reload it "
            "(natsops server config reload NAME)")


async def push_preload(store: Store, op: str, lp: LocalPreload, running: Sequence[str],
                       timeout: float) -> dict[str, tuple[str, str]]:
    """Rewrite every server's preload file from the store, reload the ``running`` servers
    (SIGHUP by pid); per server: (status, message)."""
    from natsops.auth.config import preload_block
    from natsops.files import write_private
    from natsops.monitoring.inventory import config_digests

    text = preload_block(store, op)
    for path in lp.files.values():
        write_private(path, text)  # atomically, 0600 like the config
    configs = dict(lp.dep.config_files())
    names = [n for n in running if n in configs]
    digests = await config_digests(lp.dep.binary, [(n, configs[n]) for n in names])
    results = await asyncio.gather(*(_reload(lp.dep, n, str(digests[n].get("digest") or ""),
                                             timeout) for n in names))
    return dict(zip(names, results, strict=True))


async def _varz(dep: LocalDeployment, name: str, timeout: float) -> dict[str, Any]:
    from natsops.monitoring import MonitorClient

    async with MonitorClient(dep.monitor_url(dep.node(name)), timeout=timeout,
                             verify=dep.monitor_tls() or True) as mon:
        return await mon.get("varz")


async def _reload(dep: LocalDeployment, name: str, digest: str,
                  timeout: float) -> tuple[str, str]:
    """SIGHUP one server by pid; wait for its new config load (its monitor's varz)."""
    from natsops.errors import NatsopsError

    deadline = time.monotonic() + max(timeout, 5.0)
    try:
        before = (await _varz(dep, name, timeout)).get("config_load_time")
        proc = dep.cluster_of(name).process(name)
        if proc is None:
            return "no answer", "preload rewritten; the server is not running"
        proc.reload()
        while True:
            after = await _varz(dep, name, timeout)
            if after.get("config_load_time") != before:
                break
            if time.monotonic() >= deadline:
                return "error", "preload rewritten; the server did not reload its config"
            await asyncio.sleep(0.05)
    except NatsopsError as exc:
        return "error", f"preload rewritten; reload failed: {exc}"
    running = str(after.get("config_digest") or "")
    if digest and running != digest:
        return "error", (f"preload rewritten; the server runs config {running}, not "
                         f"{digest} of its file (see its log)")
    return "reloaded", f"preload rewritten, config reloaded at {after.get('config_load_time')}"
