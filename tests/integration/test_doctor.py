"""doctor against real clusters: each case that can be provoked on loopback is provoked.

Tests that stop servers use their own cluster (module scope, in order); the others use the
shared session cluster with unique names and ``--only`` (other tests leave state there).
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import nats
import pytest
from nats.errors import NoRespondersError
from nats.js.errors import NoStreamResponseError, ServiceUnavailableError
from typer.testing import CliRunner

from natsops.cli.main import app
from natsops.cluster.local import LocalCluster
from natsops.cluster.ready import start_nodes, wait_usable
from natsops.doctor import DoctorOptions, run
from natsops.errors import ExitCode
from tests.conftest import start_test_cluster

pytestmark = pytest.mark.cluster
runner = CliRunner()
T = TypeVar("T")


def doctor(*args: str, pre: tuple[str, ...] = ()) -> tuple[int, dict[str, Any]]:
    res = runner.invoke(app, [*pre, "doctor", "--format", "json", *args])
    assert res.exit_code in (0, 6), (res.exit_code, res.output)
    return res.exit_code, json.loads(res.stdout)


def findings(doc: dict[str, Any], check_id: str) -> list[dict[str, Any]]:
    return [f for f in doc["findings"] if f["id"] == check_id]


def wait_for(fn: Any, timeout: float, what: str) -> Any:
    """Poll ``fn`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def wait_healthy(c: LocalCluster, when: str) -> dict[str, Any]:
    """Poll doctor until it exits 0 with nothing above info (a restarted node catches up)."""

    def healthy() -> Any:
        code, doc = doctor("--dir", str(c.dir))
        bad = [f for f in doc["findings"] if f["severity"] in ("warn", "fail")]
        return doc if code == 0 and not bad else None

    return dict(wait_for(healthy, 45, f"doctor healthy {when}"))


@pytest.fixture(scope="module")
def own(server_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A cluster these tests may stop and restart servers of."""
    c = start_test_cluster(tmp_path_factory.mktemp("doctor-own"), server_bin, name="D1")
    try:
        yield c
    finally:
        c.stop_all(grace=5)


# ---- own cluster, in order -----------------------------------------------------------------


def test_healthy_cluster_exits_0_with_nothing_above_info(own: LocalCluster) -> None:
    code, doc = doctor("--dir", str(own.dir))
    assert code == 0
    assert doc["servers"] == ["n1", "n2", "n3"]
    assert doc["missing"] == []
    assert doc["transport"] == "sys"
    assert [f for f in doc["findings"] if f["severity"] not in ("info", "ok")] == []
    # the same over HTTP
    code, doc = doctor("--dir", str(own.dir), "--transport", "http")
    assert code == 0
    assert doc["transport"] == "http"
    assert doc["servers"] == ["n1", "n2", "n3"]
    assert [f for f in doc["findings"] if f["severity"] not in ("info", "ok")] == []


# what a request to a stream or consumer that is not reachable yet raises: nobody listens on
# its subject on the server the client is on (interest still propagating, or no leader yet)
NOT_YET = (NoRespondersError, NoStreamResponseError, ServiceUnavailableError)


async def _retry(call: Callable[[], Awaitable[T]], what: str, timeout: float = 20) -> T:
    """``call()`` again while it gets "no responders" (503), for up to ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await call()
        except NOT_YET as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{what}: still {exc!r} after {timeout}s") from exc
            await asyncio.sleep(0.1)


async def _stream_leader(js: Any, name: str, timeout: float = 20) -> str:
    """The stream's leader, once it has one (a new R3 stream elects it after the create)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        info = await _retry(lambda: js.stream_info(name), f"stream info {name}")
        if info.cluster is not None and info.cluster.leader:
            return str(info.cluster.leader)
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"stream {name} has no leader after {timeout}s")
        await asyncio.sleep(0.1)


async def _publish_all(js: Any, name: str, msgs: int) -> None:
    """Publish ``msgs`` messages; a 503 (nothing stored) is retried, not counted."""
    for i in range(msgs):
        await _retry(lambda i=i: js.publish(f"{name}.x", b"%d" % i), f"publish to {name}")


async def _r3_stream(urls: list[str], name: str, msgs: int) -> str:
    nc = await nats.connect(urls)
    try:
        js = nc.jetstream(timeout=15)
        await js.add_stream(name=name, subjects=[f"{name}.>"], num_replicas=3, max_age=3600)
        await _stream_leader(js, name)
        await _publish_all(js, name, msgs)
        return await _stream_leader(js, name)
    finally:
        await nc.close()


async def _publish(urls: list[str], name: str, msgs: int) -> None:
    nc = await nats.connect(urls)
    try:
        await _publish_all(nc.jetstream(timeout=15), name, msgs)
    finally:
        await nc.close()


def test_stopped_follower_is_offline_then_healthy(own: LocalCluster) -> None:
    name = "LAGGY"
    leader = asyncio.run(_r3_stream(own.client_urls, name, 20))
    victim = next(n.name for n in own.nodes if n.name != leader)
    own.stop_node(victim, grace=10)
    others = [n.client_url for n in own.nodes if n.name != victim]
    asyncio.run(_publish(others, name, 50))

    def offline() -> Any:
        code, doc = doctor("--dir", str(own.dir))
        rep = [f for f in findings(doc, "replicas") if f["subject"] == victim]
        return (code, doc, rep[0]) if rep else None

    code, doc, rep = wait_for(offline, 20, f"a replicas finding for {victim}")
    assert code == ExitCode.FAILED
    assert rep["severity"] == "fail"
    assert rep["evidence"]["state"] == "offline"
    asset = next(a for a in rep["evidence"]["assets"] if a["asset"] == f"APP > {name}")
    assert asset["leader"] == leader
    assert asset["offline"] is True
    assert asset["peer"] == victim
    missing = findings(doc, "servers-missing")
    assert [f["subject"] for f in missing] == [victim]
    assert doc["missing"] == [victim]

    start_nodes(own, [victim])
    asyncio.run(wait_usable(own, timeout=45, probe=False))
    doc = wait_healthy(own, "after the restart")
    assert doc["missing"] == []


def test_frozen_follower_lags_then_catches_up(own: LocalCluster) -> None:
    """SIGSTOP (a VM pause, a long GC): not offline, but behind in the leader's view."""
    name = "FROZEN"
    leader = asyncio.run(_r3_stream(own.client_urls, name, 5))
    meta = doctor("--dir", str(own.dir), "--only", "meta-group")[1]
    assert meta["findings"] == []
    snap_leader = json.loads(runner.invoke(app, ["server", "report", "jetstream", "--dir",
                                                 str(own.dir), "--json"]).stdout)["meta_leader"]
    victim = next(n.name for n in own.nodes if n.name not in (leader, snap_leader))
    proc = own.process(victim)
    assert proc is not None
    proc.signal(signal.SIGSTOP)
    try:
        others = [n.client_url for n in own.nodes if n.name != victim]
        asyncio.run(_publish(others, name, 100))

        def lagging() -> Any:
            code, doc = doctor("--dir", str(own.dir), "--only", "replicas,servers-missing")
            rep = [f for f in findings(doc, "replicas") if f["subject"] == victim]
            return (code, doc, rep[0]) if rep else None

        code, doc, rep = wait_for(lagging, 20, f"{victim} seen behind by the leader")
        asset = next(a for a in rep["evidence"]["assets"] if a["asset"] == f"APP > {name}")
        assert asset["current"] is False
        assert asset["lag"] > 0
        assert victim in doc["missing"]  # a frozen server answers nothing either
        assert code == ExitCode.FAILED
    finally:
        proc.signal(signal.SIGCONT)
    wait_healthy(own, "after SIGCONT")


def test_stopped_server_with_expect_3(own: LocalCluster) -> None:
    victim = own.nodes[2].name
    creds = own.credentials()
    own.stop_node(victim, grace=10)
    try:
        live = [n.client_url for n in own.nodes if n.name != victim]
        pre = ("-s", ",".join(live), "--user", "sys", "--password", creds["sys"])
        code, doc = doctor("--expect", "3", pre=pre)
        assert code == ExitCode.FAILED
        assert victim in doc["missing"]
        # the missing reply costs the silence gap (0.3 s), not the whole timeout
        assert doc["gather_seconds"] < 1.5
        assert any(f["subject"] == victim and f["severity"] == "fail"
                   for f in findings(doc, "servers-missing"))
        # over HTTP, from the monitor URLs only
        mons = [a for n in own.nodes for a in ("--monitor", n.monitor_url)]
        code, doc = doctor("--expect", "3", *mons)
        assert code == ExitCode.FAILED
        assert doc["transport"] == "http"
        assert len(doc["servers"]) == 2
        assert victim in doc["missing"]
        # nagios: CRITICAL, exit 2
        res = runner.invoke(app, [*pre, "doctor", "--expect", "3", "--format", "nagios"])
        assert res.exit_code == 2, res.output
        assert res.stdout.startswith("DOCTOR CRITICAL")
    finally:
        start_nodes(own, [victim])
        asyncio.run(wait_usable(own, timeout=45, probe=False))


# ---- shared cluster ------------------------------------------------------------------------


def test_r1_stream_in_a_cluster_warns(nats_cluster: Any, unique: Any) -> None:
    name = unique("R1")

    async def make() -> None:
        nc = await nats.connect(nats_cluster.urls)
        try:
            js = nc.jetstream(timeout=15)
            await js.add_stream(name=name, subjects=[f"{name}.>"], num_replicas=1, max_age=60)
        finally:
            await nc.close()

    asyncio.run(make())
    d = str(nats_cluster.cluster.dir)
    code, doc = doctor("--dir", d, "--only", "replication-factor")
    hit = [f for f in doc["findings"] if f["subject"] == f"APP > {name}"]
    assert code == 0
    assert hit
    assert hit[0]["severity"] == "warn"
    assert hit[0]["evidence"]["replicas"] == 1
    assert "--replicas 3" in hit[0]["fix"]
    code, _ = doctor("--dir", d, "--only", "replication-factor", "--strict")
    assert code == ExitCode.FAILED
    # the human view: grouped by severity, evidence and fix under each finding
    res = runner.invoke(app, ["doctor", "--dir", d, "--only", "replication-factor"])
    assert res.exit_code == 0
    assert res.stdout.startswith("WARN (")
    assert f"stream APP > {name} is R1" in res.stdout
    assert "evidence: account=APP" in res.stdout
    assert "fix: `natsops stream edit" in res.stdout
    assert "1 checks: 0 fail" in res.stderr


