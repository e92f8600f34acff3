"""Atomic file writes: a temp file beside the target, fsync, rename, fsync of the folder.

Readers of the target see the old file or the complete new one, never a part of it. If anything
fails before the rename (a write, a check in the caller's block, a cancelled task), the temp file
is removed and the target is left as it was. Temp files are hidden and named
``.<name>.<random>.part`` in the target's folder (the same file system, so the rename is atomic).

Reading files the user named goes through :func:`read_text` / :func:`read_bytes`, and output
paths are checked up front with :func:`check_output_file` / :func:`check_output_dir`: an
unreadable, binary or unwritable path is one :class:`~natsops.errors.UsageError` (exit 2).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from natsops.errors import Conflict, UsageError

__all__ = [
    "atomic_write",
    "check_name_length",
    "check_output_dir",
    "check_output_file",
    "decode_text",
    "fsync_dir",
    "mkdir_private",
    "os_error",
    "read_bytes",
    "read_text",
    "refuse_overwrite",
    "write_atomic",
    "write_private",
]

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


def refuse_overwrite(files: Iterable[tuple[str | Path, str | bytes]], *, force: bool,
                     note: str = "") -> None:
    """Before writing rendered ``files`` (path, content): a :class:`Conflict` naming the first
    that exists with other content, unless ``force``. A file that already holds exactly that
    content is fine (a re-run in CI changes nothing). ``note`` is added to the message."""
    if force:
        return
    for path, data in files:
        p = Path(path)
        raw = data.encode() if isinstance(data, str) else data
        try:
            same = p.read_bytes() == raw
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise UsageError(f"cannot read {p}: {exc.strerror or exc}") from None
        if not same:
            raise Conflict(f"{p} exists with other content; pass --force to overwrite"
                           + (f" ({note})" if note else ""))


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


# --- readers and output checks: OSError/UnicodeDecodeError on user-named paths -> UsageError ---


def os_error(exc: OSError, what: str, path: str | Path | None = None, *,
             verb: str = "read") -> UsageError:
    """The one-line usage error for an OSError on a path the user named (exit 2)."""
    where = path if path is not None else exc.filename
    if isinstance(exc, IsADirectoryError):
        reason = "it is a directory"
    elif isinstance(exc, FileNotFoundError):
        reason = "no such file or directory"
    elif isinstance(exc, NotADirectoryError):
        reason = "a part of the path is not a directory"
    elif isinstance(exc, PermissionError):
        reason = "permission denied"
    else:
        reason = exc.strerror or type(exc).__name__
    return UsageError(f"cannot {verb} {what} {where}: {reason}")


def read_bytes(path: str | Path, *, what: str = "file") -> bytes:
    """Read a file the user named; any OSError becomes a one-line :class:`UsageError`."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise os_error(exc, what, path) from None


def decode_text(data: bytes, *, what: str, path: str | Path) -> str:
    """Decode UTF-8 (a leading BOM is dropped); binary content is a :class:`UsageError`."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{what} {path} is not UTF-8 text (invalid byte at offset {exc.start}): "
                         "is it the right file?") from None


def read_text(path: str | Path, *, what: str = "file") -> str:
    """Read a UTF-8 text file the user named; unreadable or binary is a :class:`UsageError`."""
    return decode_text(read_bytes(path, what=what), what=what, path=path)


def check_output_file(path: str | Path, *, what: str = "output file") -> Path:
    """Fail before any work when ``path`` cannot be written: its folder is missing or not
    writable, or it is a directory. Nothing is created."""
    p = check_name_length(path, what=what)
    if p.is_dir():
        raise UsageError(f"cannot write {what} {p}: it is a directory")
    check_output_dir(p.parent if str(p.parent) else Path("."), what=f"{what}'s folder",
                     create=False)
    if p.exists() and not os.access(p, os.W_OK):
        raise UsageError(f"cannot write {what} {p}: permission denied")
    return p


def check_name_length(path: str | Path, *, what: str = "file") -> Path:
    """File systems refuse names over 255 bytes (NAME_MAX): say so before trying."""
    p = Path(path)
    if len(os.fsencode(p.name)) > 255:
        raise UsageError(f"cannot write {what} {p.name[:40]}…: the file name is longer than "
                         "255 bytes")
    return p


def check_output_dir(path: str | Path, *, what: str = "output folder", create: bool = True) -> Path:
    """Fail before any work when folder ``path`` cannot hold new files. With ``create`` a missing
    folder is fine when its nearest existing parent is writable (the caller creates it)."""
    p = Path(path)
    probe = p
    while not probe.exists():
        if not create:
            raise UsageError(f"cannot write {what} {p}: no such directory")
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise UsageError(f"cannot write {what} {p}: {probe} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write {what} {p}: permission denied on {probe}")
    return p
