"""``natsops doctor`` argument handling and error paths (no server needed)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from natsops.cli.main import app
from natsops.cluster.process import free_port

runner = CliRunner()


def test_list_checks_as_json() -> None:
    res = runner.invoke(app, ["doctor", "--list", "--json"])
    assert res.exit_code == 0
    ids = {c["id"] for c in json.loads(res.stdout)}
    assert {"servers-missing", "slow-consumers", "replicas", "consumer-ack-window"} <= ids


def test_unknown_format_is_a_usage_error() -> None:
    res = runner.invoke(app, ["doctor", "--format", "xml"])
    assert res.exit_code == 2
    assert "unknown --format 'xml'" in res.stderr


def test_unknown_check_id_is_a_usage_error() -> None:
    res = runner.invoke(app, ["doctor", "--only", "replicas,bogus"])
    assert res.exit_code == 2
    assert "unknown check id(s): bogus" in res.stderr
    assert "Traceback" not in res.output


def test_bad_sample_is_a_usage_error() -> None:
    res = runner.invoke(app, ["doctor", "--sample", "soon"])
    assert res.exit_code == 2


def test_bad_transport_is_a_usage_error() -> None:
    res = runner.invoke(app, ["doctor", "--transport", "smoke-signals"])
    assert res.exit_code == 2


def test_unreachable_monitor_exits_3_with_one_line() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    res = runner.invoke(app, ["doctor", "--monitor", url])
    assert res.exit_code == 3
    assert res.stderr.startswith("error: no server answered")
    assert "Traceback" not in res.output


def test_unreachable_with_nagios_is_unknown() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    res = runner.invoke(app, ["doctor", "--monitor", url, "--format", "nagios"])
    assert res.exit_code == 3
    assert res.stdout.startswith("DOCTOR UNKNOWN: no server answered")


def test_unreachable_nats_server_exits_3() -> None:
    res = runner.invoke(app, ["-s", f"nats://127.0.0.1:{free_port()}", "doctor"])
    assert res.exit_code == 3
    assert "Traceback" not in res.output
