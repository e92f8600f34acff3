"""``natsops server``: the servers of a deployment, from one Snapshot ($SYS or HTTP monitors)."""

from typing import TYPE_CHECKING, Annotated, Any

import typer

from natsops.cli._snapshot import snapshot
from natsops.cli.options import ClusterDir, Expect, Force, Json, Monitor, Transport
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
# ---- reports: connections, accounts, links, health; acting: kick, config reload (reports) ----

Sort = Annotated[str, typer.Option("--sort", help="in-msgs, out-msgs, in-bytes, out-bytes, "
                                   "pending, subs, uptime, idle or rtt (largest first)")]
Top = Annotated[int, typer.Option("--top", "-n", help="Show this many connections")]


def _dur(seconds: float) -> str:
    from natsops.units import format_duration

    return f"{seconds * 1000:.1f}ms" if seconds < 1 else format_duration(seconds)


def _gathered(ctx: typer.Context, opts: Any, monitor: Any, directory: Any, transport: str,
              expect: int) -> Any:
    return snapshot(ctx, opts, monitor=monitor, directory=directory, transport=transport,
                    expect=expect)


@report_app.command("connections")
def report_connections(
    ctx: typer.Context,
    sort: Sort = "in-msgs",
    account: Annotated[str, typer.Option(help="Only this account's connections")] = "",
    subject: Annotated[str, typer.Option(help="Only connections subscribed to receive it")] = "",
    name: Annotated[str, typer.Option(help="Only connections whose name contains it")] = "",
    state: Annotated[str, typer.Option(help="open or closed (recently closed)")] = "open",
    top: Top = 25,
    expect: Expect = 0,
    monitor: Monitor = None,
    directory: ClusterDir = None,
    transport: Transport = "auto",
    json_out: Json = False,
) -> None:
    """Client connections of every server: top talkers first, slow ones flagged (SLOW)."""
    from natsops.cli import output
    from natsops.monitoring.reports import connection_rows, connections_gather

    opts = connections_gather(sort, top, account=account, subject=subject, name=name,
                              state=state)
    snap = _gathered(ctx, opts, monitor, directory, transport, expect)
    rows, total, missing = connection_rows(snap, sort=sort, top=top, name=name, subject=subject,
                                           state=state)
    if want_json(ctx, json_out):
        output.print_json({"connections": rows, "matched": total, "missing": missing})
    else:
        _print_conns(rows, total)
    _servers_incomplete(missing)


def _print_conns(rows: Any, total: int) -> None:
    from natsops.cli import output

    Col = output.Col
    output.table(f"{len(rows)} of {total} connection(s)",
                 [Col("SERVER"), Col("CID"), Col("NAME"), Col("ACCOUNT", 3), Col("IP", 8),
                  Col("SUBS", 6), Col("PENDING", 2), Col("IN MSGS"), Col("OUT MSGS"),
                  Col("IN BYTES", 4), Col("OUT BYTES", 4), Col("RTT", 7), Col("UPTIME", 9),
                  Col("IDLE", 9), Col("LANG", 10), Col("NOTE", 1)],
                 [(r.server, r.cid, r.name, r.account, f"{r.ip}:{r.port}", f"{r.subs:,}",
                   _size(r.pending), f"{r.in_msgs:,}", f"{r.out_msgs:,}", _size(r.in_bytes),
                   _size(r.out_bytes), _dur(r.rtt_s), _dur(r.uptime_s), _dur(r.idle_s),
                   f"{r.lang} {r.version}".strip(),
                   " ".join(x for x in ("SLOW" if r.slow else "", r.reason) if x))
                  for r in rows])


