"""``natsops stream``: create, change, inspect, list, purge and remove JetStream streams."""

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from natsops.cli import options
from natsops.cli._js import asker, print_names, with_options
from natsops.cli._run import call
from natsops.cli.output import examples
from natsops.cli.prompt import confirm
from natsops.cli.state import want_json

if TYPE_CHECKING:
    from natsops.jetstream.models import StreamInfo
    from natsops.jetstream.streams import StreamListing

app = typer.Typer(
    help="Manage JetStream streams.",
    no_args_is_help=True,
    epilog=examples(
        "natsops stream add ORDERS --subjects 'orders.>' --storage file --replicas 3 "
        "--retention limits --max-age 720h --max-bytes 50GB --discard old --dupe-window 2m "
        "--defaults",
        "natsops stream info ORDERS --json > orders.json",
        "natsops stream edit ORDERS --replicas 3 --dry-run",
        "natsops stream report",
        "natsops stream ls --context natsops-C1"),
)
cluster_app = typer.Typer(help="Stream Raft group operations.", no_args_is_help=True)
app.add_typer(cluster_app, name="cluster")

NameArg = Annotated[str, typer.Argument(help="Stream name", show_default=False)]
ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", help="StreamConfig (or StreamInfo) as JSON or YAML", show_default=False)]
SubjectOpt = Annotated[str | None, typer.Option(
    "--subject", help="Only streams on this subject", show_default=False)]
AllOpt = Annotated[bool, typer.Option("--all", "-a", help="Include KV_ and OBJ_ streams")]


def _stream_flags(
    subjects: Annotated[list[str] | None, typer.Option(
        "--subjects", help="Subjects (repeat, or comma/space separated)",
        show_default=False)] = None,
    description: Annotated[str | None, typer.Option("--description", show_default=False)] = None,
    storage: Annotated[str | None, typer.Option(
        "--storage", help="file or memory", show_default=False)] = None,
    replicas: Annotated[int | None, typer.Option(
        "--replicas", help="Number of replicas (1-5)", show_default=False)] = None,
    retention: Annotated[str | None, typer.Option(
        "--retention", help="limits, interest or work", show_default=False)] = None,
    discard: Annotated[str | None, typer.Option(
        "--discard", help="old or new", show_default=False)] = None,
    discard_per_subject: Annotated[bool | None, typer.Option(
        "--discard-per-subject/--no-discard-per-subject",
        help="Discard new per subject (needs --discard new)", show_default=False)] = None,
    max_msgs: Annotated[int | None, typer.Option(
        "--max-msgs", help="Max messages (-1 unlimited)", show_default=False)] = None,
    max_msgs_per_subject: Annotated[int | None, typer.Option(
        "--max-msgs-per-subject", help="Max messages per subject (-1 unlimited)",
        show_default=False)] = None,
    max_bytes: Annotated[str | None, typer.Option(
        "--max-bytes", help="Max size, e.g. 50GB, 1MiB (-1 unlimited; 1024-based)",
        show_default=False)] = None,
    max_age: Annotated[str | None, typer.Option(
        "--max-age", help="Max message age, e.g. 720h, 1d (-1 unlimited)",
        show_default=False)] = None,
    max_msg_size: Annotated[str | None, typer.Option(
        "--max-msg-size", help="Max message size (-1 unlimited)", show_default=False)] = None,
    max_consumers: Annotated[int | None, typer.Option(
        "--max-consumers", help="Max consumers (-1 unlimited)", show_default=False)] = None,
    dupe_window: Annotated[str | None, typer.Option(
        "--dupe-window", help="Duplicate tracking window, e.g. 2m", show_default=False)] = None,
    compression: Annotated[str | None, typer.Option(
        "--compression", help="none or s2", show_default=False)] = None,
    first_seq: Annotated[int | None, typer.Option(
        "--first-sequence", help="First sequence number", show_default=False)] = None,
    cluster: Annotated[str | None, typer.Option(
        "--cluster", help="Place in this cluster", show_default=False)] = None,
    tags: Annotated[list[str] | None, typer.Option(
        "--tag", help="Placement tags (repeat)", show_default=False)] = None,
    mirror: Annotated[str | None, typer.Option(
        "--mirror", help="Mirror this stream", show_default=False)] = None,
    sources: Annotated[list[str] | None, typer.Option(
        "--source", help="Source from these streams (repeat)", show_default=False)] = None,
    allow_rollup: Annotated[bool | None, typer.Option(
        "--allow-rollup/--no-allow-rollup", show_default=False)] = None,
    deny_delete: Annotated[bool | None, typer.Option(
        "--deny-delete/--no-deny-delete", show_default=False)] = None,
    deny_purge: Annotated[bool | None, typer.Option(
        "--deny-purge/--no-deny-purge", show_default=False)] = None,
    allow_direct: Annotated[bool | None, typer.Option(
        "--allow-direct/--no-allow-direct", help="Direct get (default on with --defaults)",
        show_default=False)] = None,
    allow_mirror_direct: Annotated[bool | None, typer.Option(
        "--allow-mirror-direct/--no-allow-mirror-direct", show_default=False)] = None,
    allow_msg_ttl: Annotated[bool | None, typer.Option(
        "--allow-msg-ttl/--no-allow-msg-ttl", help="Per-message TTLs", show_default=False)] = None,
    subject_del_markers_ttl: Annotated[str | None, typer.Option(
        "--subject-del-markers-ttl", help="TTL of delete markers", show_default=False)] = None,
    ack: Annotated[bool | None, typer.Option(
        "--ack/--no-ack", help="Acknowledge publishes", show_default=False)] = None,
    metadata: Annotated[list[str] | None, typer.Option(
        "--metadata", help="key=value (repeat)", show_default=False)] = None,
) -> None:
    """Signature holder for the flags shared by add and edit."""


