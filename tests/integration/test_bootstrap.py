"""`natsops bootstrap` and `natsops cluster` against real nats-server processes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import nats
import pytest
from typer.testing import CliRunner

from natsops.cli.main import app
from natsops.cluster.local import LocalCluster
from natsops.cluster.process import is_running
from natsops.connection import connect
from natsops.context import config_root, resolve_settings

runner = CliRunner()
NATSOPS = str(Path(sys.executable).parent / "natsops")


def wait_for(cond, timeout: float = 20.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def pids_of(directory: Path) -> list[int]:
    out = []
    for p in directory.glob("n*/nats-server.pid"):
        with contextlib.suppress(OSError, ValueError):
            out.append(int(p.read_text()))
    return out


def all_stopped(pids: list[int]) -> bool:
    return not any(is_running(p) for p in pids)


def kill_servers_under(directory: Path) -> list[int]:
    """Last-resort teardown: SIGKILL every nats-server whose command line names ``directory``
    (a failed assertion must not leave servers behind for the rest of the session)."""
    killed = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if "nats-server" in cmd and str(directory) in cmd:
                os.kill(int(proc.name), signal.SIGKILL)
                killed.append(int(proc.name))
    return killed


@pytest.fixture
def cluster_dir(tmp_path: Path):  # type: ignore[no-untyped-def]
    d = tmp_path / "C1"
    yield d
    # whatever happened in the test, no server outlives it
    if LocalCluster.exists(d):
        LocalCluster.load(d).stop_all(grace=5)


def test_bootstrap_lifecycle(cluster_dir: Path, server_bin: Path, unique) -> None:  # type: ignore[no-untyped-def]
    r = runner.invoke(app, ["bootstrap", "--base-port", "auto", "--dir", str(cluster_dir),
                            "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["created"] is True and res["probe_replicas"] == 3
    nodes = res["status"]["nodes"]
    assert [n["name"] for n in nodes] == ["n1", "n2", "n3"]
    assert all(n["healthy"] and n["jetstream"] for n in nodes)
    leader = res["status"]["meta_leader"]
    assert leader in {"n1", "n2", "n3"}
    assert {n["meta_leader"] for n in nodes} == {leader}
    assert res["contexts"] == ["natsops-C1", "natsops-C1-sys"]

    # an independent client (plain nats-py, no credentials) creates an R3 stream
    urls = [n["client_url"] for n in nodes]

    async def independent_client() -> None:
        nc = await nats.connect(urls)
        try:
            js = nc.jetstream()
            name = unique("BOOT")
            info = await js.add_stream(name=name, subjects=[f"{name}.>"], num_replicas=3)
            assert info.cluster is not None and len(info.cluster.replicas or []) == 2
            assert (await js.publish(f"{name}.x", b"1")).seq == 1
            await js.delete_stream(name)
        finally:
            await nc.close()

    import asyncio

    asyncio.run(independent_client())

    # the contexts are natscli-compatible, private, and work (the sys one reaches $SYS)
    ctx_dir = config_root() / "nats" / "context"
    for name in res["contexts"]:
        assert stat.S_IMODE((ctx_dir / f"{name}.json").stat().st_mode) == 0o600
    assert (config_root() / "nats" / "context.txt").read_text().strip() == "natsops-C1"

    async def sys_ping() -> int:
        s = resolve_settings({"context": "natsops-C1-sys"})
        async with connect(s) as conn:
            inbox = conn.nc.new_inbox()
            sub = await conn.nc.subscribe(inbox)
            await conn.nc.publish("$SYS.REQ.SERVER.PING", b"", reply=inbox)
            seen = set()
            deadline = time.monotonic() + 5
            while len(seen) < 3 and time.monotonic() < deadline:
                msg = await sub.next_msg(timeout=2)
                seen.add(json.loads(msg.data)["server"]["name"])
            return len(seen)

    assert asyncio.run(sys_ping()) == 3

    # the rendered configs pass `nats-server -t`
    for n in ("n1", "n2", "n3"):
        t = subprocess.run([str(server_bin), "-t", "-c", str(cluster_dir / n / "nats-server.conf")],
                           capture_output=True, text=True, check=False)
        assert t.returncode == 0, t.stdout + t.stderr

    # running it again reports the running cluster instead of starting another
    pids = sorted(pids_of(cluster_dir))
    r = runner.invoke(app, ["bootstrap", "--base-port", "auto", "--dir", str(cluster_dir), "--json"])
    assert r.exit_code == 0, r.output
    again = json.loads(r.stdout)
    assert again["created"] is False and again["started"] == []
    assert again["already_running"] == ["n1", "n2", "n3"]
    assert sorted(pids_of(cluster_dir)) == pids

    # stop / start / restart one node
    r = runner.invoke(app, ["cluster", "stop", "n2", "--dir", str(cluster_dir)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["cluster", "status", "--dir", str(cluster_dir), "--json"])
    st = {n["name"]: n for n in json.loads(r.stdout)["nodes"]}
    assert not st["n2"]["running"] and st["n1"]["running"] and st["n3"]["running"]
    r = runner.invoke(app, ["cluster", "start", "n2", "--dir", str(cluster_dir)])
    assert r.exit_code == 0, r.output
    old_n3 = LocalCluster.load(cluster_dir).pid("n3")
    r = runner.invoke(app, ["cluster", "restart", "n3", "--dir", str(cluster_dir)])
    assert r.exit_code == 0, r.output
    new_n3 = LocalCluster.load(cluster_dir).pid("n3")
    assert new_n3 and new_n3 != old_n3 and old_n3 is not None and not is_running(old_n3)
    r = runner.invoke(app, ["cluster", "status", "--dir", str(cluster_dir)])
    assert r.exit_code == 0 and r.stdout.count("healthy") == 3

    r = runner.invoke(app, ["cluster", "logs", "n1", "-n", "3", "--dir", str(cluster_dir)])
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == 3

    # down --purge: every process stopped by pid, state and contexts removed
    pids = pids_of(cluster_dir)
    r = runner.invoke(app, ["cluster", "down", "--purge", "--force", "--dir", str(cluster_dir)])
    assert r.exit_code == 0, r.output
    wait_for(lambda: all_stopped(pids), what="servers to stop")
    assert not cluster_dir.exists()
    assert not (ctx_dir / "natsops-C1.json").exists()


def test_taken_port_is_named_and_nothing_starts(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = subprocess.run([NATSOPS, "bootstrap", "--base-port", str(port), "--dir",
                            str(tmp_path / "c")], capture_output=True, text=True, timeout=60,
                           check=False)
    assert p.returncode == 9
    lines = p.stderr.strip().splitlines()
    assert lines[0] == f"error: port {port} on 127.0.0.1 is already in use (the client port of n1)"
    assert "Traceback" not in p.stderr
    assert not (tmp_path / "c" / "cluster.json").exists()


@pytest.fixture
def never_ready_bin(tmp_path: Path, server_bin: Path) -> Path:
    """A nats-server whose n1 gets another cluster name: n1 never becomes healthy."""
    d = tmp_path / "bin"
    d.mkdir()
    w = d / "nats-server"
    w.write_text(
        "#!/bin/sh\n"
        f'case "$2" in */n1/*) exec "{server_bin}" "$@" --cluster_name OTHER ;; esac\n'
        f'exec "{server_bin}" "$@"\n'
    )
    w.chmod(0o755)
    return w


def test_ctrl_c_during_bootstrap_leaves_no_server(tmp_path: Path, never_ready_bin: Path) -> None:
    d = tmp_path / "c"
    proc = subprocess.Popen([NATSOPS, "bootstrap", "--base-port", "auto", "--dir", str(d),
                             "--server-bin", str(never_ready_bin), "--wait", "60s"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        pids = wait_for(lambda: len(pids_of(d)) == 3 and pids_of(d), what="3 pid files")
        wait_for(lambda: all(is_running(p) for p in pids), what="servers running")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        assert "interrupted" in err and "Traceback" not in err
        wait_for(lambda: all_stopped(pids), what="servers to stop")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if LocalCluster.exists(d):
            LocalCluster.load(d).stop_all(grace=2)


def test_wait_timeout_stops_what_it_started(tmp_path: Path, never_ready_bin: Path) -> None:
    d = tmp_path / "c"
    r = runner.invoke(app, ["bootstrap", "--base-port", "auto", "--dir", str(d), "--server-bin",
                            str(never_ready_bin), "--wait", "3s"])
    try:
        assert r.exit_code == 8, r.output
        errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
        assert len(errors) == 1
        assert errors[0].startswith("error: cluster C1 not usable after 3s (n1:")
        assert "Traceback" not in r.output
        # nothing left running, and no pid file claims otherwise
        assert pids_of(d) == []
        assert LocalCluster.load(d).running_nodes() == []
    finally:
        LocalCluster.load(d).stop_all(grace=2)


def test_rendered_production_configs_pass_nats_server_t(tmp_path: Path, server_bin: Path) -> None:
    out = tmp_path / "configs"
    r = runner.invoke(app, ["bootstrap", "--render-only", "--hosts", "nats-1,nats-2,nats-3",
                            "--out", str(out), "--name", "PROD"])
    assert r.exit_code == 0, r.output
    for host in ("nats-1", "nats-2", "nats-3"):
        conf = out / host / "nats-server.conf"
        t = subprocess.run([str(server_bin), "-t", "-c", str(conf)], capture_output=True,
                           text=True, check=False)
        assert t.returncode == 0, (host, t.stdout + t.stderr)
        assert "configuration file" in (t.stdout + t.stderr)
    assert os.stat(out / "nats-1" / "nats-server.conf").st_mode & 0o077 == 0


def test_rendered_production_config_really_starts(tmp_path: Path, server_bin: Path) -> None:
    """`-t` misses start-time errors (system account, lame duck, auth): start one for real."""
    from natsops.cluster.process import ServerProcess, free_port
    from natsops.render.production import render_production

    ports = [free_port(), free_port(), free_port()]
    [host] = render_production(["127.0.0.1"], tmp_path / "out", client_port=ports[0],
                               cluster_port=ports[1], monitor_port=ports[2],
                               store_dir=str(tmp_path / "js"), listen_host="127.0.0.1")
    proc = ServerProcess.start(server_bin, ["-c", host.config], log_file=tmp_path / "log")
    try:
        proc.wait_ready(15)
        assert proc.client_port == ports[0]
    finally:
        proc.stop(grace=5)


def test_started_stops_exactly_what_it_started(tmp_path: Path, server_bin: Path) -> None:
    """The one start-then-roll-back: an exception, Ctrl-C, a failed start or a cancelled task
    stops the nodes that call started, never one that was already running."""
    import asyncio

    from natsops.cluster.local import plan_nodes
    from natsops.cluster.ready import started
    from natsops.errors import Conflict

    c = LocalCluster.create(tmp_path / "R1", name="R1", nodes=plan_nodes(3, None),
                            binary=server_bin)
    try:
        with started(c, ["n1"]) as first:
            pass
        assert first == ("n1",)
        pid1 = c.pid("n1")
        assert pid1 is not None, c.log_path("n1").read_text()[-2000:]

        pids: list[int] = []

        def interrupted() -> None:
            with started(c) as ids:
                assert ids == ("n2", "n3")
                # a loaded machine can take a moment before /proc shows the new server
                wait_for(lambda: all(c.pid(n) for n in ids), 10, "the pids of n2 and n3")
                pids.extend(p for n in ids if (p := c.pid(n)))
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            interrupted()
        assert len(pids) == 2 and all_stopped(pids)
        assert c.running_nodes() == ["n1"] and c.pid("n1") == pid1

        with socket.socket() as s:  # n3 cannot start: n2, started before it, is stopped again
            s.bind(("127.0.0.1", c.node("n3").client_port))
            s.listen()
            with pytest.raises(Conflict, match="client port of n3"), started(c):
                pass
        assert c.running_nodes() == ["n1"]

        async def cancel_while_started() -> None:
            async def body() -> None:
                with started(c, ["n2"]):
                    await asyncio.sleep(60)

            task = asyncio.create_task(body())
            deadline = time.monotonic() + 10
            while c.running_nodes() != ["n1", "n2"] and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert c.running_nodes() == ["n1", "n2"]
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        asyncio.run(cancel_while_started())
        assert c.running_nodes() == ["n1"] and c.pid("n1") == pid1
    finally:
        c.stop_all(grace=2)
        kill_servers_under(tmp_path)
