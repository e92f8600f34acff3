"""Run a benchmark: plan the workers, start them in processes, collect and aggregate."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import re
import secrets
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from natsops import errors as _errors
from natsops.bench.stats import (
    BenchResult,
    ClientStats,
    GroupStats,
    StreamReport,
    client_stats,
    group_stats,
    latency_stats,
)
from natsops.bench.wire import WireConn, check_settings, redact
from natsops.bench.workers import PACE_BYTES, WorkerSpec, worker_main
from natsops.context import Settings
from natsops.errors import NatsopsError, Timeout, Unreachable, UsageError
from natsops.faults import DEFAULT_STALL_TIMEOUT, check_stall_timeout, cleanup
from natsops.subjects import covers

__all__ = ["MODES", "BenchOptions", "Progress", "run_bench"]

MODES = ("core", "request", "js", "kv")
KV_OPS = ("put", "get")
MAX_KEYS = 100_000  # also the most subjects: talkers pre-build one frame per key/subject
PAYLOADS = ("text", "zeros", "random")
_KEY_RE = re.compile(r"^[-/_=.a-zA-Z0-9]+$")
_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]+$")  # stream and bucket names (portable subset)
CONSUMERS = ("fetch", "ordered")
IDLE_SECONDS = 2.0  # subscribers making no progress this long after the publishers: stop
READY_TIMEOUT = 30.0  # spawning + connecting a worker
LABELS = {"pub": "publisher", "sub": "subscriber", "req": "requester",
          "jspub": "JetStream publisher", "fetch": "JetStream fetch consumer",
          "ordered": "JetStream ordered consumer", "kvput": "KV put", "kvget": "KV get"}


@dataclass(frozen=True)
class BenchOptions:
    """One benchmark run. ``msgs`` is the total for publishers (split between them); each
    subscriber expects all of them. With ``duration`` the publishers run for that long."""

    subject: str
    pubs: int = 1
    subs: int = 0
    msgs: int | None = 100_000
    size: int = 128
    duration: float | None = None
    mode: str = "core"  # core | request | js | kv
    stream: str = "benchstream"
    replicas: int = 1
    storage: str = "file"
    window: int = 4000  # JetStream un-acked publishes in flight per publisher; 1 = sync
    batch: int = 500  # JetStream publishes written together (<= window); fetch batch size
    keep: bool = False
    consume: str | None = None  # JetStream: then read the stream with `subs` fetch|ordered clients
    kv: str = "put"  # mode "kv": put | get (a get run first puts every key once)
    bucket: str = "benchbucket"
    keys: int = 1  # KV: 1 = the subject is the key; N = keys <subject>.0 .. <subject>.N-1
    subjects: int = 1  # N > 1: publish round-robin to <subject>.<n>, subscribe to <subject>.*
    payload: str = "text"  # text (a..z) | zeros | random (incompressible)
    stall_timeout: float = DEFAULT_STALL_TIMEOUT  # no message moved this long: Unreachable

    @property
    def stream_subject(self) -> str:
        """The subject filter covering everything the run publishes."""
        return f"{self.subject}.*" if self.subjects > 1 else self.subject

    @property
    def stream_name(self) -> str:
        return f"KV_{self.bucket}" if self.mode == "kv" else self.stream

    @property
    def talker(self) -> str:
        if self.mode == "kv":
            return "kvput" if self.kv == "put" else "kvget"
        return {"core": "pub", "request": "req", "js": "jspub"}[self.mode]

    def validate(self) -> None:
        check_stall_timeout(self.stall_timeout)
        if self.mode not in MODES:
            raise UsageError(f"unknown mode {self.mode!r}: use one of {', '.join(MODES)}")
        if not self.subject or any(c in self.subject for c in " \t\r\n") or \
                self.subject.startswith(".") or self.subject.endswith(".") or ".." in self.subject:
            raise UsageError(f"invalid subject {self.subject!r}")
        if "*" in self.subject or ">" in self.subject:
            raise UsageError(f"the bench subject must not contain wildcards: {self.subject!r}")
        if self.pubs < 1:
            raise UsageError("--pub must be at least 1")
        if self.subs < 0:
            raise UsageError("--sub must not be negative")
        if self.size < 0:
            raise UsageError("--size must not be negative")
        if (self.msgs is None) == (self.duration is None):
            raise UsageError("give either --msgs or --duration")
        if self.msgs is not None and self.msgs < self.pubs:
            raise UsageError(f"--msgs {self.msgs} is fewer than one message per publisher")
        if self.duration is not None and not 0 < self.duration <= 3600:
            raise UsageError("--duration must be above zero and at most 1h")
        if not 1 <= self.subjects <= MAX_KEYS:
            raise UsageError(f"--subjects must be between 1 and {MAX_KEYS:,}")
        if self.payload not in PAYLOADS:
            raise UsageError(f"--payload must be one of {', '.join(PAYLOADS)}")
        if self.mode == "kv":
            if self.kv not in KV_OPS:
                raise UsageError(f"--kv must be one of {', '.join(KV_OPS)}")
            if not _KEY_RE.match(self.subject):
                raise UsageError(f"invalid KV key {self.subject!r}: use letters, digits, -/_=.")
            if not _NAME_RE.match(self.bucket):
                raise UsageError(f"invalid KV bucket {self.bucket!r}: use letters, digits, - and _")
            if not 1 <= self.keys <= MAX_KEYS:
                raise UsageError(f"--keys must be between 1 and {MAX_KEYS:,}")
            if self.subs:
                raise UsageError("--sub does not apply to KV runs")
            if self.subjects > 1:
                raise UsageError("KV runs use --keys, not --subjects")
        if self.mode == "js" and not _NAME_RE.match(self.stream):
            raise UsageError(f"invalid stream name {self.stream!r}: use letters, digits, - and _")
        if self.mode in ("js", "kv"):
            if self.replicas not in (1, 3, 5):
                raise UsageError("--replicas must be 1, 3 or 5")
            if self.storage not in ("file", "memory"):
                raise UsageError("--storage must be file or memory")
            if self.window < 1 or self.batch < 1:
                raise UsageError("--window and --batch must be at least 1")
        if self.consume is not None:
            if self.mode != "js":
                raise UsageError("--consume reads a JetStream stream: add --js")
            if self.consume not in CONSUMERS:
                raise UsageError(f"--consume must be one of {', '.join(CONSUMERS)}")
            if self.subs < 1:
                raise UsageError("--consume needs --sub N consumer clients")


@dataclass(frozen=True)
class Progress:
    """Reported about 10 times a second while the load runs."""

    phase: str  # connecting | running | draining | consuming
    done: int  # messages published (or requests answered) so far
    total: int | None  # None when running for a duration
    elapsed: float
    duration: float | None


def _split(total: int, parts: int) -> list[int]:
    """natscli's split: total // parts each, the remainder to the first clients."""
    base, rem = divmod(total, parts)
    return [base + (1 if i < rem else 0) for i in range(parts)]


