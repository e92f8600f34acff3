"""A new user's first steps that need no server: a fresh home, a dangling context selection."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from natsops.cli.main import app

from ._helpers import one_line_error

runner = CliRunner()


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def _home() -> Path:
    return Path(os.environ["HOME"])


def test_auth_store_is_created_on_a_fresh_home() -> None:
    home = _home()
    assert not (home / ".local").exists()  # a fresh container's home
    r = runner.invoke(app, ["auth", "operator", "add", "DEMO", "--sys"])
    assert r.exit_code == 0, r.output
    for d in (home / ".local", home / ".local" / "share", home / ".local" / "share" / "natsops"):
        assert _mode(d) == 0o700, d
    assert (home / ".local/share/natsops/stores/DEMO/DEMO.jwt").is_file()


@pytest.mark.parametrize("how", ["xdg", "store"])
def test_auth_store_parents_are_created(how: str, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    if how == "xdg":
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "x" / "data"))
        args, root = [], tmp_path / "x" / "data" / "natsops"
    else:
        args, root = ["--store", str(tmp_path / "new" / "dir" / "x")], tmp_path / "new/dir/x"
    r = runner.invoke(app, ["auth", *args, "operator", "add", "DEMO", "--sys"])
    assert r.exit_code == 0, r.output
    assert _mode(root) == 0o700 and _mode(root.parent) == 0o700
    r = runner.invoke(app, ["auth", *args, "account", "add", "APP"])
    assert r.exit_code == 0, r.output


def test_selected_context_that_does_not_exist_is_named() -> None:
    nats_dir = Path(os.environ["XDG_CONFIG_HOME"]) / "nats"
    nats_dir.mkdir(parents=True)
    (nats_dir / "context.txt").write_text("natsops-gone\n")
    r = runner.invoke(app, ["stream", "ls"])
    line = one_line_error(r, 4)
    assert "context 'natsops-gone' is selected" in line and "does not exist" in line
    r = runner.invoke(app, ["--context", "nope", "stream", "ls"])
    assert "context 'nope' not found" in one_line_error(r, 4)
