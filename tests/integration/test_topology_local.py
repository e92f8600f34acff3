"""`natsops bootstrap --topology`: whole topologies started on loopback, tried end to end.

Three topologies are shared by the module (each started once, stopped by pid at the end even
when a test fails): a supercluster of two clusters joined by gateways, a hub with a leaf site
in its own JetStream domain, and the same with TLS generated. Two more are started by the test
that needs them: two leaf sites sharing a domain (built on purpose: the loader refuses it) and
one that fails half-way.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import nats
import pytest
from typer.testing import CliRunner

from natsops.cli.main import app
from natsops.cluster.deployment import LocalDeployment
from natsops.cluster.process import is_running
from natsops.context import list_contexts
from natsops.errors import NatsopsError
from natsops.topology.load import parse_topology
from natsops.topology.local import LaunchOptions, launch
from natsops.topology.model import Topology
from tests.integration._topology import crosses, run, until

runner = CliRunner()

EDGE_PW = "edge-secret-pw"
APP_PW = "app-secret-pw"
JS = "defaults:\n  jetstream: {max_memory: 64MB, max_file: 512MB}\n"
AUTH = """auth:
  accounts:
    APP: {users: [{user: app, password_env: T_APP_PW}]}
    EDGE: {users: [{user: edge, password_env: T_EDGE_PW}]}
"""
SUPER = f"""name: super
clusters:
  - name: east
    nodes:
      - {{name: e1, host: e1.example.com}}
      - {{name: e2, host: e2.example.com}}
      - {{name: e3, host: e3.example.com}}
  - name: west
    nodes:
      - {{name: w1, host: w1.example.com}}
      - {{name: w2, host: w2.example.com}}
{JS}{AUTH}"""


def hub_leaf(name: str, suffix: str = "", extra: str = "") -> str:
    """A one-server hub and a one-server leaf site bound to EDGE, in JetStream domain edge."""
    return f"""name: {name}
clusters:
  - name: hub{suffix}
    nodes: [{{name: h1{suffix}, host: hub.example.com}}]
