"""An operator topology with a MEMORY resolver, in the shape whose first meta election stalled.

One topology for the module, started once with the CLI and stopped by pid at the end even when
a test fails: cluster east (2 servers, JetStream), cluster west (1 server, core-only) joined by
gateways, and a leaf site (1 server, own JetStream domain) of east sharing the system account.
Started all at once, nats-server 2.15.1 sometimes counted the leaf server in east's meta group
and never elected a leader; bootstrap now starts the leaf site once east has its leader.
Every server runs a MEMORY resolver whose account JWTs are in an include file: ``auth push``
rewrites it and reloads the servers (found from natsops' contexts, or from ``--dir``).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from typer.testing import CliRunner

from natsops.auth.store import Store
from natsops.cli.main import app
from natsops.cluster.deployment import LocalDeployment
from natsops.topology.server_conf import PRELOAD_INCLUDE
from tests.integration._topology import bootstrap, operator_store, run, until

pytestmark = pytest.mark.filterwarnings(
    "ignore:Exception ignored in.*Popen.__del__:pytest.PytestUnraisableExceptionWarning")

runner = CliRunner()
OP = "MEMO"
SERVERS = ["e1", "e2", "l1", "w1"]
TOPOLOGY = """name: memtest
defaults: {jetstream: {max_memory: 64MB, max_file: 256MB}}
clusters:
  - {name: east, nodes: [{name: e1, host: 10.1.0.1}, {name: e2, host: 10.1.0.2}]}
  - {name: west, nodes: [{name: w1, host: 10.2.0.1, jetstream: {enabled: false}}]}
leafs:
  - {name: site, hub: east, account: EDGE, domain: edge, nodes: [{name: l1, host: 10.3.0.1}]}
auth: {operator: MEMO, resolver: memory}
"""


@dataclass
class Running:
    dep: LocalDeployment
    store: Store
    env: dict[str, str]
    file: Path
    stderr: str  # bootstrap's progress lines


def cli(topo: Running, *args: str) -> Any:
    return runner.invoke(app, list(args), env=topo.env)


@pytest.fixture(scope="module")
def topo(server_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("memtopo")
    store, env, f = operator_store(tmp, OP, TOPOLOGY)
    r, d = bootstrap(f, tmp, env, server_bin)  # human output: the progress lines on stderr
    running = Running(LocalDeployment.load(d), store, env, f, r.stderr)
    try:
        yield running
    finally:
        running.dep.stop_all(grace=5)


def test_clusters_start_first_and_the_leaf_site_after_the_meta_leader(
        topo: Running, server_bin: Path) -> None:
    lines = [ln for ln in topo.stderr.splitlines() if "starting" in ln or "meta leader" in ln]
    assert "starting 3 servers of clusters east (JetStream), west (core-only)" in lines[0]
    assert "meta leader of east before the leaf sites start" in lines[1]
    assert "meta leader elected after" in lines[2]
    assert "starting 1 server of leaf sites site (leaf site of east)" in lines[3]
    conf = topo.dep.cluster("east").config_path("e1")
    assert f'include "{PRELOAD_INCLUDE}"' in conf.read_text()
    assert "eyJ" not in conf.read_text().split("system_account")[1]  # JWTs only in the preload
    r = subprocess.run([str(server_bin), "-t", "-c", str(conf)], capture_output=True,
                       text=True, timeout=10, check=False)
    assert r.returncode == 0, r.stderr


def test_a_limit_pushed_is_enforced_without_restarting_servers(topo: Running) -> None:
    pids = {n.name: topo.dep.pid(n.name) for n in topo.dep.nodes}
    creds = str(topo.store.creds_path(OP, "APP", "app"))
    url = topo.dep.cluster("east").nodes[0].client_url

    async def on_error(_: Exception) -> None:
        pass

    async def go() -> dict[str, Any]:
        nc = await nats.connect(url, user_credentials=creds, error_cb=on_error)  # before
        try:
            r = await asyncio.to_thread(cli, topo, "auth", "account", "edit", "APP",
                                        "--max-subs", "1")
            assert r.exit_code == 0, r.output
            jwt = topo.store.account(OP, "APP").token.token
            r = await asyncio.to_thread(cli, topo, "--context", "natsops-east-sys", "auth",
                                        "push", "--account", "APP", "--dry-run", "--json")
            assert r.exit_code == 0, r.output
            assert {(x["status"], x["message"]) for x in json.loads(r.stdout)["pushes"][0][
                "replies"]} == {("would push", "would rewrite the preload and reload")}
            assert jwt not in preload.read_text()  # a dry run writes nothing
            r = await asyncio.to_thread(cli, topo, "--context", "natsops-east-sys", "auth",
                                        "push", "--account", "APP", "--expect", "4", "--json")
            assert r.exit_code == 0, r.output
            await nc.subscribe("limits.one")
            await nc.subscribe("limits.two")  # over the new limit, on the same connection
            await nc.flush()
            await until("the subscription limit", lambda: _refused(nc))
            return dict(json.loads(r.stdout))
        finally:
            await nc.close()

    preload = topo.dep.cluster("east").node_dir("e1") / PRELOAD_INCLUDE
    doc = run(go())
    replies = doc["pushes"][0]["replies"]
    assert {(x["server"], x["status"]) for x in replies} == {(s, "reloaded") for s in SERVERS}
    assert {(c["server"], c["status"]) for c in doc["verification"]["copies"]} == {
        (s, "current") for s in SERVERS}
    jwt = topo.store.account(OP, "APP").token.token
    for _, conf in topo.dep.config_files():
        assert jwt in (conf.parent / PRELOAD_INCLUDE).read_text()
        assert (conf.parent / PRELOAD_INCLUDE).stat().st_mode & 0o077 == 0
    assert {n.name: topo.dep.pid(n.name) for n in topo.dep.nodes} == pids  # no restart


async def _refused(nc: Client) -> bool:
    """nats-py keeps the server's -ERR as last_error (and closes the connection)."""
    return "maximum subscriptions exceeded" in str(nc.last_error)