def _link_report(ctx: typer.Context, what: str, monitor: Any, directory: Any, transport: str,
                 expect: int, json_out: bool) -> None:
    from natsops.cli import output
    from natsops.monitoring.gather import GatherOptions
    from natsops.monitoring.reports import LINK_PARTS, link_rows

    opts = GatherOptions(parts=("varz", LINK_PARTS[what]), jsz_detail=False,
                         config_files=False)
    rows, missing = link_rows(_gathered(ctx, opts, monitor, directory, transport, expect), what)
    if want_json(ctx, json_out):
        output.print_json({what: rows, "missing": missing})
    else:
        Col = output.Col
        output.table(f"{len(rows)} {what[:-1]} connection(s)",
                     [Col("SERVER"), Col("KIND", 5), Col("REMOTE"), Col("ACCOUNT", 6),
                      Col("IP", 7), Col("RTT"), Col("PENDING"), Col("IN MSGS", 2),
                      Col("OUT MSGS", 2), Col("IN BYTES", 3), Col("OUT BYTES", 3),
                      Col("SUBS", 4), Col("UPTIME", 8), Col("DETAIL", 9)],
                     [(r.server, r.kind, r.remote, r.account, f"{r.ip}:{r.port}",
                       _dur(r.rtt_s), _size(r.pending), f"{r.in_msgs:,}", f"{r.out_msgs:,}",
                       _size(r.in_bytes), _size(r.out_bytes), f"{r.subs:,}",
                       _dur(r.uptime_s), r.detail) for r in rows])
    _servers_incomplete(missing)


@report_app.command("routes")
def report_routes(ctx: typer.Context, expect: Expect = 0, monitor: Monitor = None,
                  directory: ClusterDir = None, transport: Transport = "auto",
                  json_out: Json = False) -> None:
    """Every route of every server: the remote's name, RTT, pending bytes, traffic."""
    _link_report(ctx, "routes", monitor, directory, transport, expect, json_out)


@report_app.command("gateways")
def report_gateways(ctx: typer.Context, expect: Expect = 0, monitor: Monitor = None,
                    directory: ClusterDir = None, transport: Transport = "auto",
                    json_out: Json = False) -> None:
    """Every gateway connection (outbound and inbound) of every server."""
    _link_report(ctx, "gateways", monitor, directory, transport, expect, json_out)


@report_app.command("leafnodes")
def report_leafnodes(ctx: typer.Context, expect: Expect = 0, monitor: Monitor = None,
                     directory: ClusterDir = None, transport: Transport = "auto",
                     json_out: Json = False) -> None:
    """Every leafnode connection: the remote server's name, account, RTT, pending bytes."""
    _link_report(ctx, "leafnodes", monitor, directory, transport, expect, json_out)


@report_app.command("health")
def report_health(ctx: typer.Context, expect: Expect = 0, monitor: Monitor = None,
                  directory: ClusterDir = None, transport: Transport = "auto",
                  json_out: Json = False) -> None:
    """/healthz of every server, every JetStream failure listed (exit 1 when one is unhealthy)."""
    from natsops.cli import output
    from natsops.monitoring.reports import HEALTH_GATHER, health_rows

    rows, missing = health_rows(_gathered(ctx, HEALTH_GATHER, monitor, directory, transport,
                                          expect))
    if want_json(ctx, json_out):
        output.print_json({"servers": rows, "missing": missing})
    else:
        output.table("Health", ["SERVER", "STATUS", "CODE", "JETSTREAM",
                                output.Col("META LEADER", 2), output.Col("ERRORS", 1, wrap=True)],
                     [(r.server, r.status, r.code, "yes" if r.jetstream else "no",
                       r.meta_leader, "; ".join(r.errors)) for r in rows])
    _servers_incomplete(missing)
    _unhealthy([r.server for r in rows if r.status != "ok"])


def _unhealthy(names: "list[str]") -> None:
    if names:
        from natsops.errors import ChecksFailed

        raise ChecksFailed(f"unhealthy: {', '.join(names)}", hint="natsops doctor explains why")


@report_app.command("accounts")
def report_accounts(
    ctx: typer.Context,
    account: Annotated[str, typer.Option(help="Only this account")] = "",
    expect: Expect = 0,
    directory: ClusterDir = None,
    json_out: Json = False,
) -> None:
    """Per account, over every server: connections, subscriptions, messages, JetStream usage
    ($SYS.REQ.ACCOUNT.PING.STATZ and PING.JSZ: needs system-account access)."""
    from natsops.cli import output
    from natsops.cli._snapshot import gather_timeout
    from natsops.cli.raft import sys_call
    from natsops.monitoring.reports import account_rows

    wait = gather_timeout(ctx, 3.0)
    rows = sys_call(ctx, directory, lambda c: account_rows(c.nc, expected=expect,
                                                           account=account, timeout=wait))
    if want_json(ctx, json_out):
        output.print_json(rows)
    else:
        _print_accounts(rows)


