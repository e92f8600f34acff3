"""What a deployment's files tell: a local cluster's inventory and the servers' config files.

:func:`local_inventory` reads a natsops local cluster directory (``natsops bootstrap --dir``):
its node names and monitor ports are the servers expected to answer. :func:`config_digests`
runs ``nats-server -t`` on config files, giving the digest each server reports for the config
it runs (``varz.config_digest``).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from natsops.errors import NatsopsError

__all__ = ["Inventory", "config_digests", "config_file_for", "local_inventory"]


@dataclass(frozen=True)
class Inventory:
    """What a local cluster directory tells us: node names, monitors, config files, binary.

    (Its system-account login is :func:`natsops.access.local_login`.)
    """

    names: tuple[str, ...]
    monitors: tuple[str, ...]
    configs: tuple[tuple[str, Path], ...] = ()
    binary: Path | None = None
    ca: str | None = None  # the CA of a TLS topology's https monitors


def local_inventory(directory: Path) -> Inventory:
    """Read a natsops local cluster (``natsops bootstrap --dir``): nodes, monitors, configs;
    of a local topology (``bootstrap --topology``): every server of every cluster and leaf
    site."""
    from natsops.cluster.deployment import LocalDeployment, is_deployment
    from natsops.cluster.local import LocalCluster

    if is_deployment(directory):
        d = LocalDeployment.load(directory)
        return Inventory(names=tuple(n.name for n in d.nodes),
                         monitors=tuple(d.monitor_url(n) for n in d.nodes),
                         configs=tuple(d.config_files()), binary=d.binary, ca=d.tls_ca)
    c = LocalCluster.load(directory)
    return Inventory(names=tuple(n.name for n in c.nodes),
                     monitors=tuple(n.monitor_url for n in c.nodes),
                     configs=tuple((n.name, c.config_path(n.name)) for n in c.nodes),
                     binary=c.binary)


_DIGEST = re.compile(r"\((sha256:[0-9a-f]+)\)")


async def config_digests(binary: Path, files: Sequence[tuple[str, Path]]
                         ) -> dict[str, dict[str, Any]]:
    """``nats-server -t -c FILE`` for each file (in parallel): the digest a server would report.

    The server prints the same ``sha256:`` digest that ``varz.config_digest`` shows for the
    config it runs; comment-only edits do not change it. Servers before 2.11 print neither:
    a valid file then has ``digest`` None and no error.
    """

    async def one(name: str, path: Path) -> tuple[str, dict[str, Any]]:
        try:
            proc = await asyncio.create_subprocess_exec(
                str(binary), "-t", "-c", str(path), stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT)
            out, _ = await asyncio.wait_for(proc.communicate(), 10)
        except (OSError, asyncio.TimeoutError) as exc:
            return name, {"path": str(path), "digest": None, "error": str(exc)}
        text = out.decode(errors="replace").strip()
        m = _DIGEST.search(text)
        if proc.returncode != 0:
            return name, {"path": str(path), "digest": None,
                          "error": text.splitlines()[-1] if text else f"exit {proc.returncode}"}
        # servers before 2.11 print no digest (and varz has no config_digest): the file is
        # valid, there is just nothing to compare
        limits, certs, ha = await asyncio.to_thread(_from_file, path)
        return name, {"path": str(path), "digest": m.group(1) if m else None, "error": None,
                      "js_limits_unset": limits, "tls_files": certs, "max_ha_assets": ha}

    return dict(await asyncio.gather(*(one(n, p) for n, p in files)))


def _unset_js_limits(path: Path) -> list[dict[str, str]]:
    return _from_file(path)[0]


def _from_file(path: Path) -> tuple[list[dict[str, str]], list[dict[str, Any]], int | None]:
    """The JetStream limits the file leaves to the server's defaults (lint's own key list),
    the certificates of every tls block (listeners, leaf remotes, gateway entries), and
    ``jetstream { limits { max_ha_assets } }`` (servers before 2.11 do not report it)."""
    from natsops.conf.parser import parse_file
    from natsops.conf.rules_conf import unset_jetstream_limits
    from natsops.conf.rules_tls import cert_files

    try:
        cfg = parse_file(path)
    except (NatsopsError, OSError):
        return [], [], None  # the `-t` run above already reports an unreadable file
    ha = cfg.get("jetstream", "limits", "max_ha_assets")
    return ([{"key": key, "kind": kind, "default": default}
             for key, kind, default in unset_jetstream_limits(cfg)], cert_files(cfg),
            ha.value if ha is not None and isinstance(ha.value, int) else None)


def config_file_for(directory: Path, name: str) -> Path | None:
    """``DIR/<name>.conf``, ``DIR/<name>/nats-server.conf`` or ``DIR/<name>/<name>.conf``."""
    for p in (directory / f"{name}.conf", directory / name / "nats-server.conf",
              directory / name / f"{name}.conf"):
        if p.is_file():
            return p
    return None
