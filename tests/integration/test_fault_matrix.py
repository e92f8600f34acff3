"""The fault matrix: long commands x {SIGINT, SIGTERM, server SIGKILL, server SIGSTOP}.

Every command runs as a real subprocess (the venv's ``natsops`` entry point) against this
module's own server, reached through a bandwidth-throttling TCP proxy so that a transfer is
caught mid-way with small payloads. A signal is sent only once the command demonstrably
started (a ``.part`` file, chunks in a stream, a first output line, bytes through the proxy),
never after a fixed sleep. Each case checks the exit code, the message, and that nothing is
left: no file, no partial stream, no object chunks, no process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from natsops.cluster.process import ServerProcess, is_running
from natsops.connection import connect
from natsops.context import Settings
from natsops.errors import NotFound
from tests.integration.auth.conftest import auth_store, operator_cluster  # noqa: F401 (fixtures)

NATSOPS = str(Path(sys.executable).parent / "natsops")
STALL = "2s"  # the commands' --stall-timeout here: a frozen server is noticed quickly
FAULT_DEADLINE = 30.0  # seconds a command may take to exit after a fault (a loaded CI box)


def wait_for(cond: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class Throttle:
    """A TCP proxy to the server that moves at most ``rate`` bytes/s each way per connection."""

    def __init__(self, rate: float) -> None:
        self.rate, self.target = rate, ("127.0.0.1", 0)
        self.bytes = 0  # moved so far, both ways: "the command is talking"
        self.accepted = 0  # connections so far: "the command is connecting"
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            self.conns += [client, upstream]
            self.accepted += 1
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(16384):
                dst.sendall(data)
                self.bytes += len(data)
                time.sleep(len(data) / self.rate)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.sock.close()
        for s in self.conns:
            with contextlib.suppress(OSError):
                s.close()


class FaultServer:
    """One JetStream server this module may kill or freeze; ``healthy()`` brings it back."""

    def __init__(self, binary: Path, directory: Path) -> None:
        self.binary, self.dir = binary, directory
        self.proc: ServerProcess | None = None
        self.throttle = Throttle(rate=1_000_000)
        self.stopped = False
        self.starts = 0
        self.healthy()

    def healthy(self) -> None:
        if self.stopped and self.proc is not None:
            self.proc.signal(signal.SIGCONT)
            self.stopped = False
        if self.proc is None or not self.proc.running:
            self.proc = ServerProcess.start(
                self.binary, ["-js", "-sd", str(self.dir / "js"), "-a", "127.0.0.1", "-p", "-1",
                              "-m", "-1", "-n", "fault-test"],
                log_file=self.dir / f"nats-server.{self.starts}.log")
            self.starts += 1
            self.proc.wait_ready(15)
            port = int(self.proc.client_url.rsplit(":", 1)[1])
            self.throttle.target = ("127.0.0.1", port)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.signal(signal.SIGKILL)
        wait_for(lambda: not self.proc or not self.proc.running, 10, "the server to die")

    def freeze(self) -> None:
        assert self.proc is not None
        self.proc.signal(signal.SIGSTOP)
        self.stopped = True

    @property
    def direct(self) -> Settings:
        """The server itself (not throttled): what the test uses to look."""
        assert self.proc is not None
        return Settings(servers=(self.proc.client_url,), timeout=5.0)

    def stop(self) -> None:
        self.healthy()
        self.throttle.close()
        if self.proc is not None:
            self.proc.stop(grace=5)


@pytest.fixture(scope="module")
def fault_server(server_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultServer]:
    srv = FaultServer(server_bin, tmp_path_factory.mktemp("fault-server"))
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def srv(fault_server: FaultServer) -> Iterator[FaultServer]:
    """The module's server, running and thawed before and after each case."""
    fault_server.healthy()
    fault_server.throttle.rate = 1_000_000
    yield fault_server
    fault_server.healthy()


def js(srv: FaultServer, fn: Callable[..., Any], *args: Any) -> Any:
    """Run a library call against the server directly (not through the proxy)."""

    async def go() -> Any:
        async with connect(srv.direct) as conn:
            return await fn(conn, *args)

    return asyncio.run(go())


def messages(srv: FaultServer, stream: str) -> int:
    from natsops.jetstream.streams import stream_info

    return int(js(srv, stream_info, stream).messages)


def stream_exists(srv: FaultServer, stream: str) -> bool:
    from natsops.jetstream.streams import stream_exists as exists

    return bool(js(srv, exists, stream))


