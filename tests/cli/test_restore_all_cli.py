"""`stream restore --all` and `kv/object edit` arguments: refused before any connection."""

from __future__ import annotations

from pathlib import Path

from natsops.errors import ExitCode
from tests.cli._helpers import natsops, one_line_error

NOWHERE = "nats://127.0.0.1:1"  # nothing listens: a refusal must come before connecting


def test_restore_argument_mistakes_are_one_line_usage_errors(tmp_path: Path) -> None:
    (tmp_path / "bk").mkdir()
    cases = [
        (["stream", "restore"], "--all DIR"),
        (["stream", "restore", "--all", str(tmp_path / "bk"), "--name", "X"], "--all takes"),
        (["stream", "restore", "x.tar", "--all", str(tmp_path / "bk")], "--all takes"),
        (["stream", "restore", "--all", str(tmp_path / "bk")], "no backups"),
        (["stream", "restore", "--all", str(tmp_path / "nope")], "not a folder"),
        (["stream", "restore", str(tmp_path / "x.tar"), "--dry-run"], "--dry-run goes with"),
        (["stream", "restore", "--all", str(tmp_path / "bk"), "--wait", "soon"], "--wait"),
    ]
    for args, text in cases:
        assert text in one_line_error(natsops(NOWHERE, *args), ExitCode.USAGE), args


def test_bucket_edit_lists_its_flags_and_needs_a_change() -> None:
    r = natsops(NOWHERE, "kv", "edit", "--help")
    assert r.exit_code == 0
    for flag in ("--replicas", "--history", "--ttl", "--max-bucket-size", "--max-value-size",
                 "--description", "--cluster", "--tags", "--compress", "--dry-run", "--wait"):
        assert flag in r.stdout, flag
    r = natsops(NOWHERE, "object", "edit", "--help")
    assert "--history" not in r.stdout and "--max-bucket-size" in r.stdout
