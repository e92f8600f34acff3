"""Move a topology onto one machine: every node on loopback, its own ports and store dir.

``natsops bootstrap --topology`` and the tests run the very configs :func:`render_server_config`
writes for production, only relocated: hosts become ``127.0.0.1`` (or the address given),
listeners bind there, ports are the ones given or free ones the OS hands out, and each node's
JetStream store moves under ``root/<node>/jetstream``.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from natsops.topology.model import Node, Ports, Topology

__all__ = ["free_ports", "relocate"]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct ports that were free on ``host`` a moment ago (bound together, so no
    duplicates; another process may still take one before the server does)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                              socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def relocate(topo: Topology, *, host: str = "127.0.0.1",
             ports: Mapping[str, Ports] | None = None, root: Path | None = None) -> Topology:
    """The same topology with every node on ``host``: listeners bind to it, peers dial it.

    ``ports`` gives a node's ports by server name; nodes not in it get free ports (all five
    kinds, from :func:`free_ports`). With ``root``, each node's JetStream ``store_dir`` becomes
    ``root/<node>/jetstream``. Names, clusters, gateways, leaf sites, TLS and auth are kept,
    so the relocated topology renders the same configs apart from addresses and paths.
    """
    nodes = list(topo.all_nodes())
    given = dict(ports or {})
    missing = [n for n in nodes if n.name not in given]
    pool = iter(free_ports(5 * len(missing), host)) if missing else iter(())
    change: dict[str, Node] = {}
    for n in nodes:
        p = given.get(n.name) or Ports(*(next(pool) for _ in range(5)))
        js = n.jetstream
        if root is not None:
            js = replace(js, store_dir=str(Path(root) / n.name / "jetstream"))
        change[n.name] = replace(n, host=host, listen=host, ports=p, jetstream=js)
    return topo.with_nodes(change)
