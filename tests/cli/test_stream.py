"""`natsops stream` against real servers: the guide's recipe, round trips, errors, paging."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import nats
import pytest

from tests.cli._helpers import natsops, ok_json, one_line_error

GB = 1024**3


async def _nats_py_stream(urls: list[str] | str, name: str) -> Any:
    """What an independent nats-py client sees."""
    nc = await nats.connect(urls)
    try:
        return await nc.jetstream().stream_info(name)
    finally:
        await nc.close()


def test_guide_stream_recipe_on_cluster(nats_cluster, unique) -> None:
    name = unique("ORDERS")
    r = natsops(nats_cluster.urls, "stream", "add", name, "--subjects", f"{name}.orders.>",
                "--storage", "file", "--replicas", "3", "--retention", "limits",
                "--max-age", "720h", "--max-bytes", "50GB", "--discard", "old",
                "--dupe-window", "2m", "--defaults")
    assert r.exit_code == 0, r.stderr
    si = asyncio.run(_nats_py_stream(nats_cluster.urls, name))
    c = si.config
    assert c.subjects == [f"{name}.orders.>"]
    assert c.max_age == 720 * 3600
    assert c.max_bytes == 50 * GB  # fits: bootstrap caps each node's file store at 64GB
    assert c.duplicate_window == 120
    assert c.num_replicas == 3
    assert [getattr(v, "value", v) for v in (c.storage, c.retention, c.discard)] == [
        "file", "limits", "old"]
    assert c.allow_direct is True
    assert len(si.cluster.replicas) == 2

    rep = ok_json(nats_cluster.urls, "stream", "report")
    row = next(s for s in rep["streams"] if s["name"] == name)
    assert row["replicas"] == 3
    assert row["leader"]
    assert len(row["peers"]) == 3
    assert row["healthy"] is True or row["peers"]  # followers may still be catching up

    peers = ok_json(nats_cluster.urls, "stream", "cluster", "peer-info", name)
    assert {p["name"] for p in peers["peers"]} == {p["name"] for p in row["peers"]}

    sd = ok_json(nats_cluster.urls, "stream", "cluster", "step-down", name)
    assert sd["new_leader"]
    assert sd["new_leader"] != sd["old_leader"]
    assert natsops(nats_cluster.urls, "stream", "rm", name, "--force").exit_code == 0


def test_guide_command_verbatim_on_single_server(nats_server) -> None:
    """The exact guide line (R3 needs a cluster: the server's 10074 comes back as one line)."""
    args = ["stream", "add", "ORDERS", "--subjects", "orders.>", "--storage", "file",
            "--replicas", "3", "--retention", "limits", "--max-age", "720h",
            "--max-bytes", "50GB", "--discard", "old", "--dupe-window", "2m", "--defaults"]
    line = one_line_error(natsops(nats_server.url, *args), 10)
    assert "10074" in line
    args[args.index("3")] = "1"
    assert natsops(nats_server.url, *args).exit_code == 0
    si = asyncio.run(_nats_py_stream(nats_server.url, "ORDERS"))
    assert si.config.max_bytes == 50 * GB
    assert si.config.max_age == 720 * 3600
    assert natsops(nats_server.url, "stream", "rm", "ORDERS", "-f").exit_code == 0


def test_info_json_round_trips_into_config(nats_server, unique, tmp_path: Path) -> None:
    url, name = nats_server.url, unique("RT")
    assert natsops(url, "stream", "add", name, "--subjects", f"{name}.a,{name}.b",
                   "--max-msgs-per-subject", "10", "--max-bytes", "1MiB", "--metadata",
                   "team=ops", "--defaults").exit_code == 0
    info = ok_json(url, "stream", "info", name)
    f = tmp_path / "x.json"
    f.write_text(json.dumps(info))
    plan = ok_json(url, "stream", "edit", name, "--config", str(f), "--dry-run")
    assert plan["changes"] == []
    assert plan["applied"] is False

    assert natsops(url, "stream", "rm", name, "--force").exit_code == 0
    assert natsops(url, "stream", "add", "--config", str(f)).exit_code == 0
    again = ok_json(url, "stream", "info", name)
    assert again["config"] == info["config"]
    assert again["config"]["metadata"]["team"] == "ops"

    y = tmp_path / "x.yaml"
    y.write_text(f"name: {name}\nsubjects: [{name}.a]\nmax_age: 1h\nmax_bytes: 2MB\n")
    plan = ok_json(url, "stream", "edit", name, "--config", str(y), "--dry-run")
    fields = {c["field"]: c for c in plan["changes"]}
    assert fields["max_age"]["new"] == 3600 * 10**9
    assert fields["max_bytes"]["new"] == 2 * 1024**2
    natsops(url, "stream", "rm", name, "-f")


def test_add_dry_run_edit_purge_rm(nats_server, unique) -> None:
    url, name = nats_server.url, unique("E")
    cfg = ok_json(url, "stream", "add", name, "--subjects", f"{name}.>", "--defaults",
                  "--dry-run")
    assert cfg["name"] == name
    assert cfg["max_bytes"] == -1
    assert cfg["storage"] == "file"
    one_line_error(natsops(url, "stream", "info", name), 4)  # dry run created nothing

    assert natsops(url, "stream", "add", name, "--subjects", f"{name}.>",
                   "--defaults").exit_code == 0
    r = natsops(url, "stream", "edit", name, "--max-age", "1d", "--dry-run")
    assert r.exit_code == 0
    assert "max_age: unlimited -> 1d" in r.stdout
    assert ok_json(url, "stream", "info", name)["config"]["max_age"] == 0
    r = natsops(url, "stream", "edit", name, "--max-age", "1d", "--force")
    assert r.exit_code == 0, r.stderr
    assert ok_json(url, "stream", "info", name)["config"]["max_age"] == 86400 * 10**9
    # edit without --force asks; "n" aborts and nothing changes
    r = natsops(url, "stream", "edit", name, "--max-age", "2d", input="n\n")
    assert r.exit_code == 1
    assert ok_json(url, "stream", "info", name)["config"]["max_age"] == 86400 * 10**9

    async def publish() -> None:
        nc = await nats.connect(url)
        js = nc.jetstream()
        for i in range(5):
            await js.publish(f"{name}.x", str(i).encode())
        await nc.close()

    asyncio.run(publish())
    assert ok_json(url, "stream", "purge", name, "--keep", "2", "--force")["purged"] == 3
    assert ok_json(url, "stream", "info", name)["state"]["messages"] == 2
    r = natsops(url, "stream", "rm", name, input="n\n")
    assert r.exit_code == 1
    assert natsops(url, "stream", "rm", name, "--force").exit_code == 0
    assert name not in ok_json(url, "stream", "ls")


@pytest.mark.parametrize(("args", "code", "text"), [
    (["stream", "info", "NOPE_NOT_THERE"], 4, "10059"),
    (["stream", "rm", "NOPE_NOT_THERE", "-f"], 4, "not found"),
    (["stream", "add", "X1", "--max-bytes", "50XB", "--defaults"], 2, "50XB"),
    (["stream", "add", "X1", "--max-age", "forever", "--defaults"], 2, "--max-age"),
    (["stream", "add", "X1", "--mirror", "A", "--subjects", "a", "--defaults"], 2, "mirror"),
    (["stream", "add", "X1", "--storage", "disk", "--defaults"], 2, "--storage"),
    (["stream", "add", "X1", "--subjects", "x1"], 2, "missing --storage"),
    (["stream", "add", "bad.name", "--defaults"], 2, "invalid stream name"),
    (["stream", "add", "X1", "--config", "/nonexistent.json"], 2, "cannot read"),
    (["stream", "edit", "NOPE_NOT_THERE", "--replicas", "1"], 4, "10059"),
    (["stream", "purge", "NOPE_NOT_THERE", "--force"], 4, "10059"),
    (["stream", "report", "--sort", "colour"], 2, "invalid sort"),
    (["stream", "cluster", "step-down", "NOPE_NOT_THERE"], 4, "10059"),
])
def test_bad_input_one_line_and_exit_code(nats_server, args, code, text) -> None:
    line = one_line_error(natsops(nats_server.url, *args), code)
    assert text in line


def test_conflict_and_clustering_required(nats_server, unique) -> None:
    url, name = nats_server.url, unique("C")
    assert natsops(url, "stream", "add", name, "--subjects", f"{name}.a",
                   "--defaults").exit_code == 0
    line = one_line_error(natsops(url, "stream", "add", name, "--subjects", f"{name}.b",
                                  "--defaults"), 9)
    assert "10058" in line
    line = one_line_error(natsops(url, "stream", "cluster", "step-down", name), 10)
    assert "10010" in line
    natsops(url, "stream", "rm", name, "-f")


def test_edit_replicas_scales_stream(nats_cluster, unique) -> None:
    urls, name = nats_cluster.urls, unique("SCALE")
    assert natsops(urls, "stream", "add", name, "--subjects", f"{name}.>",
                   "--defaults").exit_code == 0
    r = natsops(urls, "stream", "edit", "--replicas", "3", name, "--force")
    assert r.exit_code == 0, r.stderr
    assert "num_replicas: 1 -> 3" in r.stdout
    si = asyncio.run(_nats_py_stream(urls, name))
    assert si.config.num_replicas == 3
    natsops(urls, "stream", "rm", name, "-f")


def test_paging_past_one_api_page(nats_server, unique) -> None:
    """STREAM.LIST pages hold 256 infos; 300 streams need two pages."""
    prefix = unique("PG")
    names = [f"{prefix}_{i:03d}" for i in range(300)]

    async def create(delete: bool) -> None:
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        sem = asyncio.Semaphore(32)

        async def one(n: str) -> None:
            async with sem:
                if delete:
                    await js.delete_stream(n)
                else:
                    await js.add_stream(name=n, subjects=[f"{n}.x"], storage="memory")

        await asyncio.gather(*(one(n) for n in names))
        await nc.close()

    asyncio.run(create(False))
    try:
        listed = ok_json(nats_server.url, "stream", "ls")
        assert set(names) <= set(listed)
        rep = ok_json(nats_server.url, "stream", "report", "--sort", "name")
        got = [s["name"] for s in rep["streams"] if s["name"].startswith(prefix)]
        assert got == names
        r = natsops(nats_server.url, "stream", "ls")
        assert r.exit_code == 0
        assert names[-1] in r.stdout
    finally:
        asyncio.run(create(True))


def test_peer_remove_moves_a_replica(nats_cluster, unique) -> None:
    """An R2 stream on 3 servers: removing a follower places the replica on the third server."""
    urls, name = nats_cluster.urls, unique("PR")
    assert natsops(urls, "stream", "add", name, "--subjects", f"{name}.>", "--replicas", "2",
                   "--defaults").exit_code == 0
    before = ok_json(urls, "stream", "cluster", "peer-info", name)
    follower = next(p["name"] for p in before["peers"] if not p["leader"])
    line = one_line_error(natsops(urls, "stream", "cluster", "peer-remove", name, "nosuch",
                                  "-f"), 10)
    assert "10040" in line
    r = natsops(urls, "stream", "cluster", "peer-remove", name, follower, input="n\n")
    assert r.exit_code == 1  # asked, and refused
    r = natsops(urls, "stream", "cluster", "peer-remove", name, follower, "--force")
    assert r.exit_code == 0, r.stderr
    deadline = time.monotonic() + 20
    names: set[str] = set()
    while time.monotonic() < deadline:
        names = {p["name"] for p in ok_json(urls, "stream", "cluster", "peer-info", name)["peers"]}
        if follower not in names and len(names) == 2:
            break
        time.sleep(0.2)
    assert follower not in names
    assert len(names) == 2
    natsops(urls, "stream", "rm", name, "-f")


def test_unreachable_server_fails_fast() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    line = one_line_error(natsops(f"nats://127.0.0.1:{port}", "stream", "ls"), 3)
    assert "cannot connect" in line
    assert time.monotonic() - t0 < 5


def test_missing_values_are_prompted_on_a_terminal(nats_server, monkeypatch) -> None:
    from natsops.cli import prompt

    monkeypatch.setattr(prompt, "interactive", lambda: True)
    # storage, replicas, retention, discard, max msgs, per subject, bytes, age, msg size
    answers = "memory\n\n\n\n\n\n10MB\n1h\n\n"
    r = natsops(nats_server.url, "stream", "add", "PROMPTED", "--subjects", "p.>", "--dry-run",
                input=answers)
    assert r.exit_code == 0, r.stderr
    cfg = json.loads(r.stdout[r.stdout.index("{"):])  # CliRunner echoes the typed answers
    assert cfg["storage"] == "memory"
    assert cfg["num_replicas"] == 1
    assert cfg["max_bytes"] == 10 * 1024**2
    assert cfg["max_age"] == 3600 * 10**9
    assert cfg["retention"] == "limits"


def test_report_shows_sources_and_mirrors(nats_server, unique) -> None:
    url, a, b, m = nats_server.url, unique("SRC"), unique("AGG"), unique("MIR")
    assert natsops(url, "stream", "add", a, "--subjects", f"{a}.>", "--defaults").exit_code == 0
    assert natsops(url, "stream", "add", b, "--source", a, "--defaults").exit_code == 0
    assert natsops(url, "stream", "add", m, "--mirror", a, "--defaults").exit_code == 0

    async def publish() -> None:
        nc = await nats.connect(url)
        await nc.jetstream().publish(f"{a}.x", b"1")
        await nc.close()

    asyncio.run(publish())
    deadline = time.monotonic() + 10
    rows: dict[str, Any] = {}
    while time.monotonic() < deadline:
        rows = {s["name"]: s for s in ok_json(url, "stream", "report")["streams"]}
        if rows[b]["messages"] == 1 and rows[m]["messages"] == 1:
            break
        time.sleep(0.1)
    assert [(s["kind"], s["name"], s["lag"]) for s in rows[b]["sources"]] == [("source", a, 0)]
    assert [(s["kind"], s["name"]) for s in rows[m]["sources"]] == [("mirror", a)]
    r = natsops(url, "stream", "report")
    assert "Replication Report" in r.stdout
    for n in (m, b, a):
        natsops(url, "stream", "rm", n, "-f")


def test_edit_asks_with_no_connection_open_and_refuses_a_stale_plan(
        nats_server, unique, monkeypatch) -> None:
    """plan -> confirm -> act: nothing of natsops is connected while it asks, and an edit made
    by someone else meanwhile stops the planned one (Conflict, exit 9) instead of undoing it."""
    import httpx

    from natsops.cli import stream as stream_cli

    url, name = nats_server.url, unique("STALE")
    assert natsops(url, "stream", "add", name, "--subjects", f"{name}.>",
                   "--defaults").exit_code == 0

    def natsops_connections() -> int:
        connz = httpx.get(f"{nats_server.monitor_url}/connz", params={"limit": 4096}).json()
        return sum(1 for c in connz.get("connections") or []
                   if str(c.get("name", "")).startswith("natsops"))

    async def edit_elsewhere() -> None:
        nc = await nats.connect(url)
        js = nc.jetstream()
        cfg = (await js.stream_info(name)).config
        cfg.max_msgs = 5
        await js.update_stream(cfg)
        await nc.close()

    seen: list[int] = []

    def confirm(question: str, *, force: bool) -> None:
        deadline = time.monotonic() + 5  # the server notices a closed socket within moments
        while natsops_connections() and time.monotonic() < deadline:
            time.sleep(0.02)
        seen.append(natsops_connections())
        asyncio.run(edit_elsewhere())

    monkeypatch.setattr(stream_cli, "confirm", confirm)
    line = one_line_error(natsops(url, "stream", "edit", name, "--max-age", "1h"), 9)
    assert "changed since the edit was planned" in line
    assert "max_msgs" in line
    assert seen == [0]
    cfg = ok_json(url, "stream", "info", name)["config"]
    assert (cfg["max_age"], cfg["max_msgs"]) == (0, 5)
    natsops(url, "stream", "rm", name, "-f")
