"""`natsops sizing` through Typer's runner."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from natsops.cli.main import app

runner = CliRunner()
EXAMPLE = ["sizing", "--msgs-per-sec", "10000", "--msg-size", "1KB", "--retention", "7d",
           "--streams", "10", "--consumers", "20", "--connections", "500", "--fan-out", "2"]


def test_table_output_shows_reasoning_and_config() -> None:
    r = runner.invoke(app, EXAMPLE)
    assert r.exit_code == 0, r.output
    assert "ceil(10 streams x R3 / 3 nodes)" in r.stdout
    assert "max_file_store: 7450GB" in r.stdout
    assert "assumptions:" in r.stderr


def test_json_output() -> None:
    r = runner.invoke(app, [*EXAMPLE, "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["result"]["nodes"] == 3
    assert doc["result"]["disk_per_server"] == 9_998_100_000_000
    assert doc["cost"] is None
    assert doc["jetstream_config"].startswith("jetstream {")


def test_cost_with_price_file(tmp_path: Path) -> None:
    prices = tmp_path / "p.yaml"
    prices.write_text("vcpu_month: 10\nmanaged_per_connection_month: 2\n")
    r = runner.invoke(app, [*EXAMPLE, "--cost", "--prices", str(prices), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["cost"]["compute"] > 0
    prices.write_text("bogus: 1\n")
    r = runner.invoke(app, [*EXAMPLE, "--prices", str(prices)])
    assert r.exit_code == 2
    assert "unknown price keys" in r.stderr


def test_bad_input_is_one_line_exit_2() -> None:
    r = runner.invoke(app, ["sizing", "--msg-size", "1KB"])
    assert r.exit_code == 2
    assert "--retention" in r.stderr
    assert "Traceback" not in r.output
    r = runner.invoke(app, ["sizing", "--retention", "7x"])
    assert r.exit_code == 2
    r = runner.invoke(app, ["sizing", "--retention", "1d", "--nodes", "many"])
    assert r.exit_code == 2
