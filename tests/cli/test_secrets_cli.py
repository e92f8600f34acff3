"""Secrets never reach the terminal: errors, hints, -vv logs, bootstrap output."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from natsops.cli.main import app

runner = CliRunner()


def test_error_and_log_lines_mask_a_url_password(tmp_path: Path) -> None:
    for extra in ([], ["-vv"]):
        r = runner.invoke(app, ["--no-context", "-s", "nats://app:S3cr3t-PW@127.0.0.1:1",
                                "--timeout", "1s", *extra, "stream", "ls"])
        assert r.exit_code == 3, r.output
        assert "S3cr3t-PW" not in r.output
        assert "nats://app:•••@127.0.0.1:1" in r.stderr


def test_bootstrap_dry_run_and_render_only_print_no_password(tmp_path: Path) -> None:
    out = tmp_path / "configs"
    r = runner.invoke(app, ["bootstrap", "--render-only", "--hosts", "a,b,c", "--out", str(out)])
    assert r.exit_code == 0, r.output
    secrets = set()
    for conf in out.glob("*/nats-server.conf"):
        secrets |= set(re.findall(r'password:\s*"([^"]+)"', conf.read_text()))
    assert secrets
    dry = runner.invoke(app, ["bootstrap", "--dry-run", "--dir", str(tmp_path / "c"), "--json"])
    for text in (r.output, dry.output):
        assert not any(s in text for s in secrets)
