"""Every command that reports findings prints the same JSON shape (doctor, lint, backup verify,
auth verify: its test is in auth/test_findings_contract_auth.py, beside the operator-mode
fixtures), and exit codes follow the findings."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from typer.testing import CliRunner

from natsops.backup import open_backup
from natsops.cli.main import app
from natsops.cluster.process import ServerProcess
from tests.conftest import SingleServer

runner = CliRunner()

FINDING_KEYS = {"id", "severity", "title", "subject", "message", "evidence", "fix", "location"}
SEVERITIES = ("fail", "warn", "info", "ok")


def assert_findings_document(doc: Any, code: int) -> None:
    """The one findings document: status, exit_code, counts, findings with the same keys."""
    assert isinstance(doc, dict)
    assert {"status", "exit_code", "counts", "findings"} <= set(doc)
    assert doc["exit_code"] == code
    assert set(doc["counts"]) == set(SEVERITIES)
    assert sum(doc["counts"].values()) == len(doc["findings"])
    seen = [f["severity"] for f in doc["findings"]]
    assert doc["status"] == next((s for s in SEVERITIES if s in seen), "ok")
    for f in doc["findings"]:
        assert set(f) == FINDING_KEYS, f
        assert f["severity"] in SEVERITIES
        assert isinstance(f["id"], str) and f["id"]
        assert isinstance(f["message"], str) and isinstance(f["subject"], str)
        assert isinstance(f["evidence"], dict)
        assert f["fix"] is None or isinstance(f["fix"], str)
        loc = f["location"]
        assert loc is None or (set(loc) == {"file", "line", "column"}
                               and isinstance(loc["file"], str))
        assert doc["counts"][f["severity"]] == seen.count(f["severity"])


def _json(args: list[str], code: int) -> Any:
    r = runner.invoke(app, args)
    assert r.exit_code == code, (args, r.stdout, r.stderr)
    return json.loads(r.stdout)


def test_lint(tmp_path: Path) -> None:
    bad = tmp_path / "bad.conf"
    bad.write_text("port: 4222\nping_interval: 2m\n")
    doc = _json(["lint", "--json", str(bad)], 6)
    assert_findings_document(doc, 6)
    hit = next(f for f in doc["findings"] if f["id"] == "conf/duration-integer")
    assert hit["severity"] == "fail"
    assert hit["location"] == {"file": str(bad), "line": 2, "column": 1}
    assert doc["files"] == {str(bad): "conf"}


@pytest.fixture(scope="module")
def own_server(server_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A server of this module's own: other tests' streams on the shared one (slow consumers,
    R1 streams...) must not turn a healthy verdict into warnings."""
    d = tmp_path_factory.mktemp("contract")
    proc = ServerProcess.start(server_bin, ["-js", "-sd", str(d / "js"), "-a", "127.0.0.1",
                                            "-p", "-1", "-m", "-1", "-n", "contract"],
                               log_file=d / "nats-server.log")
    try:
        proc.wait_ready(15)
        yield SingleServer(proc=proc, store_dir=d / "js")
    finally:
        proc.stop(grace=5)


def test_doctor(own_server: Any) -> None:
    doc = _json(["doctor", "--monitor", own_server.monitor_url, "--json"], 0)
    assert_findings_document(doc, 0)
    assert doc["transport"] == "http"
    human = runner.invoke(app, ["doctor", "--monitor", own_server.monitor_url])
    assert human.exit_code == 0 and "healthy" in human.stderr, human.output


async def _stream(url: str, name: str) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(name=name, subjects=[f"{name}.>"])
        await js.publish(f"{name}.a", b"x")
    finally:
        await nc.close()


def test_backup_verify(nats_server: Any, unique: Any, tmp_path: Path) -> None:
    name = unique("FC")
    asyncio.run(_stream(nats_server.url, name))
    archive = tmp_path / "a.tgz"
    r = runner.invoke(app, ["-s", nats_server.url, "stream", "backup", name, str(archive),
                            "--no-progress"])
    assert r.exit_code == 0, r.stderr
    doc = _json(["stream", "backup", "--verify", str(archive), "--json"], 0)
    assert_findings_document(doc, 0)
    assert doc["manifest"]["stream"] == name
    damaged = tmp_path / "bad.tgz"
    data = bytearray(archive.read_bytes())
    data[open_backup(archive).snapshot_offset + 3] ^= 0x55
    damaged.write_bytes(bytes(data))
    doc = _json(["stream", "backup", "--verify", str(damaged), "--json"], 6)
    assert_findings_document(doc, 6)

