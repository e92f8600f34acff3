"""``natsops top``: a live view of connections (like nats-top), from repeated Snapshots."""

import contextlib
import sys
import threading
from collections.abc import AsyncGenerator, Iterator
from typing import TYPE_CHECKING, Annotated, Any

import typer

from natsops.cli._snapshot import settings_for
from natsops.cli.options import ClusterDir, Monitor, Transport
from natsops.cli.state import want_json
from natsops.monitoring.top import SORTS

if TYPE_CHECKING:
    from natsops.cli.output import Col
    from natsops.monitoring.views import TopFrame

Sort = Annotated[str, typer.Option("--sort", help=f"Sort by: {', '.join(SORTS)}")]
Limit = Annotated[int, typer.Option("--limit", "-n", help="Connections per server")]
Delay = Annotated[str, typer.Option("--delay", "-d", help="Refresh interval")]
Once = Annotated[bool, typer.Option("--once", help="Print one frame (two samples --delay "
                                    "apart, for the rates) and exit")]
JsonLines = Annotated[bool, typer.Option("--json", help="One JSON document per frame (JSON "
                                         "lines)")]


app = typer.Typer()


@app.command("top")
def top(
    ctx: typer.Context,
    sort: Sort = "pending",
    limit: Limit = 20,
    delay: Delay = "1s",
    once: Once = False,
    monitor: Monitor = None,
    directory: ClusterDir = None,
    transport: Transport = "auto",
    json_out: JsonLines = False,
) -> None:
    """Live connections of every server: rates, pending bytes, subscriptions. q quits (Ctrl-C:
    exit 130).

    \b
    Examples:
      natsops top --context natsops-C1-sys
      natsops top --dir .natsops/C1 --sort msgs_from -n 10
      natsops top --once --json | jq '.connections[] | .name'
    """
    from natsops.cli._run import run
    from natsops.monitoring.top import TopOptions, top_frames

    opts = TopOptions.parse(sort=sort, limit=limit, delay=delay, once=once)
    as_json = want_json(ctx, json_out)
    stop = threading.Event()
    frames = top_frames(settings_for(ctx, directory), opts, monitors=tuple(monitor or ()),
                        cluster_dir=directory, transport=transport, stop=stop.is_set)
    # q quits (exit 0); Ctrl-C, SIGTERM and SIGHUP exit 130/143/129 as for every command
    with _keys(stop, enabled=not once and sys.stdin.isatty()):
        last = run(_show_all(frames, sort=sort, once=once, as_json=as_json))
    _incomplete(last if once else None)


def _incomplete(frame: "TopFrame | None") -> None:
    """``--once``: exit 11 when a server that should be in the frame did not answer."""
    from natsops.cli.output import exit_incomplete

    exit_incomplete("expected server(s) did not answer", frame.missing if frame else ())


async def _show_all(frames: "AsyncGenerator[TopFrame, None]", *, sort: str, once: bool,
                    as_json: bool) -> "TopFrame | None":
    """Print every frame: JSON lines, or one refreshing table. Returns the last one."""
    live = None
    last = None
    try:
        async with contextlib.aclosing(frames):
            async for frame in frames:
                last = frame
                if as_json:
                    _emit_json(frame)
                else:
                    live = _show(frame, sort, live, once)
    finally:
        if live is not None:
            live.stop()
    return last


def _emit_json(frame: "TopFrame") -> None:
    import json

    from natsops.cli.output import jsonable

    sys.stdout.write(json.dumps(jsonable(frame), sort_keys=True) + "\n")
    sys.stdout.flush()


def _rate(v: float | None) -> str:
    return "" if v is None else f"{v:,.0f}"


_SERVER_COLS = (("SERVER", 0), ("VERSION", 2), ("CONNS", 0), ("SUBS", 3), ("SLOW", 4),
                ("MEM", 5), ("CPU %", 6), ("MSGS IN/s", 1), ("MSGS OUT/s", 1), ("BYTES IN/s", 7),
                ("BYTES OUT/s", 7))
