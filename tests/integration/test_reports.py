"""``server report connections|accounts|routes|gateways|leafnodes|health``, ``server request
kick``, ``server config reload`` and ``account info`` against real servers.

The reports and kick use the shared cluster (kicking a client of our own is harmless); config
reload and a frozen server use a cluster of their own.
"""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from typer.testing import CliRunner

from natsops.cli.main import app
from natsops.cluster.local import LocalCluster
from natsops.errors import ExitCode
from tests.conftest import start_test_cluster

pytestmark = pytest.mark.cluster
runner = CliRunner()


def ok(*args: str) -> Any:
    res = runner.invoke(app, list(args))
    assert res.exit_code == 0, res.output
    return res


class Flooder:
    """A client publishing as fast as it can (its own thread and event loop), no reconnect."""

    def __init__(self, url: str, name: str, subject: str) -> None:
        self.url, self.name, self.subject = url, name, subject
        self.sent = 0
        self.closed = threading.Event()
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self.thread.start()

    async def _run(self) -> None:
        async def closed() -> None:
            self.closed.set()

        nc = await nats.connect(self.url, name=self.name, allow_reconnect=False,
                                closed_cb=closed)
        self.ready.set()
        try:
            while not self.stop.is_set() and not nc.is_closed:
                for _ in range(200):
                    await nc.publish(self.subject, b"x" * 256)
                self.sent += 200
                await nc.flush(timeout=5)
        except Exception:
            pass  # kicked: the connection is gone
        finally:
            if not nc.is_closed:
                await nc.close()
            self.closed.set()

    def wait_sent(self, n: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while self.sent < n:
            assert time.monotonic() < deadline, f"only {self.sent} messages published"
            time.sleep(0.02)


@pytest.fixture
def flooder(nats_cluster: Any, unique: Any) -> Iterator[Flooder]:
    f = Flooder(nats_cluster.urls[0], unique("flooder"), unique("flood"))
    assert f.ready.wait(10)
    try:
        yield f
    finally:
        f.stop.set()
        f.thread.join(10)


def test_report_connections_names_the_flooder_and_kick_disconnects_it(
        nats_cluster: Any, flooder: Flooder) -> None:
    d = str(nats_cluster.cluster.dir)
    flooder.wait_sent(20000)
    rep = json.loads(ok("server", "report", "connections", "--sort", "in-msgs", "--top", "1",
                        "--dir", d, "--json").stdout)
    assert rep["missing"] == []
    top = rep["connections"][0]
    assert top["name"] == flooder.name
    assert top["in_msgs"] >= 20000
    assert top["account"] == "APP"
    assert top["server"] in {"n1", "n2", "n3"}
    # filters: by name (over HTTP too) and by account
    mons = [a for u in nats_cluster.monitor_urls for a in ("--monitor", u)]
    rep = json.loads(ok("server", "report", "connections", "--name", flooder.name, *mons,
                        "--json").stdout)
    assert [c["cid"] for c in rep["connections"]] == [top["cid"]]
    rep = json.loads(ok("server", "report", "connections", "--account", "SYS", "--dir", d,
                        "--json").stdout)
    assert rep["connections"]
    assert all(c["account"] == "SYS" for c in rep["connections"])
    text = ok("server", "report", "connections", "--dir", d, "--top", "3").stdout
    assert flooder.name in text

    # kick: refused without --force (no terminal), then done
    res = runner.invoke(app, ["server", "request", "kick", str(top["cid"]), "--server-name",
                              top["server"], "--dir", d])
    assert res.exit_code == ExitCode.USAGE
    assert "--force" in res.stderr
    assert not flooder.closed.is_set()
    res = ok("server", "request", "kick", str(top["cid"]), "--server-name", top["server"],
             "--force", "--dir", d, "--json")
    kicked = json.loads(res.stdout)
    assert kicked["name"] == flooder.name
    assert kicked["closed"] is True
    assert kicked["reason"] == "Kicked"
    assert flooder.closed.wait(10), "the kicked client's connection did not close"
    rep = json.loads(ok("server", "report", "connections", "--state", "closed", "--name",
                        flooder.name, "--dir", d, "--json").stdout)
    assert [c["reason"] for c in rep["connections"]] == ["Kicked"]


def test_kick_bad_input(nats_cluster: Any) -> None:
    d = str(nats_cluster.cluster.dir)
    res = runner.invoke(app, ["server", "request", "kick", "999999", "--force", "--dir", d])
    assert res.exit_code == ExitCode.NOT_FOUND, res.output
    assert "no open client connection 999999" in res.stderr
    res = runner.invoke(app, ["server", "request", "kick", "0", "--force", "--dir", d])
    assert res.exit_code == ExitCode.USAGE, res.output
    res = runner.invoke(app, ["server", "report", "connections", "--sort", "bogus", "--dir", d])
    assert res.exit_code == ExitCode.USAGE, res.output
    assert res.stderr.count("error:") == 1
    res = runner.invoke(app, ["server", "config", "reload", "nope", "--dir", d])
    assert res.exit_code == ExitCode.NOT_FOUND, res.output


def test_report_routes_health_accounts(nats_cluster: Any) -> None:
    d = str(nats_cluster.cluster.dir)
    rep = json.loads(ok("server", "report", "routes", "--dir", d, "--json").stdout)
    routes = rep["routes"]
    assert {r["server"] for r in routes} == {"n1", "n2", "n3"}
    n1 = {r["remote"] for r in routes if r["server"] == "n1"}
    assert n1 == {"n2", "n3"}  # the remote's name, not its id
    assert all(r["rtt_s"] >= 0 and r["pending"] >= 0 for r in routes)
    assert "REMOTE" in ok("server", "report", "routes", "--dir", d).stdout
    rep = json.loads(ok("server", "report", "leafnodes", "--dir", d, "--json").stdout)
    assert rep == {"leafnodes": [], "missing": []}
    rep = json.loads(ok("server", "report", "gateways", "--dir", d, "--json").stdout)
    assert rep == {"gateways": [], "missing": []}

    rep = json.loads(ok("server", "report", "health", "--dir", d, "--json").stdout)
    assert [(s["server"], s["status"], s["jetstream"]) for s in rep["servers"]] == [
        ("n1", "ok", True), ("n2", "ok", True), ("n3", "ok", True)]
    assert len({s["meta_leader"] for s in rep["servers"]}) == 1

    rows = json.loads(ok("server", "report", "accounts", "--dir", d, "--json").stdout)
    by = {r["account"]: r for r in rows}
    assert {"APP", "SYS"} <= set(by)
    assert by["SYS"]["connections"] >= 1  # ours
    assert by["APP"]["servers"] == ["n1", "n2", "n3"]
    assert "ACCOUNT" in ok("server", "report", "accounts", "--dir", d).stdout


@pytest.fixture(scope="module")
def own(server_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    c = start_test_cluster(tmp_path_factory.mktemp("reports"), server_bin, name="RP")
    try:
        yield c
    finally:
        c.stop_all(grace=5)


def _varz(c: LocalCluster, name: str) -> Any:
    import httpx

    return httpx.get(f"{c.node(name).monitor_url}/varz", timeout=5).json()


def test_config_reload_applies_an_edit(own: LocalCluster) -> None:
    d = str(own.dir)
    before = _varz(own, "n1")
    assert before["ping_max"] == 2
    path = own.config_path("n1")
    path.write_text(path.read_text() + "\nping_max: 5\n")
    res = ok("server", "config", "reload", "n1", "--dir", d, "--json")
    r = json.loads(res.stdout)
    assert r["matches"] is True
    assert r["digest"] == r["file_digest"] != before["config_digest"]
    after = _varz(own, "n1")
    assert after["ping_max"] == 5
    assert after["config_digest"] == r["digest"]
    # a reload the server refuses: one error line, the server's own reason
    path.write_text(path.read_text() + "\nping_max: \"many\"\n")
    res = runner.invoke(app, ["server", "config", "reload", "n1", "--dir", d])
    assert res.exit_code == ExitCode.SERVER, res.output
    assert res.stderr.count("error:") == 1
    assert "Traceback" not in res.output


def test_a_server_is_found_by_name_from_any_server(own: LocalCluster) -> None:
    """Every server answers IDZ whatever its filter says: a lookup connected to n1 must still
    name n3, not whichever server answered first (a CI failure of config reload)."""
    from natsops.monitoring.reports import find_server
    from natsops.monitoring.sys import ping_server

    async def look() -> list[str]:
        nc = await nats.connect(own.node("n1").client_url, user="sys",
                                password=own.credentials()["sys"])
        try:
            seen = []
            for target in ("n3", "n2", "n1", "n3"):
                srv = await find_server(nc, target, timeout=5)
                idz = await ping_server(nc, "IDZ", target, timeout=5)
                assert idz is not None and idz["id"] == srv["id"], (target, idz, srv)
                seen.append(str(srv["name"]))
            return seen
        finally:
            await nc.close()

    assert asyncio.run(look()) == ["n3", "n2", "n1", "n3"]


def test_frozen_server_makes_reports_incomplete(own: LocalCluster) -> None:
    d = str(own.dir)
    proc = own.process("n3")
    assert proc is not None
    proc.signal(signal.SIGSTOP)
    try:
        for what in ("routes", "health", "connections"):
            res = runner.invoke(app, ["server", "report", what, "--dir", d, "--json"])
            assert res.exit_code == ExitCode.INCOMPLETE, (what, res.output)
            assert json.loads(res.stdout)["missing"] == ["n3"]
            assert "n3" in res.stderr
        res = runner.invoke(app, ["server", "config", "reload", "n3", "--dir", d])
        assert res.exit_code == ExitCode.NOT_FOUND, res.output
    finally:
        proc.signal(signal.SIGCONT)


def test_account_info_live(nats_cluster: Any, unique: Any) -> None:
    d = str(nats_cluster.cluster.dir)
    stream = unique("ACCI")

    async def add() -> None:
        nc = await nats.connect(nats_cluster.urls[0])
        try:
            js = nc.jetstream()
            await js.add_stream(name=stream, subjects=[f"{stream}.>"], num_replicas=3)
            await js.publish(f"{stream}.a", b"hello")
            await js.add_consumer(stream, durable_name="C1")
        finally:
            await nc.close()

    asyncio.run(add())
    doc = json.loads(ok("account", "info", "APP", "--dir", d, "--json").stdout)
    assert doc["account"] == "APP"
    assert set(doc["servers"]) == {"n1", "n2", "n3"}
    assert all(s["jetstream_enabled"] for s in doc["servers"].values())
    assert doc["servers"]["n1"]["jwt"] == {"mode": "config", "expired": False}
    assert doc["jetstream"]["streams"] >= 1
    assert doc["jetstream"]["consumers"] >= 1
    assert doc["jetstream"]["storage"] > 0
    assert "Jetstream" in ok("account", "info", "APP", "--dir", d).stdout

    own = json.loads(ok("-s", nats_cluster.urls[1], "account", "info", "--json").stdout)
    assert own["account"] == "APP"
    assert own["jetstream"]["streams"] >= 1
    assert own["jetstream"]["limits"]["max_streams"] == -1
    assert "unlimited" in ok("-s", nats_cluster.urls[1], "account", "info").stdout

    res = runner.invoke(app, ["account", "info", "NOPE", "--dir", d])
    assert res.exit_code == ExitCode.NOT_FOUND, res.output
    assert "NOPE" in res.stderr
    res = runner.invoke(app, ["account", "info", "A.B", "--dir", d])
    assert res.exit_code == ExitCode.USAGE, res.output
