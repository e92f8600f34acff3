"""`natsops consumer` against real servers: the guide's recipe, next, report, errors."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import nats
import pytest

from tests.cli._helpers import natsops, ok_json, one_line_error


async def _publish(url: Any, subject: str, n: int) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    for i in range(n):
        await js.publish(subject, f"m{i}".encode())
    await nc.close()


async def _consumer(url: Any, stream: str, name: str) -> Any:
    nc = await nats.connect(url)
    try:
        return await nc.jetstream().consumer_info(stream, name)
    finally:
        await nc.close()


@pytest.fixture
def stream(nats_server, unique) -> Any:
    name = unique("CS")
    assert natsops(nats_server.url, "stream", "add", name, "--subjects", f"{name}.>",
                   "--defaults").exit_code == 0
    yield name
    natsops(nats_server.url, "stream", "rm", name, "-f")


def test_guide_consumer_recipe_on_cluster(nats_cluster, unique) -> None:
    urls, s = nats_cluster.urls, unique("ORDERS")
    assert natsops(urls, "stream", "add", s, "--subjects", f"{s}.orders.>", "--replicas", "3",
                   "--defaults").exit_code == 0
    r = natsops(urls, "consumer", "add", s, "workers", "--pull", "--filter",
                f"{s}.orders.created.>", "--ack", "explicit", "--max-deliver", "5",
                "--replay", "instant", "--defaults")
    assert r.exit_code == 0, r.stderr
    ci = asyncio.run(_consumer(urls, s, "workers"))
    c = ci.config
    assert c.durable_name == "workers"
    assert c.deliver_subject is None
    assert c.filter_subject == f"{s}.orders.created.>"
    assert c.max_deliver == 5
    assert [getattr(v, "value", v) for v in (c.ack_policy, c.replay_policy, c.deliver_policy)] \
        == ["explicit", "instant", "all"]
    assert len(ci.cluster.replicas) == 2

    asyncio.run(_publish(urls, f"{s}.orders.created.1", 3))
    rep = ok_json(urls, "consumer", "report", s)
    row = rep["consumers"][0]
    assert row["name"] == "workers"
    assert row["num_pending"] == 3
    assert len(row["peers"]) == 3
    sd = ok_json(urls, "consumer", "cluster", "step-down", s, "workers")
    assert sd["new_leader"]
    assert sd["new_leader"] != sd["old_leader"]
    natsops(urls, "stream", "rm", s, "-f")


def test_next_acks_messages(nats_server, stream) -> None:
    url = nats_server.url
    assert natsops(url, "consumer", "add", stream, "w", "--pull", "--defaults").exit_code == 0
    asyncio.run(_publish(url, f"{stream}.a", 3))
    msgs = ok_json(url, "consumer", "next", stream, "w", "--count", "2")
    assert [m["data"] for m in msgs] == ["m0", "m1"]
    assert msgs[1]["stream_seq"] == 2
    assert msgs[1]["pending"] == 1
    info = ok_json(url, "consumer", "info", stream, "w")
    assert info["num_ack_pending"] == 0
    assert info["ack_floor"]["stream_seq"] == 2
    msgs = ok_json(url, "consumer", "next", stream, "w", "--no-ack")
    assert msgs[0]["data"] == "m2"
    assert ok_json(url, "consumer", "info", stream, "w")["num_ack_pending"] == 1
    # nothing left: not found (4) after the wait
    line = one_line_error(natsops(url, "consumer", "next", stream, "w", "--wait", "200ms"), 4)
    assert "no message" in line


def test_push_backoff_filters_edit_pause(nats_server, stream) -> None:
    url = nats_server.url
    r = natsops(url, "consumer", "add", stream, "p", "--target", "deliver.p", "--deliver-group",
                "g", "--filter", f"{stream}.a", "--filter", f"{stream}.b", "--backoff", "linear",
                "--backoff-steps", "3", "--backoff-min", "1s", "--backoff-max", "3s",
                "--max-deliver", "5", "--ack", "explicit", "--max-pending", "50", "--defaults")
    assert r.exit_code == 0, r.stderr
    c = ok_json(url, "consumer", "info", stream, "p")["config"]
    assert c["deliver_subject"] == "deliver.p"
    assert c["deliver_group"] == "g"
    assert c["filter_subjects"] == [f"{stream}.a", f"{stream}.b"]
    assert c["backoff"] == [1_000_000_000, 2_000_000_000, 3_000_000_000]
    assert c["max_ack_pending"] == 50

    plan = ok_json(url, "consumer", "edit", stream, "p", "--max-pending", "70", "--dry-run")
    assert [(ch["field"], ch["old"], ch["new"]) for ch in plan["changes"]] == [
        ("max_ack_pending", 50, 70)]
    assert natsops(url, "consumer", "edit", stream, "p", "--max-pending", "70",
                   "-f").exit_code == 0
    assert ok_json(url, "consumer", "info", stream, "p")["config"]["max_ack_pending"] == 70

    assert ok_json(url, "consumer", "pause", stream, "p", "1h")["paused"] is True
    assert ok_json(url, "consumer", "info", stream, "p")["paused"] is True
    assert ok_json(url, "consumer", "resume", stream, "p")["paused"] is False
    assert ok_json(url, "consumer", "ls", stream) == ["p"]
    assert natsops(url, "consumer", "rm", stream, "p", "-f").exit_code == 0
    assert ok_json(url, "consumer", "ls", stream) == []


def test_add_dry_run_and_conflict(nats_server, stream) -> None:
    url = nats_server.url
    cfg = ok_json(url, "consumer", "add", stream, "d", "--pull", "--defaults", "--dry-run")
    assert cfg == {"name": "d", "durable_name": "d", "deliver_policy": "all",
                   "ack_policy": "explicit", "replay_policy": "instant", "max_deliver": -1}
    one_line_error(natsops(url, "consumer", "info", stream, "d"), 4)
    assert natsops(url, "consumer", "add", stream, "d", "--pull", "--defaults").exit_code == 0
    line = one_line_error(natsops(url, "consumer", "add", stream, "d", "--pull",
                                  "--max-deliver", "3", "--defaults"), 9)
    assert "10148" in line


@pytest.mark.parametrize(("args", "code", "text"), [
    (["consumer", "info", "NOPE_S", "c"], 4, "10059"),
    (["consumer", "add", "S", "c", "--pull", "--target", "x", "--defaults"], 2, "--pull"),
    (["consumer", "add", "S", "c", "--ack", "maybe", "--pull", "--defaults"], 2, "--ack"),
    (["consumer", "add", "S", "c", "--pull", "--deliver-group", "g", "--defaults"], 2, "push"),
    (["consumer", "add", "S", "c", "--pull", "--wait", "soon", "--defaults"], 2, "--wait"),
    (["consumer", "add", "S", "c", "--pull"], 2, "missing --deliver"),
    (["consumer", "add", "S", "c", "--pull", "--backoff-min", "1s", "--defaults"], 2, "linear"),
    (["consumer", "next", "NOPE_S", "c", "--nak", "--term"], 2, "--nak"),
])
def test_consumer_bad_input(nats_server, args, code, text) -> None:
    line = one_line_error(natsops(nats_server.url, *args), code)
    assert text in line


def test_consumer_not_found_in_existing_stream(nats_server, stream) -> None:
    line = one_line_error(natsops(nats_server.url, "consumer", "info", stream, "nope"), 4)
    assert "10014" in line
    one_line_error(natsops(nats_server.url, "consumer", "rm", stream, "nope", "-f"), 4)


def test_consumer_info_json_round_trips(nats_server, stream, tmp_path) -> None:
    url = nats_server.url
    assert natsops(url, "consumer", "add", stream, "rt", "--pull", "--filter", f"{stream}.a",
                   "--max-deliver", "4", "--wait", "10s", "--metadata", "team=ops",
                   "--defaults").exit_code == 0
    info = ok_json(url, "consumer", "info", stream, "rt")
    f = tmp_path / "c.json"
    f.write_text(json.dumps(info))
    assert ok_json(url, "consumer", "edit", stream, "rt", "--config", str(f),
                   "--dry-run")["changes"] == []
    assert natsops(url, "consumer", "rm", stream, "rt", "-f").exit_code == 0
    assert natsops(url, "consumer", "add", stream, "--config", str(f)).exit_code == 0
    again = ok_json(url, "consumer", "info", stream, "rt")
    assert again["config"] == info["config"]


def test_consumer_prompts_on_a_terminal(nats_server, stream, monkeypatch) -> None:
    from natsops.cli import prompt

    monkeypatch.setattr(prompt, "interactive", lambda: True)
    # push subject (empty = pull), deliver, ack, replay, max deliver
    r = natsops(nats_server.url, "consumer", "add", stream, "asked", "--dry-run",
                input="\nnew\n\n\n3\n")
    assert r.exit_code == 0, r.stderr
    cfg = json.loads(r.stdout[r.stdout.index("{"):])  # CliRunner echoes the typed answers
    assert "deliver_subject" not in cfg
    assert (cfg["deliver_policy"], cfg["ack_policy"], cfg["max_deliver"]) == ("new", "explicit", 3)
