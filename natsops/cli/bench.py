"""``natsops bench``: measure a NATS deployment with pipelined raw-protocol clients."""

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from natsops.cli import options
from natsops.cli.state import get_state, want_json
from natsops.errors import UsageError

if TYPE_CHECKING:
    from natsops.bench import BenchResult, GroupStats, Latency, Progress

app = typer.Typer()


@app.command("bench")
def bench(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Subject to bench on (and the name of the run)")],
    pub: Annotated[int, typer.Option("--pub", help="Publishers (requesters with --request), one process each")] = 1,
    sub: Annotated[int, typer.Option("--sub", help="Subscribers, each receives every message (responders with --request, consumers with --consume)")] = 0,
    msgs: Annotated[int | None, typer.Option("--msgs", help="Messages in total, split between publishers [default: 100000]", show_default=False)] = None,
    size: Annotated[str, typer.Option("--size", help="Payload size: 256, 1KB, 16KiB")] = "128",
    duration: Annotated[str | None, typer.Option("--duration", help="Publish for this long instead of --msgs, e.g. 10s", show_default=False)] = None,
    subjects: Annotated[int | None, typer.Option("--subjects", help="Publish round-robin to NAME.0 .. NAME.N-1 (zero-padded); subscribers, responders and the stream use NAME.* [default: 1 = NAME]", show_default=False)] = None,
    payload: Annotated[str | None, typer.Option("--payload", help="Payload pattern: text (a..z), zeros or random (incompressible) [default: text]", show_default=False)] = None,
    request: Annotated[bool, typer.Option("--request", help="Request/reply: synchronous requests, latency percentiles")] = False,
    js: Annotated[bool, typer.Option("--js", help="JetStream publish (a stream on NAME is created and removed)")] = False,
    stream: Annotated[str | None, typer.Option("--stream", help="JetStream stream [default: benchstream]", show_default=False)] = None,
    replicas: Annotated[int | None, typer.Option("--replicas", help="JetStream stream / KV bucket replicas [default: 1]", show_default=False)] = None,
    storage: Annotated[str | None, typer.Option("--storage", help="JetStream / KV storage: file or memory [default: file]", show_default=False)] = None,
    sync: Annotated[bool, typer.Option("--sync", help="JetStream: wait for each ack before the next publish")] = False,
    window: Annotated[int | None, typer.Option("--window", help="JetStream async: un-acked publishes per publisher [default: 4000]", show_default=False)] = None,
    batch: Annotated[int | None, typer.Option("--batch", help="JetStream: publishes written at once (the latency unit), fetch batch size [default: 500]", show_default=False)] = None,
    keep: Annotated[bool, typer.Option("--keep", help="JetStream / KV: keep the stream or bucket the run created")] = False,
    kv: Annotated[str | None, typer.Option("--kv", help="KV: put or get, synchronous; NAME is the key (get puts every key once first)", show_default=False)] = None,
    bucket: Annotated[str | None, typer.Option("--bucket", help="KV bucket, created and removed [default: benchbucket]", show_default=False)] = None,
    keys: Annotated[int | None, typer.Option("--keys", help="KV: use keys NAME.0 .. NAME.N-1 instead of NAME [default: 1]", show_default=False)] = None,
    consume: Annotated[str | None, typer.Option("--consume", help="JetStream: then read the stream back with --sub clients: fetch (shared durable pull consumer, acked) or ordered (each reads it all)", show_default=False)] = None,
    csv_file: Annotated[str | None, typer.Option("--csv", help="Write per-client figures as CSV to FILE ('-': stdout)", show_default=False)] = None,
    stall_timeout: Annotated[str | None, typer.Option("--stall-timeout", help="Give up (exit 3) when no message moves for this long [default: 10s]", show_default=False)] = None,
    no_progress: options.NoProgress = False,
    json_out: options.Json = False,
) -> None:
    """Measure throughput and latency with several client processes.

    Clients speak the NATS protocol directly with pipelined buffers, so the figures measure the
    servers, not a Python client. Publishers split --msgs; every subscriber expects all of them,
    and lost messages are reported (exit code 6). Publishers stay at most 32 MiB ahead of the
    slowest subscriber, so rates with subscribers are sustained rates, not buffer fills.

    \b
    Examples:
      natsops bench mybench --pub 4 --sub 4 --msgs 1000000 --size 256
      natsops bench mybench --duration 10s --json
      natsops bench mybench --pub 2 --sub 2 --subjects 1000 --payload random
      natsops bench svc --request --pub 2 --sub 2 --msgs 20000
      natsops bench orders.bench --js --replicas 3 --msgs 200000 --csv run.csv
      natsops bench orders.bench --js --sync --msgs 2000 --storage memory
      natsops bench orders.bench --js --consume fetch --sub 2 --batch 500
      natsops bench user.settings --kv get --keys 1000 --pub 2 --msgs 20000
    """
    from natsops.bench import BenchFlags, bench_options, check_outputs, result_error, run_bench
    from natsops.cli._run import run

    check_outputs(csv_file, want_json(ctx, json_out))
    opts = bench_options(BenchFlags(
        name=name, pub=pub, sub=sub, msgs=msgs, size=size, duration=duration, subjects=subjects,
        payload=payload, request=request, js=js, stream=stream, replicas=replicas,
        storage=storage, sync=sync, window=window, batch=batch, keep=keep, kv=kv, bucket=bucket,
        keys=keys, consume=consume, stall_timeout=stall_timeout))
    with _progress_bar(not no_progress and sys.stderr.isatty()) as progress:
        result = run(run_bench(get_state(ctx).settings, opts, progress))
    if csv_file:
        _write_csv(result, csv_file)
    _emit(result, want_json(ctx, json_out))
    error = result_error(result)
    if error is not None:
        raise error


