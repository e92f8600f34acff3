"""The guide's own recipe on a real cluster: ORDERS (recipes/), the SESSIONS KV bucket and the
FIRMWARE object store. doctor must call it healthy and sizing must read ORDERS' max_bytes.

One cluster for this module: doctor's verdict is about the whole deployment, so no other
test's streams may be on it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from typer.testing import CliRunner

from natsops.cli.main import app
from natsops.cluster.local import LocalCluster
from natsops.render import data_dir
from tests.conftest import start_test_cluster

pytestmark = pytest.mark.cluster
runner = CliRunner()


def ok(*args: str) -> str:
    r = runner.invoke(app, list(args))
    assert r.exit_code == 0, (args, r.exit_code, r.output)
    return r.stdout


async def _publish(urls: list[str], prefix: str, n: int) -> None:
    nc = await nats.connect(servers=urls)
    try:
        js = nc.jetstream()
        for i in range(n):
            await js.publish(f"{prefix}.{i}", b'{"order": %d}' % i)
    finally:
        await nc.close()


@pytest.fixture(scope="module")
def guide(server_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    cluster = start_test_cluster(tmp_path_factory.mktemp("guide"), server_bin, name="G1")
    try:
        url = ["-s", ",".join(cluster.client_urls), "--no-context"]
        ok(*url, "stream", "add", "--config", str(data_dir("recipes") / "orders-stream.yaml"))
        ok(*url, "kv", "add", "SESSIONS", "--replicas=3", "--ttl=24h")
        ok(*url, "kv", "put", "SESSIONS", "user.42", '{"role":"admin"}')
        ok(*url, "object", "add", "FIRMWARE", "--replicas=3")
        fw = tmp_path_factory.mktemp("fw") / "firmware-v1.bin"
        fw.write_bytes(b"\x7fELF" + bytes(300_000))
        ok(*url, "object", "put", "FIRMWARE", str(fw))
        for i in range(20):
            ok(*url, "kv", "put", "SESSIONS", f"user.{i}", "{}")
        asyncio.run(_publish(cluster.client_urls, "orders.created", 50))
        yield cluster
    finally:
        cluster.stop_all(grace=5)


def test_doctor_nagios_is_ok_on_the_guides_recipe(guide: LocalCluster) -> None:
    r = runner.invoke(app, ["--no-context", "doctor", "--dir", str(guide.dir), "--format",
                            "nagios"])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("DOCTOR OK") or " OK:" in r.stdout, r.stdout
    doc = json.loads(runner.invoke(app, ["--no-context", "doctor", "--dir", str(guide.dir),
                                         "--json"]).stdout)
    about_buckets = [f for f in doc["findings"] if "OBJ_FIRMWARE" in f["subject"]
                     or "KV_SESSIONS" in f["subject"]]
    assert all(f["severity"] in ("ok", "info") for f in about_buckets), about_buckets
    assert not any("stream edit OBJ_" in (f["fix"] or "") for f in doc["findings"])


def test_sizing_from_cluster_caps_orders_at_its_max_bytes(guide: LocalCluster) -> None:
    r = runner.invoke(app, ["--no-context", "sizing", "--from-cluster", "--dir", str(guide.dir),
                            "--window", "1s", "--msgs-per-sec", "15000", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    logical = next(st["value"] for st in doc["result"]["steps"] if st["name"] == "logical data")
    # ORDERS holds at most 50 GiB: 15k msgs/s x 30 d would be tens of TB without its max_bytes;
    # the buckets add what they hold (they take none of the measured rate)
    assert 50 * 1024**3 <= logical < 50 * 1024**3 + 10 * 1024**2, doc["result"]["steps"]
    assert doc["input"]["stream_limits"], doc["input"]


def test_restore_a_copy_of_the_guides_orders_with_max_bytes(guide: LocalCluster,
                                                           tmp_path: Path) -> None:
    """R3 ORDERS reserves 50 GiB on each 64 GiB server: a copy fits only with --max-bytes."""
    url = ["--no-context", "-s", ",".join(guide.client_urls)]
    archive = tmp_path / "orders.tar"
    ok(*url, "stream", "backup", "ORDERS", str(archive), "--no-progress")
    r = runner.invoke(app, [*url, "stream", "restore", str(archive), "--name", "ORDERS_COPY",
                            "--subjects", "copy.orders.>", "--max-bytes", "0"])
    assert r.exit_code == 2 and "--max-bytes 0" in r.stderr, r.output
    out = ok(*url, "stream", "restore", str(archive), "--name", "ORDERS_COPY", "--subjects",
             "copy.orders.>", "--max-bytes", "1GB", "--replicas", "1", "--json", "--no-progress")
    assert json.loads(out)["stream"] == "ORDERS_COPY"
    info = json.loads(ok(*url, "stream", "info", "ORDERS_COPY", "--json"))
    assert info["config"]["max_bytes"] == 1 << 30
    ok(*url, "stream", "rm", "ORDERS_COPY", "--force")
    # the restore test copies without max_bytes: it reserves nothing next to the original
    ok(*url, "stream", "backup", "--verify", "--restore-test", str(archive), "--no-progress")


def test_scale_up_refused_for_placement_is_retried(guide: LocalCluster) -> None:
    """A scale-up that finds no room (10047, or 10005) waits for room, as after a scale-down the removed
    replicas' reservations are released a moment later. Made deterministic: ORDERS (R1, 50 GiB
    of a 64 GiB server) cannot grow to R3 while BLOCKER (R2, 20 GiB, so on the two other
    servers) holds their room; BLOCKER is deleted once the server has refused the scale-up."""
    url = ["--no-context", "-s", ",".join(guide.client_urls)]
    ok(*url, "stream", "edit", "ORDERS", "--replicas", "1", "--force")
    gib50 = 50 * 1024**3
    # the two removed replicas release their reservations about 2 s later
    wait_reserved(guide, lambda r: sorted(r) == [0, 0, gib50], "ORDERS' R1 reservation only")
    ok(*url, "stream", "add", "BLOCKER", "--subjects", "blocker", "--replicas", "2",
       "--max-bytes", "20GB", "--defaults")
    wait_reserved(guide, lambda r: sorted(r) == [20 * 1024**3, 20 * 1024**3, gib50],
                  "BLOCKER's reservations")
    asyncio.run(_scale_while_blocked(url, guide.client_urls))
    info = json.loads(ok(*url, "stream", "info", "ORDERS", "--json"))
    assert info["config"]["num_replicas"] == 3


def wait_reserved(c: LocalCluster, cond: Any, what: str, timeout: float = 15) -> None:
    """Poll every server's /jsz reserved_storage until ``cond(list)`` holds."""
    deadline = time.monotonic() + timeout
    while True:
        got = [httpx.get(f"{n.monitor_url}/jsz", timeout=2).json().get("reserved_storage", 0)
               for n in c.nodes]
        if cond(got):
            return
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {got}"
        time.sleep(0.1)