def _print_accounts(rows: Any) -> None:
    from natsops.cli import output

    Col = output.Col
    output.table("Accounts", [Col("ACCOUNT"), Col("SERVERS", 7), Col("CONNS"), Col("LEAFS", 6),
                              Col("SUBS", 1), Col("SENT MSGS", 2), Col("RECV MSGS", 2),
                              Col("SENT BYTES", 5), Col("RECV BYTES", 5), Col("SLOW", 3),
                              Col("JS MEM", 4), Col("JS FILE", 4), Col("STREAMS", 3),
                              Col("CONSUMERS", 3)],
                 [(r.account, ",".join(r.servers), f"{r.connections:,}", f"{r.leafnodes:,}",
                   f"{r.subscriptions:,}", f"{r.sent_msgs:,}", f"{r.received_msgs:,}",
                   _size(r.sent_bytes), _size(r.received_bytes), f"{r.slow_consumers:,}",
                   _size(r.js_memory), _size(r.js_storage), f"{r.js_streams:,}",
                   f"{r.js_consumers:,}") for r in rows])


request_app = typer.Typer(help="Act on one server over the system account.",
                          no_args_is_help=True)
app.add_typer(request_app, name="request")
config_app = typer.Typer(help="The servers' configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@request_app.command("kick")
def request_kick(
    ctx: typer.Context,
    cid: Annotated[int, typer.Argument(help="Client connection id (CID, from `server report "
                                       "connections`)")],
    server: Annotated[str, typer.Option("--server-name", help="The server the CID belongs to "
                                        "(CIDs are per server)")] = "",
    force: Force = False,
    directory: ClusterDir = None,
    json_out: Json = False,
) -> None:
    """Disconnect one client connection ($SYS.REQ.SERVER.<id>.KICK, nats-server 2.10+)."""
    from natsops.cli import output
    from natsops.cli.prompt import confirm
    from natsops.cli.raft import sys_call
    from natsops.monitoring.reports import kick

    confirm(f"Disconnect client connection {cid}{' on ' + server if server else ''}?",
            force=force)
    r = sys_call(ctx, directory, lambda c: kick(c.nc, cid, server=server))
    if want_json(ctx, json_out):
        output.print_json(r)
    else:
        output.success(f"kicked connection {r.cid} ({r.name or 'unnamed'}, account "
                       f"{r.account or '?'}) on {r.server}: {r.reason or 'close not seen yet'}")


@config_app.command("reload")
def config_reload(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Server name")],
    directory: ClusterDir = None,
    json_out: Json = False,
) -> None:
    """Reload one server's config ($SYS.REQ.SERVER.<id>.RELOAD), then check that the digest it
    runs is its config file's (when the file is known here: a local cluster)."""
    from natsops.cli import output
    from natsops.cli._run import run
    from natsops.cli._snapshot import settings_for
    from natsops.monitoring.reports import reload_server

    r = run(reload_server(settings_for(ctx, directory), name, directory))
    if want_json(ctx, json_out):
        output.print_json(r)
    elif r.matches is None:
        output.success(f"{name} reloaded at {r.loaded_at}, running {r.digest} (its config "
                       "file is not known here: digest not compared)")
    else:
        output.success(f"{name} reloaded at {r.loaded_at}, running {r.digest}"
                       + (" = the file's digest" if r.matches else ""))
    _digest_differs(r)


def _digest_differs(r: Any) -> None:
    if r.matches is False:
        from natsops.errors import NatsopsError

        raise NatsopsError(f"{r.server} runs {r.digest} but {r.file} is {r.file_digest}: the "
                           "edit was not applied", hint="a change that needs a restart? see "
                           "the server log")