def _show_info(info: "StreamInfo") -> None:
    from natsops.cli import output
    from natsops.cli._js import kv_lines, peers_table
    from natsops.units import format_bytes, format_duration

    c = info.config
    output.out().print(f"Stream {info.name} (created {info.created})", markup=False)
    kv_lines([
        ("Subjects", ", ".join(c.get("subjects") or [])),
        ("Description", c.get("description")),
        ("Storage", c.get("storage")), ("Replicas", info.replicas),
        ("Retention", c.get("retention")), ("Discard", c.get("discard")),
        ("Max Messages", c.get("max_msgs")), ("Max Per Subject", c.get("max_msgs_per_subject")),
        ("Max Bytes", format_bytes(int(c.get("max_bytes", -1)))),
        ("Max Age", format_duration(int(c.get("max_age") or 0) / 1e9) if c.get("max_age")
         else "unlimited"),
        ("Max Msg Size", format_bytes(int(c.get("max_msg_size", -1)))),
        ("Duplicate Window", format_duration(int(c.get("duplicate_window") or 0) / 1e9)),
        ("Allow Direct", c.get("allow_direct")), ("Compression", c.get("compression")),
        ("Placement", c.get("placement")), ("Mirror", (c.get("mirror") or {}).get("name")),
        ("Sources", ", ".join(s.get("name", "") for s in c.get("sources") or [])),
        ("Messages", f"{info.messages:,}"), ("Bytes", format_bytes(info.bytes)),
        ("First / Last Seq", f"{info.first_seq} / {info.last_seq}"),
        ("Consumers", info.consumers), ("Deleted", info.num_deleted or None),
        ("Lost", f"{info.lost_msgs} msgs ({info.lost_bytes} B)" if info.lost_msgs else None),
    ])
    if info.cluster and info.cluster.name:
        peers_table(f"cluster {info.cluster.name}", info.cluster)


def _emit_info(info: "StreamInfo", as_json: bool) -> None:
    from natsops.cli import output

    if as_json:
        output.print_json(info.raw)
    else:
        _show_info(info)


