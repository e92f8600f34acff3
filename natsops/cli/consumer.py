"""``natsops consumer``: create, change, inspect, list, fetch from and remove consumers."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from natsops.cli import options
from natsops.cli._js import asker, print_names, with_options
from natsops.cli._run import call
from natsops.cli.output import examples
from natsops.cli.prompt import confirm
from natsops.cli.state import want_json

if TYPE_CHECKING:
    from collections.abc import Sequence

    from natsops.jetstream.consumers import ConsumerListing, FetchedMsg, PauseState
    from natsops.jetstream.models import ConsumerInfo

app = typer.Typer(
    help="Manage JetStream consumers.",
    no_args_is_help=True,
    epilog=examples(
        "natsops consumer add ORDERS workers --pull --filter 'orders.created.>' --ack explicit "
        "--max-deliver 5 --replay instant --defaults",
        "natsops consumer info ORDERS workers",
        "natsops consumer next ORDERS workers --count 10",
        "natsops consumer report ORDERS"),
)
cluster_app = typer.Typer(help="Consumer Raft group operations.", no_args_is_help=True)
app.add_typer(cluster_app, name="cluster")

StreamArg = Annotated[str, typer.Argument(help="Stream name", show_default=False)]
NameArg = Annotated[str, typer.Argument(help="Consumer name", show_default=False)]
ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", help="ConsumerConfig (or ConsumerInfo) as JSON or YAML", show_default=False)]


def _consumer_flags(
    pull: Annotated[bool | None, typer.Option(
        "--pull", help="A pull consumer", show_default=False)] = None,
    target: Annotated[str | None, typer.Option(
        "--target", help="Push consumer: deliver to this subject", show_default=False)] = None,
    deliver_group: Annotated[str | None, typer.Option(
        "--deliver-group", help="Push consumer queue group", show_default=False)] = None,
    deliver: Annotated[str | None, typer.Option(
        "--deliver", help="all, new, last, subject, a sequence or a duration",
        show_default=False)] = None,
    ack: Annotated[str | None, typer.Option(
        "--ack", help="none, all or explicit", show_default=False)] = None,
    wait: Annotated[str | None, typer.Option(
        "--wait", help="Ack wait, e.g. 30s", show_default=False)] = None,
    max_deliver: Annotated[int | None, typer.Option(
        "--max-deliver", help="Max deliveries (-1 unlimited)", show_default=False)] = None,
    max_pending: Annotated[int | None, typer.Option(
        "--max-pending", "--max-ack-pending", help="Max unacknowledged messages",
        show_default=False)] = None,
    backoff: Annotated[str | None, typer.Option(
        "--backoff", help="linear or none", show_default=False)] = None,
    backoff_steps: Annotated[int | None, typer.Option(
        "--backoff-steps", help="Backoff steps [10]", show_default=False)] = None,
    backoff_min: Annotated[str | None, typer.Option(
        "--backoff-min", help="First backoff [1m]", show_default=False)] = None,
    backoff_max: Annotated[str | None, typer.Option(
        "--backoff-max", help="Last backoff [20m]", show_default=False)] = None,
    filters: Annotated[list[str] | None, typer.Option(
        "--filter", help="Filter subjects (repeat)", show_default=False)] = None,
    replay: Annotated[str | None, typer.Option(
        "--replay", help="instant or original", show_default=False)] = None,
    sample: Annotated[int | None, typer.Option(
        "--sample", help="Ack sampling percentage", show_default=False)] = None,
    heartbeat: Annotated[str | None, typer.Option(
        "--heartbeat", help="Push idle heartbeat", show_default=False)] = None,
    flow_control: Annotated[bool | None, typer.Option(
        "--flow-control/--no-flow-control", help="Push flow control", show_default=False)] = None,
    headers_only: Annotated[bool | None, typer.Option(
        "--headers-only/--no-headers-only", show_default=False)] = None,
    max_waiting: Annotated[int | None, typer.Option(
        "--max-waiting", help="Max queued pull requests", show_default=False)] = None,
    max_pull_batch: Annotated[int | None, typer.Option(
        "--max-pull-batch", show_default=False)] = None,
    max_pull_expire: Annotated[str | None, typer.Option(
        "--max-pull-expire", show_default=False)] = None,
    max_pull_bytes: Annotated[str | None, typer.Option(
        "--max-pull-bytes", show_default=False)] = None,
    inactive_threshold: Annotated[str | None, typer.Option(
        "--inactive-threshold", show_default=False)] = None,
    memory: Annotated[bool | None, typer.Option(
        "--memory/--no-memory", help="Keep consumer state in memory", show_default=False)] = None,
    replicas: Annotated[int | None, typer.Option(
        "--replicas", help="Replicas (0 = as the stream)", show_default=False)] = None,
    description: Annotated[str | None, typer.Option("--description", show_default=False)] = None,
    metadata: Annotated[list[str] | None, typer.Option(
        "--metadata", help="key=value (repeat)", show_default=False)] = None,
    pause: Annotated[str | None, typer.Option(
        "--pause", help="Paused until (duration or time)", show_default=False)] = None,
) -> None:
    """Signature holder for the flags shared by add and edit."""


def _show(ci: "ConsumerInfo") -> None:
    from natsops.cli import output
    from natsops.cli._js import kv_lines, peers_table
    from natsops.units import format_duration

    c = ci.config
    output.out().print(f"Consumer {ci.stream} > {ci.name} (created {ci.created})", markup=False)
    kv_lines([
        ("Mode", "pull" if ci.is_pull else f"push to {c.get('deliver_subject')}"),
        ("Durable", "yes" if c.get("durable_name") else "no (ephemeral)"),
        ("Description", c.get("description")),
        ("Deliver Group", c.get("deliver_group")),
        ("Filter", ", ".join([c["filter_subject"]] if c.get("filter_subject")
                             else c.get("filter_subjects") or [])),
        ("Deliver Policy", c.get("deliver_policy")), ("Ack Policy", c.get("ack_policy")),
        ("Ack Wait", format_duration(int(c.get("ack_wait") or 0) / 1e9)),
        ("Max Deliver", c.get("max_deliver")), ("Max Ack Pending", c.get("max_ack_pending")),
        ("Backoff", ", ".join(format_duration(b / 1e9) for b in c.get("backoff") or [])),
        ("Replay Policy", c.get("replay_policy")),
        ("Paused", f"until {c.get('pause_until')}" if ci.paused else None),
        ("Pending", f"{ci.num_pending:,}"), ("Ack Pending", f"{ci.num_ack_pending:,}"),
        ("Redelivered", f"{ci.num_redelivered:,}"), ("Waiting Pulls", ci.num_waiting),
        ("Last Delivered Seq", ci.delivered_stream_seq), ("Ack Floor Seq", ci.ack_floor_stream_seq),
        ("Last Delivery", ci.last_delivery),
    ])
    if ci.cluster and ci.cluster.name:
        peers_table(f"cluster {ci.cluster.name}", ci.cluster)


def _emit_info(ci: "ConsumerInfo", as_json: bool) -> None:
    from natsops.cli import output

    if as_json:
        output.print_json(ci.raw)
    else:
        _show(ci)


@app.command()
@with_options(_consumer_flags)
def add(
    ctx: typer.Context,
    stream: StreamArg,
    name: Annotated[str | None, typer.Argument(
        help="Consumer name (or 'durable_name' in --config)", show_default=False)] = None,
    config: ConfigOpt = None,
    defaults: options.Defaults = False,
    ephemeral: Annotated[bool, typer.Option(
        "--ephemeral", help="Not durable: removed after --inactive-threshold")] = False,
    dry_run: options.DryRun = False,
    json_out: options.Json = False,
    **kw: object,
) -> None:
    """Create a consumer (flags and defaults as natscli's `nats consumer add`)."""
    from natsops.cli import output
    from natsops.jetstream.consumers import ConsumerFlags, add_consumer, consumer_add_config

    cfg = consumer_add_config(name, ConsumerFlags.from_values(kw), config=config,
                              defaults=defaults, ephemeral=ephemeral, ask=asker())
    if dry_run:
        output.print_json(cfg)
        return
    ci = call(ctx, add_consumer, stream, cfg)
    _emit_info(ci, want_json(ctx, json_out))
    if not want_json(ctx, json_out):
        output.success(f"consumer {stream} > {ci.name} created")


@app.command()
@with_options(_consumer_flags)
def edit(
    ctx: typer.Context,
    stream: StreamArg,
    name: NameArg,
    config: ConfigOpt = None,
    dry_run: options.DryRun = False,
    force: options.Force = False,
    json_out: options.Json = False,
    **kw: object,
) -> None:
    """Change a consumer's config (shows the diff)."""
    from natsops.cli._js import edit_result, print_changes
    from natsops.jetstream.consumers import ConsumerFlags, apply_consumer_edit, plan_consumer_edit
    from natsops.jetstream.spec import load_config_file

    replace = load_config_file(config, "consumer") if config else None
    plan = call(ctx, plan_consumer_edit, stream, name, ConsumerFlags.from_values(kw), replace)
    print_changes(plan.changes, as_json=want_json(ctx, json_out))
    apply = bool(plan.changes) and not dry_run
    if apply:
        confirm(f"Really edit consumer {stream} > {name}?", force=force)
        call(ctx, apply_consumer_edit, plan)
    edit_result(f"consumer {stream} > {name}", plan.changes, plan.config, applied=apply,
                dry_run=dry_run, as_json=want_json(ctx, json_out))


@app.command()
def info(ctx: typer.Context, stream: StreamArg, name: NameArg,
         json_out: options.Json = False) -> None:
    """Show a consumer's config, delivery state and replicas (`--json`: the API's ConsumerInfo)."""
    from natsops.jetstream.consumers import consumer_info

    _emit_info(call(ctx, consumer_info, stream, name), want_json(ctx, json_out))


@app.command("ls")
def ls(
    ctx: typer.Context,
    stream: StreamArg,
    names: Annotated[bool, typer.Option("--names", "-n", help="Only print names")] = False,
    json_out: options.Json = False,
) -> None:
    """List a stream's consumers (all pages; `--json`: an array of names, as natscli)."""
    from natsops.cli import output
    from natsops.jetstream.consumers import consumer_names, list_consumers

    if names or want_json(ctx, json_out):
        print_names(call(ctx, consumer_names, stream), want_json(ctx, json_out))
        return
    res = call(ctx, list_consumers, stream)
    output.table(f"Consumers of {stream} ({len(res.consumers)})",
                 ["name", "mode", "ack", "pending", "ack pending", "last delivery"],
                 [(c.name, "pull" if c.is_pull else "push", c.config.get("ack_policy"),
                   f"{c.num_pending:,}", f"{c.num_ack_pending:,}", c.last_delivery or "never")
                  for c in res.consumers])
    _incomplete(res)


def _incomplete(res: "ConsumerListing") -> None:
    from natsops.cli._js import exit_if_partial

    exit_if_partial("consumer(s)", res.missing, res.offline)


@app.command()
def rm(ctx: typer.Context, stream: StreamArg, name: NameArg,
       force: options.Force = False) -> None:
    """Delete a consumer (asks unless --force)."""
    from natsops.cli import output
    from natsops.jetstream.consumers import consumer_info, delete_consumer

    call(ctx, consumer_info, stream, name)  # NotFound (exit 4) before asking
    confirm(f"Really delete consumer {stream} > {name}?", force=force)
    call(ctx, delete_consumer, stream, name)
    output.success(f"consumer {stream} > {name} deleted")


@app.command("next")
def next_(
    ctx: typer.Context,
    stream: StreamArg,
    name: NameArg,
    count: Annotated[int, typer.Option("--count", help="How many messages")] = 1,
    wait: Annotated[str, typer.Option("--wait", help="How long to wait for messages")] = "5s",
    ack: Annotated[bool, typer.Option("--ack/--no-ack", help="Acknowledge each message")] = True,
    nak: Annotated[bool, typer.Option("--nak", help="Nak instead of ack (redeliver)")] = False,
    term: Annotated[bool, typer.Option(
        "--term", help="Terminate instead of ack (no redelivery)")] = False,
    json_out: options.Json = False,
) -> None:
    """Fetch messages from a pull consumer and acknowledge them (as `nats consumer next`)."""
    from natsops.cli import output
    from natsops.errors import NotFound
    from natsops.jetstream.consumers import ack_reply, next_messages
    from natsops.units import parse_duration

    reply = ack_reply(ack=ack, nak=nak, term=term)
    msgs = call(ctx, next_messages, stream, name, count=count,
                wait=parse_duration(wait, what="--wait"), ack=reply)
    if want_json(ctx, json_out):
        output.print_json([m.jsonable() for m in msgs])
    else:
        _print_msgs(msgs, reply)
    if not msgs:
        raise NotFound(f"no message from {stream} > {name} within {wait}")


def _print_msgs(msgs: "Sequence[FetchedMsg]", reply: str | None) -> None:
    from natsops.cli import output

    for m in msgs:
        output.info(f"[{m.stream_seq}] subject {m.subject}, delivered {m.delivered}x, "
                    f"{m.pending} pending" + (f", {reply}" if reply else ""))
        output.out().print(m.data.decode(errors="replace"), markup=False, highlight=False)


def _paused(stream: str, name: str, r: "PauseState", as_json: bool) -> None:
    from natsops.cli import output

    if as_json:
        output.print_json({"stream": stream, "consumer": name, **output.jsonable(r)})
    elif r.paused:
        output.success(f"consumer {stream} > {name} paused until {r.pause_until}")
    else:
        output.success(f"consumer {stream} > {name} resumed")


@app.command()
def pause(
    ctx: typer.Context,
    stream: StreamArg,
    name: NameArg,
    until: Annotated[str, typer.Argument(help="Duration (1h) or time (2026-12-01T10:00:00Z)")],
    json_out: options.Json = False,
) -> None:
    """Pause delivery until a time (the consumer keeps its state)."""
    from natsops.jetstream.consumers import parse_until, pause_consumer

    r = call(ctx, pause_consumer, stream, name, parse_until(until, "UNTIL"))
    _paused(stream, name, r, want_json(ctx, json_out))


@app.command()
def resume(ctx: typer.Context, stream: StreamArg, name: NameArg,
           json_out: options.Json = False) -> None:
    """Resume a paused consumer."""
    from natsops.jetstream.consumers import pause_consumer

    _paused(stream, name, call(ctx, pause_consumer, stream, name, None), want_json(ctx, json_out))


@app.command()
def report(ctx: typer.Context, stream: StreamArg, json_out: options.Json = False) -> None:
    """One row per consumer: pending, ack pending, redelivered, waiting, last delivery, replicas."""
    from natsops.jetstream.consumers import list_consumers

    res = call(ctx, list_consumers, stream)
    if want_json(ctx, json_out):
        _report_json(res)
    else:
        _report_table(res)
    _incomplete(res)


def _report_json(res: "ConsumerListing") -> None:
    from natsops.cli import output
    from natsops.cli._js import replica_json

    output.print_json({"stream": res.stream, "messages": res.stream_messages, "consumers": [
        {"name": c.name, "mode": "pull" if c.is_pull else "push",
         "ack_policy": c.config.get("ack_policy"), "num_pending": c.num_pending,
         "num_ack_pending": c.num_ack_pending, "num_redelivered": c.num_redelivered,
         "num_waiting": c.num_waiting, "last_delivery": c.last_delivery,
         "ack_floor_stream_seq": c.ack_floor_stream_seq, "paused": c.paused,
         "leader": c.cluster.leader if c.cluster else "",
         "healthy": c.cluster is None or c.cluster.healthy,
         "peers": replica_json(c.cluster)} for c in res.consumers],
        "missing": list(res.missing), "offline": dict(res.offline)})


def _report_table(res: "ConsumerListing") -> None:
    from natsops.cli import output
    from natsops.cli._js import replicas_cell
    from natsops.units import format_duration

    Col = output.Col
    output.table(f"Consumer report for {res.stream} with {len(res.consumers)} consumers",
                 [Col("consumer"), Col("mode", 3), Col("ack policy", 6), Col("ack wait", 7),
                  Col("ack pending"), Col("redelivered", 4), Col("unprocessed"),
                  Col("waiting", 5), Col("ack floor", 8), Col("last delivery", 2),
                  Col("cluster", 1)],
                 [(c.name, "Pull" if c.is_pull else "Push", c.config.get("ack_policy"),
                   format_duration(int(c.config.get("ack_wait") or 0) / 1e9),
                   f"{c.num_ack_pending:,}", f"{c.num_redelivered:,}",
                   f"{c.num_pending:,} / {res.unprocessed_pct(c.num_pending)}%",
                   c.num_waiting, c.ack_floor_stream_seq, c.last_delivery or "never",
                   replicas_cell(c.cluster) if c.cluster and len(c.cluster.peers) > 1 else
                   (c.cluster.leader if c.cluster else ""))
                  for c in res.consumers])


@cluster_app.command("step-down")
def step_down(
    ctx: typer.Context,
    stream: StreamArg,
    name: NameArg,
    preferred: options.Preferred = None,
    json_out: options.Json = False,
) -> None:
    """Make the consumer leader step down and wait for the new leader."""
    from natsops.cli._js import step_down_result
    from natsops.jetstream.consumers import step_down as do_step_down

    step_down_result("consumer", call(ctx, do_step_down, stream, name, preferred=preferred),
                     want_json(ctx, json_out))


@cluster_app.command("balance")
def balance(
    ctx: typer.Context,
    stream: Annotated[str | None, typer.Argument(
        help="Only this stream's consumers (default: every stream's)", show_default=False)] = None,
    dry_run: options.DryRun = False,
    force: options.Force = False,
    json_out: options.Json = False,
) -> None:
    """Move consumer leaders so each server leads its share (a plan, then preferred step-downs)."""
    from natsops.cli._balance import balance as run_balance

    run_balance(ctx, "consumer", [stream] if stream else None, dry_run=dry_run, force=force,
                as_json=want_json(ctx, json_out))


# inspect (issue 15): find consumers by properties ---------------------------------------------
@app.command()
def find(
    ctx: typer.Context,
    stream: Annotated[str | None, typer.Argument(
        help="Only this stream's consumers (default: every stream)", show_default=False)] = None,
    empty: Annotated[bool, typer.Option(
        "--empty", help="Only those with nothing pending or awaiting ack")] = False,
    idle: Annotated[str | None, typer.Option(
        "--idle", help="Only those without a delivery or ack for this long, e.g. 1h",
        show_default=False)] = None,
    leader: Annotated[str | None, typer.Option(
        "--leader", help="Only those led by this server", show_default=False)] = None,
    replicas: Annotated[int | None, typer.Option(
        "--replicas", help="Only those with this many replicas", show_default=False)] = None,
    subject: Annotated[str | None, typer.Option(
        "--subject", help="Only those whose filter overlaps this subject",
        show_default=False)] = None,
    json_out: options.Json = False,
) -> None:
    """`STREAM CONSUMER` of every consumer with all given properties (`--json`: an array)."""
    from natsops.cli._inspect import names_out
    from natsops.jetstream.inspect import ConsumerFilter, find_consumers
    from natsops.units import parse_duration

    f = ConsumerFilter(empty=empty, leader=leader, replicas=replicas, subject=subject,
                       idle_s=parse_duration(idle, what="--idle") if idle else None)
    names_out(call(ctx, find_consumers, f, stream), want_json(ctx, json_out))
