"""doctor against a standalone JetStream server (the shared ``nats_server`` fixture)."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from natsops.cli.main import app

runner = CliRunner()


def test_non_system_user_gets_a_clear_auth_error(nats_server: Any) -> None:
    res = runner.invoke(app, ["-s", nats_server.url, "doctor"])
    assert res.exit_code == 7
    assert "not a system-account user" in res.stderr
    assert "--monitor URL" in res.stderr


def test_standalone_server_over_http(nats_server: Any) -> None:
    res = runner.invoke(app, ["doctor", "--monitor", nats_server.monitor_url, "--json"])
    doc = json.loads(res.stdout)
    assert res.exit_code == 0, res.output
    assert doc["servers"] == ["natsops-test"]
    assert doc["transport"] == "http"
    assert [f for f in doc["findings"] if f["severity"] in ("warn", "fail")] == []
    rep = runner.invoke(app, ["server", "report", "jetstream", "--monitor",
                              nats_server.monitor_url, "--json"])
    assert rep.exit_code == 0
    assert json.loads(rep.stdout)["peers"] == []