def natsops(srv: FaultServer, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([NATSOPS, "-s", srv.throttle.url, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def finish(proc: subprocess.Popen[str], timeout: float = FAULT_DEADLINE) -> tuple[int, str]:
    """Exit code and stderr; the process is killed (and the test fails) past ``timeout``."""
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise AssertionError(f"{proc.args} did not exit within {timeout:g}s") from None
    assert "Traceback" not in err and "internal error" not in err, err
    return proc.returncode, err


def first_line(proc: subprocess.Popen[str], timeout: float = 20.0) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "no output from the command"
    return proc.stdout.readline()


FAULTS = ["SIGINT", "SIGTERM", "SIGHUP", "kill", "freeze"]
SIGNAL_EXIT = {"SIGINT": 130, "SIGTERM": 143, "SIGHUP": 129}
SIGNAL_TEXT = {"SIGINT": "interrupted", "SIGTERM": "terminated (SIGTERM)",
               "SIGHUP": "hung up (SIGHUP)"}


def inflict(fault: str, proc: subprocess.Popen[str], srv: FaultServer) -> None:
    if fault in SIGNAL_EXIT:
        proc.send_signal(getattr(signal, fault))  # the command only, as `timeout` or systemd
    elif fault == "kill":
        srv.kill()
    else:
        srv.freeze()


def expect(fault: str, code: int, err: str) -> None:
    """The exit code and message a fault must give."""
    if fault in SIGNAL_EXIT:
        assert code == SIGNAL_EXIT[fault], err
        assert f"error: {SIGNAL_TEXT[fault]}" in err, err
    else:
        assert code == 3, err
        assert any(w in err for w in ("lost", "stalled", "no answer", "closed")), err
        assert "fault-test" in err or "127.0.0.1" in err, err  # names the server


def parts(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.endswith(".part")]


# --- object put / get ------------------------------------------------------------------------

@pytest.fixture
def bucket(srv: FaultServer, unique: Callable[[str], str]) -> Iterator[str]:
    from natsops.jetstream.objects import (
        ObjectBucketOptions,
        add_object_bucket,
        delete_object_bucket,
    )

    name = unique("OB")
    js(srv, add_object_bucket, name, ObjectBucketOptions())
    yield name
    srv.healthy()
    with contextlib.suppress(NotFound):
        js(srv, delete_object_bucket, name)


@pytest.mark.parametrize("fault", FAULTS)
def test_object_put(fault: str, srv: FaultServer, bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "blob.bin"
    src.write_bytes(os.urandom(4_000_000))  # 4 s through the proxy
    srv.throttle.rate = 1_000_000
    proc = natsops(srv, "object", "put", bucket, str(src), "--no-progress", "--chunk-size",
                   "64KiB", "--stall-timeout", STALL)
    wait_for(lambda: messages(srv, f"OBJ_{bucket}") >= 3, what="chunks in the bucket")
    inflict(fault, proc, srv)
    code, err = finish(proc)
    expect(fault, code, err)
    srv.healthy()
    if fault in SIGNAL_EXIT:  # the server is there to purge the chunks: none may be left
        assert "purged the" in err, err
        assert messages(srv, f"OBJ_{bucket}") == 0
    elif fault == "kill":  # nobody could purge: the error says how
        assert f"natsops stream purge OBJ_{bucket} --subject '$O.{bucket}.C." in err, err


def test_a_stop_once_the_metadata_is_sent_keeps_the_complete_object(
        srv: FaultServer, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stopped while the metadata's acknowledgement is on its way: the object is complete, so
    its chunks must not be purged (that would leave metadata pointing at nothing)."""
    from natsops.faults import cleanup_notes
    from natsops.jetstream import objects

    real = objects._Upload._publish

    async def publish_then_stop(self: Any, subject: str, data: bytes,
                                headers: dict[str, str] | None = None) -> None:
        await real(self, subject, data, headers)
        if subject == self.meta:
            raise asyncio.CancelledError  # as a signal landing right there

    monkeypatch.setattr(objects._Upload, "_publish", publish_then_stop)
    src = tmp_path / "whole.bin"
    src.write_bytes(os.urandom(300_000))
    with pytest.raises(asyncio.CancelledError) as info:
        js(srv, objects.put_object, bucket, src)
    assert cleanup_notes(info.value) == [f"the object {bucket} > whole.bin was stored before "
                                         "the stop"]
    monkeypatch.undo()
    got = js(srv, objects.get_object, bucket, "whole.bin", tmp_path / "back.bin")
    assert got.entry.size == 300_000
    assert (tmp_path / "back.bin").read_bytes() == src.read_bytes()


@pytest.fixture
def stored(srv: FaultServer, bucket: str, tmp_path: Path) -> str:
    from natsops.jetstream.objects import put_object

    src = tmp_path / "stored.bin"
    src.write_bytes(os.urandom(4_000_000))
    js(srv, put_object, bucket, src)
    return "stored.bin"


@pytest.mark.parametrize("fault", FAULTS)
def test_object_get(fault: str, srv: FaultServer, bucket: str, stored: str,
                    tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    proc = natsops(srv, "object", "get", bucket, stored, "-O", str(out), "--no-progress",
                   "--stall-timeout", STALL)
    wait_for(lambda: any(p.stat().st_size > 0 for p in parts(out)), what="a growing .part")
    inflict(fault, proc, srv)
    code, err = finish(proc)
    expect(fault, code, err)
    assert list(out.iterdir()) == []  # no .part, no half file under the object's name


def test_object_get_names_the_file_and_writes_stdout(srv: FaultServer, bucket: str,
                                                     stored: str, tmp_path: Path) -> None:
    srv.throttle.rate = 1e9
    out = tmp_path / "dir"
    out.mkdir()
    r = subprocess.run([NATSOPS, "-s", srv.throttle.url, "object", "get", bucket, stored, "-O",
                        str(out), "--no-progress"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert f"wrote {out / stored}:" in r.stderr, r.stderr
    r2 = subprocess.run([NATSOPS, "-s", srv.throttle.url, "object", "get", bucket, stored,
                         "-O", "-"], capture_output=True, timeout=30, cwd=tmp_path)
    assert r2.returncode == 0, r2.stderr
    assert r2.stdout == (out / stored).read_bytes()
    assert not (tmp_path / "-").exists()


# --- stream backup / restore -----------------------------------------------------------------

@pytest.fixture
def filled(srv: FaultServer, unique: Callable[[str], str]) -> Iterator[str]:
    """A stream of ~16 MB: more than a snapshot's 8 MiB window and the socket buffers, so a
    frozen server still has data to send."""
    import nats

    name = unique("FM")

    async def fill() -> None:
        nc = await nats.connect(srv.direct.servers[0])
        jsc = nc.jetstream()
        await jsc.add_stream(name=name, subjects=[f"{name}.>"])
        for _ in range(40):  # incompressible: the snapshot is as big as the data
            await asyncio.gather(*(jsc.publish(f"{name}.x", os.urandom(4000))
                                   for _ in range(100)))
        await nc.close()

    asyncio.run(fill())
    yield name
    srv.healthy()
    from natsops.jetstream.streams import delete_stream

    js(srv, delete_stream, name)


@pytest.mark.parametrize("fault", FAULTS)
def test_stream_backup(fault: str, srv: FaultServer, filled: str, tmp_path: Path) -> None:
    out = tmp_path / "bk"
    out.mkdir()
    srv.throttle.rate = 4_000_000
    proc = natsops(srv, "stream", "backup", filled, str(out / "b.tar"), "--no-progress",
                   "--stall-timeout", STALL)
    wait_for(lambda: any(p.stat().st_size > 100_000 for p in parts(out)), what="a growing .part")
    inflict(fault, proc, srv)
    code, err = finish(proc)
    expect(fault, code, err)
    assert list(out.iterdir()) == []


@pytest.fixture(scope="module")
def archive(fault_server: FaultServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ~3 MB stream backup, taken once."""
    import nats

    from natsops.backup import backup_stream
    from natsops.jetstream.streams import delete_stream

    fault_server.healthy()
    path = tmp_path_factory.mktemp("archive") / "src.tar"

    async def make() -> None:
        nc = await nats.connect(fault_server.direct.servers[0])
        jsc = nc.jetstream()
        await jsc.add_stream(name="FMSRC", subjects=["fmsrc.>"])
        for _ in range(10):
            await asyncio.gather(*(jsc.publish("fmsrc.x", os.urandom(3000))
                                   for _ in range(100)))
        await nc.close()
        async with connect(fault_server.direct) as conn:
            await backup_stream(conn, "FMSRC", path)
            await delete_stream(conn, "FMSRC")

    asyncio.run(make())
    return path


@pytest.mark.parametrize("fault", FAULTS)
def test_stream_restore(fault: str, srv: FaultServer, archive: Path,
                        unique: Callable[[str], str]) -> None:
    name = unique("FR")
    srv.throttle.rate = 600_000
    proc = natsops(srv, "stream", "restore", str(archive), "--name", name, "--subjects",
                   f"{name}.>", "--no-progress", "--stall-timeout", STALL)
    wait_for(lambda: stream_exists(srv, name), what="the restored stream to appear")
    inflict(fault, proc, srv)
    code, err = finish(proc)
    expect(fault, code, err)
    srv.healthy()
    if fault in SIGNAL_EXIT:
        assert f"the partly restored stream {name} was deleted" in err, err
    else:
        assert f"natsops stream rm {name}" in err or "was deleted" in err, err
        from natsops.jetstream.streams import delete_stream

        js(srv, delete_stream, name)  # what the error told the operator to do
    wait_for(lambda: not stream_exists(srv, name), 10, "no restored stream")


# --- apply ------------------------------------------------------------------------------------

def stderr_until(proc: subprocess.Popen[str], text: str, timeout: float = 20.0) -> str:
    """What the command wrote on stderr up to the line holding ``text``."""
    assert proc.stderr is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 0.2)
        if ready:
            seen.append(proc.stderr.readline())
            if text in seen[-1] or not seen[-1]:
                break
    assert seen and text in seen[-1], f"no {text!r} on stderr: {''.join(seen)}"
    return "".join(seen)


@pytest.mark.parametrize("fault", ["SIGINT", "SIGTERM"])
def test_apply_stopped_after_its_first_step(fault: str, srv: FaultServer,
                                            unique: Callable[[str], str],
                                            tmp_path: Path) -> None:
    from natsops.jetstream.streams import delete_stream

    a, b, c = unique("AP1"), unique("AP2"), unique("AP3")
    recipe = tmp_path / "estate.yaml"
    # ~10 KB of subjects: through a 3 KB/s proxy, the first step's request keeps the way to
    # the server busy for seconds after its reply came back, so the second step is in flight
    many = [f"{a}.s{i:04d}" for i in range(400)]
    recipe.write_text("---\n".join(
        f"kind: Stream\nmetadata: {{name: {n}}}\nspec: {{subjects: {json.dumps(subj)}}}\n"
        for n, subj in ((a, many), (b, [f"{b}.>"]), (c, [f"{c}.>"]))))
    srv.throttle.rate = 3_000
    proc = natsops(srv, "apply", str(recipe))
    seen = stderr_until(proc, f"create Stream {b}")
    inflict(fault, proc, srv)
    code, err = finish(proc)
    expect(fault, code, seen + err)
    errors = [ln for ln in (seen + err).splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, seen + err
    assert (f"apply stopped during create Stream {b} (it may have taken effect); applied: "
            f"create Stream {a}; not run: 1; run apply again to continue") in errors[0], errors
    assert stream_exists(srv, a) and not stream_exists(srv, c)
    srv.throttle.rate = 1_000_000
    again = subprocess.run([NATSOPS, "-s", srv.throttle.url, "apply", str(recipe)],
                           capture_output=True, text=True, timeout=FAULT_DEADLINE)
    assert again.returncode == 0, again.stderr
    assert f"create Stream {c}" in again.stdout and a not in again.stdout, again.stdout
    for n in (a, b, c):
        js(srv, delete_stream, n)


# --- kv watch --------------------------------------------------------------------------------

@pytest.mark.parametrize("fault", [*FAULTS, "bucket deleted"])
def test_kv_watch(fault: str, srv: FaultServer, unique: Callable[[str], str]) -> None:
    from natsops.jetstream.kv import BucketOptions, add_bucket, delete_bucket, put_key

    name = unique("KW")
    js(srv, add_bucket, name, BucketOptions())
    js(srv, put_key, name, "k", b"v")
    proc = natsops(srv, "kv", "watch", name, "--stall-timeout", STALL)
    assert "PUT" in first_line(proc)
    if fault == "bucket deleted":
        js(srv, delete_bucket, name)
        code, err = finish(proc)
        assert code == 4, err
        assert f"bucket {name} was deleted" in err, err
        return
    inflict(fault, proc, srv)
    code, err = finish(proc)
    expect(fault, code, err)
    srv.healthy()
    with contextlib.suppress(NotFound):
        js(srv, delete_bucket, name)


# --- bench -----------------------------------------------------------------------------------

def children(pid: int) -> set[int]:
    """Processes whose parent is ``pid``."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(stat.parent.name))
    return found


@pytest.mark.parametrize("fault", FAULTS)
def test_bench(fault: str, srv: FaultServer) -> None:
    srv.throttle.rate = 2_000_000
    proc = natsops(srv, "bench", "fm.bench", "--msgs", "100000000", "--sub", "1",
                   "--no-progress", "--stall-timeout", STALL)
    workers = wait_for(lambda: len(children(proc.pid)) >= 2 and children(proc.pid),
                       what="bench workers")
    start = srv.throttle.bytes
    wait_for(lambda: srv.throttle.bytes > start + 200_000, what="messages moving")
    inflict(fault, proc, srv)
    code, err = finish(proc)
    expect(fault, code, err)
    wait_for(lambda: not any(is_running(p) for p in workers), 10, "no worker left")


# --- top, doctor -----------------------------------------------------------------------------

@pytest.mark.parametrize("fault", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_top(fault: str, srv: FaultServer) -> None:
    assert srv.proc is not None
    proc = subprocess.Popen([NATSOPS, "top", "--monitor", srv.proc.monitor_url, "-d", "0.2s",
                             "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    assert first_line(proc).startswith("{")
    inflict(fault, proc, srv)
    code, err = finish(proc)
    expect(fault, code, err)


def test_top_refuses_a_delay_that_never_ends(srv: FaultServer) -> None:
    assert srv.proc is not None
    for delay, text in (("1e99", "--delay"), ("2h", "--delay must be above 0s and at most 1h")):
        r = subprocess.run([NATSOPS, "top", "--once", "-d", delay, "--monitor",
                            srv.proc.monitor_url], capture_output=True, text=True, timeout=20)
        assert r.returncode == 2, r.stderr
        assert r.stderr.startswith("error: ") and text in r.stderr.splitlines()[0], r.stderr


@pytest.mark.parametrize("fault", ["SIGTERM", "SIGHUP"])
def test_doctor_waiting_on_a_frozen_server(fault: str, srv: FaultServer) -> None:
    start = srv.throttle.accepted
    srv.freeze()
    proc = natsops(srv, "doctor")
    wait_for(lambda: srv.throttle.accepted > start, what="doctor to connect")
    inflict(fault, proc, srv)
    code, err = finish(proc)
    expect(fault, code, err)


# --- bootstrap -------------------------------------------------------------------------------

@pytest.mark.parametrize("fault", ["SIGTERM", "SIGHUP"])
def test_bootstrap_stops_what_it_started(fault: str, tmp_path: Path, server_bin: Path) -> None:
    from natsops.cluster.local import LocalCluster

    wrapper = tmp_path / "nats-server"  # n1 gets another cluster name: never healthy
    wrapper.write_text("#!/bin/sh\n"
                       f'case "$2" in */n1/*) exec "{server_bin}" "$@" --cluster_name X ;; esac\n'
                       f'exec "{server_bin}" "$@"\n')
    wrapper.chmod(0o755)
    d = tmp_path / "c"
    proc = subprocess.Popen([NATSOPS, "bootstrap", "--base-port", "auto", "--dir", str(d),
                             "--server-bin", str(wrapper), "--wait", "60s"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)

    def pids() -> list[int]:
        out = []
        for p in d.glob("n*/nats-server.pid"):
            with contextlib.suppress(OSError, ValueError):
                out.append(int(p.read_text()))
        return out

    try:
        started = wait_for(lambda: len(pids()) == 3 and all(is_running(p) for p in pids())
                           and pids(), what="3 servers running")
        inflict(fault, proc, None)  # type: ignore[arg-type]
        code, err = finish(proc, 30)
        expect(fault, code, err)
        wait_for(lambda: not any(is_running(p) for p in started), 15, "servers to stop")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if LocalCluster.exists(d):
            LocalCluster.load(d).stop_all(grace=2)
        shutil.rmtree(d, ignore_errors=True)


# --- auth push / verify ----------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["SIGINT", "SIGTERM", "SIGHUP"])
@pytest.mark.parametrize("command", ["push", "verify"])
def test_auth_waiting_on_a_frozen_server(command: str, fault: str,
                                         operator_cluster: Any,  # noqa: F811
                                         auth_store: Any) -> None:  # noqa: F811
    oc = operator_cluster(1)
    proxy = Throttle(rate=1e9)
    proxy.target = ("127.0.0.1", oc.ports["a1"][0])
    proc = oc.procs["a1"]
    try:
        proc.signal(signal.SIGSTOP)
        args = ["push", "--all"] if command == "push" else ["verify"]
        cmd = subprocess.Popen([NATSOPS, "-s", proxy.url, "auth", "--store",
                                str(auth_store.root), *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
        wait_for(lambda: proxy.accepted > 0, what=f"auth {command} to connect")
        cmd.send_signal(getattr(signal, fault))
        code, err = finish(cmd)
        expect(fault, code, err)
    finally:
        proc.signal(signal.SIGCONT)
        proxy.close()


# --- server faults for the commands that read a deployment -----------------------------------
# (doctor, top, auth push/verify, bootstrap) × {server SIGKILL, server SIGSTOP}: the command ends
# on its own within the deadline, with the documented code, naming what did not answer.

@pytest.mark.parametrize("fault", ["kill", "freeze"])
def test_doctor_with_its_server_lost(fault: str, srv: FaultServer) -> None:
    assert srv.proc is not None
    monitor = srv.proc.monitor_url
    inflict(fault, None, srv)  # type: ignore[arg-type]
    for args in (["doctor"], ["doctor", "--monitor", monitor]):
        proc = natsops(srv, *args)
        code, err = finish(proc)
        assert code == 3, (args, err)
        assert err.startswith("error: "), err
        assert "127.0.0.1" in err, err  # names the server (or its monitor) it could not reach


@pytest.mark.parametrize("fault", ["kill", "freeze"])
def test_top_once_with_its_server_lost(fault: str, srv: FaultServer) -> None:
    assert srv.proc is not None
    monitor = srv.proc.monitor_url
    inflict(fault, None, srv)  # type: ignore[arg-type]
    proc = subprocess.Popen([NATSOPS, "top", "--once", "--monitor", monitor],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    code, err = finish(proc)
    assert code == 3, err
    assert "error: " in err and "127.0.0.1" in err, err


@pytest.mark.parametrize("fault", ["kill", "freeze"])
@pytest.mark.parametrize("command", ["push", "verify"])
def test_auth_with_its_server_lost(command: str, fault: str, operator_cluster: Any,  # noqa: F811
                                   auth_store: Any) -> None:  # noqa: F811
    oc = operator_cluster(1)
    proc = oc.procs["a1"]
    try:
        proc.signal(signal.SIGKILL if fault == "kill" else signal.SIGSTOP)
        args = ["push", "--all"] if command == "push" else ["verify"]
        cmd = subprocess.Popen([NATSOPS, "-s", oc.url("a1"), "auth", "--store",
                                str(auth_store.root), *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
        code, err = finish(cmd)
        assert code == 3, err  # no server answered: nothing was pushed or proven
        assert "127.0.0.1" in err, err
    finally:
        if fault == "freeze":
            proc.signal(signal.SIGCONT)


@pytest.mark.parametrize("fault", ["kill", "freeze"])
def test_bootstrap_with_a_node_lost(fault: str, tmp_path: Path, server_bin: Path) -> None:
    """A node killed or frozen while bootstrap waits: either bootstrap brings the cluster up
    anyway (it restarts a node it started that stays behind) and every node is running, or it
    fails and no server is left running. Never a success with a dead node, never leftovers."""
    from natsops.cluster.local import LocalCluster

    d = tmp_path / "c"
    proc = subprocess.Popen([NATSOPS, "bootstrap", "--base-port", "auto", "--dir", str(d),
                             "--wait", "15s", "--no-write-context"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    victim: list[int] = []
    try:
        def n2_pid() -> int | None:
            with contextlib.suppress(OSError, ValueError):
                pid = int((d / "n2" / "nats-server.pid").read_text())
                return pid if is_running(pid) else None
            return None

        pid = wait_for(n2_pid, what="n2 to start")
        victim.append(pid)
        os.kill(pid, signal.SIGKILL if fault == "kill" else signal.SIGSTOP)
        code, err = finish(proc, 60)
        cluster = LocalCluster.load(d) if LocalCluster.exists(d) else None
        if code == 0:
            assert cluster is not None and cluster.running_nodes() == ["n1", "n2", "n3"], err
            if fault == "freeze":  # a frozen node cannot have answered healthz: it was replaced
                assert cluster.pid("n2") != pid, err
        else:
            assert err.startswith("error: ") or "\nerror: " in err, err
            running = cluster.running_nodes() if cluster is not None else []
            assert running == [], (running, err)
    finally:
        for p in victim:
            with contextlib.suppress(OSError):
                os.kill(p, signal.SIGCONT)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if LocalCluster.exists(d):
            LocalCluster.load(d).stop_all(grace=2)
        for p in victim:
            with contextlib.suppress(OSError):
                os.kill(p, signal.SIGKILL)
