"""A whole topology running on 127.0.0.1: clusters joined by gateways, leaf sites, one directory.

``natsops bootstrap --topology`` starts one (:mod:`natsops.topology.local`); ``natsops cluster``
and ``doctor --dir`` read it. Each cluster and each leaf site is a :class:`LocalCluster` in its
own sub-directory, so everything that works on one local cluster (pids, logs, start with
roll-back, healthz) works on each group; this module adds what spans them.

Layout of ``DIR``::

    topology.json           state: name, the topology file, the binary and version, every group
                            (cluster or leaf site) with its JetStream domain, gateway peers, hub,
                            the leafnode connections each of its nodes opens and the gateway and
                            leafnode ports of its nodes; the TLS CA; the contexts written
    credentials.json        the APP and system users natsops logs in as (0600): passwords, or
                            in operator mode the paths of their creds files in the auth store
                            (an APP user per leaf site too: one of the account it binds)
    tls/                    the CA and the server certificates (when the topology asks for TLS)
    <group>/cluster.json    the group as a LocalCluster (its nodes, client/cluster/monitor ports)
    <group>/<node>/         nats-server.conf, .log, .pid and jetstream/ of one server
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import ssl
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from natsops._version import __version__
from natsops.cluster.local import LocalCluster, NodeSpec
from natsops.context import Secret, Settings, write_private
from natsops.errors import Conflict, NatsopsError, NotFound, UsageError
from natsops.files import write_atomic

__all__ = [
    "CREDENTIALS_FILE",
    "STATE_FILE",
    "Group",
    "LocalDeployment",
    "LocalLogin",
    "is_deployment",
    "is_inside",
]

STATE_FILE = "topology.json"
CREDENTIALS_FILE = "credentials.json"
CLUSTER = "cluster"
LEAF = "leaf"


def is_deployment(directory: Path) -> bool:
    """True when ``directory`` holds a local topology (``topology.json``)."""
    return (directory.expanduser() / STATE_FILE).is_file()


@dataclass(frozen=True)
class Group:
    """One cluster or leaf site of a local topology, and how it links to the others."""

    name: str
    kind: str = CLUSTER  # "cluster" or "leaf"
    domain: str | None = None  # its JetStream domain (None: the default, empty one)
    gateways: tuple[str, ...] = ()  # the clusters it reaches through gateways (dialled or not)
    hub: str | None = None  # a leaf site: the cluster its leafnode remotes dial
    account: str | None = None  # a leaf site: the hub account its remote is bound to
    leaf_connections: int = 0  # a leaf site: leafnode connections each of its nodes opens
    jetstream: bool = True
    ports: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # node -> extra ports

    @property
    def is_leaf(self) -> bool:
        return self.kind == LEAF

    @property
    def domain_label(self) -> str:
        return self.domain or ""

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["gateways"] = list(self.gateways)
        doc["ports"] = {k: dict(v) for k, v in self.ports.items()}
        return doc

    @classmethod
    def from_dict(cls, doc: Any) -> Group:
        if not isinstance(doc, dict) or not isinstance(doc.get("name"), str):
            raise ValueError("a group without a name")
        kind = str(doc.get("kind", CLUSTER))
        if kind not in (CLUSTER, LEAF):
            raise ValueError(f"group {doc['name']}: unknown kind {kind!r}")
        return cls(name=doc["name"], kind=kind,
                   domain=None if doc.get("domain") is None else str(doc["domain"]),
                   gateways=tuple(str(g) for g in doc.get("gateways") or ()),
                   hub=None if doc.get("hub") is None else str(doc["hub"]),
                   account=None if doc.get("account") is None else str(doc["account"]),
                   leaf_connections=int(doc.get("leaf_connections") or 0),
                   jetstream=bool(doc.get("jetstream", True)),
                   ports={str(n): {str(k): int(v) for k, v in dict(p).items()}
                          for n, p in dict(doc.get("ports") or {}).items()})


@dataclass(frozen=True)
class LocalLogin:
    """A user natsops logs in as: a password (kept in the 0600 credentials file) or, in
    operator mode, a creds file of the auth store."""

    user: str
    password: Secret | None
    account: str
    jetstream: bool = True  # the account has JetStream (a probe stream can be placed)
    creds: str | None = None

    def context_fields(self) -> dict[str, str]:
        """The fields of a natscli context that log in as this user."""
        if self.creds:
            return {"creds": self.creds}
        return {"user": self.user, "password": self.password.reveal() if self.password else ""}


@dataclass
class LocalDeployment:
    """A local topology described by ``DIR/topology.json`` (see the module doc)."""

    dir: Path
    name: str
    groups: tuple[Group, ...]
    binary: Path
    version: str
    created: float = 0.0
    source: str = ""  # the topology file it was started from
    tls_ca: str | None = None
    contexts: tuple[str, ...] = ()
    operator: str | None = None  # operator mode: this operator of the auth store ...
    store: str | None = None  # ... in this store (the user's: never removed with the topology)
    _clusters: dict[str, LocalCluster] = field(default_factory=dict, repr=False)

    # ---- persistence -------------------------------------------------------------------
    @classmethod
    def exists(cls, directory: Path) -> bool:
        return is_deployment(directory)

    @classmethod
    def load(cls, directory: Path) -> LocalDeployment:
        """Read ``DIR/topology.json``; a damaged file is one line naming it and what is wrong."""
        from natsops.cluster.local import _read_state

        path = directory.expanduser() / STATE_FILE
        if not path.is_file():
            raise NotFound(f"no natsops topology in {directory} (no {STATE_FILE})",
                           hint="start one with `natsops bootstrap --topology FILE`")
        doc = _read_state(path)
        try:
            groups = tuple(Group.from_dict(g) for g in doc["groups"])
            dep = cls(dir=path.parent.resolve(), name=str(doc["name"]), groups=groups,
                      binary=Path(str(doc["binary"])), version=str(doc["version"]),
                      created=float(doc.get("created") or 0), source=str(doc.get("source", "")),
                      tls_ca=None if doc.get("tls_ca") is None else str(doc["tls_ca"]),
                      contexts=tuple(str(c) for c in doc.get("contexts") or ()),
                      operator=None if doc.get("operator") is None else str(doc["operator"]),
                      store=None if doc.get("store") is None else str(doc["store"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise UsageError(f"{path} is damaged: {exc}") from None
        if not groups:
            raise UsageError(f"{path} is damaged: no clusters")
        return dep

    def save(self) -> None:
        doc = {
            "name": self.name,
            "source": self.source,
            "binary": str(self.binary),
            "version": self.version,
            "created": self.created,
            "tls_ca": self.tls_ca,
            "groups": [g.to_dict() for g in self.groups],
            "contexts": list(self.contexts),
            "operator": self.operator,
            "store": self.store,
            "natsops_version": __version__,
        }
        self.dir.mkdir(parents=True, exist_ok=True)
        write_atomic(self.dir / STATE_FILE, json.dumps(doc, indent=2) + "\n")

    # ---- groups and nodes ----------------------------------------------------------------
    def group(self, name: str) -> Group:
        for g in self.groups:
            if g.name == name:
                return g
        raise NotFound(f"no cluster or leaf site {name!r} in topology {self.name}")

    def cluster(self, group: str) -> LocalCluster:
        """The group as a :class:`LocalCluster` (one object per group, so started processes
        are remembered)."""
        if group not in self._clusters:
            self.group(group)
            self._clusters[group] = LocalCluster.load(self.dir / group)
        return self._clusters[group]

    def clusters(self) -> list[LocalCluster]:
        return [self.cluster(g.name) for g in self.groups]

    @property
    def nodes(self) -> tuple[NodeSpec, ...]:
        """Every node of every group."""
        return tuple(n for c in self.clusters() for n in c.nodes)

    @property
    def client_urls(self) -> list[str]:
        return [n.client_url for n in self.nodes]

    def group_of(self, node: str) -> Group:
        for g in self.groups:
            if any(n.name == node for n in self.cluster(g.name).nodes):
                return g
        names = ", ".join(n.name for n in self.nodes)
        raise NotFound(f"no node {node!r} in topology {self.name} (nodes: {names})")

    def node(self, name: str) -> NodeSpec:
        return self.cluster(self.group_of(name).name).node(name)

    def cluster_of(self, node: str) -> LocalCluster:
        return self.cluster(self.group_of(node).name)

    def pid(self, node: str) -> int | None:
        return self.cluster_of(node).pid(node)

    def running_nodes(self) -> list[str]:
        return [n for c in self.clusters() for n in c.running_nodes()]

    def monitor_url(self, node: NodeSpec) -> str:
        """A server's monitor: ``https`` when the topology runs TLS (the renderer serves the
        monitor over TLS then)."""
        return node.monitor_url.replace("http://", "https://") if self.tls_ca else \
            node.monitor_url

    def monitor_tls(self) -> ssl.SSLContext | None:
        """What verifies the monitors' certificates (the topology's CA), or None (plain)."""
        return ssl.create_default_context(cafile=self.tls_ca) if self.tls_ca else None

    def config_files(self) -> list[tuple[str, Path]]:
        return [(n.name, c.config_path(n.name)) for c in self.clusters() for n in c.nodes]

    def log_lines(self, name: str, lines: int = 40, *, follow: bool = False,
                  poll: float = 0.2) -> Iterator[str]:
        return self.cluster_of(name).log_lines(name, lines, follow=follow, poll=poll)

    def js_units(self) -> list[list[Group]]:
        """The groups that form one JetStream (one meta group): clusters joined by gateways
        (one per supercluster), and each leaf site on its own."""
        units: list[list[Group]] = []
        seen: set[str] = set()
        for g in self.groups:
            if g.name in seen or not g.jetstream:
                continue
            unit = [g] if g.is_leaf else [self.group(n) for n in (g.name, *g.gateways)
                                         if self.group(n).jetstream]
            seen.update(u.name for u in unit)
            units.append(unit)
        return units

    # ---- credentials ----------------------------------------------------------------------
    @property
    def credentials_path(self) -> Path:
        return self.dir / CREDENTIALS_FILE

    def write_credentials(self, app: LocalLogin | None, sys: LocalLogin | None,
                          per_group: Mapping[str, LocalLogin] | None = None) -> None:
        """Record the logins: ``app`` and ``sys``, and an ``app`` login of its own for some
        groups (``per_group``: a leaf site in operator mode logs in to its bound account)."""
        logins = [("app", app), ("sys", sys),
                  *((f"app:{g}", lg) for g, lg in (per_group or {}).items())]
        doc = {role: {"user": lg.user, "account": lg.account, "jetstream": lg.jetstream,
                      **({"creds": lg.creds} if lg.creds else
                         {"password": lg.password.reveal() if lg.password else ""})}
               for role, lg in logins if lg is not None}
        write_private(self.credentials_path, json.dumps(doc) + "\n")

    def login(self, role: str, group: str | None = None) -> LocalLogin | None:
        """The ``app`` or ``sys`` user natsops logs in as (None: the topology has none); with
        ``group``, that group's own ``app`` user when it has one."""
        try:
            doc = json.loads(self.credentials_path.read_text())
        except (OSError, ValueError) as exc:
            raise NatsopsError(f"cannot read {self.credentials_path}: {exc}") from None
        if not isinstance(doc, dict):
            return None
        entry = doc.get(f"{role}:{group}") if group else None
        entry = entry if isinstance(entry, dict) else doc.get(role)
        if not isinstance(entry, dict):
            return None
        creds = entry.get("creds")
        return LocalLogin(str(entry["user"]),
                          None if creds else Secret(str(entry.get("password", ""))),
                          str(entry.get("account", "")), bool(entry.get("jetstream", True)),
                          str(creds) if creds else None)

    def settings(self, role: str, group: str | None = None) -> Settings | None:
        """Settings for the ``app``/``sys`` user on one group's servers (default: every
        non-leaf cluster), with the CA when TLS is on; None when there is no such user."""
        lg = self.login(role, group)
        if lg is None:
            return None
        groups = [self.group(group)] if group else [g for g in self.groups if not g.is_leaf]
        urls = tuple(n.client_url for g in groups for n in self.cluster(g.name).nodes)
        auth: dict[str, Any] = ({"creds": lg.creds} if lg.creds else
                                {"user": lg.user, "password": lg.password})
        return Settings(servers=urls, tls_ca=self.tls_ca, timeout=2.0,
                        connection_name=f"natsops {__version__} local topology", **auth)

    # ---- processes ----------------------------------------------------------------------
    def stop_all(self, *, grace: float = 10.0, only: list[str] | None = None) -> list[str]:
        """Stop every server (or the ones named) by pid; returns the names that were running.

        Every server is signalled first, then each is waited for: the whole topology stops
        within one grace period.
        """
        wanted = None if only is None else {self.node(n).name for n in only}
        running = {n.name: pid for c in self.clusters() for n in c.nodes
                   if (wanted is None or n.name in wanted) and (pid := c.pid(n.name))}
        for pid in running.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        for c in self.clusters():
            names = [n.name for n in c.nodes if wanted is None or n.name in wanted]
            if names:
                c.stop_all(grace=grace, only=names)
        return list(running)

    def purge(self) -> None:
        """Remove the topology's directory (every server must be stopped). The auth store of
        an operator-mode topology is the user's and stays: it is refused when it lies inside
        the directory (bootstrap never puts it there)."""
        running = self.running_nodes()
        if running:
            raise Conflict(f"cannot purge {self.dir}: servers still running: {', '.join(running)}")
        if self.store and is_inside(Path(self.store), self.dir):
            raise Conflict(f"cannot purge {self.dir}: it holds the auth store {self.store} of "
                           f"operator {self.operator}", hint="move the store out first")
        shutil.rmtree(self.dir)


def is_inside(path: Path, directory: Path) -> bool:
    """True when ``path`` is ``directory`` or below it (symlinks resolved)."""
    p, d = path.expanduser().resolve(), directory.expanduser().resolve()
    return p == d or d in p.parents
