"""`natsops bootstrap --topology` on an operator-mode topology (``auth: {operator: TOPS}``).

One topology for the module, started once with the CLI and stopped by pid at the end even when
a test fails: clusters east (hub of the leaf site) and west, 2 servers each, joined by gateways
(one meta group of 4), and a leaf site (1 server) bound to account EDGE in JetStream domain
edge. (test_topology_memory runs the cheaper shape with a core-only west of 1 server, which
bootstrap starts in order because nats-server 2.15 can otherwise stall its first meta election.)
Every server runs the operator of a test auth store with a full resolver; the leaf dials the hub
with creds. The last test purges it and checks the store is left alone.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import pytest
from typer.testing import CliRunner

from natsops.auth.store import Store
from natsops.cli.main import app
from natsops.cluster.deployment import LocalDeployment
from natsops.cluster.process import is_running
from tests.integration._topology import bootstrap, crosses, operator_store, run, until

# bootstrap leaves its servers running on purpose (stopped by pid at the end of the module), so
# the Popen objects it dropped complain when collected.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Exception ignored in.*Popen.__del__:pytest.PytestUnraisableExceptionWarning")

runner = CliRunner()
OP = "TOPS"
SERVERS = ["e1", "e2", "l1", "w1", "w2"]
TOPOLOGY = """name: optest
defaults:
  jetstream: {max_memory: 64MB, max_file: 256MB}
clusters:
  - name: east
    nodes:
      - {name: e1, host: e1.example.com}
      - {name: e2, host: e2.example.com}
  - name: west
    nodes:
      - {name: w1, host: w1.example.com}
      - {name: w2, host: w2.example.com}
leafs:
  - {name: site, hub: east, account: EDGE, domain: edge, nodes: [{name: l1, host: site.lan}]}