@app.command()
@with_options(_stream_flags)
def add(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(
        help="Stream name (or 'name' in --config)", show_default=False)] = None,
    config: ConfigOpt = None,
    defaults: options.Defaults = False,
    dry_run: options.DryRun = False,
    json_out: options.Json = False,
    **kw: object,
) -> None:
    """Create a stream (flags and defaults as natscli's `nats stream add`).

    \b
    Examples:
      natsops stream add ORDERS --subjects 'orders.>' --replicas 3 --max-age 720h \\
          --max-bytes 50GB --defaults
      natsops stream add --config orders.json
      natsops stream add EVENTS --subjects 'events.>' --storage memory --defaults --dry-run
    """
    from natsops.cli import output
    from natsops.jetstream.streams import StreamFlags, add_stream, stream_add_config

    cfg = stream_add_config(name, StreamFlags.from_values(kw), config=config, defaults=defaults,
                            ask=asker())
    if dry_run:
        output.print_json(cfg)
        return
    info = call(ctx, add_stream, cfg)
    _emit_info(info, want_json(ctx, json_out))
    if not want_json(ctx, json_out):
        output.success(f"stream {info.name} created")


@app.command()
@with_options(_stream_flags)
def edit(
    ctx: typer.Context,
    name: NameArg,
    config: ConfigOpt = None,
    dry_run: options.DryRun = False,
    force: options.Force = False,
    wait: options.ReadyWait = "60s",
    json_out: options.Json = False,
    **kw: object,
) -> None:
    """Change a stream's config (shows the diff; e.g. --replicas 3 to scale, then waits until
    every replica is current)."""
    from natsops.cli._js import finish_edit
    from natsops.jetstream.spec import load_config_file
    from natsops.jetstream.streams import StreamFlags, plan_stream_edit

    replace = load_config_file(config) if config else None
    plan = call(ctx, plan_stream_edit, name, StreamFlags.from_values(kw), replace)
    finish_edit(ctx, f"stream {name}", plan, dry_run=dry_run, force=force,
                as_json=want_json(ctx, json_out), wait=wait, confirm=confirm)


@app.command()
def info(ctx: typer.Context, name: NameArg, json_out: options.Json = False) -> None:
    """Show a stream's config, state and replicas (`--json`: the API's StreamInfo)."""
    from natsops.jetstream.streams import stream_info

    _emit_info(call(ctx, stream_info, name), want_json(ctx, json_out))


@app.command("ls")
def ls(
    ctx: typer.Context,
    subject: SubjectOpt = None,
    names: Annotated[bool, typer.Option("--names", "-n", help="Only print names")] = False,
    show_all: AllOpt = False,
    json_out: options.Json = False,
) -> None:
    """List every stream (all API pages; `--json`: an array of names, as natscli)."""
    from natsops.jetstream.streams import report_streams, stream_names, visible_names

    if names or want_json(ctx, json_out):
        print_names(visible_names(call(ctx, stream_names, subject), show_all=show_all),
                    want_json(ctx, json_out))
        return
    _ls_table(call(ctx, report_streams, subject, sort="name", show_all=show_all), subject)


def _ls_table(res: "StreamListing", subject: str | None) -> None:
    from natsops.cli import output
    from natsops.units import format_bytes

    rows = [(s.name, s.config.get("description") or "", s.created[:19], f"{s.messages:,}",
             format_bytes(s.bytes), s.config.get("storage"), s.replicas) for s in res.streams]
    if not rows:
        output.info("no streams" + (f" on subject {subject}" if subject else ""))
    else:
        Col = output.Col
        output.table(f"Streams ({len(rows)})", [
            Col("name"), Col("description", 5, wrap=True), Col("created", 3),
            Col("messages", right=True), Col("size", right=True), Col("storage", 4),
            Col("replicas", 2)], rows)
    _incomplete(res)


def _incomplete(res: "StreamListing") -> None:
    from natsops.cli._js import exit_if_partial

    exit_if_partial("stream(s)", res.missing, res.offline)


@app.command()
def rm(ctx: typer.Context, name: NameArg, force: options.Force = False) -> None:
    """Delete a stream and all its messages (asks unless --force)."""
    from natsops.cli import output
    from natsops.errors import NotFound
    from natsops.jetstream.streams import delete_stream, stream_info

    si = call(ctx, stream_info, name)
    confirm(f"Really delete stream {name} ({si.messages:,} messages)?", force=force)
    if not call(ctx, delete_stream, name):
        raise NotFound(f"stream {name} was deleted by someone else meanwhile")
    output.success(f"stream {name} deleted")