_CONN_COLS = (("SERVER", 0), ("CID", 0), ("NAME", 0), ("ACCOUNT", 6), ("HOST", 2), ("SUBS", 5),
              ("PENDING", 0), ("MSGS TO", 8), ("MSGS FROM", 8), ("MSGS TO/s", 1),
              ("MSGS FROM/s", 1), ("BYTES TO/s", 7), ("LANG", 9), ("VERSION", 9),
              ("UPTIME", 4), ("IDLE", 3))


def _tables(frame: "TopFrame", sort: str, live: bool
            ) -> "list[tuple[str, list[Col], list[tuple[Any, ...]]]]":
    """The two tables of a frame (servers, connections): title, columns, rows."""
    from natsops.cli.output import Col
    from natsops.units import format_bytes

    def cols(spec: tuple[tuple[str, int], ...], left: tuple[str, ...]) -> list[Col]:
        return [Col(n, p, right=n not in left) for n, p in spec]

    servers = [(s["server"], s["version"], s["connections"], s["subscriptions"],
                s["slow_consumers"], format_bytes(s["mem"]), s["cpu"], _rate(s["in_msgs_rate"]),
                _rate(s["out_msgs_rate"]), _rate(s["in_bytes_rate"]), _rate(s["out_bytes_rate"]))
               for s in frame.servers]
    conns = [(r.server, r.cid, r.name, r.account, r.host, r.subscriptions,
              format_bytes(r.pending_bytes), f"{r.out_msgs:,}", f"{r.in_msgs:,}",
              _rate(r.out_msgs_rate), _rate(r.in_msgs_rate), _rate(r.out_bytes_rate), r.lang,
              r.version, r.uptime, r.idle) for r in frame.connections]
    title = "natsops top  (q or Ctrl-C quits)" if live else "natsops top"
    return [(title, cols(_SERVER_COLS, ("SERVER", "VERSION")), servers),
            (f"connections, sorted by {sort}",
             cols(_CONN_COLS, ("SERVER", "NAME", "ACCOUNT", "HOST", "LANG", "VERSION")), conns)]


def _print_frame(frame: "TopFrame", sort: str) -> None:
    """One frame, printed (``--once``, a pipe, a dumb terminal): tables that fit or plain text."""
    from natsops.cli import output

    for title, cols, rows in _tables(frame, sort, live=False):
        output.table(title, cols, rows)
    if frame.missing:
        output.error(f"did not answer: {', '.join(frame.missing)}")


def _render(frame: "TopFrame", sort: str, width: int) -> Any:
    """One frame for the live view, fitted to ``width`` (hidden columns named below it)."""
    from rich.console import Group
    from rich.text import Text

    from natsops.cli.output import render_table

    parts: list[Any] = []
    hidden: list[str] = []
    for title, cols, rows in _tables(frame, sort, live=True):
        table, gone = render_table(title, cols, rows, width)
        parts.append(table)
        hidden += [h for h in gone if h not in hidden]
    if hidden:
        parts.append(Text(f"not shown at {width} columns: {', '.join(hidden)}", style="dim"))
    if frame.missing:
        parts.append(Text(f"did not answer: {', '.join(frame.missing)}", style="bold red"))
    return Group(*parts)


def _show(frame: "TopFrame", sort: str, live: Any, once: bool) -> Any:
    from rich.live import Live

    from natsops.cli.output import out

    con = out()
    if once or con.is_dumb_terminal or not con.is_terminal:
        # no cursor control (TERM=dumb, a pipe): one frame after the other
        _print_frame(frame, sort)
        return None
    if live is None:
        live = Live(_render(frame, sort, con.width), console=con, auto_refresh=False,
                    screen=False)
        live.start()
    else:
        live.update(_render(frame, sort, con.width), refresh=True)
    return live


@contextlib.contextmanager
def _keys(stop: threading.Event, *, enabled: bool) -> Iterator[None]:
    """Read single keys from the terminal in a thread; 'q' sets ``stop``."""
    if not enabled:
        yield
        return
    import select
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready and sys.stdin.read(1).lower() == "q":
                stop.set()
                return

    tty.setcbreak(fd)
    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(1)
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
