"""The topology model: frozen dataclasses for one deployment, as loaded from a topology file.

Everything here is plain data; :mod:`natsops.topology.load` builds it from YAML and validates
it, :mod:`natsops.topology.server_conf` renders one node's nats-server config from it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

__all__ = [
    "DEFAULT_PORTS",
    "Account",
    "Auth",
    "Cluster",
    "JetStreamLimits",
    "LameDuck",
    "LeafSite",
    "Node",
    "Ports",
    "TlsSpec",
    "Topology",
    "User",
]


@dataclass(frozen=True)
class Ports:
    """A node's listener ports (the nats-server defaults)."""

    client: int = 4222
    cluster: int = 6222
    gateway: int = 7222
    leafnode: int = 7422
    monitor: int = 8222

    def as_dict(self) -> dict[str, int]:
        return {"client": self.client, "cluster": self.cluster, "gateway": self.gateway,
                "leafnode": self.leafnode, "monitor": self.monitor}


DEFAULT_PORTS = Ports()


@dataclass(frozen=True)
class JetStreamLimits:
    """``jetstream {}`` of one node; ``enabled=False`` renders no JetStream."""

    enabled: bool = True
    max_memory: str = "1GB"
    max_file: str = "100GB"
    store_dir: str = "/var/lib/nats/jetstream"


@dataclass(frozen=True)
class LameDuck:
    duration: str = "2m"
    grace_period: str = "10s"


@dataclass(frozen=True)
class Node:
    """One nats-server: its name (unique in the whole topology), the host others reach it at
    (a DNS name or IP), its ports, JetStream limits and server tags."""

    name: str
    host: str
    ports: Ports = DEFAULT_PORTS
    jetstream: JetStreamLimits = JetStreamLimits()
    tags: tuple[str, ...] = ()
    listen: str = "0.0.0.0"  # the address the listeners bind to
    line: int = 0  # where the node is declared in the topology file (0: not from a file)


@dataclass(frozen=True)
class Cluster:
    """A cluster of the supercluster (its gateway name is its name, always)."""

    name: str
    nodes: tuple[Node, ...]
    line: int = 0


@dataclass(frozen=True)
class LeafSite:
    """Leaf nodes at an edge site: they connect to every node of ``hub`` on its leafnode port,
    bound to ``account`` there, and run JetStream in their own ``domain``. Several nodes form a
    cluster named after the site."""

    name: str
    hub: str
    account: str
    domain: str | None
    nodes: tuple[Node, ...]
    system: bool = True  # also bind the system accounts (the hub's $SYS sees the leaf servers)
    user: str | None = None  # operator mode: the store user whose creds the leaf uses
    line: int = 0

    @property
    def leaf_user(self) -> str:
        return self.user or f"leaf-{self.name}"


@dataclass(frozen=True)
class User:
    """A user of a plain account: its password comes from ``password_env`` or is generated
    (and kept in the secrets file beside the output); never written in clear in the topology."""

    name: str
    password_env: str | None = None
    line: int = 0


@dataclass(frozen=True)
class Account:
    name: str
    users: tuple[User, ...] = ()
    jetstream: bool = True
    line: int = 0


@dataclass(frozen=True)
class Auth:
    """Plain accounts with users plus a system account, or ``operator`` (the natsops auth
    store's operator, served with a ``resolver`` of type full or memory)."""

    accounts: tuple[Account, ...] = ()
    system_account: str = "SYS"
    operator: str | None = None
    resolver: str = "full"

    @property
    def operator_mode(self) -> bool:
        return self.operator is not None

    def account(self, name: str) -> Account | None:
        return next((a for a in self.accounts if a.name == name), None)


@dataclass(frozen=True)
class TlsSpec:
    """TLS on every listener: ``generate`` a CA and per-server certificates, or use an existing
    ``ca`` with per-server ``certs`` ({server: (cert, key)} paths)."""

    generate: bool = False
    ca: str | None = None
    ca_key: str | None = None
    certs: tuple[tuple[str, str, str], ...] = ()  # (server, cert path, key path)

    def cert_for(self, server: str) -> tuple[str, str] | None:
        return next(((c, k) for s, c, k in self.certs if s == server), None)


@dataclass(frozen=True)
class Topology:
    """A whole deployment: clusters joined by gateways, leaf sites, TLS and auth."""

    name: str
    clusters: tuple[Cluster, ...]
    gateways: tuple[tuple[str, str], ...] = ()  # cluster pairs (normalised: sorted, unique)
    leafs: tuple[LeafSite, ...] = ()
    tls: TlsSpec | None = None
    auth: Auth = Auth()
    domain: str | None = None  # the JetStream domain of the clusters (the hub side)
    monitor: str = "local"  # local (127.0.0.1) | public (0.0.0.0)
    lame_duck: LameDuck = LameDuck()
    file: str = ""  # the topology file it was loaded from (names it in errors)

    # ---- lookups ---------------------------------------------------------------------------
    def all_nodes(self) -> Iterator[Node]:
        for c in self.clusters:
            yield from c.nodes
        for s in self.leafs:
            yield from s.nodes

    def node(self, name: str) -> Node:
        for n in self.all_nodes():
            if n.name == name:
                return n
        raise KeyError(name)

    def cluster(self, name: str) -> Cluster | None:
        return next((c for c in self.clusters if c.name == name), None)

    def leaf_site(self, name: str) -> LeafSite | None:
        return next((s for s in self.leafs if s.name == name), None)

    def group_of(self, node: str) -> Cluster | LeafSite:
        """The cluster or leaf site a node belongs to."""
        for c in self.clusters:
            if any(n.name == node for n in c.nodes):
                return c
        for s in self.leafs:
            if any(n.name == node for n in s.nodes):
                return s
        raise KeyError(node)

    def gateway_peers(self, cluster: str) -> tuple[str, ...]:
        """The clusters ``cluster`` dials through its gateway (in file order)."""
        peers = {b if a == cluster else a for a, b in self.gateways if cluster in (a, b)}
        return tuple(c.name for c in self.clusters if c.name in peers)

    def has_gateway(self, cluster: str) -> bool:
        return bool(self.gateway_peers(cluster))

    def leafs_of(self, hub: str) -> tuple[LeafSite, ...]:
        return tuple(s for s in self.leafs if s.hub == hub)

    def used_ports(self, node: Node) -> dict[str, int]:
        """The listeners this node opens: {kind: port}."""
        group = self.group_of(node.name)
        used = {"client": node.ports.client, "monitor": node.ports.monitor}
        if len(group.nodes) > 1:
            used["cluster"] = node.ports.cluster
        if isinstance(group, Cluster):
            if self.has_gateway(group.name):
                used["gateway"] = node.ports.gateway
            if self.leafs_of(group.name):
                used["leafnode"] = node.ports.leafnode
        return used

    def with_nodes(self, change: dict[str, Node]) -> Topology:
        """A copy with some nodes replaced (by name)."""
        clusters = tuple(replace(c, nodes=tuple(change.get(n.name, n) for n in c.nodes))
                         for c in self.clusters)
        leafs = tuple(replace(s, nodes=tuple(change.get(n.name, n) for n in s.nodes))
                      for s in self.leafs)
        return replace(self, clusters=clusters, leafs=leafs)
