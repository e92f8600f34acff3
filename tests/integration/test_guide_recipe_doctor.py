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

import nats
import pytest
from typer.testing import CliRunner

from natsops.cli.main import app
from natsops.cluster.local import LocalCluster
from natsops.connection import connect
from natsops.context import Settings
from natsops.jetstream.errors import JSApiError
from natsops.jetstream.streams import StreamFlags, apply_stream_edit, plan_stream_edit
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


def test_lint_reads_stream_info_json_as_the_stream(guide: LocalCluster, tmp_path: Path) -> None:
    """The README's `natsops stream info ORDERS --json > orders.json`, then `natsops lint`."""
    url = ["--no-context", "-s", ",".join(guide.client_urls)]
    info = tmp_path / "orders.json"
    info.write_text(ok(*url, "stream", "info", "ORDERS", "--json"))
    r = runner.invoke(app, ["lint", "--json", str(info)])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["files"] == {str(info): "stream"}
    assert [f for f in doc["findings"] if f["severity"] in ("warn", "fail")] == []


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


def test_scale_up_without_room_is_retried_then_explained(guide: LocalCluster) -> None:
    """ORDERS reserves 50 GiB of each 64 GiB server: a 50 GiB stream cannot become R3 (10005).
    natsops retries that scale-up (right after a scale-down the servers still hold the removed
    replicas' reservations) and then says both causes, not only "lower max_bytes"."""
    url = ["--no-context", "-s", ",".join(guide.client_urls)]
    ok(*url, "stream", "add", "BIG", "--subjects", "big.>", "--replicas", "1", "--max-bytes",
       "10GB", "--defaults")
    try:
        err, took = asyncio.run(_grow(guide.client_urls, "BIG", 3, 50 * 1024**3))
    finally:
        ok(*url, "stream", "rm", "BIG", "--force")
    assert err.err_code in (10005, 10047), err
    assert err.hint and "after 1s of retries" in err.hint and "release theirs" in err.hint
    assert took >= 1.0


async def _grow(urls: list[str], name: str, replicas: int,
                max_bytes: int) -> tuple[JSApiError, float]:
    async with connect(Settings(servers=tuple(urls), timeout=5.0)) as conn:
        plan = await plan_stream_edit(conn, name, StreamFlags(replicas=replicas,
                                                              max_bytes=str(max_bytes)))
        t0 = time.monotonic()
        with pytest.raises(JSApiError) as exc:
            await apply_stream_edit(conn, plan, placement_wait=1.0)
        return exc.value, time.monotonic() - t0


def test_scale_down_then_up_waits_for_reservations(guide: LocalCluster) -> None:
    """R3 -> R1 -> R3 of the 50 GiB ORDERS right away: the servers release the old replicas'
    reservations a moment after the scale-down; the scale-up waits for that (no 10005)."""
    url = ["--no-context", "-s", ",".join(guide.client_urls)]
    ok(*url, "stream", "edit", "ORDERS", "--replicas", "1", "--force")
    out = ok(*url, "stream", "edit", "ORDERS", "--replicas", "3", "--force", "--json")
    assert "10005" not in out
    info = json.loads(ok(*url, "stream", "info", "ORDERS", "--json"))
    assert info["config"]["num_replicas"] == 3
