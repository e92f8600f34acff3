"""Issue 15, inside streams: view/get/subjects/rmm/find/state against a real server."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import nats
import pytest
from nats.js.api import StreamConfig

from tests.cli._helpers import natsops, ok_json, one_line_error

BIN = bytes([0, 255, 1, 2, 0x1B])  # NUL, 0xff, an escape: must never reach a terminal raw


async def _make(url: str, name: str, *, direct: bool, extra: int = 0) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name=name, subjects=[f"{name}.>"], allow_direct=direct))
        await js.publish(f"{name}.a", b"hello", headers={"X-Trace": "t1"})
        await js.publish(f"{name}.b", BIN)
        await js.publish(f"{name}.a", b"second")
        await js.publish(f"{name}.c", b"\xe2\x82\xac" * 400)  # text, cut mid-character
        for i in range(extra):
            await js.publish(f"{name}.x.{i % 7}", str(i).encode())
    finally:
        await nc.close()


def _lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(ln) for ln in out.splitlines() if ln.strip()]


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "msg-get"])
def test_view_get_subjects_headers_and_binary(nats_server: Any, unique: Any, direct: bool) -> None:
    url, name = nats_server.url, unique("VIEW")
    asyncio.run(_make(url, name, direct=direct))

    r = natsops(url, "stream", "view", name, "--json")
    assert r.exit_code == 0, r.stderr
    msgs = _lines(r.stdout)
    assert [m["seq"] for m in msgs] == [1, 2, 3, 4]
    assert msgs[0]["headers"] == {"X-Trace": ["t1"]} and msgs[0]["subject"] == f"{name}.a"
    assert base64.b64decode(msgs[1]["data"]) == BIN and msgs[1]["size"] == len(BIN)
    assert msgs[0]["time"].startswith("20")

    r = natsops(url, "stream", "view", name)
    assert r.exit_code == 0, r.stderr
    assert "X-Trace: t1" in r.stdout and "binary: 00 ff 01 02 1b" in r.stdout
    assert "\x1b" not in r.stdout and "Size: 5 B" in r.stdout
    assert "(1,200 bytes)" in r.stdout  # long text payload cut, its size shown

    assert [m["seq"] for m in _lines(natsops(url, "stream", "view", name, "--subject",
                                             f"{name}.a", "--json").stdout)] == [1, 3]
    assert [m["seq"] for m in _lines(natsops(url, "stream", "view", name, "--start-seq", "3",
                                             "--json").stdout)] == [3, 4]
    assert [m["seq"] for m in _lines(natsops(url, "stream", "view", name, "--since", "1h",
                                             "-n", "2", "--json").stdout)] == [1, 2]
    r = natsops(url, "stream", "view", name, "--subject", f"{name}.zzz")
    assert r.exit_code == 0 and r.stdout == "" and "no messages" in r.stderr

    got = _lines(natsops(url, "stream", "get", name, "2", "--json").stdout)[0]
    assert base64.b64decode(got["data"]) == BIN and got["subject"] == f"{name}.b"
    last = _lines(natsops(url, "stream", "get", name, "--last-for", f"{name}.a", "--json").stdout)
    assert last[0]["seq"] == 3 and base64.b64decode(last[0]["data"]) == b"second"
    raw = natsops(url, "stream", "get", name, "1", "--raw")
    assert raw.stdout_bytes == b"hello"
    one_line_error(natsops(url, "stream", "get", name, "99"), 4)
    one_line_error(natsops(url, "stream", "get", name, "--last-for", f"{name}.nope"), 4)

    counts = ok_json(url, "stream", "subjects", name)
    assert counts == {f"{name}.a": 2, f"{name}.b": 1, f"{name}.c": 1}
    table = natsops(url, "stream", "subjects", name).stdout
    assert table.index(f"{name}.a") < table.index(f"{name}.b")
    assert ok_json(url, "stream", "subjects", name, f"{name}.b") == {f"{name}.b": 1}


def test_view_pages_through_batches(nats_server: Any, unique: Any) -> None:
    url, name = nats_server.url, unique("PAGES")
    asyncio.run(_make(url, name, direct=True, extra=600))
    seqs = [m["seq"] for m in _lines(natsops(url, "stream", "view", name, "-n", "1000",
                                             "--json").stdout)]
    assert seqs == list(range(1, 605))
    sub = _lines(natsops(url, "stream", "view", name, "--subject", f"{name}.x.3", "-n", "300",
                         "--json").stdout)
    assert len(sub) == 86 and all(m["subject"] == f"{name}.x.3" for m in sub)


async def _big(url: str, name: str) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name=name, subjects=[f"{name}.>"], allow_direct=True))
        for i in range(7):
            await js.publish(f"{name}.big", bytes([i]) * 900_000)
    finally:
        await nc.close()


def test_view_batches_are_bounded_in_bytes(nats_server: Any, unique: Any) -> None:
    """7 x 900 kB: a 4 MiB direct-get batch holds 4; the view goes on after it, in order."""
    url, name = nats_server.url, unique("BIG")
    asyncio.run(_big(url, name))
    msgs = _lines(natsops(url, "stream", "view", name, "-n", "10", "--json").stdout)
    assert [m["seq"] for m in msgs] == list(range(1, 8))
    assert all(base64.b64decode(m["data"]) == bytes([i]) * 900_000 for i, m in enumerate(msgs))


def test_rmm_removes_exactly_one(nats_server: Any, unique: Any) -> None:
    url, name = nats_server.url, unique("RMM")
    asyncio.run(_make(url, name, direct=False))
    r = natsops(url, "stream", "rmm", name, "2", input="n\n")
    assert r.exit_code == 1
    assert ok_json(url, "stream", "state", name)["messages"] == 4
    r = natsops(url, "stream", "rmm", name, "2", "--force")
    assert r.exit_code == 0, r.stderr
    st = ok_json(url, "stream", "state", name)
    assert st["messages"] == 3 and st["first_seq"] == 1 and st["last_seq"] == 4
    assert [m["seq"] for m in _lines(natsops(url, "stream", "view", name, "--json").stdout)] \
        == [1, 3, 4]
    one_line_error(natsops(url, "stream", "rmm", name, "2", "--force"), 4)
    one_line_error(natsops(url, "stream", "rmm", name, "99", "--force"), 4)


async def _consumers(url: str, name: str) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name=name, subjects=[f"{name}.>"]))
        await js.publish(f"{name}.a", b"x")
        await js.pull_subscribe(f"{name}.a", durable="idle")
        await js.pull_subscribe(f"{name}.>", durable="busy")
    finally:
        await nc.close()


async def _fetch(url: str, name: str) -> None:
    nc = await nats.connect(url)
    try:
        sub = await nc.jetstream().pull_subscribe(f"{name}.>", durable="busy")
        for m in await sub.fetch(1, timeout=5):
            await m.ack_sync()
    finally:
        await nc.close()


def test_find_idle_consumer_and_streams(nats_server: Any, unique: Any) -> None:
    url, name = nats_server.url, unique("FIND")
    asyncio.run(_consumers(url, name))
    deadline = time.monotonic() + 15
    while True:  # both are idle once 2 s pass after their creation
        found = ok_json(url, "consumer", "find", name, "--idle", "2s")
        if len(found) == 2 or time.monotonic() > deadline:
            break
    assert {c["consumer"] for c in found} == {"idle", "busy"}
    asyncio.run(_fetch(url, name))
    assert ok_json(url, "consumer", "find", name, "--idle", "2s") == [
        {"stream": name, "consumer": "idle"}]
    assert ok_json(url, "consumer", "find", name, "--empty") == [
        {"stream": name, "consumer": "busy"}]
    assert ok_json(url, "consumer", "find", "--subject", f"{name}.b", "--replicas", "1") == [
        {"stream": name, "consumer": "busy"}]
    assert name in ok_json(url, "stream", "find", "--subject", f"{name}.*", "--replicas", "1")
    assert name not in ok_json(url, "stream", "find", "--empty")
    assert name not in ok_json(url, "stream", "find", "--idle", "1h")
    assert ok_json(url, "stream", "find", "--leader", "no-such-server") == []
    line = natsops(url, "stream", "state", name).stdout
    assert f"{name}: OK 1 msgs" in line and "2 consumers" in line and "seq 1..1" in line


@pytest.mark.parametrize(("args", "code"), [
    (["stream", "view", "S", "--since", "1h", "--start-seq", "2"], 2),
    (["stream", "view", "S", "-n", "0"], 2),
    (["stream", "view", "S", "--since", "soon"], 2),
    (["stream", "view", "S", "--subject", "a..b"], 2),
    (["stream", "view", "S", "--stall-timeout", "0s"], 2),
    (["stream", "view", "NOPE_NOT_THERE"], 4),
    (["stream", "get", "S"], 2),
    (["stream", "get", "S", "0"], 2),
    (["stream", "get", "NOPE_NOT_THERE", "1"], 4),
    (["stream", "subjects", "S", "a.>.b"], 2),
    (["stream", "subjects", "NOPE_NOT_THERE"], 4),
    (["stream", "rmm", "S", "0", "--force"], 2),
    (["stream", "rmm", "NOPE_NOT_THERE", "1", "--force"], 4),
    (["stream", "rmm", "S", "1"], 2),  # no terminal, no --force: refused before connecting
    (["stream", "find", "--replicas", "9"], 2),
    (["stream", "find", "--idle", "-1h"], 2),
    (["consumer", "find", "NOPE_NOT_THERE"], 4),
    (["stream", "state", "bad.name"], 2),
])
def test_bad_input(nats_server: Any, args: list[str], code: int) -> None:
    one_line_error(natsops(nats_server.url, *args), code)


def test_unreachable_server_is_one_line() -> None:
    one_line_error(natsops("nats://127.0.0.1:1", "stream", "view", "S"), 3)


async def _fill(url: str, name: str, n: int, *, direct: bool = True) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name=name, subjects=[f"{name}.>"], allow_direct=direct))
        for i in range(n):
            await nc.publish(f"{name}.{i % 50}", b"payload %d" % i)
        await nc.flush()
        deadline = time.monotonic() + 20
        while (await js.stream_info(name)).state.messages < n:
            assert time.monotonic() < deadline, "stream did not fill"
            await asyncio.sleep(0.05)
    finally:
        await nc.close()


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "msg-get"])
def test_view_of_a_frozen_server_exits_3(server_bin: Any, tmp_path: Any, unique: Any,
                                         direct: bool) -> None:
    """A server frozen (SIGSTOP) mid-view: exit 3 naming it, within the stall timeout."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from natsops.cluster.process import ServerProcess

    proc = ServerProcess.start(server_bin, ["-js", "-sd", str(tmp_path / "js"), "-a",
                                            "127.0.0.1", "-p", "-1", "-n", "frozen"],
                               log_file=tmp_path / "server.log")
    cmd: subprocess.Popen[bytes] | None = None
    try:
        proc.wait_ready(15)
        name = unique("FROZEN")
        asyncio.run(_fill(proc.client_url, name, 5000, direct=direct))
        cmd = subprocess.Popen(
            [str(Path(sys.executable).parent / "natsops"), "-s", proc.client_url, "stream",
             "view", name, "-n", "5000", "--json", "--stall-timeout", "2s"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert cmd.stdout is not None
        assert json.loads(cmd.stdout.readline())["seq"] == 1  # it started; stdout not drained
        os.kill(proc.pid, signal.SIGSTOP)
        out, err = cmd.communicate(timeout=30)
        assert cmd.returncode == 3, err
        lines = [ln for ln in err.decode().splitlines() if ln.startswith("error:")]
        assert len(lines) == 1 and "stalled" in lines[0] and "frozen" in lines[0]
        assert len(out.splitlines()) < 4999  # it stopped early, it did not hang
    finally:
        if cmd is not None and cmd.poll() is None:
            cmd.kill()
            cmd.wait()
        os.kill(proc.pid, signal.SIGCONT)
        proc.stop(grace=5)


def test_find_leader_and_state_on_a_cluster(nats_cluster: Any, unique: Any) -> None:
    urls, name = nats_cluster.urls, unique("R3")
    r = natsops(urls, "stream", "add", name, "--subjects", f"{name}.>", "--replicas", "3",
                "--defaults")
    assert r.exit_code == 0, r.stderr
    r = natsops(urls, "consumer", "add", name, "work", "--pull", "--defaults")
    assert r.exit_code == 0, r.stderr
    deadline = time.monotonic() + 20
    while True:  # replicas catch up after the create
        st = ok_json(urls, "stream", "state", name)
        if st["current"] == 3 or time.monotonic() > deadline:
            break
    assert st["replicas"] == 3 and st["current"] == 3 and st["leader"]
    assert f"leader {st['leader']} replicas 3/3 current" in natsops(
        urls, "stream", "state", name).stdout
    assert name in ok_json(urls, "stream", "find", "--leader", st["leader"], "--replicas", "3")
    others = [p["name"] for p in ok_json(urls, "stream", "info", name)["cluster"]["replicas"]]
    assert len(others) == 2 and st["leader"] not in others
    assert all(name not in ok_json(urls, "stream", "find", "--leader", o) for o in others)
    c_leader = ok_json(urls, "consumer", "info", name, "work")["cluster"]["leader"]
    assert ok_json(urls, "consumer", "find", name, "--leader", c_leader, "--replicas", "3") == [
        {"stream": name, "consumer": "work"}]
    assert ok_json(urls, "consumer", "find", name, "--replicas", "1") == []
