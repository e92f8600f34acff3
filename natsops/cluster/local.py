"""A local cluster on 127.0.0.1: a directory, one state file, one process per node.

Layout of ``DIR``::

    cluster.json              state: name, nodes and ports, binary, version (per node once
                              `natsops upgrade` moved a node), contexts written
    n1/nats-server.conf       rendered config (0600: it holds the sys/app passwords)
    n1/nats-server.log        the server's log
    n1/nats-server.pid        pid while running
    n1/jetstream/             store_dir
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from natsops._version import __version__
from natsops.cluster.process import (
    ServerProcess,
    find_server_binary,
    free_port,
    pid_matches,
    port_is_free,
    server_version,
    stop_pid,
)
from natsops.context import write_private
from natsops.errors import Conflict, NatsopsError, NotFound, UsageError

__all__ = [
    "STATE_FILE",
    "LocalCluster",
    "NodeSpec",
    "parse_base_port",
    "plan_nodes",
    "validate_cluster_name",
    "validate_node_count",
]

STATE_FILE = "cluster.json"
HOST = "127.0.0.1"


@dataclass(frozen=True)
class NodeSpec:
    """One node of a local cluster: its name, its three ports, and (in a lab) its own address
    and network namespace."""

    name: str
    client_port: int
    cluster_port: int
    http_port: int
    host: str = HOST  # the address it listens on (its own one in a lab)
    netns: str | None = None  # the network namespace it runs in (``natsops lab``)

    @property
    def client_url(self) -> str:
        return f"nats://{self.host}:{self.client_port}"

    @property
    def monitor_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def cluster_url(self) -> str:
        return f"nats-route://{self.host}:{self.cluster_port}"

    def ports(self) -> dict[str, int]:
        return {"client": self.client_port, "cluster": self.cluster_port, "monitor": self.http_port}


class _Damaged(Exception):
    """What is wrong in a damaged ``cluster.json`` (a plain sentence)."""


def _read_state(path: Path) -> dict[str, Any]:
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is damaged: not UTF-8 text") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is damaged: not JSON ({exc.msg} at line {exc.lineno}, "
                         f"column {exc.colno})") from None
    if not isinstance(doc, dict):
        raise UsageError(f"{path} is damaged: not a JSON object")
    return doc


def _field(doc: Mapping[str, Any], key: str, kind: type) -> Any:
    value = doc.get(key)
    if value is None:
        raise _Damaged(f"no {key!r}")
    if not isinstance(value, kind) or isinstance(value, bool):
        raise _Damaged(f"{key!r} is {json.dumps(value)[:40]}, not a{'n' if kind is int else ''} "
                       f"{ {str: 'string', list: 'list', int: 'integer'}.get(kind, kind.__name__)}")
    return value


def _node(doc: Any, i: int) -> NodeSpec:
    if not isinstance(doc, dict):
        raise _Damaged(f"node {i} is not a JSON object")
    try:
        netns = doc.get("netns")
        return NodeSpec(name=_field(doc, "name", str),
                        client_port=_field(doc, "client_port", int),
                        cluster_port=_field(doc, "cluster_port", int),
                        http_port=_field(doc, "http_port", int),
                        host=str(doc.get("host") or HOST),
                        netns=str(netns) if netns else None)
    except _Damaged as exc:
        raise _Damaged(f"node {i}: {exc}") from None


def _route_ping(value: Any) -> tuple[str, int] | None:
    if not value:
        return None
    if not isinstance(value, list) or len(value) != 2:
        raise _Damaged(f"'route_ping' is {json.dumps(value)[:40]}, not [interval, max]")
    return str(value[0]), int(value[1])


def validate_node_count(nodes: int, allow_even: bool) -> None:
    """Refuse fewer than one node, and an even number unless ``allow_even``."""
    if nodes < 1:
        raise UsageError("--nodes must be at least 1")
    if nodes % 2 == 0 and not allow_even:
        raise UsageError(
            f"--nodes {nodes} is even: Raft needs an odd number of nodes to keep a majority "
            "(3 or 5); pass --allow-even to do it anyway"
        )


def validate_cluster_name(name: str) -> None:
    """Refuse a cluster name nats-server or a subject could not carry."""
    if not name or any(c.isspace() for c in name) or any(c in name for c in ".*>/\\\"'"):
        raise UsageError(f"invalid cluster name {name!r}: no spaces, dots, wildcards or quotes")
    if len(name.encode()) > 63:  # as a topology's names; contexts natsops-NAME-sys.json fit
        raise UsageError(f"invalid cluster name {name[:20]}...: {len(name.encode())} bytes long, "
                         "at most 63")


def parse_base_port(value: str) -> int | None:
    """``--base-port``: a port number, or ``auto`` (None: ports the OS reports free)."""
    if value == "auto":
        return None
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"--base-port must be a port number or 'auto', not {value!r}") from None


def plan_nodes(count: int, base_port: int | None) -> list[NodeSpec]:
    """Ports for ``count`` nodes: client base+i, cluster base+2000+i, monitor base+4000+i.

    With ``base_port=None`` every port is one the OS reports free right now. Raises
    :class:`Conflict` naming the first port that is already taken.
    """
    if count < 1:
        raise UsageError("--nodes must be at least 1")
    nodes: list[NodeSpec] = []
    if base_port is None:
        used: set[int] = set()
        for i in range(count):
            ports = []
            for _ in range(3):
                p = free_port(HOST, used)
                used.add(p)
                ports.append(p)
            nodes.append(NodeSpec(f"n{i + 1}", ports[0], ports[1], ports[2]))
        return nodes
    top = base_port + 4000 + count - 1
    if not 1 <= base_port <= 65535:
        raise UsageError(f"--base-port {base_port}: give a port between 1 and 65535, or 'auto'")
    if top > 65535:
        raise UsageError(f"--base-port {base_port}: ports up to {top} are needed, max is 65535")
    for i in range(count):
        nodes.append(NodeSpec(f"n{i + 1}", base_port + i, base_port + 2000 + i,
                              base_port + 4000 + i))
    for n in nodes:
        for kind, port in n.ports().items():
            if not port_is_free(port, HOST):
                raise Conflict(
                    f"port {port} on {HOST} is already in use (the {kind} port of {n.name})",
                    hint="choose another --base-port, or --base-port auto",
                )
    return nodes


@dataclass
class LocalCluster:
    """A local cluster described by ``DIR/cluster.json``."""

    dir: Path
    name: str
    nodes: tuple[NodeSpec, ...]
    binary: Path
    version: str
    created: float = 0.0
    contexts: tuple[str, ...] = ()
    max_mem: str = "1GB"
    max_file: str = "64GB"
    # per node, once a node runs another binary than ``binary`` (``natsops upgrade``)
    node_binaries: dict[str, str] = field(default_factory=dict)
    node_versions: dict[str, str] = field(default_factory=dict)
    # cluster { ping_interval, ping_max }: short in a lab, so a cut route closes in seconds
    route_ping: tuple[str, int] | None = None
    _procs: dict[str, ServerProcess] = field(default_factory=dict, repr=False)

    # ---- persistence -------------------------------------------------------------------
    @classmethod
    def exists(cls, directory: Path) -> bool:
        return (directory / STATE_FILE).is_file()

    @classmethod
    def load(cls, directory: Path) -> LocalCluster:
        """Read ``DIR/cluster.json``; a damaged file is one line naming it and what is wrong."""
        path = directory / STATE_FILE
        if not path.is_file():
            raise NotFound(f"no natsops cluster in {directory} (no {STATE_FILE})",
                           hint="start one with `natsops bootstrap`")
        doc = _read_state(path)
        try:
            return cls(
                dir=directory.resolve(),  # the pid check matches the absolute config path
                name=_field(doc, "name", str),
                nodes=tuple(_node(n, i) for i, n in enumerate(_field(doc, "nodes", list), 1)),
                binary=Path(_field(doc, "binary", str)),
                version=_field(doc, "version", str),
                created=float(doc.get("created") or 0),
                contexts=tuple(str(c) for c in doc.get("contexts") or ()),
                max_mem=str(doc.get("max_mem", "1GB")),
                max_file=str(doc.get("max_file", "64GB")),
                node_binaries={str(k): str(v) for k, v in
                               dict(doc.get("node_binaries") or {}).items()},
                node_versions={str(k): str(v) for k, v in
                               dict(doc.get("node_versions") or {}).items()},
                route_ping=_route_ping(doc.get("route_ping")),
            )
        except _Damaged as exc:
            raise UsageError(f"{path} is damaged: {exc}") from None
        except (TypeError, ValueError) as exc:
            raise UsageError(f"{path} is damaged: a value has the wrong type ({exc})") from None

    def save(self) -> None:
        doc = {
            "name": self.name,
            "nodes": [asdict(n) for n in self.nodes],
            "binary": str(self.binary),
            "version": self.version,
            "created": self.created,
            "contexts": list(self.contexts),
            "max_mem": self.max_mem,
            "max_file": self.max_file,
            "node_binaries": dict(self.node_binaries),
            "node_versions": dict(self.node_versions),
            "route_ping": list(self.route_ping) if self.route_ping else None,
            "natsops_version": __version__,
        }
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / f".{STATE_FILE}.tmp"
        tmp.write_text(json.dumps(doc, indent=2) + "\n")
        tmp.replace(self.dir / STATE_FILE)

    @classmethod
    def create(
        cls,
        directory: Path,
        *,
        name: str,
        nodes: list[NodeSpec],
        binary: Path | None = None,
        max_mem: str = "1GB",
        max_file: str = "64GB",
        env: Mapping[str, str] | None = None,
        route_ping: tuple[str, int] | None = None,
    ) -> LocalCluster:
        """Write configs and state for a new cluster (starts nothing)."""
        if cls.exists(directory):
            raise Conflict(f"a cluster already exists in {directory}")
        exe = binary or find_server_binary(env=env)
        cluster = cls(dir=directory.resolve(), name=name, nodes=tuple(nodes), binary=exe,
                      version=server_version(exe), created=time.time(),
                      max_mem=max_mem, max_file=max_file, route_ping=route_ping)
        creds = {"sys": secrets.token_urlsafe(18), "app": secrets.token_urlsafe(18)}
        cluster.dir.mkdir(parents=True, exist_ok=True)
        write_private(cluster.secrets_path, json.dumps(creds) + "\n")
        cluster.write_configs(sys_password=creds["sys"], app_password=creds["app"])
        cluster.save()
        return cluster

    # ---- files ---------------------------------------------------------------------------
    def node(self, name: str) -> NodeSpec:
        for n in self.nodes:
            if n.name == name:
                return n
        raise NotFound(f"no node {name!r} in cluster {self.name} "
                       f"(nodes: {', '.join(n.name for n in self.nodes)})")

    def binary_for(self, name: str) -> Path:
        """The binary node ``name`` runs (its own once upgraded, else the cluster's)."""
        own = self.node_binaries.get(name)
        return Path(own) if own else self.binary

    def version_for(self, name: str) -> str:
        return self.node_versions.get(name) or self.version

    def set_node_binary(self, name: str, binary: Path, version: str) -> None:
        """Record that ``name`` runs ``binary`` (``version``) from its next start; saved.

        Once every node runs the same binary it becomes the cluster's ``binary``/``version``.
        """
        self.node(name)
        self.node_binaries[name] = str(binary)
        self.node_versions[name] = version
        if all(self.node_binaries.get(n.name) == str(binary) for n in self.nodes):
            self.binary, self.version = binary, version
            self.node_binaries.clear()
            self.node_versions.clear()
        self.save()

    def node_dir(self, name: str) -> Path:
        return self.dir / name

    def config_path(self, name: str) -> Path:
        return self.node_dir(name) / "nats-server.conf"

    def log_path(self, name: str) -> Path:
        return self.node_dir(name) / "nats-server.log"

    def pid_path(self, name: str) -> Path:
        return self.node_dir(name) / "nats-server.pid"

    def store_dir(self, name: str) -> Path:
        return self.node_dir(name) / "jetstream"

    @property
    def client_urls(self) -> list[str]:
        return [n.client_url for n in self.nodes]

    def write_configs(self, *, sys_password: str, app_password: str) -> None:
        from natsops.render import render

        clustered = len(self.nodes) > 1
        for n in self.nodes:
            text = render(
                "server.conf.j2",
                purpose=f"local development cluster {self.name}",
                natsops_version=__version__,
                server_name=n.name,
                listen_host=n.host,
                client_port=n.client_port,
                http_host=n.host,
                http_port=n.http_port,
                lame_duck_duration="30s",
                lame_duck_grace_period="10s",
                store_dir=str(self.store_dir(n.name)),
                max_mem=self.max_mem,
                max_file=self.max_file,
                routes=[o.cluster_url for o in self.nodes if o is not n] if clustered else None,
                cluster_name=self.name,
                cluster_host=n.host,
                cluster_port=n.cluster_port,
                route_ping_interval=self.route_ping[0] if self.route_ping else None,
                route_ping_max=self.route_ping[1] if self.route_ping else None,
                route_user=None,
                route_password=None,
                sys_password=sys_password,
                app_password=app_password,
                no_auth_user=True,
            )
            self.node_dir(n.name).mkdir(parents=True, exist_ok=True)
            write_private(self.config_path(n.name), text)

    @property
    def secrets_path(self) -> Path:
        return self.dir / "credentials.json"

    def credentials(self) -> dict[str, str]:
        """The sys and app passwords (0600 file; never printed)."""
        try:
            return dict(json.loads(self.secrets_path.read_text()))
        except (OSError, ValueError) as exc:
            raise NatsopsError(f"cannot read {self.secrets_path}: {exc}") from None

    # ---- processes -----------------------------------------------------------------------
    def pid(self, name: str) -> int | None:
        """The pid of a running node, or None (stale pid files are ignored)."""
        try:
            pid = int(self.pid_path(name).read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_matches(pid, str(self.config_path(name))) else None

    def running_nodes(self) -> list[str]:
        return [n.name for n in self.nodes if self.pid(n.name) is not None]

    def start_node(self, name: str) -> ServerProcess | None:
        """Start one node unless it is running; returns the new process (or None)."""
        n = self.node(name)
        if self.pid(name) is not None:
            return None
        # a node in its own network namespace (a lab) has its ports to itself
        for kind, port in n.ports().items() if n.netns is None else ():
            if not port_is_free(port, HOST):
                raise Conflict(f"port {port} on {HOST} is already in use (the {kind} port of "
                               f"{name}); is another server using it?")
        self.store_dir(name).mkdir(parents=True, exist_ok=True)
        proc = ServerProcess.start(self.binary_for(name), ["-c", str(self.config_path(name))],
                                   log_file=self.log_path(name), pid_file=self.pid_path(name),
                                   netns=n.netns)
        proc.client_port, proc.cluster_port, proc.http_port = (
            n.client_port, n.cluster_port, n.http_port)
        self._procs[name] = proc
        return proc

    def stop_node(self, name: str, *, grace: float = 10.0) -> bool:
        """Stop one node by pid (SIGTERM, then SIGKILL after ``grace``). True if it ran."""
        self.node(name)
        proc = self._procs.pop(name, None)
        if proc is not None and proc.running:
            proc.stop(grace)
            return True
        pid = self.pid(name)
        if pid is not None:
            stop_pid(pid, grace=grace)
        self.pid_path(name).unlink(missing_ok=True)
        return pid is not None

    def stop_all(self, *, grace: float = 10.0, only: list[str] | None = None) -> list[str]:
        """Stop every node (or the ones in ``only``); returns the names that were running."""
        names = only if only is not None else [n.name for n in self.nodes]
        # signal all first, then wait: a cluster stops in one grace period, not N
        pids = {nm: self.pid(nm) for nm in names}
        import os
        import signal

        for pid in pids.values():
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
        stopped = []
        for nm, pid in pids.items():
            if pid is not None:
                self.stop_node(nm, grace=grace)
                stopped.append(nm)
            else:
                self.pid_path(nm).unlink(missing_ok=True)
        return stopped

    def process(self, name: str) -> ServerProcess | None:
        """A handle on a running node (started now or earlier)."""
        if name in self._procs:
            return self._procs[name]
        pid = self.pid(name)
        if pid is None:
            return None
        n = self.node(name)
        return ServerProcess(pid=pid, binary=self.binary_for(name), log_file=self.log_path(name),
                             pid_file=self.pid_path(name), client_port=n.client_port,
                             cluster_port=n.cluster_port, http_port=n.http_port)

    def log_lines(self, name: str, lines: int = 40, *, follow: bool = False,
                  poll: float = 0.2) -> Iterator[str]:
        """The last ``lines`` lines of a node's log; with ``follow``, then every new line as it
        is written (until the caller stops iterating)."""
        path = self.log_path(self.node(name).name)
        if not path.is_file():
            raise NotFound(f"no log for {name} yet ({path})")
        with open(path, errors="replace") as fh:
            yield from (fh.readlines()[-lines:] if lines > 0 else [])
            while follow:
                line = fh.readline()
                if line:
                    yield line
                else:
                    time.sleep(poll)

    def purge(self) -> None:
        """Remove the cluster directory (all nodes must be stopped)."""
        running = self.running_nodes()
        if running:
            raise Conflict(f"cannot purge {self.dir}: nodes still running: {', '.join(running)}")
        shutil.rmtree(self.dir)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dir": str(self.dir),
            "binary": str(self.binary),
            "version": self.version,
            "nodes": [{**asdict(n), "binary": str(self.binary_for(n.name)),
                       "version": self.version_for(n.name)} for n in self.nodes],
        }
