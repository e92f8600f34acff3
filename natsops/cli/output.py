"""Everything the CLI prints goes through here: results to stdout, the rest to stderr."""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


def jsonable(obj: Any) -> Any:
    """Turn dataclasses, paths, enums, tuples into plain JSON values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if not f.name.startswith("_") and f.repr}
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, Path):
        return str(obj)
    return obj


def print_json(data: Any) -> None:
    """Exactly one JSON document on stdout, keys sorted."""
    sys.stdout.write(json.dumps(jsonable(data), sort_keys=True, indent=2) + "\n")
    sys.stdout.flush()


_consoles: dict[str, Console] = {}


def _console(stderr: bool) -> Console:
    key = "err" if stderr else "out"
    if key not in _consoles:
        from rich.console import Console

        stream = sys.stderr if stderr else sys.stdout
        # piped output is not cut at 80 columns: tables stay one line per row
        width = None if stream.isatty() else int(os.environ.get("COLUMNS", "0") or 0) or 200
        _consoles[key] = Console(stderr=stderr, highlight=False, soft_wrap=stderr, width=width,
                                 no_color="NO_COLOR" in os.environ or None)
    return _consoles[key]


def out() -> Console:
    return _console(False)


def err() -> Console:
    return _console(True)


def error(message: str, hint: str | None = None) -> None:
    """One error line (plus an optional hint line) on stderr."""
    from rich.markup import escape

    err().print(f"[bold red]error:[/] {escape(message)}")
    if hint:
        err().print(f"[dim]hint:[/] {escape(hint)}")


def exit_incomplete(what: str, missing: Sequence[str], hint: str | None = None) -> None:
    """After a partial answer was printed: exit 11 (INCOMPLETE) naming what is missing.

    Does nothing when ``missing`` is empty. ``what`` says what they are, e.g. "streams did
    not answer".
    """
    if missing:
        from natsops.errors import Incomplete

        raise Incomplete(f"incomplete: {len(missing)} {what}: {', '.join(missing)}", hint=hint)


def info(message: str) -> None:
    from rich.markup import escape

    err().print(f"[dim]{escape(message)}[/]")


def success(message: str) -> None:
    from rich.markup import escape

    err().print(f"[green]✓[/] {escape(message)}")


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A rich table on stdout."""
    from rich import box
    from rich.table import Table

    t = Table(title=title, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD)
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*("" if v is None else str(v) for v in r))
    out().print(t)


class ByteProgress:
    """A progress bar on stderr for byte transfers (bytes, rate, ETA); a no-op when disabled."""

    def __init__(self, description: str, enabled: bool = True) -> None:
        self.description = description
        self.enabled = enabled and err().is_terminal
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> ByteProgress:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                      DownloadColumn(), TransferSpeedColumn(),
                                      TimeRemainingColumn(), console=err(), transient=True)
            self._progress.start()
            self._task = self._progress.add_task(self.description, total=None)
        return self

    def __call__(self, done: int, total: int | None) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