auth: {operator: TOPS}
"""


@dataclass
class Running:
    dep: LocalDeployment
    store: Store
    env: dict[str, str]  # HOME/XDG_CONFIG_HOME (its contexts) and NATSOPS_STORE
    boot: dict[str, Any]  # bootstrap --json
    plan: dict[str, Any]  # bootstrap --dry-run --json, before it

    def url(self, group: str, i: int = 0) -> str:
        return self.dep.cluster(group).nodes[i].client_url

    def creds(self, account: str, user: str = "app") -> str:
        return str(self.store.creds_path(OP, account, user))

    def invoke(self, *args: str) -> Any:
        return runner.invoke(app, list(args), env=self.env)


@pytest.fixture(scope="module")
def topo(server_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("optopo")
    store, env, f = operator_store(tmp, OP, TOPOLOGY)
    r = runner.invoke(app, ["bootstrap", "--topology", str(f), "--dir", str(tmp / "try0"),
                            "--dry-run", "--json"], env=env)
    assert r.exit_code == 0, r.output
    plan = json.loads(r.stdout)
    r, d = bootstrap(f, tmp, env, server_bin, "--json")
    running = Running(LocalDeployment.load(d), store, env, json.loads(r.stdout), plan)
    try:
        yield running
    finally:
        if running.dep.dir.exists():
            running.dep.stop_all(grace=5)




def test_bootstrap_ran_the_stores_operator(topo: Running) -> None:
    b = topo.boot
    assert (b["operator"], b["store"]) == (OP, str(topo.store.root.resolve()))
    assert sorted(b["store_created"]) == ["APP", "APP/app", "EDGE/app", "EDGE/leaf-site",
                                          "SYS/leaf-site-sys"]
    assert b["store_created"] == topo.plan["store_changes"]  # as --dry-run said
    assert b["probes"] == {"east": 2, "west": 2, "site": 1}  # EDGE in the leaf domain
    assert b["status"]["links_down"] == {}
    conf = (topo.dep.dir / "site" / "l1" / "nats-server.conf").read_text()
    assert "resolver {" in conf and "type: full" in conf and "password" not in conf
    for creds in ("leaf-site.creds", "leaf-site-sys.creds"):
        path = topo.dep.dir / "site" / "l1" / creds
        assert f'credentials: "{path}"' in conf
        assert path.stat().st_mode & 0o077 == 0
    assert (topo.dep.dir / "credentials.json").stat().st_mode & 0o077 == 0
    confs = sorted(str(p) for p in topo.dep.dir.glob("*/*/nats-server.conf"))
    r = topo.invoke("lint", *confs, "--json")  # operator blocks, leaf creds: lint as one set
    assert len(confs) == len(SERVERS) and r.exit_code == 0, r.output
    r = topo.invoke("bootstrap", "--topology", topo.dep.source, "--dir", str(topo.dep.dir),
                    "--json")  # again: reports the running topology, the store untouched
    assert r.exit_code == 0, r.output
    again = json.loads(r.stdout)
    assert (again["created"], again["started"], again["store_created"]) == (False, [], [])
    r = topo.invoke("cluster", "status", "--dir", str(topo.dep.dir), "--json")
    doc = json.loads(r.stdout)
    assert (doc["operator"], doc["store"]) == (OP, str(topo.store.root.resolve()))
    nodes = [n for g in doc["groups"] for n in g["cluster"]["nodes"]]
    assert sorted(n["name"] for n in nodes) == SERVERS and all(n["healthy"] for n in nodes)


def test_contexts_log_in_with_creds_of_the_store(topo: Running) -> None:
    folder = Path(topo.env["XDG_CONFIG_HOME"]) / "nats" / "context"
    want = {"natsops-east": topo.creds("APP"), "natsops-west": topo.creds("APP"),
            "natsops-site": topo.creds("EDGE"), "natsops-east-sys": topo.creds("SYS", "sys"),
            "natsops-site-sys": topo.creds("SYS", "sys")}
    for name, creds in want.items():
        path = folder / f"{name}.json"
        ctx = json.loads(path.read_text())
        assert (ctx["creds"], ctx["user"], ctx["password"]) == (creds, "", ""), name
        assert path.stat().st_mode & 0o077 == 0
    r = topo.invoke("--context", "natsops-site", "stream", "ls", "--json")
    assert r.exit_code == 0, r.output  # EDGE/app on the leaf server: its own domain


def test_an_app_message_crosses_the_gateway(topo: Running) -> None:
    async def go() -> None:
        west = await nats.connect(topo.url("west"), user_credentials=topo.creds("APP"))
        east = await nats.connect(topo.url("east", 1), user_credentials=topo.creds("APP"))
        try:
            await crosses(east, west, "orders.gw", "west")
        finally:
            await west.close()
            await east.close()

    run(go())


def test_the_leaf_domain_stream_is_reachable_from_the_hub(
        topo: Running, unique: Callable[[str], str]) -> None:
    stream = unique("SITE")

    async def go() -> None:
        leaf = await nats.connect(topo.url("site"), user_credentials=topo.creds("EDGE"))
        hub = await nats.connect(topo.url("east", 1), user_credentials=topo.creds("EDGE"))
        try:
            await leaf.jetstream().add_stream(name=stream, subjects=[f"{stream.lower()}.>"])
            remote = hub.jetstream(domain="edge")  # $JS.edge.API over the leaf connection
            assert (await remote.stream_info(stream)).config.name == stream
            acks = []

            async def stored() -> bool:  # the new subjects' interest reaches the hub a moment later
                try:
                    acks.append(await remote.publish(f"{stream.lower()}.in", b"from the hub",
                                                     timeout=0.5))
                except nats.js.errors.NoStreamResponseError:
                    return False
                return True

            await until("the stream's subjects seen from the hub", stored)
            assert [(a.stream, a.domain) for a in acks] == [(stream, "edge")]
            assert (await remote.stream_info(stream)).state.messages == 1
            with pytest.raises(nats.js.errors.NotFoundError):  # not in the hub's JetStream
                await hub.jetstream().stream_info(stream)
        finally:
            await leaf.close()
            await hub.close()

    run(go())


def test_doctor_sees_every_server_with_no_fail(topo: Running, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".natsops").mkdir()
    (tmp_path / ".natsops" / "optest").symlink_to(topo.dep.dir)
    monkeypatch.chdir(tmp_path)  # without --dir: the topology bootstrap left in ./.natsops
    for where in (["--dir", str(topo.dep.dir)], []):
        r = topo.invoke("doctor", *where, "--json")
        doc = json.loads(r.stdout)
        assert doc["servers"] == SERVERS, r.output
        bad = [(f["id"], f["subject"]) for f in doc["findings"]
               if f["severity"] == "fail" or f["id"] == "jwt-mismatch"]
        assert bad == [], doc["findings"]
        assert r.exit_code == 0, r.output


def test_an_account_edit_pushed_reaches_every_server(topo: Running) -> None:
    r = topo.invoke("auth", "account", "edit", "APP", "--max-conns", "1000")
    assert r.exit_code == 0, r.output
    jti = topo.store.account(OP, "APP").token.claims["jti"]
    r = topo.invoke("--context", "natsops-east-sys", "auth", "push", "--account", "APP",
                    "--expect", "5", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    copies = doc["verification"]["copies"]
    assert sorted(c["server"] for c in copies) == SERVERS  # the leaf server's resolver too
    assert {c["status"] for c in copies} == {"current"}
    r = topo.invoke("doctor", "--dir", str(topo.dep.dir), "--only", "jwt-mismatch", "--json")
    assert json.loads(r.stdout)["findings"] == [], r.output

    async def every_server_runs_it() -> None:  # every server now runs the edited JWT
        nc = await nats.connect(topo.url("east"), user_credentials=topo.creds("SYS", "sys"))
        try:
            replies = []
            inbox = nc.new_inbox()
            sub = await nc.subscribe(inbox)
            key = topo.store.account(OP, "APP").public_key
            await nc.publish("$SYS.REQ.SERVER.PING.ACCOUNTZ", json.dumps(
                {"account": key}).encode(), reply=inbox)

            async def all_answered() -> bool:
                with contextlib.suppress(nats.errors.TimeoutError):
                    replies.append(json.loads((await sub.next_msg(timeout=0.2)).data))
                return len(replies) == len(SERVERS)

            await until("ACCOUNTZ from every server", all_answered)
            jtis = {r["server"]["name"]: r["data"]["account_detail"]["decoded_jwt"]["jti"]
                    for r in replies}
            assert jtis == dict.fromkeys(SERVERS, jti)
        finally:
            await nc.close()

    run(every_server_runs_it())
    # a restarted leaf server keeps the pushed JWT (its resolver folder), not its older preload
    r = topo.invoke("cluster", "restart", "l1", "--dir", str(topo.dep.dir), "--wait", "30s")
    assert r.exit_code == 0, r.output
    r = topo.invoke("--context", "natsops-east-sys", "auth", "verify", "--account", "APP",
                    "--expect", "5", "--json")
    assert r.exit_code == 0, r.output
    copies = json.loads(r.stdout)["copies"]
    assert {(c["server"], c["status"]) for c in copies} == {(s, "current") for s in SERVERS}


def test_down_purge_stops_everything_and_keeps_the_store(topo: Running) -> None:
    """Last: it removes the module's topology."""
    pids = [p for n in topo.dep.nodes if (p := topo.dep.pid(n.name)) is not None]
    assert len(pids) == len(SERVERS)
    before = sorted(str(p.relative_to(topo.store.root)) for p in topo.store.root.rglob("*"))
    r = topo.invoke("cluster", "down", "--purge", "--force", "--dir", str(topo.dep.dir))
    assert r.exit_code == 0, r.output
    assert f"kept the auth store {topo.store.root.resolve()}" in r.stderr
    assert not any(is_running(p) for p in pids)
    assert not topo.dep.dir.exists()
    folder = Path(topo.env["XDG_CONFIG_HOME"]) / "nats" / "context"
    assert not [c for c in os.listdir(folder) if c.startswith("natsops-")]
    after = sorted(str(p.relative_to(topo.store.root)) for p in topo.store.root.rglob("*"))
    assert after == before
    assert topo.store.operator(OP).name == OP
