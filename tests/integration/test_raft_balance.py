"""Meta step-down, server peer-remove and leader balancing against the shared 3-node cluster."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from typing import Any

import pytest
from typer.testing import CliRunner

from natsops.cli.main import app
from natsops.connection import connect
from natsops.jetstream.balance import apply_balance, plan_balance
from natsops.jetstream.consumers import add_consumer, consumer_info
from natsops.jetstream.consumers import step_down as consumer_step_down
from natsops.jetstream.meta import meta_leader, step_down_meta
from natsops.jetstream.streams import add_stream, delete_stream, step_down, stream_info
from natsops.monitoring.sys import sys_connection
from tests.cli._helpers import as_terminal, one_line_error

pytestmark = pytest.mark.cluster
runner = CliRunner()


def cli(*args: str, input: str | None = None) -> Any:
    with as_terminal(input is not None):
        return runner.invoke(app, list(args), input=input)


async def _meta(c: Any) -> Any:
    async with sys_connection(c.sys_settings) as conn:
        return await meta_leader(conn)


def test_meta_step_down_moves_the_leader_and_honours_preferred(nats_cluster: Any) -> None:
    async def go() -> None:
        async with sys_connection(nats_cluster.sys_settings) as conn:
            before = await meta_leader(conn)
            assert sorted(before.names) == ["n1", "n2", "n3"] and before.healthy
            r = await step_down_meta(conn)
            assert r.moved and r.old_leader == before.leader
            assert (await meta_leader(conn)).leader == r.new_leader
            target = sorted(set(before.names) - {r.new_leader})[0]
            r2 = await step_down_meta(conn, preferred=target)
            assert r2.new_leader == target and r2.preferred_honoured

    asyncio.run(go())
    d = str(nats_cluster.cluster.dir)
    now = asyncio.run(_meta(nats_cluster)).leader
    other = sorted({"n1", "n2", "n3"} - {now})[-1]
    res = cli("server", "raft", "step-down", "--preferred", other, "--dir", d, "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["old_leader"] == now and doc["new_leader"] == other
    assert doc["preferred_honoured"] is True
    # the current leader as preferred, an unknown name: one error line each
    assert "already the meta leader" in one_line_error(
        cli("server", "raft", "step-down", "--preferred", other, "--dir", d), 9)
    one_line_error(cli("server", "raft", "step-down", "--preferred", "nosuch", "--dir", d), 4)


def test_meta_commands_need_the_system_account(nats_cluster: Any) -> None:
    url = nats_cluster.urls[0]  # the APP account (no_auth_user)
    assert "system-account" in one_line_error(
        cli("-s", url, "server", "raft", "step-down"), 7)


def test_peer_remove_refuses_a_live_server_and_asks_first(nats_cluster: Any) -> None:
    d = str(nats_cluster.cluster.dir)
    # no terminal and no --force: refused before connecting (a bogus dir is never read)
    res = cli("server", "raft", "peer-remove", "n3", "--dir", "/nonexistent")
    assert "stdin is not a terminal" in one_line_error(res, 2) and "--force" in res.stderr
    leader = asyncio.run(_meta(nats_cluster)).leader
    follower = sorted({"n1", "n2", "n3"} - {leader})[0]
    res = cli("server", "raft", "peer-remove", follower, "--dir", d, input="n\n")
    assert res.exit_code == 1 and f"Really remove server {follower}" in res.stderr
    err = one_line_error(cli("server", "raft", "peer-remove", follower, "--dir", d, "--force"), 9)
    assert "online" in err
    one_line_error(cli("server", "raft", "peer-remove", "nosuch", "--dir", d, "--force"), 4)
    assert "meta leader" in one_line_error(
        cli("server", "raft", "peer-remove", leader, "--dir", d, "--force", "--allow-online"), 9)
    assert sorted(asyncio.run(_meta(nats_cluster)).names) == ["n1", "n2", "n3"]


async def _pile_onto(conn: Any, names: list[str], server: str) -> None:
    async def one(name: str) -> None:
        for _ in range(5):  # a preferred step-down during an election can land elsewhere
            if (await stream_info(conn, name)).cluster.leader == server:  # type: ignore[union-attr]
                return
            await step_down(conn, name, preferred=server)
        raise AssertionError(f"{name} did not move to {server}")

    await asyncio.gather(*(one(n) for n in names))


async def _leaders(conn: Any, names: list[str]) -> Counter[str]:
    infos = [await stream_info(conn, n) for n in names]
    return Counter(i.cluster.leader for i in infos if i.cluster)


async def _all_current(conn: Any, names: list[str], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        infos = [await stream_info(conn, n) for n in names]
        if all(i.cluster and i.cluster.healthy for i in infos):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("followers not current in time")


def test_stream_balance_spreads_leaders(nats_cluster: Any, unique: Any) -> None:
    names = [unique("BAL") for _ in range(9)]

    async def setup() -> None:
        async with connect(nats_cluster.settings) as conn:
            await asyncio.gather(*(add_stream(conn, {
                "name": n, "subjects": [f"{n}.>"], "num_replicas": 3, "storage": "memory"})
                for n in names))
            await _pile_onto(conn, names, "n1")
            assert (await _leaders(conn, names))["n1"] == 9
            await _all_current(conn, names)  # a new leader needs a moment to hear followers
            plan = await plan_balance(conn, names=names)
            assert plan.share == 3 and plan.before["n1"] == 9 and len(plan.moves) == 6
            assert plan.after == {"n1": 3, "n2": 3, "n3": 3}

    asyncio.run(setup())
    url = nats_cluster.urls[0]
    try:
        res = runner.invoke(app, ["-s", url, "stream", "cluster", "balance", *names,
                                  "--dry-run", "--json"])
        assert res.exit_code == 0, res.output
        doc = json.loads(res.stdout)
        assert doc["dry_run"] is True and len(doc["plan"]["moves"]) == 6
        res = runner.invoke(app, ["-s", url, "stream", "cluster", "balance", names[0],
                                  "NOSUCH_STREAM", "--dry-run"])
        assert "NOSUCH_STREAM" in one_line_error(res, 4)
        res = runner.invoke(app, ["-s", url, "stream", "cluster", "balance", *names])
        assert "not a terminal" in one_line_error(res, 2)  # no terminal: asks, cannot

        async def unchanged() -> Counter[str]:
            async with connect(nats_cluster.settings) as conn:
                return await _leaders(conn, names)

        assert asyncio.run(unchanged())["n1"] == 9  # dry-run and refusal moved nothing
        res = runner.invoke(app, ["-s", url, "stream", "cluster", "balance", *names, "--force"])
        assert res.exit_code == 0, res.output
        assert "Planned step-downs" in res.stdout
        counts = asyncio.run(unchanged())
        assert sum(counts.values()) == 9 and max(counts.values()) <= 3 + 1, counts
    finally:
        async def cleanup() -> None:
            async with connect(nats_cluster.settings) as conn:
                for n in names:
                    await delete_stream(conn, n)

        asyncio.run(cleanup())


def test_consumer_balance_library_reports_moves(nats_cluster: Any, unique: Any) -> None:
    stream = unique("CBAL")
    cons = [f"C{i}" for i in range(6)]

    async def consumers_current(conn: Any) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            infos = [await consumer_info(conn, stream, c) for c in cons]
            if all(i.cluster and i.cluster.healthy for i in infos):
                return
            await asyncio.sleep(0.1)
        raise AssertionError("consumer followers not current in time")

    async def go() -> None:
        async with connect(nats_cluster.settings) as conn:
            await add_stream(conn, {"name": stream, "subjects": [f"{stream}.>"],
                                    "num_replicas": 3, "storage": "memory"})
            for c in cons:
                await add_consumer(conn, stream, {"name": c, "durable_name": c,
                                                  "ack_policy": "explicit"})
            for c in cons:
                for _ in range(5):
                    ci = await consumer_info(conn, stream, c)
                    if ci.cluster and ci.cluster.leader == "n2":
                        break
                    await consumer_step_down(conn, stream, c, preferred="n2")
            await consumers_current(conn)
            plan = await plan_balance(conn, "consumer", names=[stream])
            assert plan.before["n2"] == 6 and plan.share == 2 and len(plan.moves) == 4
            lines: list[str] = []
            res = await apply_balance(conn, plan, parallel=2, progress=lines.append)
            assert res.balanced and len(lines) >= 4
            assert max(res.final.before.values()) <= plan.share + 1
            assert all(r.new_leader for r in res.results)

    async def cleanup() -> None:
        async with connect(nats_cluster.settings) as conn:
            await delete_stream(conn, stream)

    try:
        asyncio.run(go())
        res = runner.invoke(app, ["-s", nats_cluster.urls[0], "consumer", "cluster",
                                  "balance", stream, "--dry-run", "--json"])
        assert res.exit_code == 0, res.output
        doc = json.loads(res.stdout)
        assert doc["dry_run"] is True and doc["plan"]["groups"] == 6
    finally:
        asyncio.run(cleanup())


def test_balance_skips_a_group_whose_leader_moved_since_the_plan(nats_cluster: Any,
                                                                  unique: Any) -> None:
    names = [unique("BMV") for _ in range(3)]

    async def go() -> None:
        async with connect(nats_cluster.settings) as conn:
            try:
                for n in names:
                    await add_stream(conn, {"name": n, "subjects": [f"{n}.>"],
                                            "num_replicas": 3, "storage": "memory"})
                await _pile_onto(conn, names, "n1")
                await _all_current(conn, names)
                plan = await plan_balance(conn, names=names)
                assert plan.share == 1 and len(plan.moves) == 2
                m = plan.moves[0]
                elsewhere = ({"n2", "n3"} - {m.to}).pop()
                await step_down(conn, m.stream, preferred=elsewhere)  # behind the plan's back
                res = await apply_balance(conn, plan)
                first = next(r for r in res.results if r.move == m)
                assert not first.honoured and "since the plan" in (first.error or "")
                assert first.new_leader == elsewhere
                assert res.balanced
            finally:
                for n in names:
                    await delete_stream(conn, n)

    asyncio.run(go())
