"""Load generators that run in worker processes (one connection each).

Every worker connects, reports ``ready`` on its pipe, and (publishers, requesters) waits for
``go`` so that all clients start together. Progress goes into a shared counter array that the
parent reads; the final figures go back on the pipe as a plain dict. Times are
``time.monotonic_ns()`` (CLOCK_MONOTONIC on Linux, comparable across processes).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from array import array
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from natsops.bench.wire import ERR, HMSG, MSG, PING, Frame, WireConn, parse_frames
from natsops.context import Settings
from natsops.errors import NatsopsError, ServerError, Timeout

__all__ = ["WorkerSpec", "payload_for", "worker_main"]

CHUNK_BYTES = 256 << 10  # bytes per sendall() of pre-built PUB frames
PACE_BYTES = 32 << 20  # publishers stay at most this far ahead of the slowest subscriber
PACE_GIVE_UP = 10.0  # seconds without subscriber progress before pacing stops waiting
QUEUE = b"natsops-bench"
now_ns = time.monotonic_ns


@dataclass(frozen=True)
class WorkerSpec:
    """What one worker does. ``count`` < 0 means "until ``duration``"."""

    role: str  # pub | sub | req | rep | jspub | fetch | ordered | kvput | kvget
    index: int
    slot: int
    subject: str
    size: int
    probe: str  # subject listeners answer so talkers know interest has propagated
    count: int = 0
    duration: float = 0.0
    listeners: int = 0  # how many probe answers a talker waits for
    window: int = 1  # JetStream: un-acked publishes in flight
    batch: int = 1  # JetStream: publishes sent per write
    pub_slots: tuple[int, ...] = ()  # for pacing: counter slots of publishers
    sub_slots: tuple[int, ...] = ()  # ... and of subscribers
    stream: str = ""  # JetStream consumers: the stream,
    consumer: str = ""  # the durable pull consumer (fetch),
    api: str = "$JS.API"  # and the JetStream API prefix
    keys: int = 1  # KV: keys used (<subject>.<n>; 1 = the subject itself is the key)
    subjects: int = 1  # publish round-robin to <subject>.<n> (zero-padded); 1 = the subject
    payload: str = "text"  # text | zeros | random
    key_offset: int = 0  # KV: this client's first key


class Shared:
    """The shared-memory values a worker sees (counters, expected count, stop flag)."""

    def __init__(self, counters: Any, expected: Any, stop: Any) -> None:
        self.counters = counters
        self.expected = expected
        self.stop = stop


class Tally:
    """What a reader counted: messages, first and last arrival, and the shared progress slot."""

    __slots__ = ("count", "counters", "end", "slot", "start")

    def __init__(self, shared: Shared, slot: int) -> None:
        self.count = self.start = self.end = 0
        self.counters = shared.counters
        self.slot = slot

    def add(self, n: int) -> None:
        t = now_ns()
        if not self.count:
            self.start = t
        self.count += n
        self.end = t
        self.counters[self.slot] = self.count

    def result(self, **extra: Any) -> dict[str, Any]:
        return {"msgs": self.count, "start": self.start, "end": self.end, **extra}


def payload_for(size: int, pattern: str = "text") -> bytes:
    """``text``: printable a..z; ``zeros``; ``random``: incompressible bytes."""
    if pattern == "zeros":
        return bytes(size)
    if pattern == "random":
        return os.urandom(size)
    return bytes(97 + i % 26 for i in range(size))


def subject_names(spec: WorkerSpec) -> list[bytes]:
    """The subjects a talker cycles through; zero-padded so every frame has the same length."""
    if spec.subjects <= 1:
        return [spec.subject.encode()]
    width = len(str(spec.subjects - 1))
    return [f"{spec.subject}.{i:0{width}d}".encode() for i in range(spec.subjects)]


def listen_subject(spec: WorkerSpec) -> bytes:
    return f"{spec.subject}.*".encode() if spec.subjects > 1 else spec.subject.encode()


def ring(spec: WorkerSpec, head: Callable[[bytes], bytes], min_frames: int) -> tuple[bytes, int]:
    """Pre-built frames for every subject in turn, repeated to at least ``min_frames``.

    Returns the buffer and the length of one frame (all frames have the same length). With the
    ``random`` pattern every frame carries its own random payload.
    """
    subjects = subject_names(spec)
    reps = max(1, -(-min_frames // len(subjects)))
    fixed = payload_for(spec.size, spec.payload)
    fresh = spec.payload == "random"
    parts = [head(subj) + (payload_for(spec.size, "random") if fresh else fixed) + b"\r\n"
             for _ in range(reps) for subj in subjects]
    return b"".join(parts), len(parts[0])


def worker_main(
    spec: WorkerSpec, settings: Settings, counters: Any, expected: Any, stop: Any,
    pipe: Connection,
) -> None:  # fmt: skip
    """Process entry point: run one role and send ("result", dict) or ("error", ...)."""
    shared = Shared(counters, expected, stop)
    conn: WireConn | None = None
    try:
        conn = WireConn.open(settings, spec.index, name=f"natsops-bench-{spec.role}{spec.index}")
        result = ROLES[spec.role](spec, conn, shared, pipe, settings)
        pipe.send(("result", result))
    except KeyboardInterrupt:
        pass
    except NatsopsError as exc:
        pipe.send(("error", type(exc).__name__, str(exc), exc.hint))
    except OSError as exc:  # the connection broke: the server is gone (exit 3, as connecting)
        where = conn.url if conn is not None else "the server"
        pipe.send(("error", "Unreachable", f"{spec.role}{spec.index}: connection to {where} "
                   f"lost: {exc.strerror or exc}", None))
    except ValueError as exc:
        pipe.send(("error", "NatsopsError", f"{spec.role}{spec.index}: {exc}", None))
    finally:
        if conn is not None:
            conn.close()
        pipe.close()


def _wait_go(pipe: Connection) -> None:
    pipe.send(("ready",))
    msg = pipe.recv()
    if msg != "go":
        raise KeyboardInterrupt  # the parent is tearing down


def _probe(conn: WireConn, spec: WorkerSpec, timeout: float) -> None:
    """Wait until every listener answered a probe: their interest reached our server."""
    if spec.listeners <= 0:
        return
    inbox = f"_INBOX.natsops-bench.probe.{spec.role}{spec.index}".encode()
    conn.send(b"SUB " + inbox + b" 99\r\n")
    seen: set[bytes] = set()
    deadline = time.monotonic() + timeout
    frames: list[Frame] = []
    while len(seen) < spec.listeners:
        if time.monotonic() > deadline:
            raise Timeout(
                f"only {len(seen)} of {spec.listeners} subscribers/responders were reachable "
                f"from {conn.url} after {timeout:g}s (interest did not propagate)"
            )
        conn.send(b"PUB " + spec.probe.encode() + b" " + inbox + b" 0\r\n\r\n")
        end = time.monotonic() + 0.05
        while time.monotonic() < end:
            frames.clear()
            if not conn.read_frames(frames, timeout=max(0.0, end - time.monotonic())):
                continue
            conn.handle_control(frames)
            seen.update(f.payload for f in frames if f.kind == MSG and f.args[1] == b"99")
    conn.send(b"UNSUB 99\r\n")


# --- core publisher -------------------------------------------------------------------------
def _pacer(spec: WorkerSpec, shared: Shared, frame_len: int) -> Callable[[], None] | None:
    if not spec.sub_slots:
        return None
    counters = shared.counters
    limit = max(1, PACE_BYTES // frame_len)
    pubs, subs = spec.pub_slots, spec.sub_slots

    def pace() -> None:
        waited_since = 0.0
        last_min = -1
        while not shared.stop.value:
            published = sum(counters[i] for i in pubs)
            slowest = min(counters[i] for i in subs)
            if published - slowest <= limit:
                return
            t = time.monotonic()
            if slowest != last_min:
                last_min, waited_since = slowest, t
            elif t - waited_since > PACE_GIVE_UP:
                return  # subscribers stalled: publish on, the loss will be reported
            time.sleep(0.0002)

    return pace


def run_publisher(
    spec: WorkerSpec, conn: WireConn, shared: Shared, pipe: Connection, settings: Settings
) -> dict[str, Any]:
    def head(subj: bytes) -> bytes:
        return b"PUB %s %d\r\n" % (subj, spec.size)

    per_chunk = max(1, CHUNK_BYTES // (len(head(subject_names(spec)[0])) + spec.size + 2))
    buf, flen = ring(spec, head, per_chunk)
    view, in_ring, at = memoryview(buf), len(buf) // flen, 0
    pace = _pacer(spec, shared, flen)
    counters, slot = shared.counters, spec.slot
    _probe(conn, spec, max(settings.timeout, 5.0))
    conn.flush()
    _wait_go(pipe)
    count = spec.count if spec.count >= 0 else 1 << 62
    sent = 0
    start = now_ns()
    deadline = start + int(spec.duration * 1e9) if spec.count < 0 else 1 << 62
    send = conn.sock.sendall
    rounds = 0
    while sent < count:
        n = min(per_chunk, count - sent, in_ring - at)
        send(view[at * flen : (at + n) * flen])
        at = (at + n) % in_ring
        sent += n
        counters[slot] = sent
        rounds += 1
        if pace is not None:
            pace()
        if rounds & 15 == 0:
            conn.poll_control()
            if shared.stop.value:
                break
            if now_ns() >= deadline:
                break
        elif spec.count < 0 and now_ns() >= deadline:
            break
    conn.flush(timeout=max(60.0, settings.timeout))
    end = now_ns()
    return {"msgs": sent, "start": start, "end": end}


# --- core subscriber ------------------------------------------------------------------------
def _subscribe(conn: WireConn, spec: WorkerSpec, queue: bool = False) -> None:
    q = b" " + QUEUE if queue else b""
    conn.send(b"SUB %s%s 1\r\nSUB %s 2\r\n" % (listen_subject(spec), q, spec.probe.encode()))
    conn.flush()


def _answer_probe(conn: WireConn, f: Frame, me: bytes) -> None:
    reply = f.args[2] if len(f.args) == 4 else b""
    if reply:
        conn.send(b"PUB %s %d\r\n%s\r\n" % (reply, len(me), me))


def run_subscriber(
    spec: WorkerSpec, conn: WireConn, shared: Shared, pipe: Connection, settings: Settings
) -> dict[str, Any]:
    _subscribe(conn, spec)
    pipe.send(("ready",))
    me = f"S{spec.index}".encode()
    # every bench frame is MSG <subject> 1 <size>: subjects differ only in zero-padded digits
    subject = subject_names(spec)[0]
    prefix = b"MSG " + (spec.subject.encode() + b"." if spec.subjects > 1 else subject + b" ")
    suffix = b" 1 %d\r\n" % spec.size if spec.subjects > 1 else b"1 %d\r\n" % spec.size
    header_len = len(b"MSG %s 1 %d\r\n" % (subject, spec.size))
    flen = header_len + spec.size + 2
    expected, stop = shared.expected, shared.stop
    sock = conn.sock
    sock.settimeout(0.1)
    tally = Tally(shared, spec.slot)
    frames: list[Frame] = []
    data = b""
    # frames already read during the handshake
    early = sum(1 for f in conn.backlog if f.kind in (MSG, HMSG) and f.args[1] == b"1")
    conn.backlog = []
    if early:
        tally.add(early)
    error = ""
    while True:
        want = expected.value
        if 0 < want <= tally.count or stop.value:
            break
        try:
            chunk = sock.recv(4 << 20)
        except TimeoutError:
            continue
        except OSError as exc:
            error = f"connection lost: {exc}"
            break
        if not chunk:
            error = "the server closed the connection (a slow consumer? see the server log)"
            break
        data = data + chunk if data else chunk
        n = len(data)
        pos = 0
        got = 0
        while pos < n:
            k = (n - pos) // flen
            if k and data.startswith(prefix, pos):
                stop_at = pos + k * flen
                # k frames of the expected shape: k header starts and ends, a line break
                # where every header and every frame ends (strided slices: C speed)
                lf = b"\n" * k
                if (
                    data[pos + flen - 1 : stop_at : flen] == lf
                    and data[pos + header_len - 1 : stop_at : flen] == lf
                    and data[pos + flen - 2 : stop_at : flen] == b"\r" * k
                    and data.count(prefix, pos, stop_at) == k
                    and data.count(suffix, pos, stop_at) == k
                ):
                    got += k
                    pos = stop_at
                    continue
            frames.clear()
            new = parse_frames(data, pos, frames, 1)
            if new == pos:
                break  # incomplete frame: wait for more data
            pos = new
            for f in frames:
                if f.kind == MSG or f.kind == HMSG:
                    if f.args[1] == b"1":
                        got += 1
                    elif f.args[1] == b"2":
                        _answer_probe(conn, f, me)
                elif f.kind == PING:
                    conn.send(b"PONG\r\n")
                elif f.kind == ERR:
                    error = f"server error: {f.args[0].decode(errors='replace')}"
        data = data[pos:] if pos < n else b""
        if got:
            tally.add(got)
        if error:
            break
    if error:
        shared.counters[spec.slot] = 1 << 62  # a lost subscriber must not hold publishers back
    return tally.result(error=error)


# --- request / reply ------------------------------------------------------------------------
def run_responder(
    spec: WorkerSpec, conn: WireConn, shared: Shared, pipe: Connection, settings: Settings
) -> dict[str, Any]:
    _subscribe(conn, spec, queue=True)
    pipe.send(("ready",))
    me = f"R{spec.index}".encode()
    frames: list[Frame] = []
    served = 0
    while not shared.stop.value:
        frames.clear()
        if not conn.read_frames(frames, timeout=0.1):
            continue
        out = []
        for f in frames:
            if f.kind == MSG and len(f.args) == 4:
                if f.args[1] == b"1":
                    out.append(b"PUB %s %d\r\n%s\r\n" % (f.args[2], len(f.payload), f.payload))
                    served += 1
                else:
                    _answer_probe(conn, f, me)
            elif f.kind in (PING, ERR):
                conn.handle_control([f])
        if out:
            conn.send(b"".join(out))
            shared.counters[spec.slot] = served
    return {"msgs": served, "start": 0, "end": 0}


def _sync_ops(
    spec: WorkerSpec, conn: WireConn, shared: Shared, pipe: Connection, settings: Settings,
    frames_for: Callable[[bytes], list[bytes]], failed: Callable[[Frame], bool], what: str,
) -> dict[str, Any]:  # fmt: skip
    """One operation at a time: send a request, wait for its reply, time it."""
    inbox = f"_INBOX.natsops-bench.{spec.role}{spec.index}.{os.getpid()}".encode()
    conn.send(b"SUB " + inbox + b" 1\r\n")
    ops = frames_for(inbox)
    _probe(conn, spec, max(settings.timeout, 5.0))
    conn.flush()
    _wait_go(pipe)
    lat = array("q")
    errors = done = 0
    first_error = ""
    frames: list[Frame] = []
    count = spec.count if spec.count >= 0 else 1 << 62
    start = now_ns()
    deadline = start + int(spec.duration * 1e9) if spec.count < 0 else 1 << 62
    counters, slot, timeout = shared.counters, spec.slot, settings.timeout
    n_ops = len(ops)
    while done < count and not shared.stop.value:
        t0 = now_ns()
        if t0 >= deadline:
            break
        conn.send(ops[done % n_ops])
        answered = False
        while not answered:
            frames.clear()
            if not conn.read_frames(frames, timeout=timeout):
                raise Timeout(f"no reply within {timeout:g}s ({what})")
            for f in frames:
                if f.kind in (MSG, HMSG) and f.args[1] == b"1":
                    answered = True
                    if failed(f):
                        errors += 1
                        if not first_error:
                            first_error = f.payload.decode(errors="replace").strip()[:200]
                elif f.kind in (PING, ERR):
                    conn.handle_control([f])
        lat.append(now_ns() - t0)
        done += 1
        counters[slot] = done
        if errors == done and errors >= 10:
            if first_error.startswith("NATS/1.0 503"):
                raise ServerError(f"no responders for {what}",
                                  hint="--request without --sub needs a running service on NAME; "
                                  "--sub N starts N responders")
            raise ServerError(f"all {what} failed: {first_error}")
    end = now_ns()
    return {"msgs": done - errors, "errors": errors, "first_error": first_error,
            "start": start, "end": end, "lat": lat.tobytes()}


def run_requester(
    spec: WorkerSpec, conn: WireConn, shared: Shared, pipe: Connection, settings: Settings
) -> dict[str, Any]:
    def frames_for(inbox: bytes) -> list[bytes]:
        payload = payload_for(spec.size, spec.payload)
        return [b"PUB %s %s %d\r\n%s\r\n" % (subj, inbox, spec.size, payload)
                for subj in subject_names(spec)]

    # a header-only reply is a status: 503 no responders
    return _sync_ops(spec, conn, shared, pipe, settings, frames_for,
                     lambda f: f.kind == HMSG, f"requests on {spec.subject}")


def _keys(spec: WorkerSpec) -> list[bytes]:
    """The keys this client touches, in order (each client starts at its own offset)."""
    if spec.keys <= 1:
        return [spec.subject.encode()]
    n = min(spec.keys, max(spec.count, 1)) if spec.count >= 0 else spec.keys
    return [f"{spec.subject}.{(spec.key_offset + i) % spec.keys}".encode() for i in range(n)]


def run_kv_put(
    spec: WorkerSpec, conn: WireConn, shared: Shared, pipe: Connection, settings: Settings
) -> dict[str, Any]:
    payload = payload_for(spec.size, spec.payload)
    bucket = spec.stream.removeprefix("KV_").encode()

    def frames_for(inbox: bytes) -> list[bytes]:
        return [b"PUB $KV.%s.%s %s %d\r\n%s\r\n" % (bucket, key, inbox, spec.size, payload)
                for key in _keys(spec)]

    return _sync_ops(spec, conn, shared, pipe, settings, frames_for,
                     lambda f: f.kind == HMSG or b'"error"' in f.payload, "KV puts")


def run_kv_get(
    spec: WorkerSpec, conn: WireConn, shared: Shared, pipe: Connection, settings: Settings
) -> dict[str, Any]:
    bucket = spec.stream.removeprefix("KV_").encode()
    api = spec.api.encode()

    def frames_for(inbox: bytes) -> list[bytes]:
        return [b"PUB %s.DIRECT.GET.KV_%s.$KV.%s.%s %s 0\r\n\r\n" % (
            api, bucket, bucket, key, inbox) for key in _keys(spec)]

    # a direct get answers with headers; a status code (404) means no value
    return _sync_ops(spec, conn, shared, pipe, settings, frames_for,
                     lambda f: f.kind != HMSG or _status(f) != b"", "KV gets")


# --- JetStream publisher --------------------------------------------------------------------
def _count_acks(data: bytes, prefix: bytes) -> tuple[int, int, int] | None:
    """Count whole ack frames without parsing each: (acks, errors, bytes used), or None when
    the buffer holds anything else (a status message, a PING), which the full parser handles."""
    if not data.startswith(prefix):
        return None
    last = data.rfind(prefix)
    eol = data.find(b"\r\n", last)
    end = last
    if eol > 0:
        frame_end = eol + 4 + int(data[last + len(prefix) : eol])
        if frame_end <= len(data):
            end = frame_end
    acks = data.count(prefix, 0, end)
    # an ack is one header line and one JSON line: any other frame changes the CRLF count
    if data.count(b"\r\n", 0, end) != 2 * acks:
        return None
    return acks, data.count(b'"error"', 0, end), end


def run_js_publisher(
    spec: WorkerSpec, conn: WireConn, shared: Shared, pipe: Connection, settings: Settings
) -> dict[str, Any]:
    inbox = f"_INBOX.natsops-bench.js{spec.index}".encode()
    conn.send(b"SUB " + inbox + b" 1\r\n")
    window, batch = max(1, spec.window), max(1, min(spec.batch, spec.window))
    buf, flen = ring(spec, lambda subj: b"PUB %s %s %d\r\n" % (subj, inbox, spec.size), batch)
    view, in_ring, at = memoryview(buf), len(buf) // flen, 0
    conn.flush()
    _wait_go(pipe)
    count = spec.count if spec.count >= 0 else 1 << 62
    start = now_ns()
    deadline = start + int(spec.duration * 1e9) if spec.count < 0 else 1 << 62
    sent = acked = errors = 0
    first_error = ""
    marks: deque[tuple[int, int]] = deque()  # (sent count at the end of a batch, send time)
    lat = array("q")
    frames: list[Frame] = []
    counters, slot, timeout = shared.counters, spec.slot, settings.timeout
    prefix = b"MSG " + inbox + b" 1 "
    sock = conn.sock
    sock.settimeout(timeout)
    data = b""
    while acked < sent or (sent < count and not shared.stop.value):
        if sent < count and now_ns() >= deadline:
            count = sent  # duration reached: wait for the acks of what was sent
        while sent < count and window - (sent - acked) >= batch:
            n = min(batch, count - sent)
            t = now_ns()
            n = min(n, in_ring - at)
            conn.send(view[at * flen : (at + n) * flen])
            at = (at + n) % in_ring
            sent += n
            marks.append((sent, t))
        if acked >= sent:
            continue
        try:
            chunk = sock.recv(1 << 20)
        except TimeoutError:
            raise Timeout(f"JetStream did not acknowledge a publish to {spec.subject} "
                          f"within {timeout:g}s ({sent - acked} un-acked)") from None
        if not chunk:
            raise ServerError(f"{conn.url}: the server closed the connection")
        data = data + chunk if data else chunk
        fast = _count_acks(data, prefix)
        if fast is not None:
            n_acks, n_err, end = fast
            acked += n_acks
            if n_err:
                errors += n_err
                if not first_error:
                    at = data.find(b'"error"', 0, end)
                    first_error = data[at : data.find(b"\r\n", at)].decode(errors="replace")
            data = data[end:]
        else:
            frames.clear()
            pos = parse_frames(data, 0, frames)
            data = data[pos:]
            for f in frames:
                if f.args and f.kind in (MSG, HMSG) and f.args[1] == b"1":
                    acked += 1
                    if f.kind == HMSG or b'"error"' in f.payload:
                        errors += 1
                        if not first_error:
                            first_error = f.payload.decode(errors="replace")[:200]
                elif f.kind in (PING, ERR):
                    conn.handle_control([f])
        t = now_ns()
        while marks and acked >= marks[0][0]:
            lat.append(t - marks.popleft()[1])
        counters[slot] = acked
        if errors >= 100 and errors == acked:
            raise ServerError(f"every JetStream publish to {spec.subject} failed: "
                              f"{first_error or 'no responders (is there a stream?)'}")
    end = now_ns()
    return {"msgs": acked - errors, "errors": errors, "first_error": first_error,
            "start": start, "end": end, "lat": lat.tobytes()}


# --- JetStream consumers -------------------------------------------------------------------
def _status(f: Frame) -> bytes:
    """The status code of a header-only message (``NATS/1.0 404 No Messages`` -> b"404")."""
    first = f.payload[: f.header_len].split(b"\r\n", 1)[0].split()
    return first[1] if len(first) > 1 else b""


def run_fetcher(
    spec: WorkerSpec, conn: WireConn, shared: Shared, pipe: Connection, settings: Settings
) -> dict[str, Any]:
    """Pull batches from a shared durable consumer and ack every message (explicit acks)."""
    inbox = f"_INBOX.natsops-bench.fetch{spec.index}".encode()
    conn.send(b"SUB " + inbox + b" 1\r\n")
    conn.flush()
    _wait_go(pipe)
    body = json.dumps({"batch": spec.batch, "expires": 1_000_000_000}).encode()
    pull = b"PUB %s.CONSUMER.MSG.NEXT.%s.%s %s %d\r\n%s\r\n" % (
        spec.api.encode(), spec.stream.encode(), spec.consumer.encode(), inbox, len(body), body)
    counters, slots = shared.counters, spec.sub_slots
    total = shared.expected.value
    tally = Tally(shared, spec.slot)
    frames: list[Frame] = []
    idle_since = time.monotonic()
    while sum(counters[i] for i in slots) < total and not shared.stop.value:
        conn.send(pull)
        got = 0
        while got < spec.batch and sum(counters[i] for i in slots) < total:
            frames.clear()
            if not conn.read_frames(frames, timeout=0.1):
                if time.monotonic() - idle_since > settings.timeout + 2:
                    raise Timeout(f"no message from consumer {spec.consumer} in "
                                  f"{settings.timeout + 2:g}s ({tally.count} received)")
                if shared.stop.value:
                    break
                continue
            idle_since = time.monotonic()
            acks = []
            for f in frames:
                if f.kind == MSG and len(f.args) == 4:
                    acks.append(b"PUB %s 0\r\n\r\n" % f.args[2])
                elif f.kind == HMSG:
                    code = _status(f)
                    if code in (b"404", b"408", b"409"):
                        got = spec.batch  # the pull request ended
                    elif code and code != b"100":
                        raise ServerError(f"consumer {spec.consumer}: status {code.decode()}")
                elif f.kind in (PING, ERR):
                    conn.handle_control([f])
            if acks:
                conn.send(b"".join(acks))
                tally.add(len(acks))
                got += len(acks)
    return tally.result()


def run_ordered(
    spec: WorkerSpec, conn: WireConn, shared: Shared, pipe: Connection, settings: Settings
) -> dict[str, Any]:
    """Read the whole stream through an ephemeral ordered push consumer (flow control on)."""
    deliver = f"_INBOX.natsops-bench.ord{spec.index}.{os.getpid()}".encode()
    reply = deliver + b".api"
    cfg = json.dumps({"stream_name": spec.stream, "config": {
        "deliver_subject": deliver.decode(), "deliver_policy": "all", "ack_policy": "none",
        "replay_policy": "instant", "flow_control": True, "idle_heartbeat": 5_000_000_000,
        "mem_storage": True, "num_replicas": 1, "inactive_threshold": 10_000_000_000}}).encode()
    conn.send(b"SUB %s 1\r\nSUB %s 2\r\n" % (deliver, reply))
    conn.flush()
    _wait_go(pipe)
    conn.send(b"PUB %s.CONSUMER.CREATE.%s %s %d\r\n%s\r\n" % (
        spec.api.encode(), spec.stream.encode(), reply, len(cfg), cfg))
    total = shared.expected.value
    tally = Tally(shared, spec.slot)
    name = b""
    frames: list[Frame] = []
    idle_since = time.monotonic()
    try:
        while tally.count < total and not shared.stop.value:
            frames.clear()
            if not conn.read_frames(frames, timeout=0.1):
                if time.monotonic() - idle_since > settings.timeout + 2:
                    raise Timeout(f"ordered consumer on {spec.stream} stalled "
                                  f"({tally.count} received)")
                continue
            idle_since = time.monotonic()
            got = 0
            for f in frames:
                if f.kind == MSG and f.args[1] == b"1":
                    # reply: $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pend>
                    cseq = int(f.args[2].split(b".")[-3])
                    if cseq != tally.count + got + 1:
                        raise ServerError(f"ordered consumer on {spec.stream}: expected "
                                          f"consumer sequence {tally.count + got + 1}, "
                                          f"got {cseq}")
                    got += 1
                elif f.kind == HMSG and f.args[1] == b"1":
                    if len(f.args) == 5:  # flow control request: answer on its reply subject
                        conn.send(b"PUB %s 0\r\n\r\n" % f.args[2])
                    at = f.payload.find(b"Nats-Consumer-Stalled:")
                    if at >= 0:  # a heartbeat saying we missed a flow control request
                        stalled = f.payload[at + 22 : f.payload.find(b"\r\n", at)].strip()
                        conn.send(b"PUB %s 0\r\n\r\n" % stalled)
                elif f.kind == MSG and f.args[1] == b"2":
                    resp = json.loads(f.payload)
                    if "error" in resp:
                        err = resp["error"]
                        raise ServerError(f"cannot create an ordered consumer on "
                                          f"{spec.stream}: {err.get('description', err)}")
                    name = str(resp.get("name", "")).encode()
                elif f.kind in (PING, ERR):
                    conn.handle_control([f])
            if got:
                tally.add(got)
    finally:  # also on a stall or an error: the ephemeral consumer is ours to delete
        # (a dead connection cannot: the server drops it after its inactive_threshold)
        if name:
            with contextlib.suppress(Exception):
                conn.send(b"PUB %s.CONSUMER.DELETE.%s.%s 0\r\n\r\n" % (
                    spec.api.encode(), spec.stream.encode(), name))
                conn.flush()
    return tally.result()


ROLES: dict[str, Callable[[WorkerSpec, WireConn, Shared, Connection, Settings], dict[str, Any]]]
ROLES = {
    "pub": run_publisher,
    "sub": run_subscriber,
    "rep": run_responder,
    "req": run_requester,
    "jspub": run_js_publisher,
    "fetch": run_fetcher,
    "ordered": run_ordered,
    "kvput": run_kv_put,
    "kvget": run_kv_get,
}
