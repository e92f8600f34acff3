"""doctor against a standalone JetStream server: its own, so other tests' streams (on the
shared ``nats_server``) cannot change what a healthy server looks like."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from natsops.cli.main import app
from natsops.cluster.process import ServerProcess
from tests.conftest import SingleServer

runner = CliRunner()


@pytest.fixture(scope="module")
def fresh_server(server_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SingleServer]:
    d = tmp_path_factory.mktemp("doctor-single")
    proc = ServerProcess.start(server_bin, ["-js", "-sd", str(d / "js"), "-a", "127.0.0.1", "-p",
                                            "-1", "-m", "-1", "-n", "natsops-test"],
                               log_file=d / "nats-server.log")
    try:
        proc.wait_ready(15)
        yield SingleServer(proc=proc, store_dir=d / "js")
    finally:
        proc.stop(grace=5)


def test_non_system_user_gets_a_clear_auth_error(nats_server: Any) -> None:
    res = runner.invoke(app, ["-s", nats_server.url, "doctor"])
    assert res.exit_code == 7
    assert "not a system-account user" in res.stderr
    assert "--monitor URL" in res.stderr


def test_standalone_server_over_http(fresh_server: Any) -> None:
    res = runner.invoke(app, ["doctor", "--monitor", fresh_server.monitor_url, "--json"])
    doc = json.loads(res.stdout)
    assert res.exit_code == 0, res.output
    assert doc["servers"] == ["natsops-test"]
    assert doc["transport"] == "http"
    assert [f for f in doc["findings"] if f["severity"] in ("warn", "fail")] == []
    rep = runner.invoke(app, ["server", "report", "jetstream", "--monitor",
                              fresh_server.monitor_url, "--json"])
    assert rep.exit_code == 0
    assert json.loads(rep.stdout)["peers"] == []
