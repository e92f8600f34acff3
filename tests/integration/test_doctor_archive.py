"""doctor --archive / --from / --since and --serve against the shared real cluster.

An archive replays offline to the same findings; --since reports what grew since an earlier
archive; /metrics is checked with prometheus_client's parser (an independent reader of the
text format) against what the JetStream API says.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from natsops.cli.main import app
from natsops.doctor import DoctorOptions
from natsops.doctor.serve import Exporter, serve

pytestmark = pytest.mark.cluster
runner = CliRunner()
SEED = re.compile(rb"S[UAONCXP][A-Z2-7]{56}")
JWT = re.compile(rb"eyJ[\w-]{8,}\.[\w-]{8,}\.")


def doctor(*args: str) -> tuple[int, dict[str, Any]]:
    res = runner.invoke(app, ["doctor", "--format", "json", *args])
    assert res.exit_code in (0, 6), (res.exit_code, res.output)
    return res.exit_code, json.loads(res.stdout)


def archive_bytes(path: Path) -> bytes:
    with tarfile.open(path, "r:gz") as tar:
        return b"".join(tar.extractfile(m).read() for m in tar.getmembers())  # type: ignore[union-attr]


def key(f: dict[str, Any]) -> tuple[Any, ...]:
    return (f["id"], f["severity"], f["subject"], f["message"])


async def make_stream(urls: list[str], name: str, msgs: int, **cfg: Any) -> None:
    nc = await nats.connect(urls)
    try:
        js = nc.jetstream(timeout=15)
        await js.add_stream(name=name, subjects=[f"{name}.>"], **cfg)
        await js.add_consumer(name, durable_name="W", ack_policy="explicit")
        for i in range(msgs):
            await js.publish(f"{name}.x", str(i).encode())
    finally:
        await nc.close()


async def publish(urls: list[str], name: str, msgs: int) -> None:
    nc = await nats.connect(urls)
    try:
        js = nc.jetstream(timeout=15)
        for i in range(msgs):
            await js.publish(f"{name}.y", b"%d" % i)
    finally:
        await nc.close()


def test_archive_then_from_gives_the_same_findings_and_holds_no_secret(
        nats_cluster: Any, unique: Any, tmp_path: Path) -> None:
    name = unique("ARCH")
    asyncio.run(make_stream(nats_cluster.urls, name, 20, num_replicas=1))  # R1: a warn
    d = str(nats_cluster.cluster.dir)
    out = tmp_path / "doctor.tgz"
    code, live = doctor("--dir", d, "--archive", str(out))
    assert live["archive"] == str(out)
    assert [f for f in live["findings"] if f["subject"] == f"APP > {name}"]
    assert (out.stat().st_mode & 0o777) == 0o600
    code2, replay = doctor("--from", str(out))
    assert code2 == code
    assert sorted(map(key, replay["findings"])) == sorted(map(key, live["findings"]))
    assert replay["source"] == str(out) and replay["servers"] == live["servers"]
    human = runner.invoke(app, ["doctor", "--from", str(out)])
    assert f"in archive {out}" in human.stderr
    data = archive_bytes(out)
    for secret in nats_cluster.cluster.credentials().values():
        assert secret.encode() not in data
    assert not SEED.search(data) and not JWT.search(data)
    with tarfile.open(out, "r:gz") as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert names[:2] == ["manifest.json", "snapshot.json"] and "findings.json" in names
    assert {s["name"] for s in manifest["servers"]} == set(live["servers"])
    assert all(s["version"] for s in manifest["servers"])


def test_sampled_archive_keeps_both_gatherings(nats_cluster: Any, tmp_path: Path) -> None:
    out = tmp_path / "sampled.tgz"
    doctor("--dir", str(nats_cluster.cluster.dir), "--sample", "0.2s", "--archive", str(out),
           "--only", "slow-consumers")
    with tarfile.open(out, "r:gz") as tar:
        assert "previous.json" in tar.getnames()
    _, replay = doctor("--from", str(out), "--only", "slow-consumers")
    assert replay["sampled_seconds"] > 0


def test_since_reports_a_backlog_and_a_stream_filling_up(
        nats_cluster: Any, unique: Any, tmp_path: Path) -> None:
    name = unique("TREND")
    asyncio.run(make_stream(nats_cluster.urls, name, 10, num_replicas=3, max_msgs=3000,
                            discard="new"))
    d = str(nats_cluster.cluster.dir)
    base = tmp_path / "yesterday.tgz"
    doctor("--dir", d, "--archive", str(base), "--only", "trends")
    _, quiet = doctor("--dir", d, "--only", "trends")  # no --since: nothing to compare
    assert not [f for f in quiet["findings"] if name in f["subject"]]
    asyncio.run(publish(nats_cluster.urls, name, 1500))
    _, now = doctor("--dir", d, "--since", str(base), "--only", "trends")
    mine = {f["subject"]: f for f in now["findings"] if name in f["subject"]}
    lag = mine[f"APP > {name} > W"]
    assert lag["severity"] == "warn"
    assert lag["evidence"]["before"] == 10 and lag["evidence"]["now"] == 1510
    fill = mine[f"APP > {name}"]
    assert fill["severity"] == "warn" and "publishes will fail" in fill["message"]
    assert fill["evidence"]["limit"] == "max_msgs"


@pytest.mark.parametrize(("args", "words"), [
    (["--from", "{missing}"], ["no such file"]),
    (["--from", "{text}"], ["not a natsops doctor archive"]),
    (["--from", "{dir}"], ["folder"]),
    (["--from", "{tgz}", "--sample", "1s"], ["--from", "--sample"]),
    (["--from", "{tgz}", "--monitor", "http://127.0.0.1:9"], ["--from", "--monitor"]),
    (["--since", "{text}", "--from", "{tgz}"], ["not a natsops doctor archive"]),
    (["--archive", "{dir}", "--monitor", "http://127.0.0.1:9"], ["directory"]),
    (["--serve", ":1", "--from", "{tgz}"], ["--serve", "--from"]),
    (["--serve", "nope:port"], ["HOST:PORT"]),
    (["--serve", ":99999"], ["65535"]),
])
def test_bad_archive_input_is_one_line_exit_2(tmp_path: Path, args: list[str],
                                              words: list[str]) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    tgz = tmp_path / "empty.tgz"
    with tarfile.open(tgz, "w:gz"):
        pass
    paths = {"missing": tmp_path / "nope.tgz", "text": text, "dir": tmp_path, "tgz": tgz}
    res = runner.invoke(app, ["doctor", *[a.format(**paths) for a in args]])
    assert res.exit_code == 2, res.output
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and all(w in errors[0] for w in words), res.stderr
    assert "Traceback" not in res.output and res.stdout == ""


def metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(m: dict[Any, float], name: str, **labels: str) -> float:
    return m[(name, tuple(sorted(labels.items())))]


async def test_metrics_match_the_servers_and_gather_once_per_interval(
        nats_cluster: Any, unique: Any) -> None:
    name = unique("PROM")
    await make_stream(nats_cluster.urls, name, 7, num_replicas=1)
    exporter = Exporter()
    urls: list[str] = []
    task = asyncio.create_task(serve(
        nats_cluster.sys_settings, DoctorOptions(), listen="127.0.0.1:0", interval=60,
        ready=urls.append, exporter=exporter))
    try:
        async with httpx.AsyncClient(timeout=20) as http:
            while not urls:
                await asyncio.sleep(0.02)
            texts = [(await http.get(urls[0])) for _ in range(5)]
            assert all(r.status_code == 200 for r in texts)
            assert texts[0].headers["content-type"].startswith("text/plain; version=0.0.4")
            assert (await http.get(urls[0].replace("/metrics", "/healthz"))).text == "ok\n"
            assert (await http.get(urls[0].replace("/metrics", "/nope"))).status_code == 404
            assert (await http.post(urls[0])).status_code == 405
        assert exporter.gatherings == 1 and exporter.scrapes == 5
        m = metrics(texts[-1].text)
        assert value(m, "natsops_doctor_up") == 1
        assert value(m, "natsops_doctor_servers", state="answered") == 3
        lab = {"account": "APP", "stream": name}
        assert value(m, "natsops_stream_messages", **lab) == 7
        assert value(m, "natsops_stream_replicas", **lab) == 1
        assert value(m, "natsops_consumer_num_pending", consumer="W", **lab) == 7
        assert value(m, "natsops_doctor_finding", check="replication-factor", severity="warn",
                     subject=f"APP > {name}") == 1
        nc = await nats.connect(nats_cluster.urls)
        try:
            info = await nc.jetstream().stream_info(name)
            assert value(m, "natsops_stream_bytes", **lab) == info.state.bytes
            leader = info.cluster.leader if info.cluster else None
        finally:
            await nc.close()
        assert value(m, "natsops_stream_leader", server=str(leader), **lab) == 1
        for server in nats_cluster.cluster.nodes:
            assert value(m, "natsops_server_up", server=server.name, cluster="T1") == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_metrics_say_down_when_no_server_answers() -> None:
    exporter = Exporter()
    urls: list[str] = []
    task = asyncio.create_task(serve(
        None, DoctorOptions(monitors=("http://127.0.0.1:9",), transport="http", timeout=0.5),
        listen=":0", interval=60, ready=urls.append, exporter=exporter))
    try:
        async with httpx.AsyncClient(timeout=20) as http:
            while not urls:
                await asyncio.sleep(0.02)
            assert urls[0].startswith("http://127.0.0.1:")
            text = (await http.get(urls[0])).text
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    m = metrics(text)
    assert value(m, "natsops_doctor_up") == 0
    assert any(k[0] == "natsops_doctor_error" for k in m)


@pytest.fixture
def served(nats_cluster: Any, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    log = tmp_path / "serve.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "natsops.cli.main", "doctor", "--serve", "127.0.0.1:0", "--dir",
             str(nats_cluster.cluster.dir), "--interval", "30s"],
            stdout=fh, stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "80"})
    try:
        yield proc, log
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def test_serve_from_the_cli_then_sigterm(served: tuple[subprocess.Popen[bytes], Path]) -> None:
    proc, log = served
    deadline = time.monotonic() + 30
    while not (found := re.search(r"serving (http://\S+)", log.read_text())):
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    r = httpx.get(found.group(1), timeout=20)
    assert r.status_code == 200 and "natsops_doctor_up 1" in r.text
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 143
    text = log.read_text()
    assert "Traceback" not in text and "error: terminated" in text
