"""Flags that contradict each other are refused with exit 2 naming both, never resolved silently."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from natsops.cli.main import app

MON = "http://127.0.0.1:9"  # never asked: the refusal comes first


@pytest.mark.parametrize(("args", "names"), [
    (["doctor", "--json", "--format", "nagios"], ["--json", "--format nagios"]),
    (["--json", "doctor", "--format", "nagios"], ["--json", "--format nagios"]),
    (["doctor", "--transport", "sys", "--monitor", MON], ["--transport sys", "--monitor"]),
    (["server", "ls", "--transport", "sys", "--monitor", MON], ["--transport sys", "--monitor"]),
    (["top", "--once", "--transport", "sys", "--monitor", MON], ["--transport sys", "--monitor"]),
    (["sizing", "--window", "5s"], ["--window", "--from-cluster"]),
    (["sizing", "--monitor", MON], ["--monitor", "--from-cluster"]),
    (["sizing", "--transport", "http"], ["--transport", "--from-cluster"]),
])
def test_conflicting_flags_exit_2_naming_both(args: list[str], names: list[str]) -> None:
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, r.stderr
    assert all(n in lines[0] for n in names), lines[0]
    assert r.stdout == ""


def test_json_with_format_json_or_default_is_fine() -> None:
    r = CliRunner().invoke(app, ["doctor", "--json", "--format", "json", "--list"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["sizing", "--msgs-per-sec", "10", "--retention", "1d", "--json"])
    assert r.exit_code == 0, r.output