leafs:
  - name: site{suffix}
    hub: hub{suffix}
    account: EDGE
    domain: edge
    nodes: [{{name: l1{suffix}, host: site.example.com}}]
{JS}{AUTH}{extra}"""


def _env() -> dict[str, str]:
    return {**os.environ, "T_APP_PW": APP_PW, "T_EDGE_PW": EDGE_PW}


def _topology(text: str, tmp: Path, file: str) -> Topology:
    path = tmp / file
    path.write_text(text)
    return parse_topology(text, str(path), _env()).topology


@dataclass
class Running:
    dep: LocalDeployment
    file: Path

    def url(self, group: str, i: int = 0) -> str:
        return self.dep.cluster(group).nodes[i].client_url

    def pids(self) -> list[int]:
        return [p for n in self.dep.nodes if (p := self.dep.pid(n.name)) is not None]


def _start(topo: Topology, directory: Path, server_bin: Path, *, contexts: bool = False,
           env: Mapping[str, str] | None = None) -> LocalDeployment:
    """Launch on free ports; one retry on a fresh directory if a port was taken meanwhile."""
    last: Exception | None = None
    for attempt in range(2):
        d = directory / f"try{attempt}"
        opts = LaunchOptions(dir=d, server_bin=str(server_bin), timeout=60,
                             write_contexts=contexts)
        try:
            asyncio.run(launch(topo, opts, env or _env()))
            return LocalDeployment.load(d)
        except NatsopsError as exc:  # launch stopped what it started
            last = exc
    raise RuntimeError(f"could not start topology {topo.name}: {last}")


@pytest.fixture(scope="module")
def started(server_bin: Path, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Callable[[str], Running]]:
    """Start a named topology of this module at first use; stop every one at the end."""
    made: dict[str, Running] = {}
    texts = {"super": SUPER, "hub": hub_leaf("hubleaf"),
             "tls": hub_leaf("tlsleaf", "t", "tls: {generate: true}\n")}

    def get(name: str) -> Running:
        if name not in made:
            tmp = tmp_path_factory.mktemp(f"topo-{name}")
            topo = _topology(texts[name], tmp, f"{name}.yaml")
            made[name] = Running(_start(topo, tmp, server_bin), tmp / f"{name}.yaml")
        return made[name]

    try:
        yield get
    finally:
        for r in made.values():
            r.dep.stop_all(grace=5)




# ---- supercluster -------------------------------------------------------------------------------

def test_a_message_crosses_the_gateway(started: Callable[[str], Running]) -> None:
    sc = started("super")

    async def go() -> None:
        west = await nats.connect(sc.url("west", 1), user="app", password=APP_PW)
        east = await nats.connect(sc.url("east", 2), user="app", password=APP_PW)
        try:
            await crosses(east, west, "orders.gw", "west")
        finally:
            await west.close()
            await east.close()

    run(go())


def test_a_backup_restored_into_the_other_cluster(started: Callable[[str], Running],
                                                  tmp_path: Path) -> None:
    """`stream restore --cluster west` places the copy of an east stream in west."""
    from nats.js.api import Placement

    sc = started("super")
    server = ["-s", sc.url("east"), "--user", "app", "--password", APP_PW]

    async def make() -> None:
        nc = await nats.connect(sc.url("east"), user="app", password=APP_PW)
        try:
            js = nc.jetstream(timeout=15)
            await js.add_stream(name="MOVE", subjects=["move.>"], num_replicas=1,
                                placement=Placement(cluster="east"))
            for i in range(5):
                await js.publish("move.x", b"%d" % i)
        finally:
            await nc.close()

    run(make())
    archive = tmp_path / "move.tgz"
    r = runner.invoke(app, [*server, "stream", "backup", "MOVE", str(archive)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, [*server, "stream", "restore", str(archive), "--name", "MOVED",
                            "--subjects", "moved.>", "--cluster", "west", "--no-progress"])
    assert r.exit_code == 0, r.output

    async def check() -> None:
        nc = await nats.connect(sc.url("west"), user="app", password=APP_PW)
        try:
            info = await nc.jetstream(timeout=15).stream_info("MOVED")
            assert info.state.messages == 5
            assert info.cluster is not None and info.cluster.name == "west"
            assert info.config.placement is not None and info.config.placement.cluster == "west"
        finally:
            await nc.close()

    run(check())


def test_doctor_sees_every_server_and_no_split_brain(started: Callable[[str], Running],
                                                    tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    sc = started("super")
    (tmp_path / ".natsops").mkdir()
    (tmp_path / ".natsops" / "super").symlink_to(sc.dep.dir)
    monkeypatch.chdir(tmp_path)  # without --dir: the topology bootstrap left in ./.natsops
    for where in (["--dir", str(sc.dep.dir)], []):
        r = runner.invoke(app, ["doctor", *where, "--only", "js-domains,servers-missing",
                                "--json"])
        doc = json.loads(r.stdout)
        assert doc["servers"] == ["e1", "e2", "e3", "w1", "w2"]
        assert doc["findings"] == [], doc["findings"]
        assert r.exit_code == 0, r.output


def test_cluster_status_json_shows_every_cluster(started: Callable[[str], Running]) -> None:
    sc = started("super")
    r = runner.invoke(app, ["cluster", "status", "--dir", str(sc.dep.dir / "west"), "--json"])
    assert r.exit_code == 0, r.output  # a cluster of the topology: the whole topology
    doc = json.loads(r.stdout)
    assert doc["name"] == "super"
    assert [(g["kind"], g["cluster"]["name"], g["gateways"]) for g in doc["groups"]] == [
        ("cluster", "east", ["west"]), ("cluster", "west", ["east"])]
    nodes = [n for g in doc["groups"] for n in g["cluster"]["nodes"]]
    assert [n["name"] for n in nodes] == ["e1", "e2", "e3", "w1", "w2"]
    assert all(n["healthy"] and n["running"] for n in nodes)
    assert len({n["meta_leader"] for n in nodes}) == 1  # one meta group across the gateways
    assert set(doc["groups"][0]["ports"]["e1"]) == {"gateway"}
    assert doc["links_down"] == {}


def test_stop_and_start_one_server_of_the_topology(started: Callable[[str], Running]) -> None:
    sc = started("super")
    d = str(sc.dep.dir)
    r = runner.invoke(app, ["cluster", "stop", "w2", "--dir", d, "--grace", "5"])
    assert r.exit_code == 0, r.output
    deadline = time.monotonic() + 10
    while True:  # east drops w2's gateway connection a moment after w2 exits
        doc = json.loads(runner.invoke(app, ["cluster", "status", "--dir", d, "--json"]).stdout)
        if "cluster east" in doc["links_down"] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    west = {n["name"]: n for n in doc["groups"][1]["cluster"]["nodes"]}
    assert (west["w2"]["running"], west["w1"]["running"]) == (False, True)
    # (east's servers that dialled w2 may also be re-dialling w1 for a moment)
    assert doc["links_down"]["cluster east"] == "1 of 2 inbound gateway connections from west"
    r = runner.invoke(app, ["cluster", "start", "w2", "--dir", d, "--wait", "60s"])
    assert r.exit_code == 0, r.output  # usable again: gateways and meta group back
    assert "started w2" in r.stderr
    doc = json.loads(runner.invoke(app, ["cluster", "status", "--dir", d, "--json"]).stdout)
    assert doc["links_down"] == {}


def test_bootstrap_again_reports_the_running_topology(started: Callable[[str], Running]) -> None:
    sc = started("super")
    pids = sorted(sc.pids())
    r = runner.invoke(app, ["bootstrap", "--topology", str(sc.file), "--dir", str(sc.dep.dir),
                            "--no-write-context", "--json"], env=_env())
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert (doc["created"], doc["started"]) == (False, [])
    assert sorted(doc["already_running"]) == ["e1", "e2", "e3", "w1", "w2"]
    assert sorted(sc.pids()) == pids
    r = runner.invoke(app, ["bootstrap", "--topology", str(sc.file), "--dir", str(sc.dep.dir),
                            "--nodes", "5"])
    assert r.exit_code == 2
    assert "--nodes does not go with --topology" in r.stderr


# ---- hub and leaf site ----------------------------------------------------------------------------

def test_a_leaf_domain_stream_is_reachable_from_the_hub(started: Callable[[str], Running],
                                                      unique: Callable[[str], str]) -> None:
    hl = started("hub")
    stream = unique("SITE")
    subject = f"{stream.lower()}.in"

    async def go() -> None:
        leaf = await nats.connect(hl.url("site"), user="edge", password=EDGE_PW)
        hub = await nats.connect(hl.url("hub"), user="edge", password=EDGE_PW)
        try:
            await leaf.jetstream().add_stream(name=stream, subjects=[f"{stream.lower()}.>"])
            remote = hub.jetstream(domain="edge")  # $JS.edge.API over the leaf connection
            assert (await remote.stream_info(stream)).config.name == stream
            ack = await remote.publish(subject, b"from the hub")
            assert (ack.stream, ack.domain) == (stream, "edge")
            raw = await hub.request(f"$JS.edge.API.STREAM.INFO.{stream}", b"", timeout=2)
            assert json.loads(raw.data)["state"]["messages"] == 1
            with pytest.raises(nats.js.errors.NotFoundError):  # the hub's own JetStream
                await hub.jetstream().stream_info(stream)
        finally:
            await leaf.close()
            await hub.close()

    run(go())


def test_the_leaf_sees_only_its_accounts_subjects(started: Callable[[str], Running]) -> None:
    hl = started("hub")

    async def go() -> None:
        leaf_edge = await nats.connect(hl.url("site"), user="edge", password=EDGE_PW)
        leaf_app = await nats.connect(hl.url("site"), user="app", password=APP_PW)
        hub_edge = await nats.connect(hl.url("hub"), user="edge", password=EDGE_PW)
        hub_app = await nats.connect(hl.url("hub"), user="app", password=APP_PW)
        try:
            edge_sub = await leaf_edge.subscribe("news.>")
            app_sub = await leaf_app.subscribe("news.>")
            await leaf_edge.flush()
            await leaf_app.flush()
            got: list[str] = []

            async def marker() -> bool:
                await hub_app.publish("news.app", b"APP")  # not the leaf's account
                await hub_app.flush()
                await hub_edge.publish("news.edge", b"EDGE")
                await hub_edge.flush()
                try:
                    got.append((await edge_sub.next_msg(timeout=0.1)).subject)
                except nats.errors.TimeoutError:
                    return False
                return True

            await until("the EDGE message on the leaf", marker)
            await leaf_app.flush()
            assert set(got) == {"news.edge"}
            assert app_sub.pending_msgs == 0  # APP on the hub never reaches the leaf
        finally:
            for nc in (leaf_edge, leaf_app, hub_edge, hub_app):
                await nc.close()

    run(go())


# ---- TLS -------------------------------------------------------------------------------------------

def test_tls_refuses_a_client_without_the_ca(started: Callable[[str], Running]) -> None:
    t = started("tls")
    assert t.dep.tls_ca is not None
    url = t.url("hubt").replace("nats://", "tls://")

    async def connect(ctx: ssl.SSLContext | None, server: str = url) -> Any:
        return await nats.connect(server, user="app", password=APP_PW, tls=ctx,
                                  allow_reconnect=False, connect_timeout=2,
                                  max_reconnect_attempts=1)

    async def go() -> None:
        with pytest.raises((ssl.SSLError, OSError, nats.errors.Error)):
            await connect(ssl.create_default_context())  # the system CAs: not ours
        with pytest.raises((OSError, nats.errors.Error)):
            await connect(None, t.url("hubt"))  # plaintext
        nc = await connect(ssl.create_default_context(cafile=t.dep.tls_ca))
        try:
            assert nc.is_connected
            await nc.flush()
        finally:
            await nc.close()

    run(go())
    r = runner.invoke(app, ["doctor", "--dir", str(t.dep.dir), "--only", "servers-missing",
                            "--json"])  # the sys user over TLS, the leaf seen through the hub
    assert json.loads(r.stdout)["servers"] == ["h1t", "l1t"], r.output
    # over HTTP: the https monitors are checked against the topology's CA
    r = runner.invoke(app, ["doctor", "--dir", str(t.dep.dir), "--transport", "http",
                            "--only", "servers-missing", "--json"])
    doc = json.loads(r.stdout)
    assert doc["transport"] == "http" and doc["servers"] == ["h1t", "l1t"], r.output
    r = runner.invoke(app, ["cluster", "status", "--dir", str(t.dep.dir), "--json"])
    doc = json.loads(r.stdout)
    nodes = [n for g in doc["groups"] for n in g["cluster"]["nodes"]]
    assert doc["tls"] and all(n["healthy"] for n in nodes), r.output  # the https monitors
    assert all(n["monitor_url"].startswith("https://127.0.0.1:") for n in nodes)


# ---- the example topologies ----------------------------------------------------------------------

EXAMPLES = sorted((Path(__file__).parents[2] / "recipes" / "topologies").glob("*.yaml"))


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_topology_runs_locally(example: Path, server_bin: Path,
                                             tmp_path: Path) -> None:
    """Each example starts and gets usable on loopback; its local configs lint as one set."""
    env = {**_env(), "NATS_OPS_PASSWORD": "ops-pw"}
    d = tmp_path / "d"
    r = runner.invoke(app, ["bootstrap", "--topology", str(example), "--dir", str(d),
                            "--no-write-context", "--server-bin", str(server_bin), "--wait",
                            "60s", "--json"], env=env)
    try:
        assert r.exit_code == 0, r.output
        doc = json.loads(r.stdout)
        assert doc["created"] and doc["status"]["links_down"] == {}
        confs = sorted(str(p) for p in d.glob("*/*/nats-server.conf"))
        assert len(confs) == len(doc["started"])
        lint = runner.invoke(app, ["lint", *confs, "--json"])
        assert lint.exit_code == 0, lint.output  # routes and gateways reach real listeners
    finally:
        if LocalDeployment.exists(d):
            LocalDeployment.load(d).stop_all(grace=5)


# ---- built on purpose ---------------------------------------------------------------------------

def test_doctor_flags_two_leaf_sites_sharing_a_domain(server_bin: Path, tmp_path: Path) -> None:
    """The loader refuses a shared domain, so the test builds that topology itself."""
    topo = _topology(hub_leaf("shared"), tmp_path, "shared.yaml")
    site = topo.leafs[0]
    twin = replace(site, name="site2", nodes=(replace(site.nodes[0], name="l2"),))
    topo = replace(topo, leafs=(site, twin))  # both in domain "edge"
    dep = _start(topo, tmp_path, server_bin, contexts=True, env=_env())
    pids = [p for n in dep.nodes if (p := dep.pid(n.name)) is not None]
    try:
        assert len(pids) == 3
        r = runner.invoke(app, ["doctor", "--dir", str(dep.dir), "--only",
                                "js-domains,servers-missing", "--json"])
        doc = json.loads(r.stdout)
        assert doc["servers"] == ["h1", "l1", "l2"]
        (hit,) = [f for f in doc["findings"] if f["id"] == "js-domains"]
        assert hit["subject"] == "edge"
        assert hit["evidence"]["jetstreams"] == {"server l1": ["l1"], "server l2": ["l2"]}
        assert r.exit_code == 6
        assert {"natsops-site", "natsops-site2-sys"} <= set(list_contexts(os.environ))
        r = runner.invoke(app, ["cluster", "down", "--purge", "--force", "--dir", str(dep.dir)])
        assert r.exit_code == 0, r.output
        assert not any(is_running(p) for p in pids)
        assert not dep.dir.exists()
        assert not [c for c in list_contexts(os.environ) if c.startswith("natsops-")]
    finally:
        if dep.dir.exists():
            dep.stop_all(grace=5)


def test_a_failure_half_way_leaves_nothing_running(server_bin: Path, tmp_path: Path) -> None:
    topo = _topology(hub_leaf("broken"), tmp_path, "broken.yaml")
    site = topo.leafs[0]
    bad = replace(site.nodes[0], jetstream=replace(site.nodes[0].jetstream,
                                                   max_memory="lots"))
    topo = replace(topo, leafs=(replace(site, nodes=(bad,)),))
    d = tmp_path / "broken"
    with pytest.raises(NatsopsError, match="l1 exited during start-up"):
        asyncio.run(launch(topo, LaunchOptions(dir=d, server_bin=str(server_bin), timeout=30,
                                               write_contexts=False), _env()))
    assert (d / "hub" / "h1" / "nats-server.log").exists()  # the hub was started, then
    assert LocalDeployment.load(d).running_nodes() == []    # stopped with the rest
    assert _servers_under(d) == []


def _servers_under(directory: Path) -> list[int]:
    """nats-server processes whose command line names a file under ``directory``."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "nats-server" in cmd and str(directory) in cmd and is_running(int(proc.name)):
                found.append(int(proc.name))
    return found
