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
    exit 130)."""
    from natsops.cli._run import run
    from natsops.monitoring.top import TopOptions, top_frames

    opts = TopOptions.parse(sort=sort, limit=limit, delay=delay, once=once)
    as_json = want_json(ctx, json_out)
    stop = threading.Event()
    frames = top_frames(settings_for(ctx, directory), opts, monitors=tuple(monitor or ()),
                        cluster_dir=directory, transport=transport, stop=stop.is_set)
    # q quits (exit 0); Ctrl-C, SIGTERM and SIGHUP exit 130/143/129 as for every command
    with _keys(stop, enabled=not once and sys.stdin.isatty()):
        run(_show_all(frames, sort=sort, once=once, as_json=as_json))


async def _show_all(frames: "AsyncGenerator[TopFrame, None]", *, sort: str, once: bool,
                    as_json: bool) -> None:
    """Print every frame: JSON lines, or one refreshing table."""
    live = None
    try:
        async with contextlib.aclosing(frames):
            async for frame in frames:
                if as_json:
                    _emit_json(frame)
                else:
                    live = _show(frame, sort, live, once)
    finally:
        if live is not None:
            live.stop()


def _emit_json(frame: "TopFrame") -> None:
    import json

    from natsops.cli.output import jsonable

    sys.stdout.write(json.dumps(jsonable(frame), sort_keys=True) + "\n")
    sys.stdout.flush()


def _rate(v: float | None) -> str:
    return "" if v is None else f"{v:,.0f}"


def _render(frame: "TopFrame", sort: str) -> Any:
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from natsops.units import format_bytes

    head = Table(box=box.SIMPLE_HEAD, header_style="bold", title_justify="left",
                 title="natsops top  (q or Ctrl-C quits)")
    for c in ("SERVER", "VERSION", "CONNS", "SUBS", "SLOW", "MEM", "CPU %", "MSGS IN/s",
              "MSGS OUT/s", "BYTES IN/s", "BYTES OUT/s"):
        head.add_column(c)
    for s in frame.servers:
        head.add_row(s["server"], s["version"], str(s["connections"]), str(s["subscriptions"]),
                     str(s["slow_consumers"]), format_bytes(s["mem"]), str(s["cpu"]),
                     _rate(s["in_msgs_rate"]), _rate(s["out_msgs_rate"]),
                     _rate(s["in_bytes_rate"]), _rate(s["out_bytes_rate"]))
    conns = Table(box=box.SIMPLE_HEAD, header_style="bold", title_justify="left",
                  title=f"connections, sorted by {sort}")
    for c in ("SERVER", "CID", "NAME", "ACCOUNT", "HOST", "SUBS", "PENDING", "MSGS TO",
              "MSGS FROM", "MSGS TO/s", "MSGS FROM/s", "BYTES TO/s", "LANG", "VERSION",
              "UPTIME", "IDLE"):
        conns.add_column(c)
    for r in frame.connections:
        conns.add_row(r.server, str(r.cid), r.name, r.account, r.host, str(r.subscriptions),
                      format_bytes(r.pending_bytes), f"{r.out_msgs:,}", f"{r.in_msgs:,}",
                      _rate(r.out_msgs_rate), _rate(r.in_msgs_rate), _rate(r.out_bytes_rate),
                      r.lang, r.version, r.uptime, r.idle)
    parts: list[Any] = [head, conns]
    if frame.missing:
        parts.append(Text(f"did not answer: {', '.join(frame.missing)}", style="bold red"))
    return Group(*parts)


def _show(frame: "TopFrame", sort: str, live: Any, once: bool) -> Any:
    from rich.live import Live

    from natsops.cli.output import out

    if once or out().is_dumb_terminal or not out().is_terminal:
        # no cursor control (TERM=dumb, a pipe): one frame after the other
        out().print(_render(frame, sort))
        return None
    if live is None:
        live = Live(_render(frame, sort), console=out(), auto_refresh=False, screen=False)
        live.start()
    else:
        live.update(_render(frame, sort), refresh=True)
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