async def _scale_while_blocked(url: list[str], servers: list[str]) -> None:
    nc = await nats.connect(servers=servers)
    refused = asyncio.Event()

    async def on_advisory(msg: Any) -> None:
        adv = json.loads(msg.data)
        response = adv.get("response", "")
        if "STREAM.UPDATE.ORDERS" in adv.get("subject", "") and (
                '"err_code":10005' in response or '"err_code":10047' in response):
            refused.set()

    await nc.subscribe("$JS.EVENT.ADVISORY.API", cb=on_advisory)
    try:
        edit = asyncio.create_task(asyncio.to_thread(
            runner.invoke, app, [*url, "stream", "edit", "ORDERS", "--replicas", "3", "--force"]))
        await asyncio.wait_for(refused.wait(), 8)  # the server said: no room
        assert not edit.done()  # ... and natsops is waiting for room, not failing
        await asyncio.to_thread(ok, *url, "stream", "rm", "BLOCKER", "--force")
        r = await asyncio.wait_for(edit, 30)
        assert r.exit_code == 0, r.output
    finally:
        await nc.close()


def test_scale_down_then_up_waits_for_reservations(guide: LocalCluster) -> None:
    """R3 -> R1 -> R3 of the 50 GiB ORDERS right away: the servers release the old replicas'
    reservations a moment after the scale-down; the scale-up waits for that (no 10005)."""
    url = ["--no-context", "-s", ",".join(guide.client_urls)]
    ok(*url, "stream", "edit", "ORDERS", "--replicas", "1", "--force")
    out = ok(*url, "stream", "edit", "ORDERS", "--replicas", "3", "--force", "--json")
    assert "10005" not in out
    info = json.loads(ok(*url, "stream", "info", "ORDERS", "--json"))
    assert info["config"]["num_replicas"] == 3