def plan_workers(opts: BenchOptions, run_id: str, api: str = "$JS.API") -> list[WorkerSpec]:
    """Listeners (subscribers/responders) first, then talkers; slots index the counters."""
    probe = f"_NATSOPS.bench.{run_id}.probe"
    talker = opts.talker
    listener = "rep" if opts.mode == "request" else "sub"
    n_listen = 0 if opts.consume else opts.subs
    counts = _split(opts.msgs, opts.pubs) if opts.msgs is not None else [-1] * opts.pubs
    pub_slots = tuple(range(n_listen, n_listen + opts.pubs))
    sub_slots = tuple(range(n_listen)) if listener == "sub" and talker == "pub" else ()
    window = opts.window
    # KV: clients start at different keys, so a put run with msgs == keys writes each once
    if opts.msgs is not None:
        offsets = [sum(counts[:i]) for i in range(opts.pubs)]
    else:
        offsets = [i * (opts.keys // opts.pubs) for i in range(opts.pubs)]
    specs = [
        WorkerSpec(role=listener, index=i, slot=i, subject=opts.subject, size=opts.size,
                   probe=probe, subjects=opts.subjects)
        for i in range(n_listen)
    ]  # fmt: skip
    for i in range(opts.pubs):
        specs.append(WorkerSpec(
            role=talker, index=i, slot=n_listen + i, subject=opts.subject, size=opts.size,
            probe=probe, count=counts[i], duration=opts.duration or 0.0,
            listeners=n_listen if talker in ("pub", "req") else 0, window=window,
            batch=min(opts.batch, window), pub_slots=pub_slots, sub_slots=sub_slots,
            stream=opts.stream_name, keys=opts.keys, key_offset=offsets[i], api=api,
            subjects=opts.subjects, payload=opts.payload,
        ))  # fmt: skip
    return specs


def _error_from(kind: str, message: str, hint: str | None = None) -> NatsopsError:
    cls = getattr(_errors, kind, NatsopsError)
    if not (isinstance(cls, type) and issubclass(cls, NatsopsError)):
        cls = NatsopsError
    return cls(message, hint=hint)


class _Workers:
    """The worker processes of one run, always stopped on the way out."""

    def __init__(self, specs: list[WorkerSpec], settings: Settings) -> None:
        self.ctx = mp.get_context("spawn")
        self.specs = specs
        self.settings = settings
        self.counters: Any = self.ctx.Array("q", max(1, len(specs)), lock=False)
        self.expected: Any = self.ctx.Value("q", 0, lock=False)
        self.stop: Any = self.ctx.Value("i", 0, lock=False)
        self.procs: dict[int, Any] = {}  # by index into specs
        self.pipes: dict[int, Any] = {}
        self.results: dict[int, dict[str, Any]] = {}

    def start(self, idx: list[int]) -> None:
        for i in idx:
            parent, child = self.ctx.Pipe()
            p = self.ctx.Process(
                target=worker_main, name=f"natsops-bench-{self.specs[i].role}{i}",
                args=(self.specs[i], self.settings, self.counters, self.expected, self.stop,
                      child), daemon=True,
            )  # fmt: skip
            p.start()
            child.close()
            self.procs[i] = p
            self.pipes[i] = parent

    def _check(self, i: int) -> tuple[Any, ...] | None:
        pipe = self.pipes[i]
        try:
            if pipe.poll():
                msg: tuple[Any, ...] = pipe.recv()
                if msg[0] == "error":
                    raise _error_from(*msg[1:])
                if msg[0] == "result":
                    self.results[i] = msg[1]
                return msg
        except (EOFError, OSError):
            pass
        if not self.procs[i].is_alive() and i not in self.results:
            code = self.procs[i].exitcode
            raise NatsopsError(f"bench worker {self.specs[i].role}{self.specs[i].index} "
                               f"exited unexpectedly (exit code {code})")
        return None

    async def wait_ready(self, idx: list[int]) -> None:
        pending = set(idx)
        deadline = time.monotonic() + READY_TIMEOUT + self.settings.timeout
        while pending:
            for i in list(pending):
                msg = self._check(i)
                if msg is not None and msg[0] == "ready":
                    pending.discard(i)
            if time.monotonic() > deadline:
                raise Timeout(f"{len(pending)} bench workers did not connect in time")
            await asyncio.sleep(0.01)

    def go(self, idx: list[int]) -> None:
        for i in idx:
            self.pipes[i].send("go")

    def poll_results(self, idx: list[int]) -> set[int]:
        """Indexes of ``idx`` whose result arrived (raises on a worker error)."""
        for i in idx:
            if i not in self.results:
                self._check(i)
        return {i for i in idx if i in self.results}

    def close(self) -> None:
        self.stop.value = 1
        for pipe in self.pipes.values():
            with contextlib.suppress(OSError, ValueError):
                pipe.send("stop")  # releases workers still waiting for "go"
        deadline = time.monotonic() + 2.0
        for p in self.procs.values():
            p.join(max(0.0, deadline - time.monotonic()))
        for p in self.procs.values():
            if p.is_alive():
                p.terminate()
                p.join(1.0)
            if p.is_alive():
                p.kill()
                p.join(1.0)
        for pipe in self.pipes.values():
            pipe.close()


async def _drive(
    w: _Workers, opts: BenchOptions, progress: Callable[[Progress], None] | None
) -> None:
    listeners = [i for i, s in enumerate(w.specs) if s.role in ("sub", "rep")]
    talkers = [i for i, s in enumerate(w.specs) if s.role not in ("sub", "rep")]
    subs = [i for i in listeners if w.specs[i].role == "sub"]
    total = opts.msgs
    if total is not None:
        w.expected.value = total
    t0 = time.monotonic()

    def report(phase: str) -> None:
        if progress is not None:
            done = sum(w.counters[w.specs[i].slot] for i in talkers)
            progress(Progress(phase, done, total, time.monotonic() - t0, opts.duration))

    report("connecting")
    w.start(listeners)
    await w.wait_ready(listeners)
    w.start(talkers)
    await w.wait_ready(talkers)
    w.go(talkers)
    t0 = time.monotonic()
    moved, moved_at = -1, t0
    while len(w.poll_results(talkers)) < len(talkers):
        w.poll_results(listeners)  # a listener that died fails the run now, not at the end
        report("running")
        done = sum(w.counters[w.specs[i].slot] for i in talkers)
        if done != moved:
            moved, moved_at = done, time.monotonic()
        elif time.monotonic() - moved_at > opts.stall_timeout:
            raise Unreachable(
                f"bench stalled: no message moved for {opts.stall_timeout:g}s "
                f"({', '.join(map(redact, w.settings.servers))} does not answer)",
                hint="check that server, or raise --stall-timeout")
        await asyncio.sleep(0.1)
    report("running")
    if opts.msgs is None:
        w.expected.value = sum(w.results[i]["msgs"] for i in talkers)
    last, idle_since = -1, time.monotonic()
    while len(w.poll_results(subs)) < len(subs):
        now = sum(w.counters[w.specs[i].slot] for i in subs)
        if now != last:
            last, idle_since = now, time.monotonic()
        elif time.monotonic() - idle_since > IDLE_SECONDS:
            w.stop.value = 1  # lost messages: stop waiting, report what arrived
        report("draining")
        await asyncio.sleep(0.05)
    w.stop.value = 1
    deadline = time.monotonic() + 5.0
    for _ in range(250):  # responders notice the stop flag within 0.1 s
        if len(w.poll_results(listeners)) == len(listeners) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.02)


def _stats(w: _Workers, role: str, size: int) -> GroupStats | None:
    idx = [i for i, s in enumerate(w.specs) if s.role == role]
    if not idx:
        return None
    clients: list[ClientStats] = []
    samples: array[int] = array("q")
    prefix = {"sub": "S", "fetch": "C", "ordered": "C"}.get(role, "P")
    expected = w.expected.value
    for i in idx:
        r = w.results.get(i, {"msgs": w.counters[w.specs[i].slot], "start": 0, "end": 0})
        lat: array[int] = array("q")
        if r.get("lat"):
            lat.frombytes(r["lat"])
            samples.extend(lat)
        exp = expected if role in ("sub", "ordered") else max(w.specs[i].count, 0)
        clients.append(client_stats(
            f"{prefix}{w.specs[i].index}", r["msgs"], size, r["start"], r["end"],
            expected=exp, errors=r.get("errors", 0), latency=latency_stats(lat),
        ))  # fmt: skip
    return group_stats(role, LABELS[role], clients, size, samples)


async def _server_info(settings: Settings) -> dict[str, Any]:
    def probe() -> dict[str, Any]:
        conn = WireConn.open(settings, 0, name="natsops-bench-info")
        try:
            return dict(conn.info)
        finally:
            conn.close()

    return await asyncio.to_thread(probe)


async def _setup_stream(settings: Settings, opts: BenchOptions) -> tuple[bool, int]:
    """Create the stream unless it exists; return (created, messages before)."""
    from nats.errors import Error as NatsError
    from nats.js.api import StorageType, StreamConfig
    from nats.js.errors import NotFoundError

    from natsops.connection import connect

    async with connect(settings) as conn:
        try:
            info = await conn.js.stream_info(opts.stream_name)
        except NotFoundError:
            pass
        except NatsError as exc:
            raise _errors.ServerError(
                f"the JetStream API on {', '.join(map(redact, settings.servers))} did not answer: "
                f"{type(exc).__name__.removesuffix('Error')}",
                hint="is JetStream enabled on the servers and for this account?") from None
        else:
            subjects = list(info.config.subjects or [])
            if opts.mode != "kv" and not any(covers(p, opts.stream_subject)
                                             for p in subjects):
                raise _errors.Conflict(
                    f"stream {opts.stream_name} exists and does not take {opts.stream_subject} "
                    f"(its subjects: {', '.join(subjects) or 'none'})",
                    hint="choose another --stream, or bench on one of its subjects")
            return False, int(info.state.messages)
        storage = StorageType.MEMORY if opts.storage == "memory" else StorageType.FILE
        try:
            if opts.mode == "kv":
                await conn.js.create_key_value(bucket=opts.bucket, history=1, storage=storage,
                                               replicas=opts.replicas, direct=True)
            else:
                await conn.js.add_stream(StreamConfig(
                    name=opts.stream_name, subjects=[opts.stream_subject],
                    num_replicas=opts.replicas,
                    storage=storage,
                ))  # fmt: skip
        except Exception as exc:
            if getattr(exc, "err_code", None) == 10065 or "overlap" in str(exc):
                raise await _overlap(conn, opts) from None
            raise _errors.ServerError(f"cannot create stream {opts.stream_name}: {exc}") from None
        return True, 0


async def _overlap(conn: Any, opts: BenchOptions) -> NatsopsError:
    """The bench subject belongs to another stream (10065): name it, and how to bench anyway."""
    try:
        owner = await conn.js.find_stream_name_by_subject(opts.stream_subject)
    except Exception:  # only for a better message: the conflict stands without it
        owner = None
    by = f" stream {owner}" if owner else " another stream"
    return _errors.Conflict(
        f"cannot create bench stream {opts.stream_name}: {opts.stream_subject} is already "
        f"taken by{by}",
        hint="bench on a subject no stream takes (e.g. natsops bench bench.js --js), or on "
        f"that stream itself with --stream {owner or 'NAME'}")


async def _finish_stream(
    settings: Settings, opts: BenchOptions, created: bool, before: int
) -> StreamReport:
    from natsops.connection import connect

    async with connect(settings) as conn:
        info = await conn.js.stream_info(opts.stream_name)
        after = int(info.state.messages)
        removed = False
        if created and not opts.keep:
            await conn.js.delete_stream(opts.stream_name)
            removed = True
    subject = f"$KV.{opts.bucket}.>" if opts.mode == "kv" else opts.stream_subject
    storage = getattr(info.config.storage, "value", info.config.storage) or opts.storage
    return StreamReport(  # what the stream is, also when it existed before the run
        name=opts.stream_name, subjects=(subject,),
        replicas=int(info.config.num_replicas or opts.replicas), storage=str(storage),
        created=created, removed=removed, messages_before=before, messages_after=after,
        stored=after - before,
    )  # fmt: skip


async def run_bench(
    settings: Settings, opts: BenchOptions, progress: Callable[[Progress], None] | None = None
) -> BenchResult:
    """Run one benchmark against ``settings``' servers and return what was measured."""
    opts.validate()
    check_settings(settings)
    info = await _server_info(settings)
    max_payload = int(info.get("max_payload", 1 << 20))
    if opts.size > max_payload:
        raise UsageError(f"--size {opts.size} is above the server's max_payload {max_payload}")
    uses_js = opts.mode in ("js", "kv")
    if uses_js and not info.get("jetstream", True):
        raise UsageError(f"JetStream is not enabled on {', '.join(map(redact, settings.servers))}")
    run_id = secrets.token_hex(4)
    api = _api_prefix(settings)
    specs = plan_workers(opts, run_id, api)
    created, before = (await _setup_stream(settings, opts)) if uses_js else (False, 0)
    stream: StreamReport | None = None
    consumers: _Workers | None = None
    fill: _Workers | None = None
    try:
        if opts.mode == "kv" and opts.kv == "get":
            # every key gets a value first, so each get finds one
            fill_opts = replace(opts, kv="put", msgs=opts.keys, duration=None,
                                pubs=min(opts.pubs, opts.keys))
            fill = _Workers(plan_workers(fill_opts, run_id, api), settings)
            try:
                await _drive(fill, fill_opts, progress)
            finally:
                fill.close()
        w = _Workers(specs, settings)
        try:
            await _drive(w, opts, progress)
        finally:
            w.close()
        if opts.consume:
            consumers = await _consume(settings, opts, run_id, progress)
        if uses_js:
            stream = await _finish_stream(settings, opts, created, before)
    except BaseException:
        if created and not opts.keep:
            with contextlib.suppress(Exception):
                await cleanup(_drop_stream(settings, opts.stream_name), 10)
        raise
    return _result(w, opts, settings, info, stream, consumers, fill)


def _api_prefix(settings: Settings) -> str:
    if settings.js_api_prefix:
        return settings.js_api_prefix.rstrip(".")
    return f"$JS.{settings.js_domain}.API" if settings.js_domain else "$JS.API"


async def _consume(
    settings: Settings, opts: BenchOptions, run_id: str,
    progress: Callable[[Progress], None] | None,
) -> _Workers:  # fmt: skip
    """Read the stream with ``opts.subs`` fetch or ordered clients, after the publishers."""
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    from natsops.connection import connect

    role = opts.consume or "fetch"
    durable = f"natsops-bench-{run_id}"
    async with connect(settings) as conn:
        total = int((await conn.js.stream_info(opts.stream_name)).state.messages)
        if role == "fetch":
            await conn.js.add_consumer(opts.stream_name, ConsumerConfig(
                durable_name=durable, ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL, max_ack_pending=opts.batch * opts.subs,
            ))  # fmt: skip
    slots = tuple(range(opts.subs))
    specs = [
        WorkerSpec(role=role, index=i, slot=i, subject=opts.subject, size=opts.size, probe="",
                   batch=opts.batch, sub_slots=slots, stream=opts.stream_name, consumer=durable,
                   api=_api_prefix(settings))
        for i in slots
    ]  # fmt: skip
    want = total if role == "fetch" else total * opts.subs
    w = _Workers(specs, settings)
    w.expected.value = total
    idx = list(range(len(specs)))
    t0 = time.monotonic()
    try:
        w.start(idx)
        await w.wait_ready(idx)
        w.go(idx)
        while len(w.poll_results(idx)) < len(idx):
            if progress is not None:
                done = sum(w.counters[i] for i in slots)
                progress(Progress("consuming", done, want, time.monotonic() - t0, None))
            await asyncio.sleep(0.1)
    finally:
        w.close()
        if role == "fetch":  # ours to delete, also after a failure (retried through a 503)
            from natsops.jetstream.consumers import delete_own_consumer

            with contextlib.suppress(NatsopsError):
                async with connect(settings) as conn:
                    await delete_own_consumer(conn, opts.stream_name, durable)
    return w


async def _drop_stream(settings: Settings, name: str) -> None:
    from natsops.connection import connect

    async with connect(settings) as conn:
        await conn.js.delete_stream(name)


def _result(
    w: _Workers, opts: BenchOptions, settings: Settings, info: dict[str, Any],
    stream: StreamReport | None, consumers: _Workers | None = None, fill: _Workers | None = None,
) -> BenchResult:  # fmt: skip
    groups = [g for g in (_stats(w, opts.talker, opts.size), _stats(w, "sub", opts.size)) if g]
    pub = groups[0]
    fill_group = _stats(fill, "kvput", opts.size) if fill is not None else None
    if fill_group is not None:
        groups.insert(0, replace(fill_group, role="kvfill", label="KV put (filling the keys)"))
    published = pub.msgs
    warnings: list[str] = []
    sub = next((g for g in groups if g.role == "sub"), None)
    expected = published * opts.subs if sub is not None else 0
    received = sub.msgs if sub is not None else 0
    if consumers is not None and opts.consume:
        sub = _stats(consumers, opts.consume, opts.size)
        assert sub is not None
        groups.append(sub)
        total = consumers.expected.value  # the messages in the stream when reading began
        expected = total if opts.consume == "fetch" else total * opts.subs
        received = sub.msgs
        for r in consumers.results.values():
            if r.get("error"):
                warnings.append(str(r["error"]))
    lost = max(0, expected - received)
    if lost and sub is not None:
        per = expected // len(sub.clients) if opts.consume != "fetch" else 0
        short = [c.id for c in sub.clients if c.msgs < per] if per else []
        warnings.append(f"{lost} messages lost: {received} of {expected} expected were received"
                        + (f" (short: {', '.join(short)})" if short else ""))
    for i, r in sorted(w.results.items()):
        if r.get("error"):
            spec = w.specs[i]
            warnings.append(f"{'S' if spec.role == 'sub' else 'R'}{spec.index}: {r['error']}")
    if pub.errors:
        first = next((w.results[i].get("first_error") for i in w.results
                      if w.results[i].get("first_error")), "")
        warnings.append(f"{pub.errors} operations failed" + (f": {first}" if first else ""))
    if fill_group is not None and fill_group.errors:
        warnings.append(f"{fill_group.errors} KV puts filling the keys failed")
    if opts.mode == "js" and stream is not None and stream.stored != published:
        warnings.append(f"stream {stream.name} stored {stream.stored} messages, "
                        f"{published} publishes were acknowledged")
    return BenchResult(
        mode=opts.mode, subject=opts.subject, size=opts.size, pubs=opts.pubs, subs=opts.subs,
        msgs=opts.msgs, duration=opts.duration, servers=tuple(redact(u) for u in settings.servers),
        server_version=str(info.get("version", "")), groups=tuple(groups), published=published,
        expected=expected, received=received, lost=lost, stream=stream,
        pace_bytes=PACE_BYTES if opts.subs and opts.mode == "core" else None,
        consume=opts.consume, subjects=opts.subjects, payload=opts.payload,
        warnings=tuple(warnings),
        latency_unit={"core": "", "request": "request", "kv": opts.kv,
                      "js": "publish" if opts.window == 1 else "batch"}[opts.mode],
        window=opts.window if opts.mode == "js" else None,
        batch=min(opts.batch, opts.window) if opts.mode == "js" else None,
    )  # fmt: skip
