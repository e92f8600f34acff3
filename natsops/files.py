"""Atomic file writes: a temp file beside the target, fsync, rename, fsync of the folder.

Readers of the target see the old file or the complete new one, never a part of it. If anything
fails before the rename (a write, a check in the caller's block, a cancelled task), the temp file
is removed and the target is left as it was. Temp files are hidden and named
``.<name>.<random>.part`` in the target's folder (the same file system, so the rename is atomic).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_write", "fsync_dir", "mkdir_private", "write_atomic", "write_private"]

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def _create_temp(target: Path, mode: int) -> tuple[int, Path]:
    for _ in range(16):
        tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}.part"
        try:
            # the umask applies to ``mode`` as for any new file; 0o600 stays 0o600 or less
            return os.open(tmp, _FLAGS, mode), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {target}")


@contextlib.contextmanager
def atomic_write(path: str | Path, *, private: bool = False) -> Iterator[BinaryIO]:
    """Yield a binary file that replaces ``path`` when the block ends without an exception.

    On a clean exit the data is flushed and fsynced, the temp file is renamed over ``path`` and
    the folder is fsynced. An exception in the block (a failed check included) removes the temp
    file and leaves ``path`` as it was. ``private`` creates the file with mode 0600 (for secrets
    and message data); otherwise the mode is 0666 less the umask. The folder must exist.
    """
    target = Path(path)
    fd, tmp = _create_temp(target, 0o600 if private else 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(target.parent)


def write_atomic(path: str | Path, data: str | bytes, *, private: bool = False) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` atomically; see :func:`atomic_write`."""
    with atomic_write(path, private=private) as fh:
        fh.write(data.encode() if isinstance(data, str) else data)


def write_private(path: str | Path, data: str | bytes) -> None:
    """Write a file readable by its owner only (0600), atomically; creates missing folders."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data, private=True)


def fsync_dir(folder: str | Path) -> None:
    """Make a rename in ``folder`` durable (best effort: some file systems refuse it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def mkdir_private(path: str | Path) -> None:
    """Create ``path`` and every missing parent, each 0700 (the umask does not apply).

    ``Path.mkdir(parents=True)`` gives missing parents the default mode; a fresh home has no
    ``~/.local/share`` or ``~/.config``, and the XDG base directory spec wants them 0700.
    """
    missing = []
    p = Path(path)
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        d.mkdir(mode=0o700, exist_ok=True)
        d.chmod(0o700)
