"""An operator-mode cluster rendered from a natsops auth store, on real nats-server processes.

Each node gets the config ``natsops.auth.config.render_config`` prints (operator JWT, system
account, full resolver, SYS preload) plus listen/http/cluster lines on free 127.0.0.1 ports.
Every process is stopped by pid in teardown, even when the test failed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from natsops.auth import ops
from natsops.auth.claims import AccountLimits
from natsops.auth.config import ResolverOptions, render_config
from natsops.auth.store import Store
from natsops.cluster.process import ServerProcess, free_port
from natsops.context import Settings


@dataclass
class OperatorCluster:
    store: Store
    op: str
    dir: Path
    binary: Path
    names: list[str]
    ports: dict[str, tuple[int, int, int]]
    procs: dict[str, ServerProcess] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return f"nats://127.0.0.1:{self.ports[name][0]}"

    @property
    def urls(self) -> list[str]:
        return [self.url(n) for n in self.names]

    @property
    def settings(self) -> Settings:
        """No credentials: push/verify mint a temporary system user from the store."""
        return Settings(servers=tuple(self.urls), timeout=5.0, sources={"servers": "flag"})

    def config_path(self, name: str) -> Path:
        return self.dir / f"{name}.conf"

    def write_config(self, name: str, interval: str = "2m", resolver: str = "full") -> None:
        client, http, route = self.ports[name]
        opts = ResolverOptions(type=resolver, dir=str(self.dir / name / "jwt"),
                               interval=interval)
        routes = ", ".join(json.dumps(f"nats://127.0.0.1:{p[2]}") for p in self.ports.values())
        text = render_config(self.store, self.op, opts)
        text += (f"server_name: {name}\nlisten: \"127.0.0.1:{client}\"\n"
                 f"http: \"127.0.0.1:{http}\"\n"
                 f"jetstream {{ store_dir: {json.dumps(str(self.dir / name / 'js'))}, "
                 "max_memory_store: 64MB, max_file_store: 256MB }\n")
        if len(self.names) > 1:
            text += (f"cluster {{ name: AUTHT, listen: \"127.0.0.1:{route}\", "
                     f"routes: [{routes}] }}\n")
        self.config_path(name).write_text(text)

    def start(self, name: str) -> ServerProcess:
        proc = ServerProcess.start(self.binary, ["-c", str(self.config_path(name))],
                                   log_file=self.dir / f"{name}.log")
        self.procs[name] = proc
        proc.wait_ready(15)
        return proc

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is not None:
            proc.stop(grace=5)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)

    def wait_meta_peers(self, timeout: float = 15.0) -> None:
        """Wait until every node lists every other one in its JetStream meta group view."""
        import time

        import httpx

        deadline = time.monotonic() + timeout
        while True:
            seen = {}
            for n in self.names:
                try:
                    meta = httpx.get(f"http://127.0.0.1:{self.ports[n][1]}/jsz",
                                     timeout=2).json().get("meta_cluster") or {}
                except (httpx.HTTPError, ValueError):
                    meta = {}
                seen[n] = {r.get("name") for r in meta.get("replicas") or ()} | {n}
            if all(v >= set(self.names) for v in seen.values()):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"meta group not formed after {timeout}s: {seen}")
            time.sleep(0.1)

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.dir.glob("*.log"))


@contextmanager
def single_server(store: Store, op: str, d: Path, binary: Path) -> Iterator[OperatorCluster]:
    """One operator-mode server ``a1`` (full resolver) for ``store``'s ``op`` in ``d``, with
    every account pushed; stopped by pid on exit, also when starting or pushing failed."""
    from typer.testing import CliRunner

    from natsops.cli.main import app

    used: set[int] = set()
    for _ in range(3):
        used.add(free_port(avoid=used))
    client, http, route = sorted(used)
    oc = OperatorCluster(store, op, d, binary, ["a1"], {"a1": (client, http, route)})
    d.mkdir()
    try:
        oc.write_config("a1")
        oc.start("a1")
        r = CliRunner().invoke(app, ["-s", oc.url("a1"), "auth", "--store", str(store.root),
                                     "push", "--all"])
        assert r.exit_code == 0, r.output
        yield oc
    finally:
        oc.stop_all()


@pytest.fixture
def auth_store(tmp_path: Path) -> Store:
    """DEMO operator with SYS, APP (JetStream) and APP/service, as the nsc recipe does."""
    store = Store(tmp_path / "store")
    ops.add_operator(store, "DEMO", sys=True, account_server_url="nats://127.0.0.1:4222")
    ops.add_account(store, "DEMO", "APP", jetstream=True, limits=AccountLimits())
    ops.add_user(store, "DEMO", "APP", "service")
    return store


@pytest.fixture
def operator_cluster(server_bin: Path, tmp_path: Path,
                     auth_store: Store) -> Iterator[Callable[..., OperatorCluster]]:
    """Factory: start ``nodes`` operator-mode servers for ``auth_store``."""
    made: list[OperatorCluster] = []

    def make(nodes: int = 1, interval: str = "2m", resolver: str = "full") -> OperatorCluster:
        names = [f"a{i + 1}" for i in range(nodes)]
        used: set[int] = set()
        ports = {}
        for n in names:
            p = []
            for _ in range(3):
                port = free_port(avoid=used)
                used.add(port)
                p.append(port)
            ports[n] = (p[0], p[1], p[2])
        oc = OperatorCluster(auth_store, "DEMO", tmp_path / f"cluster{len(made)}", server_bin,
                             names, ports)
        oc.dir.mkdir()
        made.append(oc)
        for n in names:
            oc.write_config(n, interval, resolver)
        for n in names:
            oc.start(n)
        return oc

    try:
        yield make
    finally:
        for oc in made:
            oc.stop_all()
