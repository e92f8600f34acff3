"""Partial answers are not success: a read that misses a server or a stream exits 11.

One cluster of its own (a server is frozen with SIGSTOP, so the shared one stays untouched):
R1 streams on the frozen server are the API's ``missing`` list in STREAM.LIST replies.
"""

from __future__ import annotations

import asyncio
import json
import signal
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
from natsops.cluster.process import free_port
from natsops.errors import ExitCode
from tests.conftest import start_test_cluster

pytestmark = pytest.mark.cluster
runner = CliRunner()


@pytest.fixture(scope="module")
def own(server_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    c = start_test_cluster(tmp_path_factory.mktemp("incomplete"), server_bin, name="I1")
    try:
        yield c
    finally:
        c.stop_all(grace=5)


async def _r1_on(url: str, victim: str, prefix: str) -> list[str]:
    """Add R1 streams until at least one is placed on ``victim``; the names placed there."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream(timeout=10)
        on_victim: list[str] = []
        for i in range(24):
            si = await js.add_stream(name=f"{prefix}{i}", subjects=[f"{prefix}.{i}"],
                                     num_replicas=1)
            if si.cluster is not None and si.cluster.leader == victim:
                on_victim.append(si.config.name or "")
                if len(on_victim) == 1 and i >= 2:
                    break
        assert on_victim, f"no R1 stream was placed on {victim}"
        return on_victim
    finally:
        await nc.close()


async def _r1_consumers_on(url: str, victim: str, stream: str) -> list[str]:
    """An R3 stream led elsewhere, with R1 consumers until one is placed on ``victim``."""
    from nats.js.api import ConsumerConfig

    nc = await nats.connect(url)
    try:
        js = nc.jetstream(timeout=10)
        await js.add_stream(name=stream, subjects=[f"{stream}.>"], num_replicas=3)
        on_victim: list[str] = []
        for i in range(24):
            ci = await js.add_consumer(stream, ConsumerConfig(durable_name=f"C{i}",
                                                              num_replicas=1))
            if ci.cluster is not None and ci.cluster.leader == victim:
                on_victim.append(f"C{i}")
                break
        assert on_victim, f"no R1 consumer was placed on {victim}"
        return on_victim
    finally:
        await nc.close()


def _lead_elsewhere(url: str, stream: str, victim: str, to: str) -> None:
    info = runner.invoke(app, ["-s", url, "stream", "info", stream, "--json"])
    if json.loads(info.stdout)["cluster"]["leader"] == victim:
        res = runner.invoke(app, ["-s", url, "stream", "cluster", "step-down", stream,
                                  "--preferred", to])
        assert res.exit_code == 0, res.output


def test_reads_that_miss_a_server_or_a_stream_exit_11(own: LocalCluster) -> None:
    leader = httpx.get(f"{own.nodes[0].monitor_url}/jsz", timeout=5).json()[
        "meta_cluster"]["leader"]
    victim = next(n.name for n in own.nodes if n.name != leader)
    url = next(n.client_url for n in own.nodes if n.name != victim)
    gone = asyncio.run(_r1_on(url, victim, "PART"))
    lost = asyncio.run(_r1_consumers_on(url, victim, "PCON"))
    _lead_elsewhere(url, "PCON", victim, leader)
    d = str(own.dir)
    proc = own.process(victim)
    assert proc is not None
    proc.signal(signal.SIGSTOP)
    try:
        res = runner.invoke(app, ["-s", url, "stream", "ls"])
        assert res.exit_code == ExitCode.INCOMPLETE, res.output
        assert "incomplete" in res.stderr
        assert all(n in res.stderr for n in gone)
        assert "PART" in res.stdout  # what did answer is still shown

        res = runner.invoke(app, ["-s", url, "stream", "report", "--json"])
        assert res.exit_code == ExitCode.INCOMPLETE, res.output
        assert sorted(json.loads(res.stdout)["missing"]) == sorted(gone)

        res = runner.invoke(app, ["-s", url, "consumer", "report", "PCON", "--json"])
        assert res.exit_code == ExitCode.INCOMPLETE, res.output
        assert json.loads(res.stdout)["missing"] == lost

        res = runner.invoke(app, ["server", "ls", "--dir", d])
        assert res.exit_code == ExitCode.INCOMPLETE, res.output
        assert victim in res.stdout  # NO ANSWER row
        assert f"did not answer: {victim}" in res.stderr

        res = runner.invoke(app, ["server", "report", "jetstream", "--dir", d, "--json"])
        assert res.exit_code == ExitCode.INCOMPLETE, res.output
        assert json.loads(res.stdout)["missing"] == [victim]

        res = runner.invoke(app, ["top", "--once", "--json", "--delay", "0.1s", "--dir", d])
        assert res.exit_code == ExitCode.INCOMPLETE, res.output
        assert json.loads(res.stdout)["missing"] == [victim]
    finally:
        proc.signal(signal.SIGCONT)
    deadline = time.monotonic() + 30  # the thawed server catches up: complete again
    while (res := runner.invoke(app, ["-s", url, "stream", "report", "--json"])).exit_code:
        assert time.monotonic() < deadline, res.output
        time.sleep(0.2)
    assert json.loads(res.stdout)["missing"] == []


def test_top_once_with_no_monitor_answering_exits_3() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    res = runner.invoke(app, ["top", "--once", "--delay", "0.1s", "--monitor", url])
    assert res.exit_code == ExitCode.UNREACHABLE, res.output
    assert "no server answered" in res.stderr
    assert res.stdout == ""


def test_server_ls_short_of_expect_exits_11(nats_cluster: Any) -> None:
    d = str(nats_cluster.cluster.dir)
    res = runner.invoke(app, ["server", "ls", "--dir", d, "--expect", "4", "--json"])
    assert res.exit_code == ExitCode.INCOMPLETE, res.output
    assert "1 more of the 4 expected" in res.stderr
    assert [r["name"] for r in json.loads(res.stdout)] == ["n1", "n2", "n3"]


def test_server_ls_with_a_dead_monitor_exits_11_naming_it(nats_cluster: Any) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    res = runner.invoke(app, ["server", "ls", "--monitor", nats_cluster.monitor_urls[0],
                              "--monitor", dead, "--json"])
    assert res.exit_code == ExitCode.INCOMPLETE, res.output
    rows = {r["name"]: r["answered"] for r in json.loads(res.stdout)}
    assert rows[dead] is False
    assert list(rows.values()).count(True) == 1
    assert dead in res.stderr