@app.command()
def purge(
    ctx: typer.Context,
    name: NameArg,
    subject: Annotated[str | None, typer.Option(
        "--subject", help="Only this subject", show_default=False)] = None,
    seq: Annotated[int | None, typer.Option(
        "--seq", help="Purge up to (not including) this sequence", show_default=False)] = None,
    keep: Annotated[int | None, typer.Option(
        "--keep", help="Keep this many latest messages", show_default=False)] = None,
    force: options.Force = False,
    json_out: options.Json = False,
) -> None:
    """Remove messages from a stream (asks unless --force)."""
    from natsops.cli import output
    from natsops.jetstream.streams import Purge, purge_stream, stream_info

    what = Purge(subject=subject, seq=seq, keep=keep)
    si = call(ctx, stream_info, name)
    confirm(f"Really purge stream {name} ({si.messages:,} messages)?", force=force)
    n = call(ctx, purge_stream, name, what)
    if want_json(ctx, json_out):
        output.print_json({"stream": name, "purged": n})
        return
    output.success(f"purged {n:,} messages from {name}")


@app.command()
def report(
    ctx: typer.Context,
    subject: SubjectOpt = None,
    sort: Annotated[str, typer.Option(
        "--sort", help="bytes, messages, consumers, name, storage, replicas")] = "bytes",
    show_all: AllOpt = False,
    json_out: options.Json = False,
) -> None:
    """One row per stream: storage, replicas, messages, bytes, consumers, leader, replica health."""
    from natsops.jetstream.streams import report_streams

    res = call(ctx, report_streams, subject, sort=sort, show_all=show_all)
    if want_json(ctx, json_out):
        _report_json(res)
    else:
        _report_tables(res)
    _incomplete(res)


def _report_json(res: "StreamListing") -> None:
    from natsops.cli import output
    from natsops.cli._js import replica_json

    output.print_json({
        "streams": [{"name": s.name, "storage": s.storage, "replicas": s.replicas,
                     "messages": s.messages, "bytes": s.bytes, "consumers": s.consumers,
                     "deleted": s.num_deleted, "lost_msgs": s.lost_msgs,
                     "placement": s.config.get("placement"),
                     "leader": s.cluster.leader if s.cluster else "",
                     "healthy": s.cluster is None or s.cluster.healthy,
                     "peers": replica_json(s.cluster),
                     "sources": output.jsonable(s.sources)} for s in res.streams],
        "missing": list(res.missing), "offline": dict(res.offline)})


def _report_tables(res: "StreamListing") -> None:
    from natsops.cli import output
    from natsops.cli._js import replicas_cell
    from natsops.units import format_bytes

    rows = res.streams
    if not rows and not res.missing and not res.offline:
        output.info("no streams")
        return
    output.info("Obtaining stream stats")
    Col = output.Col
    output.table(f"Stream Report ({len(rows)} streams)",
                 [Col("stream"), Col("storage", 3), Col("placement", 6), Col("consumers", 2),
                  Col("messages", right=True), Col("bytes", right=True), Col("lost", 5),
                  Col("deleted", 4), Col("replicas", 1)],
                 [(s.name, s.storage, _placement(s.config.get("placement")), s.consumers,
                   f"{s.messages:,}", format_bytes(s.bytes), s.lost_msgs, s.num_deleted,
                   replicas_cell(s.cluster) if s.replicas > 1 else (
                       s.cluster.leader if s.cluster else ""))
                  for s in rows])
    replication = [(s.name, src) for s in rows for src in s.sources]
    if replication:
        output.table("Replication Report", ["stream", Col("kind", 2), Col("api prefix", 3),
                                            "source stream", Col("active", 1), "lag",
                                            Col("error", wrap=True)],
                     [(n, src.kind, src.external_api or "", src.name,
                       "never" if src.active_s is None else f"{src.active_s:.2f}s",
                       f"{src.lag:,}", src.error or "") for n, src in replication])
    for n, reason in res.offline.items():
        output.error(f"offline stream {n}: {reason}")


