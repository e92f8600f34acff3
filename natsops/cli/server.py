"""``natsops server``: the servers of a deployment, from one Snapshot ($SYS or HTTP monitors)."""

from typing import TYPE_CHECKING, Annotated, Any

import typer

from natsops.cli._snapshot import snapshot
from natsops.cli.options import ClusterDir, Expect, Json, Monitor, Transport
from natsops.cli.output import examples
from natsops.cli.state import want_json

if TYPE_CHECKING:
    from natsops.monitoring.views import JetStreamReport, ServerRow

app = typer.Typer(
    help="Inspect the servers of a deployment (system account or HTTP monitors).",
    no_args_is_help=True,
    epilog=examples(
        "natsops server ls --context natsops-C1-sys",
        "natsops server ls --dir .natsops/C1",
        "natsops server info n2 --monitor http://127.0.0.1:8222",
        "natsops server report jetstream --json"),
)
report_app = typer.Typer(help="Reports across all servers.", no_args_is_help=True)
app.add_typer(report_app, name="report")


def _size(n: int) -> str:
    from natsops.units import format_bytes

    return format_bytes(n)


@app.command("ls")
def ls(
    ctx: typer.Context,
    expect: Expect = 0,
    monitor: Monitor = None,
    directory: ClusterDir = None,
    transport: Transport = "auto",
    json_out: Json = False,
) -> None:
    """List every server (like `nats server list`); expected servers that did not answer too."""
    from natsops.cli import output
    from natsops.monitoring.views import LS_GATHER, absent, server_rows

    snap = snapshot(ctx, LS_GATHER, monitor=monitor, directory=directory, transport=transport,
                    expect=expect)
    rows = server_rows(snap)
    if want_json(ctx, json_out):
        output.print_json(rows)
    else:
        _print_rows(rows)
    _servers_incomplete(absent(snap))


def _servers_incomplete(missing: "tuple[str, ...]") -> None:
    from natsops.cli import output

    output.exit_incomplete("expected server(s) did not answer", missing,
                           hint="natsops doctor explains what is wrong")


def _print_rows(rows: "tuple[ServerRow, ...]") -> None:
    from natsops.cli import output

    Col = output.Col
    output.table(None, [Col("NAME"), Col("CLUSTER", 2), Col("HOST", 3), Col("VERSION"),
                        Col("JS", 4), Col("CONNS", 1, right=True), Col("SUBS", 5, right=True),
                        Col("ROUTES", 6, right=True), Col("SLOW", 7, right=True),
                        Col("MEM", 8, right=True), Col("CPU %", 9, right=True),
                        Col("UPTIME", 10), Col("RTT", 11, right=True)],
                 [(r.name, r.cluster, r.host, r.version, r.jetstream,
                   r.connections, r.subscriptions, r.routes, r.slow_consumers, _size(r.mem),
                   f"{r.cpu:.0f}", r.uptime, f"{r.rtt_ms:.1f}ms" if r.rtt_ms is not None
                   else "") if r.answered else (r.name, "", "", "NO ANSWER", *[""] * 9)
                  for r in rows])


@app.command("info")
def info(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Server name (default: every server)",
                                               show_default=False)] = None,
    monitor: Monitor = None,
    directory: ClusterDir = None,
    transport: Transport = "auto",
    json_out: Json = False,
) -> None:
    """Show one server's identity, limits, load, links and JetStream usage."""
    from natsops.cli import output
    from natsops.monitoring.views import INFO_GATHER, absent, server_infos

    snap = snapshot(ctx, INFO_GATHER, monitor=monitor, directory=directory, transport=transport)
    infos = server_infos(snap, name)
    if want_json(ctx, json_out):
        output.print_json(infos[name] if name else infos)
    else:
        for n, sections in infos.items():
            output.out().print(f"[bold]{n}[/]")
            for section, values in sections.items():
                output.table(section.capitalize(), ["KEY", "VALUE"],
                             [(k, _show(k, v)) for k, v in values.items() if v not in (None, "")])
    _servers_incomplete(() if name else absent(snap))  # every server was asked for


def _show(key: str, value: Any) -> str:
    from natsops.units import format_duration

    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        if key in ("mem", "max_memory", "max_storage", "memory", "storage", "max_payload",
                   "max_pending", "reserved_memory", "reserved_storage", "in_bytes",
                   "out_bytes"):
            return _size(value)
        if key in ("ping_interval", "write_deadline"):
            return format_duration(value / 1e9)
        return str(value) if key in ("port", "cores", "gomaxprocs", "ping_max") else f"{value:,}"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


@report_app.command("jetstream")
def report_jetstream(
    ctx: typer.Context,
    expect: Expect = 0,
    monitor: Monitor = None,
    directory: ClusterDir = None,
    transport: Transport = "auto",
    json_out: Json = False,
) -> None:
    """Per-server JetStream usage, and the meta group with its leader and peer state."""
    from natsops.cli import output
    from natsops.monitoring.views import JETSTREAM_GATHER, jetstream_report

    snap = snapshot(ctx, JETSTREAM_GATHER, monitor=monitor, directory=directory,
                    transport=transport, expect=expect)
    rep = jetstream_report(snap)
    if want_json(ctx, json_out):
        output.print_json(rep)
    else:
        _print_report(rep)
    _servers_incomplete(rep.missing)