async def test_consumer_never_acking_is_stalled(nats_cluster: Any, unique: Any) -> None:
    from nats.js.api import AckPolicy, ConsumerConfig

    name = unique("ACKS")
    nc = await nats.connect(nats_cluster.urls)
    try:
        js = nc.jetstream(timeout=15)
        await js.add_stream(name=name, subjects=[f"{name}.>"], num_replicas=3, max_age=60)
        await _stream_leader(js, name)
        await _publish_all(js, name, 10)
        sub = await js.pull_subscribe(f"{name}.>", durable="LAZY", config=ConsumerConfig(
            max_ack_pending=2, ack_policy=AckPolicy.EXPLICIT, ack_wait=300))
        await _consumer_leader(js, name, "LAZY")  # a new R3 consumer: no leader, 503 on fetch
        got = await _retry(lambda: sub.fetch(2, timeout=5), "fetch")  # received, never acked
        assert len(got) == 2
        # the consumer's replicated state can trail the fetch for a moment: poll, with a deadline
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            report = await run(nats_cluster.sys_settings,
                               DoctorOptions(only=("consumer-ack-window",)))
            hit = [f for f in report.findings if f.subject == f"APP > {name} > LAZY"]
            if (hit and hit[0].evidence["num_ack_pending"] == 2) or \
                    asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.2)
        assert hit, report.findings
        ev = hit[0].evidence
        assert ev["num_ack_pending"] == 2
        assert ev["max_ack_pending"] == 2
        assert ev["num_pending"] == 8
        assert report.exit_code() == ExitCode.FAILED
        await js.delete_stream(name)
    finally:
        await nc.close()