def test_push_refuses_a_memory_resolver_it_does_not_own_unless_given_its_dir(
        topo: Running) -> None:
    url = topo.dep.cluster("east").nodes[0].client_url
    r = cli(topo, "--server", url, "auth", "push", "--account", "APP", "--sys-creds",
                    str(topo.store.creds_path(OP, "SYS", "sys")), "--wait", "1s")
    assert r.exit_code == 9, r.output
    first = r.stderr.splitlines()[0]
    assert first.startswith("error: refusing to push: the servers run a MEMORY resolver")
    assert "the preload must be rendered and deployed" in first
    assert "natsops auth push --dir DIR" in r.stderr  # the hint: the local topology's way
    # the same URL and creds with the topology's folder: the preload is rewritten, reloaded
    r = cli(topo, "--server", url, "auth", "push", "--account", "APP", "--sys-creds",
            str(topo.store.creds_path(OP, "SYS", "sys")), "--dir", str(topo.dep.dir),
            "--wait", "1s", "--json")
    assert r.exit_code == 0, r.output
    assert {(x["server"], x["status"]) for x in json.loads(r.stdout)["pushes"][0][
        "replies"]} == {(s, "reloaded") for s in SERVERS}


def test_render_writes_the_updated_preload(topo: Running, tmp_path: Path) -> None:
    r = cli(topo, "render", str(topo.file), "--out", str(tmp_path / "out"))
    assert r.exit_code == 0, r.output
    jwt = topo.store.account(OP, "APP").token.token
    assert jwt in (tmp_path / "out" / "e1" / PRELOAD_INCLUDE).read_text()
    assert f'include "{PRELOAD_INCLUDE}"' in (tmp_path / "out" / "e1" /
                                               "nats-server.conf").read_text()