def _print_report(rep: "JetStreamReport") -> None:
    from natsops.cli import output

    rows = [(f"{r.server}*" if r.meta_leader else r.server, r.cluster, r.domain or "",
             f"{r.streams:,}", f"{r.consumers:,}", f"{r.messages:,}", _size(r.bytes),
             f"{_size(r.memory)} / {_size(r.max_memory)}",
             f"{_size(r.storage)} / {_size(r.max_storage)}", f"{r.api_total:,}",
             f"{r.api_errors:,}", r.meta_pending) for r in rep.rows]
    Col = output.Col
    output.table("JetStream summary (* = meta leader)",
                 [Col("SERVER"), Col("CLUSTER", 3), Col("DOMAIN", 4),
                  *(Col(n, p, right=True) for n, p in (
                      ("STREAMS", 1), ("CONSUMERS", 2), ("MESSAGES", 5), ("BYTES", 6),
                      ("MEMORY", 0), ("FILE", 0), ("API REQ", 7), ("API ERR", 8),
                      ("PENDING", 9)))], rows)
    if rep.peers:
        output.table(f"Meta group (leader {rep.meta_leader}, {rep.cluster_size} peers)",
                     ["NAME", output.Col("PEER", 1), "LEADER", "CURRENT", "ONLINE",
                      output.Col("ACTIVE", 2), output.Col("LAG", 3)],
                     [(p.name, p.peer, "yes" if p.leader else "", "yes" if p.current else "NO",
                       "yes" if p.online else "NO",
                       "" if p.active_s is None else f"{p.active_s:.2f}s", p.lag)
                      for p in rep.peers])
    elif rep.rows and rep.cluster_size > 1:
        output.error(f"no meta leader found: {len(rep.rows)} of {rep.cluster_size} JetStream "
                     "servers answered; JetStream needs a majority up")


def _add_raft_commands() -> None:
    # `server raft step-down|peer-remove` live in cli/raft.py (the meta group's module)
    from natsops.cli.raft import app as raft_app

    app.add_typer(raft_app, name="raft",
                  short_help="The JetStream meta group: leader step-down, removing a server.")


_add_raft_commands()


# ---- server watch (events helper) ------------------------------------------------------------
_WATCH_COLS = (("SERVER", 0), ("CONNS", 0), ("SUBS", 3), ("SLOW", 1), ("SLOW NEW", 0),
               ("MSGS IN/s", 0), ("MSGS OUT/s", 0), ("BYTES IN/s", 2), ("BYTES OUT/s", 2),
               ("MEM", 4), ("CPU %", 4))


def _watch_table(frame: Any) -> "tuple[list[Any], list[tuple[Any, ...]]]":
    from natsops.cli.output import Col

    def rate(v: float | None) -> str:
        return "" if v is None else f"{v:,.0f}"

    rows = [(s["server"], s["connections"], s["subscriptions"], s["slow_consumers"],
             f"+{s['slow_new']}" if s["slow_new"] else "", rate(s["in_msgs_rate"]),
             rate(s["out_msgs_rate"]), _size(int(s["in_bytes_rate"] or 0)) + "/s",
             _size(int(s["out_bytes_rate"] or 0)) + "/s", _size(s["mem"]), s["cpu"])
            for s in frame.servers]
    return [Col(n, p, right=n != "SERVER") for n, p in _WATCH_COLS], rows


async def _watch_print(frames: Any, as_json: bool) -> Any:
    import contextlib
    import json

    from natsops.cli import output

    last = None
    async with contextlib.aclosing(frames):
        async for frame in frames:
            last = frame
            if as_json:
                output.out().file.write(json.dumps(output.jsonable(frame), sort_keys=True) + "\n")
                output.out().file.flush()
                continue
            cols, rows = _watch_table(frame)
            output.table(f"servers at {frame.time[11:19]} UTC", cols, rows)
            if frame.missing:
                output.error(f"did not answer: {', '.join(frame.missing)}")
    return last


@app.command("watch")
def watch(
    ctx: typer.Context,
    interval: Annotated[str, typer.Option("--interval", "-i", help="Refresh interval")] = "1s",
    count: Annotated[int, typer.Option("--count", help="Refreshes to show, then exit (0: until "
                                       "Ctrl-C); exit 11 if the last one misses a server")] = 0,
    monitor: Monitor = None,
    directory: ClusterDir = None,
    transport: Transport = "auto",
    json_out: Annotated[bool, typer.Option("--json", "-j", help="One JSON document per "
                                           "refresh")] = False,
) -> None:
    """Per-server rates, live: msgs and bytes in/out per second, connections, slow consumers.

    A server that stops answering is named under the table and the watch goes on; when none
    answers it exits 3. Ctrl-C: exit 130.

    \b
    Examples:
      natsops server watch --dir .natsops/C1
      natsops server watch --monitor http://127.0.0.1:8222 -i 5s --count 3 --json
    """
    from natsops.cli._run import run
    from natsops.cli._snapshot import settings_for
    from natsops.events import server_watch
    from natsops.units import parse_duration

    frames = server_watch(settings_for(ctx, directory), count=count, monitors=tuple(monitor or ()),
                          interval=parse_duration(interval, what="--interval"),
                          cluster_dir=directory, transport=transport)
    last = run(_watch_print(frames, want_json(ctx, json_out)))
    _servers_incomplete(last.missing if count and last else ())
