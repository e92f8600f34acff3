"""``natsops bench`` flags as given, checked together and turned into :class:`BenchOptions`.

Which flags go with which mode, and what they default to, is decided here (defaults come from
:class:`~natsops.bench.runner.BenchOptions`), so the command only collects them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from natsops.errors import ChecksFailed, UsageError

if TYPE_CHECKING:
    from natsops.bench.runner import BenchOptions
    from natsops.bench.stats import BenchResult

__all__ = ["BenchFlags", "bench_options", "check_outputs", "result_error"]

# Flags that only mean something in some modes: (flags, the modes, how to say them).
_MODE_FLAGS = (
    (("stream", "window", "batch", "sync", "consume"), ("js",), "--js"),
    (("bucket", "keys"), ("kv",), "--kv"),
    (("replicas", "storage", "keep"), ("js", "kv"), "--js or --kv"),
)
# Given only when not None: else BenchOptions' default applies.
_OPTIONAL = ("msgs", "stream", "replicas", "storage", "window", "batch", "kv", "bucket", "keys",
             "consume", "subjects", "payload")


@dataclass(frozen=True)
class BenchFlags:
    """The command line of ``natsops bench``: None (or False) means "not given"."""

    name: str
    pub: int = 1
    sub: int = 0
    msgs: int | None = None
    size: str = "128"
    duration: str | None = None
    subjects: int | None = None
    payload: str | None = None
    request: bool = False
    js: bool = False
    stream: str | None = None
    replicas: int | None = None
    storage: str | None = None
    sync: bool = False
    window: int | None = None
    batch: int | None = None
    keep: bool = False
    kv: str | None = None
    bucket: str | None = None
    keys: int | None = None
    consume: str | None = None
    stall_timeout: str | None = None

    @property
    def mode(self) -> str:
        if sum((self.request, self.js, self.kv is not None)) > 1:
            raise UsageError("--request, --js and --kv are different modes: choose one")
        return ("request" if self.request else "js" if self.js else
                "kv" if self.kv is not None else "core")


def bench_options(f: BenchFlags) -> BenchOptions:
    """Check which flags go together and build the options (defaults from BenchOptions)."""
    from natsops.bench.runner import BenchOptions
    from natsops.units import parse_duration, parse_size

    mode = f.mode
    for names, modes, where in _MODE_FLAGS:
        given = [f"--{n}" for n in names if getattr(f, n) not in (None, False)]
        if given and mode not in modes:
            raise UsageError(f"{', '.join(given)} only apply with {where}")
    if f.sync and (f.window is not None or f.batch is not None):
        raise UsageError("--sync publishes one message at a time: drop --window/--batch")
    if f.duration is not None and f.msgs is not None:
        raise UsageError("give either --msgs or --duration, not both")
    size = parse_size(f.size, what="--size")
    if size < 0:
        raise UsageError(f"invalid --size {f.size!r}")
    kw: dict[str, Any] = {"subject": f.name, "pubs": f.pub, "subs": f.sub, "size": size,
                          "mode": mode, "keep": f.keep}
    if f.duration is not None:
        kw["msgs"], kw["duration"] = None, parse_duration(f.duration, what="--duration")
    if f.sync:
        kw["window"] = kw["batch"] = 1
    if f.stall_timeout is not None:
        kw["stall_timeout"] = parse_duration(f.stall_timeout, what="--stall-timeout")
    kw.update({n: getattr(f, n) for n in _OPTIONAL if getattr(f, n) is not None})
    return BenchOptions(**kw)


def check_outputs(csv_file: str | None, as_json: bool) -> None:
    """Only one document may go to stdout: ``--csv -`` and ``--json`` exclude each other."""
    if csv_file == "-" and as_json:
        raise UsageError("--csv - and --json both write to stdout: give --csv a file")
    if csv_file and csv_file != "-":
        _check_writable(Path(csv_file))


def _check_writable(path: Path) -> None:
    """Fail before the run, not after it, when ``--csv FILE`` cannot be written."""
    if path.is_dir():
        raise UsageError(f"cannot write --csv {path}: it is a directory")
    folder = path.parent
    if not folder.is_dir():
        raise UsageError(f"cannot write --csv {path}: no such directory {folder}")
    if not os.access(path if path.exists() else folder, os.W_OK):
        raise UsageError(f"cannot write --csv {path}: permission denied")


def result_error(result: BenchResult) -> ChecksFailed | None:
    """The error a run with warnings (lost messages, errors) ends with (exit 6), else None."""
    if not result.warnings:
        return None
    more = len(result.warnings) - 1
    return ChecksFailed(result.warnings[0] + (f" (and {more} more)" if more else ""))
