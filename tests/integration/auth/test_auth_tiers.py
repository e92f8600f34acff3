"""Tiered JetStream limits (``auth account edit --js-tier``) on a 3-node operator-mode cluster."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.js.errors import BadRequestError
from typer.testing import CliRunner

from natsops.auth import ops
from natsops.auth.store import Store
from natsops.cli.main import app
from natsops.cluster.process import free_port

from .conftest import OperatorCluster

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


@pytest.fixture(scope="module")
def cluster3(server_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorCluster]:
    """Three operator-mode nodes with full resolvers (one cluster for the module)."""
    d = tmp_path_factory.mktemp("authtiers")
    store = Store(d / "store")
    ops.add_operator(store, "DEMO", sys=True)
    ops.add_account(store, "DEMO", "APP")
    ops.add_user(store, "DEMO", "APP", "service")
    names = ["a1", "a2", "a3"]
    used: set[int] = set()
    ports = {}
    for n in names:
        p = []
        for _ in range(3):
            p.append(free_port(avoid=used))
            used.add(p[-1])
        ports[n] = (p[0], p[1], p[2])
    oc = OperatorCluster(store, "DEMO", d / "cluster", server_bin, names, ports)
    oc.dir.mkdir()
    try:
        for n in names:
            oc.write_config(n)
        for n in names:
            oc.start(n)
        oc.wait_meta_peers()
        yield oc
    finally:
        oc.stop_all()


def _cli(oc: OperatorCluster, *args: str, code: int = 0) -> str:
    r = CliRunner().invoke(app, ["-s", ",".join(oc.urls), "auth", "--store", str(oc.store.root),
                                 *args])
    assert r.exit_code == code, (args, r.stdout, r.stderr, r.exception)
    return r.stdout


def test_r3_tier_refuses_a_stream_beyond_it(cluster3: OperatorCluster) -> None:
    oc = cluster3
    out = _cli(oc, "account", "edit", "APP", "--js-tier", "R3", "--js-disk", "64MB",
               "--js-streams", "1", "--js-max-ack-pending", "1000", "--dry-run", "--json")
    diff = {d["path"]: d["after"] for d in json.loads(out)["diffs"][0]["diff"]}
    assert diff["nats.limits.tiered_limits.R3.streams"] == 1
    _cli(oc, "account", "edit", "APP", "--js-tier", "R3", "--js-disk", "64MB",
         "--js-streams", "1", "--js-max-ack-pending", "1000")
    _cli(oc, "account", "edit", "APP", "--js-tier", "R1", "--js-disk", "64MB",
         "--js-streams", "5")
    report = json.loads(_cli(oc, "push", "--account", "APP", "--json"))
    assert {r["status"] for p in report["pushes"] for r in p["replies"]} == {"accepted"}
    assert len(report["pushes"][0]["replies"]) == 3

    async def scenario() -> None:
        nc = await nats.connect(oc.urls, user_credentials=str(
            oc.store.creds_path("DEMO", "APP", "service")), allow_reconnect=False)
        try:
            js = nc.jetstream(timeout=10)
            await js.add_stream(name="TIER_R3_A", subjects=["tier.r3.a"], num_replicas=3,
                                max_bytes=1024 * 1024)
            with pytest.raises(BadRequestError) as refused:
                await js.add_stream(name="TIER_R3_B", subjects=["tier.r3.b"], num_replicas=3,
                                    max_bytes=1024 * 1024)
            assert refused.value.err_code == 10027, refused.value  # max streams reached
            await js.add_stream(name="TIER_R1_A", subjects=["tier.r1.a"], num_replicas=1,
                                max_bytes=1024 * 1024)
        finally:
            await nc.close()

    asyncio.run(scenario())
    out = _cli(oc, "account", "edit", "APP", "--rm-js-tier", "R1", "--rm-js-tier", "R3",
               "--js-enable", "--dry-run", "--json")
    after = {d["path"]: d["after"] for d in json.loads(out)["diffs"][0]["diff"]}
    assert after["nats.limits.disk_storage"] == -1
    assert after["nats.limits.tiered_limits.R3.streams"] is None
