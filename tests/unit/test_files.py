"""natsops.files: atomic writes leave the old file or the complete new one, never a temp file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from natsops.files import atomic_write, fsync_dir, write_atomic, write_private


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_write_atomic_creates_and_replaces(tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    write_atomic(f, "one")
    assert f.read_text() == "one"
    write_atomic(f, b"two")
    assert f.read_bytes() == b"two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_modes_follow_the_umask_or_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "plain", "x")
        write_atomic(tmp_path / "secret", "x", private=True)
    finally:
        os.umask(old)
    assert _mode(tmp_path / "plain") == 0o644
    assert _mode(tmp_path / "secret") == 0o600


def test_a_failure_in_the_block_keeps_the_old_file(tmp_path: Path) -> None:
    f = tmp_path / "keep.bin"
    f.write_bytes(b"old")

    def write_then_fail_a_check() -> None:
        with atomic_write(f) as fh:
            fh.write(b"new and wrong")
            raise ValueError("check failed")

    with pytest.raises(ValueError, match="check failed"):
        write_then_fail_a_check()
    assert f.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.bin"]


def test_an_interrupt_leaves_no_file(tmp_path: Path) -> None:
    f = tmp_path / "never"

    def interrupted() -> None:
        with atomic_write(f, private=True) as fh:
            fh.write(b"partial")
            assert next(p.name for p in tmp_path.iterdir()).startswith(".never.")
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    assert list(tmp_path.iterdir()) == []


def test_the_file_is_seekable_and_complete_only_after_the_block(tmp_path: Path) -> None:
    f = tmp_path / "t.bin"
    with atomic_write(f) as fh:
        fh.write(b"\0" * 8 + b"tail")
        fh.seek(0)
        fh.write(b"head")
        assert not f.exists()
    assert f.read_bytes() == b"head" + b"\0" * 4 + b"tail"


def test_write_private_creates_folders(tmp_path: Path) -> None:
    f = tmp_path / "d" / "e" / "secret.txt"
    write_private(f, "x")
    assert f.read_text() == "x" and _mode(f) == 0o600


def test_missing_folder_is_an_error_and_fsync_dir_is_best_effort(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_atomic(tmp_path / "no" / "f", "x")
    fsync_dir(tmp_path / "no")  # nothing to sync: no error
