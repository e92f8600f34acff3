"""``events`` and ``server watch`` on real servers: a stream leader step-down, a stalled
subscriber cut off as a slow consumer, an auth error, a lost server, live rates."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from natsops.cli.main import app
from natsops.cluster.process import ServerProcess
from tests.integration._procs import Background

runner = CliRunner()

CONF = """
server_name: ev1
max_pending: 65536
max_payload: 16384
jetstream { store_dir: "%s" }
accounts {
  SYS { users: [{user: sys, password: sys-pw}] }
  APP { jetstream: enabled, users: [{user: app, password: app-pw}] }
}
system_account: SYS
no_auth_user: app
"""
SYS = ["--user", "sys", "--password", "sys-pw"]


@pytest.fixture
def small_pending(server_bin: Path, tmp_path: Path) -> Iterator[ServerProcess]:
    """One server with a 64 KiB max_pending and a system account (its own: it gets killed)."""
    conf = tmp_path / "ev.conf"
    conf.write_text(CONF % (tmp_path / "js"))
    proc = ServerProcess.start(server_bin, ["-c", str(conf), "-a", "127.0.0.1", "-p", "-1"],
                               log_file=tmp_path / "ev.log")
    try:
        proc.wait_ready(15)
        yield proc
    finally:
        proc.stop(grace=5)


@pytest.fixture
def bg() -> Iterator[list[Background]]:
    procs: list[Background] = []
    yield procs
    for p in procs:
        p.stop()


def events(bg: list[Background], tmp: Path, *args: str) -> Background:
    p = Background(tmp, "events", "--json", *args)
    bg.append(p)
    p.wait_for("listening: ")
    return p


def _stall(url: str) -> socket.socket:
    """A raw client that subscribes to ``slow.x`` and then never reads (tiny receive buffer)."""
    host, port = url.removeprefix("nats://").split(":")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(5)
    s.connect((host, int(port)))
    s.recv(4096)  # INFO
    s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"name":"stuck"}\r\n'
              b"SUB slow.x 1\r\nPING\r\n")
    buf = b""
    while b"PONG" not in buf:
        buf += s.recv(4096)
    return s


async def _flood(url: str, done: Background, timeout: float = 20.0) -> None:
    """Publish 8 kB messages to ``slow.x`` until ``done`` has exited."""
    import nats

    nc = await nats.connect(url)
    deadline = time.monotonic() + timeout
    try:
        while done.proc.poll() is None and time.monotonic() < deadline:
            for _ in range(64):
                await nc.publish("slow.x", b"x" * 8000)
            await nc.flush()
    finally:
        await nc.close()


def test_events_slow_consumer_auth_error_and_lost_server(small_pending: ServerProcess,
                                                         tmp_path: Path,
                                                         bg: list[Background]) -> None:
    url = small_pending.client_url
    ev = events(bg, tmp_path, "-s", url, *SYS, "--filter", "slow_consumer", "--count", "1")
    stuck = _stall(url)
    try:
        asyncio.run(_flood(url, ev))
    finally:
        stuck.close()
    rc, out, err = ev.finish()
    assert rc == 0, err
    got = json.loads(out)
    assert got["kind"] == "slow_consumer"
    assert got["event"]["reason"].startswith("Slow Consumer")
    assert got["who"].startswith("stuck (APP@")

    ev = events(bg, tmp_path, "-s", url, *SYS, "--filter", "auth_error", "--count", "1")
    res = runner.invoke(app, ["-s", url, "--user", "app", "--password", "wrong", "stream", "ls"])
    assert res.exit_code == 7, res.output
    rc, out, err = ev.finish()
    assert rc == 0, err
    assert json.loads(out)["kind"] == "auth_error"

    ev = events(bg, tmp_path, "-s", url, *SYS)
    small_pending.stop(grace=5)
    rc, out, err = ev.finish()
    assert rc == 3, err
    assert "lost the connection to server ev1" in err
    assert "Traceback" not in err


def test_events_show_a_stream_leader_election(nats_cluster: Any, unique: Any, tmp_path: Path,
                                              bg: list[Background]) -> None:
    from natsops.connection import connect
    from natsops.jetstream.streams import step_down

    name = unique("EVL")

    async def add() -> None:
        async with connect(nats_cluster.settings) as conn:
            await conn.js.add_stream(name=name, subjects=[f"{name}.>"], num_replicas=3)

    asyncio.run(add())
    d = str(nats_cluster.cluster.dir)
    ev = events(bg, tmp_path, "--dir", d, "--filter", "stream_leader_elected", "--count", "1")

    async def move() -> None:
        async with connect(nats_cluster.settings) as conn:
            await step_down(conn, name)

    asyncio.run(move())
    rc, out, err = ev.finish()
    assert rc == 0, err
    got = json.loads(out)
    assert (got["kind"], got["event"]["stream"]) == ("stream_leader_elected", name)
    assert got["who"] in {"n1", "n2", "n3"}
    assert f"stream {name}: new leader {got['who']}" == got["what"]


def test_server_watch_count_json_and_text(nats_cluster: Any) -> None:
    d = str(nats_cluster.cluster.dir)
    res = runner.invoke(app, ["server", "watch", "--dir", d, "--count", "2", "-i", "0.2s",
                              "--json"])
    assert res.exit_code == 0, res.output
    frames = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(frames) == 2
    for f in frames:
        assert f["time"].endswith("Z") and not f["missing"]
        assert {s["server"] for s in f["servers"]} == {"n1", "n2", "n3"}
        assert all(s["in_msgs_rate"] is not None and s["slow_new"] >= 0 for s in f["servers"])
    res = runner.invoke(app, ["server", "watch", "--dir", d, "--count", "1", "-i", "0.2s"])
    assert res.exit_code == 0, res.output
    assert "MSGS IN/s" in res.stdout and "n2" in res.stdout


@pytest.mark.parametrize(("args", "text"), [
    (["events", "--filter", "bogus"], "unknown event kind 'bogus'"),
    (["events", "--count", "-1", "--no-system"], "--count must not be negative"),
    (["server", "watch", "-i", "0s"], "--interval must be above 0s"),
])
def test_bad_input(nats_cluster: Any, args: list[str], text: str) -> None:
    res = runner.invoke(app, [*args, "--dir", str(nats_cluster.cluster.dir)])
    assert res.exit_code == 2, res.output
    assert res.stderr.startswith("error:") and text in res.stderr.splitlines()[0], res.stderr
