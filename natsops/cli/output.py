"""Everything the CLI prints goes through here: results to stdout, the rest to stderr."""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import re
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


_consoles: dict[tuple[object, ...], Console] = {}


def _console(stderr: bool) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    # one console per stream and environment (tests swap both between invocations)
    key = (stderr, id(stream), os.environ.get("COLUMNS"), "NO_COLOR" in os.environ,
           os.environ.get("TTY_COMPATIBLE"), os.environ.get("TERM"))
    if key not in _consoles:
        from rich.console import Console

        con = Console(stderr=stderr, highlight=False, no_color="NO_COLOR" in os.environ or None)
        # not a terminal (a pipe, a file): lines are never wrapped nor padded to a width
        con.soft_wrap = stderr or not con.is_terminal
        if len(_consoles) > 8:
            _consoles.clear()
        _consoles[key] = con
    return _consoles[key]


def out() -> Console:
    return _console(False)


def err() -> Console:
    return _console(True)


def error(message: str, hint: str | None = None) -> None:
    """One error line (plus an optional hint line) on stderr, secrets masked (a URL given with
    its password, a token quoted by the server)."""
    from rich.markup import escape

    from natsops.secrets import mask_text

    err().print(f"[bold red]error:[/] {escape(mask_text(message))}")
    if hint:
        err().print(f"[dim]hint:[/] {escape(mask_text(hint))}")


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


@dataclasses.dataclass(frozen=True)
class Col:
    """A table column.

    Cells are never wrapped inside a token: names, URLs, versions, IDs and commands stay whole
    on one line. ``wrap`` marks free text (a message, a description) that may wrap between
    words on a terminal. ``priority`` 0 columns are always shown; on a narrow terminal the
    columns with the highest ``priority`` are left out first (and a footer on stderr says so).
    """

    name: str
    priority: int = 0
    wrap: bool = False
    right: bool | None = None  # None: right-aligned when every cell is a number or a size


_NUMBER = re.compile(r"-?[\d,.]+(\s?[KMGT]?i?B|%|ms|s)?")


def _aligned(cols: Sequence[Col], cells: Sequence[Sequence[str]]) -> list[Col]:
    """``cols`` with ``right`` decided: numbers and sizes line up on the right."""
    out = []
    for i, c in enumerate(cols):
        if c.right is None:
            values = [r[i] for r in cells if r[i]]
            c = dataclasses.replace(c, right=bool(values) and all(
                _NUMBER.fullmatch(v) for v in values))
        out.append(c)
    return out


def cell(value: Any) -> str:
    """How a value reads in a table: nothing for None, yes/no for booleans."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _cols(columns: Sequence[str | Col]) -> list[Col]:
    return [c if isinstance(c, Col) else Col(c) for c in columns]


def _rich_table(title: str | None, cols: Sequence[Col], rows: Sequence[Sequence[str]]) -> Any:
    from rich import box
    from rich.cells import cell_len
    from rich.table import Table
    from rich.text import Text

    t = Table(title=title, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD)
    for i, c in enumerate(cols):
        # rich measures a cell by its longest word: a token cell ("natsops top", "meta leader")
        # gets its whole width as the minimum, so it is never squeezed
        whole = max([cell_len(c.name)] + [cell_len(r[i]) for r in rows])
        # (overflow "ignore" would lose the justification; no cell is narrower than its text)
        t.add_column(Text(c.name, no_wrap=True), no_wrap=not c.wrap, overflow="fold",
                     min_width=cell_len(c.name) if c.wrap else whole,
                     justify="right" if c.right else "left")
    for r in rows:
        t.add_row(*r)
    return t


def render_table(title: str | None, columns: Sequence[str | Col], rows: Sequence[Sequence[Any]],
                 width: int) -> tuple[Any, list[str]]:
    """A rich table that fits ``width`` by leaving out low-priority columns (their names are
    returned); when even the essential columns do not fit, it is wider than ``width`` (the
    terminal wraps the line) rather than breaking a token."""
    from rich.console import Console
    from rich.measure import Measurement

    cells = [[cell(v).replace("\n", " ") for v in r] for r in rows]
    cols = _aligned(_cols(columns), cells)
    keep = list(range(len(cols)))
    hidden: list[str] = []
    probe = Console(width=10_000)

    def build() -> Any:
        return _rich_table(title, [cols[i] for i in keep], [[r[i] for i in keep] for r in cells])

    def empty(i: int) -> bool:
        return not any(r[i] for r in cells)

    table = build()
    # empty columns go first (nothing is lost, nothing to say), then by priority
    droppable = sorted((i for i in keep if cols[i].priority > 0),
                       key=lambda i: (not empty(i), -cols[i].priority, -i))
    for i in droppable:
        if Measurement.get(probe, probe.options, table).minimum <= width:
            break
        keep.remove(i)
        if not empty(i):
            hidden.append(cols[i].name)
        table = build()
    need = Measurement.get(probe, probe.options, table).minimum
    if need > width:
        table.width = need
    return table, hidden


def plain_table(title: str | None, columns: Sequence[str | Col],
                rows: Sequence[Sequence[Any]]) -> str:
    """The piped form: aligned columns, two spaces apart, no trailing spaces, never wrapped."""
    from rich.cells import cell_len

    cells = [[cell(v).replace("\n", " ") for v in r] for r in rows]
    cols = _aligned(_cols(columns), cells)
    widths = [max([cell_len(c.name)] + [cell_len(r[i]) for r in cells])
              for i, c in enumerate(cols)]

    def line(values: Sequence[str]) -> str:
        parts = []
        for v, w, c in zip(values, widths, cols, strict=True):
            pad = " " * (w - cell_len(v))
            parts.append(pad + v if c.right else v + pad)
        return "  ".join(parts).rstrip()

    lines = [title] if title else []
    lines.append(line([c.name for c in cols]))
    lines.extend(line(r) for r in cells)
    return "\n".join(lines) + "\n"


def table(title: str | None, columns: Sequence[str | Col], rows: Sequence[Sequence[Any]]) -> None:
    """A table on stdout: fitted to the terminal, or plain aligned text when piped.

    A row shorter than ``columns`` is padded with empty cells (a server that did not answer
    has a name and little else); a longer one is a bug.
    """
    if any(len(r) > len(columns) for r in rows):
        raise ValueError(f"table {title!r}: a row has more cells than the {len(columns)} columns")
    rows = [tuple(r) + ("",) * (len(columns) - len(r)) for r in rows]
    con = out()
    if not con.is_terminal:
        sys.stdout.write(plain_table(title, columns, rows))
        sys.stdout.flush()
        return
    rendered, hidden = render_table(title, columns, rows, con.width)
    con.print(rendered, crop=False)
    if hidden:
        hidden_note(hidden, con.width)


def hidden_note(hidden: Sequence[str], width: int) -> None:
    """The footer (stderr) naming the columns a narrow terminal left out."""
    info(f"{len(hidden)} column(s) not shown at {width} columns: {', '.join(hidden)} "
         "(a wider terminal, a pipe or --json shows them)")


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


def examples(*commands: str) -> str:
    """A command's help epilog: ``Examples:`` then one command per line, never rewrapped."""
    return "\b\nExamples:\n" + "\n".join(f"  {c}" for c in commands)


# inspect: stream view/get --json print one JSON document per line (JSON lines)
def json_line(data: Any) -> None:
    """One compact JSON document on one line of stdout (JSON lines), keys sorted."""
    sys.stdout.write(json.dumps(jsonable(data), sort_keys=True, separators=(",", ":")) + "\n")
    sys.stdout.flush()