def _emit(result: "BenchResult", as_json: bool) -> None:
    if as_json:
        from natsops.cli import output

        output.print_json(result)
    else:
        _print(result)


@contextmanager
def _progress_bar(enabled: bool) -> "Iterator[Callable[[Progress], None] | None]":
    """A transient rich progress bar on stderr, or nothing."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    from natsops.cli.output import err

    bar = Bar(TextColumn("{task.description:<10}"), BarColumn(), TextColumn("{task.fields[detail]}"),
              TimeElapsedColumn(), console=err(), transient=True)
    task = bar.add_task("connecting", total=None, detail="")

    def update(p: "Progress") -> None:
        if p.phase != "connecting" and p.total is not None:
            total, done, detail = float(p.total), float(p.done), f"{p.done:,}/{p.total:,} msgs"
        elif p.phase != "connecting" and p.duration:
            total, done = p.duration, min(p.elapsed, p.duration)
            detail = f"{p.done:,} msgs, {done:.0f}/{p.duration:g}s"
        else:
            bar.update(task, description=p.phase, detail=f"{p.done:,} msgs" if p.done else "")
            return
        bar.update(task, description=p.phase, total=total, completed=done, detail=detail)

    with bar:
        yield update


def _write_csv(result: "BenchResult", path: str) -> None:
    import csv
    import io
    import time

    from natsops.bench import csv_rows

    buf = io.StringIO()
    csv.writer(buf).writerows(csv_rows(result, time.strftime("%Y%m%dT%H%M%S")))
    if path == "-":
        sys.stdout.write(buf.getvalue())
        return
    try:
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(buf.getvalue())
    except OSError as exc:
        raise UsageError(f"cannot write --csv {path}: {exc.strerror or exc}") from None


def _rate(msgs_per_sec: float, bytes_per_sec: float) -> str:
    from natsops.units import format_bytes

    return f"{msgs_per_sec:,.0f} msgs/sec ~ {format_bytes(bytes_per_sec)}/sec"


def _latency(lat: "Latency") -> str:
    return (f"min {lat.min_us:,.1f}us | avg {lat.avg_us:,.1f}us | max {lat.max_us:,.1f}us | "
            f"stddev {lat.stddev_us:,.1f}us | P50 {lat.p50_us:,.1f}us | P90 {lat.p90_us:,.1f}us"
            f" | P99 {lat.p99_us:,.1f}us | P99.9 {lat.p999_us:,.1f}us")


def _group(g: "GroupStats", per_op: str) -> list[str]:
    lines = [f"NATS {g.label} stats: {_rate(g.msgs_per_sec, g.bytes_per_sec)} "
             f"({g.msgs:,} msgs in {g.seconds:.3f}s)"]
    if len(g.clients) > 1:
        for i, c in enumerate(g.clients, 1):
            lines.append(f" [{i}] {_rate(c.msgs_per_sec, c.bytes_per_sec)} ({c.msgs:,} msgs)")
        lines.append(f" message rates min {g.rate_min:,.0f} | avg {g.rate_avg:,.0f} | "
                     f"max {g.rate_max:,.0f} | stddev {g.rate_stddev:,.0f} msgs/sec")
    if g.latency is not None:
        lines.append(f" latency per {per_op} ({g.latency.count:,}): {_latency(g.latency)}")
    if g.errors:
        lines.append(f" errors: {g.errors:,}")
    return lines


def _print(r: "BenchResult") -> None:
    from natsops.units import format_bytes

    amount = f"msgs={r.msgs:,}" if r.msgs is not None else f"duration={r.duration:g}s"
    head = (f"{r.mode} benchmark on {r.subject} [pubs={r.pubs}, subs={r.subs}, {amount}, "
            f"size={format_bytes(r.size)}] against {', '.join(r.servers)} "
            f"(nats-server {r.server_version})")
    lines = [head]
    for g in r.groups:
        lines += _group(g, "put" if g.role == "kvfill" else r.latency_unit)
    if r.consume:
        how = ("one shared durable pull consumer" if r.consume == "fetch"
               else f"{r.subs} ordered consumers, each reading the whole stream")
        lines.append(f"messages: published {r.published:,}; read back {r.received:,} of "
                     f"{r.expected:,} expected ({how}), lost {r.lost:,}")
    elif r.subs and r.mode != "request":
        lines.append(f"messages: published {r.published:,} x {r.subs} subscribers = "
                     f"{r.expected:,} expected, received {r.received:,}, lost {r.lost:,}")
    if r.pace_bytes:
        lines.append(f"publishers were held within {format_bytes(r.pace_bytes)} of the slowest "
                     "subscriber, so no subscriber is cut off as a slow consumer")
    if r.window is not None:
        lines.append(f"JetStream publishing: up to {r.window:,} un-acked per publisher, "
                     f"written {r.batch:,} at a time" if r.window > 1 else
                     "JetStream publishing: synchronous, one ack awaited per publish")
    if r.stream is not None:
        s = r.stream
        fate = "removed" if s.removed else "kept" if s.created else "existed, left as is"
        if r.mode == "kv":
            lines.append(f"bucket {s.name.removeprefix('KV_')} (R{s.replicas}, {s.storage}): "
                         f"{s.messages_after:,} keys, {fate}")
        else:
            lines.append(f"stream {s.name} (R{s.replicas}, {s.storage}): {s.stored:,} messages "
                         f"stored by this run, {fate}")
    for w in r.warnings:
        lines.append(f"warning: {w}")
    sys.stdout.write("\n".join(lines) + "\n")
