"""`natsops sizing --from-cluster`: the workload measured on a real cluster while it runs."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import nats
from typer.testing import CliRunner

from natsops.cli.main import app

runner = CliRunner()


def _publish_for(urls: list[str], name: str, seconds: float, size: int, ready: threading.Event,
                 counts: list[int]) -> None:
    async def go() -> None:
        nc = await nats.connect(urls)
        try:
            js = nc.jetstream()
            await js.add_stream(name=name, subjects=[f"{name}.>"], num_replicas=3,
                                max_age=3600)
            sub = await js.pull_subscribe(f"{name}.>", durable="READER", stream=name)
            ready.set()
            end = time.monotonic() + seconds
            n = 0
            payload = b"x" * size
            while time.monotonic() < end:
                acks = [await js.publish_async(f"{name}.e", payload) for _ in range(200)]
                await asyncio.gather(*acks)
                n += 200
                for m in await sub.fetch(200, timeout=5):
                    await m.ack()
            counts.append(n)
            await js.delete_stream(name)
        finally:
            await nc.close()

    asyncio.run(go())


def test_sizing_from_a_running_cluster(nats_cluster, unique) -> None:  # type: ignore[no-untyped-def]
    name = unique("SIZE")
    ready = threading.Event()
    counts: list[int] = []
    t = threading.Thread(target=_publish_for, args=(nats_cluster.urls, name, 4.0, 300, ready,
                                                     counts))
    t.start()
    try:
        assert ready.wait(15)
        sys_pw = nats_cluster.cluster.credentials()["sys"]
        r = runner.invoke(app, ["-s", ",".join(nats_cluster.urls), "--user", "sys", "--password",
                                sys_pw, "sizing", "--from-cluster", "--window", "1.5s", "--json"])
    finally:
        t.join(30)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    seen = doc["observed"]
    assert seen["servers"] == 3
    assert seen["msgs_per_sec"] > 50
    assert 250 <= seen["msg_size"] <= 350  # 300-byte payloads, record overhead removed
    assert seen["replicas"] == 3
    assert seen["retention_seconds"] >= 3600
    assert 0.5 <= seen["fan_out"] <= 1.5  # one pull consumer reads everything
    # the measured workload is what was sized; explicit flags win over measurements
    assert doc["input"]["msgs_per_sec"] == seen["msgs_per_sec"]
    assert doc["input"]["msg_size"] == seen["msg_size"]
    assert doc["result"]["nodes"] == 3


def test_sizing_from_cluster_needs_traffic_or_flags(nats_cluster) -> None:  # type: ignore[no-untyped-def]
    sys_pw = nats_cluster.cluster.credentials()["sys"]
    base = ["-s", ",".join(nats_cluster.urls), "--user", "sys", "--password", sys_pw, "sizing",
            "--from-cluster", "--window", "0.3s"]
    r = runner.invoke(app, base)
    assert r.exit_code == 2
    assert "no JetStream message was stored" in r.stderr
    r = runner.invoke(app, [*base, "--msgs-per-sec", "500", "--msg-size", "1KB",
                            "--retention", "1d", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["input"]["msgs_per_sec"] == 500