def _placement(p: "Mapping[str, Any] | None") -> str:
    if not p:
        return ""
    parts = []
    if p.get("cluster"):
        parts.append(f"cluster: {p['cluster']}")
    if p.get("tags"):
        parts.append(f"tags: {', '.join(p['tags'])}")
    return " ".join(parts)


@cluster_app.command("step-down")
def step_down(
    ctx: typer.Context,
    name: NameArg,
    preferred: options.Preferred = None,
    json_out: options.Json = False,
) -> None:
    """Make the stream leader step down and wait for the new leader."""
    from natsops.cli._js import step_down_result
    from natsops.jetstream.streams import step_down as do_step_down

    step_down_result("stream", call(ctx, do_step_down, name, preferred=preferred),
                     want_json(ctx, json_out))


@cluster_app.command("balance")
def balance(
    ctx: typer.Context,
    names: Annotated[list[str] | None, typer.Argument(
        help="Only these streams (default: every replicated stream)", show_default=False)] = None,
    dry_run: options.DryRun = False,
    force: options.Force = False,
    json_out: options.Json = False,
) -> None:
    """Move stream leaders so each server leads its share (a plan, then preferred step-downs)."""
    from natsops.cli._balance import balance as run_balance

    run_balance(ctx, "stream", names, dry_run=dry_run, force=force,
                as_json=want_json(ctx, json_out))


@cluster_app.command("peer-info")
def peer_info(ctx: typer.Context, name: NameArg, json_out: options.Json = False) -> None:
    """Show the stream's peers as its leader sees them: current, offline, active, lag."""
    from natsops.cli import output
    from natsops.cli._js import peers_table, replica_json
    from natsops.jetstream.streams import stream_info

    si = call(ctx, stream_info, name)
    if want_json(ctx, json_out):
        output.print_json({"stream": name, "cluster": si.cluster.name if si.cluster else None,
                           "leader": si.cluster.leader if si.cluster else None,
                           "peers": replica_json(si.cluster)})
        return
    peers_table(f"stream {name}" + (f" in cluster {si.cluster.name}" if si.cluster else ""),
                si.cluster)


@cluster_app.command("peer-remove")
def peer_remove(
    ctx: typer.Context,
    name: NameArg,
    peer: Annotated[str, typer.Argument(help="Server name of the peer to remove")],
    force: options.Force = False,
) -> None:
    """Remove a peer from the stream's Raft group; the server places a new replica."""
    from natsops.cli import output
    from natsops.jetstream.streams import peer_remove as do_remove

    confirm(f"Really remove peer {peer} from stream {name}?", force=force)
    call(ctx, do_remove, name, peer)
    output.success(f"peer {peer} removed from stream {name}; a replacement will be placed")


def _add_backup_commands() -> None:
    # `stream backup` / `stream restore` live in cli/backup.py (the backup feature's module)
    from natsops.cli import backup

    backup.register(app)


_add_backup_commands()


# inspect (issue 15): look inside streams ------------------------------------------------------
SeqArg = Annotated[int | None, typer.Argument(help="Message sequence", show_default=False)]
FindEmpty = Annotated[bool, typer.Option("--empty", help="Only those without messages")]
FindIdle = Annotated[str | None, typer.Option(
    "--idle", help="Only those without activity for this long, e.g. 1h", show_default=False)]
FindLeader = Annotated[str | None, typer.Option(
    "--leader", help="Only those led by this server", show_default=False)]
FindReplicas = Annotated[int | None, typer.Option(
    "--replicas", help="Only those with this many replicas", show_default=False)]
FindSubject = Annotated[str | None, typer.Option(
    "--subject", help="Only those on subjects overlapping this one", show_default=False)]