async def _consumer_leader(js: Any, stream: str, name: str, timeout: float = 20) -> str:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        info = await _retry(lambda: js.consumer_info(stream, name), f"consumer info {name}")
        if info.cluster is not None and info.cluster.leader:
            return str(info.cluster.leader)
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"consumer {stream} > {name} has no leader after {timeout}s")
        await asyncio.sleep(0.1)


def _stuck_subscriber(host: str, port: int, name: str, subject: str) -> socket.socket:
    """A raw client that subscribes and then never reads (a tiny receive buffer)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((host, port))
    s.settimeout(5)
    buf = b""
    while b"\r\n" not in buf:
        buf += s.recv(4096)
    connect = json.dumps({"name": name, "verbose": False, "pedantic": False, "lang": "raw"})
    s.sendall(f"CONNECT {connect}\r\nSUB {subject} 1\r\nPING\r\n".encode())
    buf = b""
    while b"PONG" not in buf:
        buf += s.recv(4096)
    return s


async def test_subscriber_that_never_reads_is_a_named_slow_consumer(
        nats_cluster: Any, unique: Any) -> None:
    node = nats_cluster.cluster.nodes[0]
    name = unique("stuck-sub")
    subject = f"slow.{name}"
    sock = _stuck_subscriber("127.0.0.1", node.client_port, name, subject)
    nc = await nats.connect(node.client_url, pending_size=256 * 1024 * 1024)
    try:
        payload = b"x" * 65536
        for _ in range(1600):  # 100 MiB: well past the default max_pending of 64 MiB
            await nc.publish(subject, payload)
        await nc.flush(timeout=30)
        opts = DoctorOptions(only=("slow-consumers",), cluster_dir=nats_cluster.cluster.dir)
        deadline = time.monotonic() + 20
        hit: list[Any] = []
        while not hit and time.monotonic() < deadline:
            report = await run(None, opts)
            hit = [f for f in report.findings if f.evidence.get("name") == name
                   and f.severity.label == "fail"]
            if not hit:
                await asyncio.sleep(0.2)
        assert hit, report.findings
        ev = hit[0].evidence
        assert ev["server"] == node.name
        assert ev["account"] == "APP"
        assert "Slow Consumer" in str(ev.get("reason", "")) or ev["pending_pct"] > 75
        assert report.exit_code() == ExitCode.FAILED
    finally:
        await nc.close()
        sock.close()


def test_config_edited_but_not_reloaded(own: LocalCluster) -> None:
    path = own.config_path("n1")
    path.write_text(path.read_text() + "\nmax_payload: 2MB\n")
    code, doc = doctor("--dir", str(own.dir), "--only", "config-reload")
    assert code == 0
    (hit,) = findings(doc, "config-reload")
    assert hit["subject"] == "n1"
    assert hit["severity"] == "warn"
    assert hit["evidence"]["file_digest"] != hit["evidence"]["running_digest"]
    assert doctor("--dir", str(own.dir), "--only", "config-reload", "--strict")[0] == 6
    proc = own.process("n1")
    assert proc is not None
    proc.reload()
    wait_for(lambda: not doctor("--dir", str(own.dir), "--only", "config-reload")[1]["findings"],
             10, "the reload to be seen")


def test_sample_gathers_twice_and_library_runs_from_a_script(nats_cluster: Any) -> None:
    code, doc = doctor("--dir", str(nats_cluster.cluster.dir), "--sample", "0.3s",
                       "--only", "servers-missing,meta-group,slow-consumers")
    assert doc["sampled_seconds"] == 0.3
    assert doc["requests"] == 22  # two gatherings of 11 $SYS requests
    assert doc["missing"] == []
    assert code in (0, 6)  # slow-consumer tests may have left a recent disconnect
    # a CI script: asyncio.run(natsops.doctor.run(settings, ...))
    report = asyncio.run(run(nats_cluster.sys_settings, DoctorOptions(expect=3,
                                                                      only=("servers-missing",))))
    assert report.servers == ("n1", "n2", "n3")
    assert report.findings == ()
    assert report.exit_code() == ExitCode.OK


def test_config_dir_compares_files_with_running_servers(own: LocalCluster,
                                                        tmp_path: Path) -> None:
    for n in own.nodes:
        (tmp_path / f"{n.name}.conf").write_text(own.config_path(n.name).read_text())
    live = ",".join(own.client_urls)
    pre = ("-s", live, "--user", "sys", "--password", own.credentials()["sys"])
    code, doc = doctor("--config-dir", str(tmp_path), "--only", "config-reload", pre=pre)
    assert (code, doc["findings"]) == (0, [])
    conf = tmp_path / "n2.conf"
    conf.write_text(conf.read_text() + "\nmax_payload: 2MB\n")
    code, doc = doctor("--config-dir", str(tmp_path), "--only", "config-reload", pre=pre)
    assert [(f["subject"], f["severity"]) for f in doc["findings"]] == [("n2", "warn")]
    conf.write_text(conf.read_text() + "\nnot valid {{{\n")
    code, doc = doctor("--config-dir", str(tmp_path), "--only", "config-reload", pre=pre)
    assert "does not pass `nats-server -t`" in doc["findings"][0]["message"]