@app.command()
def view(
    ctx: typer.Context,
    name: NameArg,
    subject: Annotated[str | None, typer.Option(
        "--subject", help="Only messages on this subject (wildcards allowed)",
        show_default=False)] = None,
    since: Annotated[str | None, typer.Option(
        "--since", help="Start at messages this recent, e.g. 1h", show_default=False)] = None,
    start_seq: Annotated[int | None, typer.Option(
        "--start-seq", help="Start at this sequence", show_default=False)] = None,
    count: Annotated[int, typer.Option("-n", "--count", help="Show at most this many")] = 25,
    json_out: options.Json = False,
    stall_timeout: options.StallTimeout = "10s",
) -> None:
    """Show messages with headers, sizes and times (binary payloads escaped; `--json`: JSON
    lines with base64 data). Direct gets in batches when the stream allows them."""
    from natsops.cli._inspect import message_printer
    from natsops.cli.output import info
    from natsops.faults import check_stall_timeout
    from natsops.jetstream.inspect import View, view_messages
    from natsops.units import parse_duration

    v = View(subject=subject, start_seq=start_seq, count=count,
             since_s=parse_duration(since, what="--since") if since else None)
    stall = check_stall_timeout(parse_duration(stall_timeout, what="--stall-timeout"))
    n = call(ctx, view_messages, name, v, message_printer(want_json(ctx, json_out)),
             stall_timeout=stall)
    if not n:
        info(f"no messages in stream {name}" + (f" on {subject}" if subject else ""))


@app.command()
def get(
    ctx: typer.Context,
    name: NameArg,
    seq: SeqArg = None,
    last_for: Annotated[str | None, typer.Option(
        "--last-for", "-S", help="The last message on this subject", show_default=False)] = None,
    raw: Annotated[bool, typer.Option("--raw", help="Only the payload bytes")] = False,
    json_out: options.Json = False,
) -> None:
    """Show one message by sequence or the last one on a subject (exit 4 if absent)."""
    from natsops.cli._inspect import message_printer
    from natsops.jetstream.inspect import get_message

    msg = call(ctx, get_message, name, seq, last_for=last_for)
    message_printer(want_json(ctx, json_out), raw=raw)(msg)


@app.command()
def subjects(
    ctx: typer.Context,
    name: NameArg,
    filter_subject: Annotated[str | None, typer.Argument(
        help="Only subjects matching this filter", show_default=False)] = None,
    json_out: options.Json = False,
) -> None:
    """Messages per subject, most first (`--json`: an object subject -> count)."""
    from natsops.cli._inspect import subjects_out
    from natsops.jetstream.inspect import subject_counts

    rows = call(ctx, subject_counts, name, filter_subject)
    subjects_out(name, rows, want_json(ctx, json_out))


@app.command()
def rmm(
    ctx: typer.Context,
    name: NameArg,
    seq: Annotated[int, typer.Argument(help="Sequence of the message to erase")],
    force: options.Force = False,
) -> None:
    """Securely erase one message (asks unless --force; exit 4 if it is not there)."""
    from natsops.cli import output
    from natsops.jetstream._api import check_name
    from natsops.jetstream.inspect import delete_message

    check_name(name)
    confirm(f"Really erase message {seq} from stream {name}?", force=force)
    call(ctx, delete_message, name, seq)
    output.success(f"message {seq} erased from stream {name}")


@app.command()
def find(
    ctx: typer.Context,
    empty: FindEmpty = False,
    idle: FindIdle = None,
    leader: FindLeader = None,
    replicas: FindReplicas = None,
    subject: FindSubject = None,
    json_out: options.Json = False,
) -> None:
    """Names of the streams that have every given property (`--json`: an array)."""
    from natsops.cli._inspect import names_out
    from natsops.jetstream.inspect import StreamFilter, find_streams
    from natsops.units import parse_duration

    f = StreamFilter(empty=empty, leader=leader, replicas=replicas, subject=subject,
                     idle_s=parse_duration(idle, what="--idle") if idle else None)
    names_out(call(ctx, find_streams, f), want_json(ctx, json_out))


@app.command()
def state(ctx: typer.Context, name: NameArg, json_out: options.Json = False) -> None:
    """One health line: messages, bytes, sequences, leader, current replicas, consumers,
    last message."""
    from natsops.cli._inspect import state_out
    from natsops.jetstream.inspect import stream_state

    state_out(call(ctx, stream_state, name), want_json(ctx, json_out))
