"""`natsops bench` next to a plain nats-py loop and a minimal raw-socket reference, in one run.

Run: python benchmarks/bench_vs_reference.py [--rounds 3] [--size 256] [--json]

It starts its own nats-server (127.0.0.1, free ports, log in a temp dir, ``max_pending: 1GB`` so
the unpaced references are not cut off as slow consumers), runs every case ``--rounds`` times
interleaved, prints the median msgs/s with min-max and the ratios measured in the same run, and
stops the server by pid. The references are deliberately tiny and share no code with natsops:

* raw publish: one process, ``sendall()`` of ~1 MiB of pre-built ``PUB`` frames, PING/PONG at
  the end;
* raw reader: ``recv(4 MiB)`` and a per-message ``MSG`` parser, fed by a raw publisher process;
* raw JetStream publish: ``PUB subj inbox``, up to 4000 un-acked, acks parsed one by one.

Targets (issue 8): core publish >= 70% of raw per process, subscribe >= 60% of the raw reader,
JetStream async publish R1 >= 150k msgs/s. Figures on a shared 2-core box are noisy: read the
ratios, and rerun.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from natsops.bench import BenchOptions, run_bench
from natsops.cluster.process import ServerProcess, find_server_binary
from natsops.context import Settings

CONF = """
max_pending: 1GB
max_payload: 8MB
jetstream {{ store_dir: "{store}", max_memory_store: 1GB, max_file_store: 20GB }}
"""


# --- minimal raw-socket references (run in their own processes) -----------------------------
def _raw_connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    while b"\r\n" not in buf:
        buf += s.recv(65536)
    s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true}\r\nPING\r\n')
    _raw_wait_pong(s)
    return s


def _raw_wait_pong(s: socket.socket) -> None:
    buf = b""
    while b"PONG\r\n" not in buf:
        chunk = s.recv(1 << 20)
        if not chunk:
            raise SystemExit("server closed the connection")
        buf = buf[-8:] + chunk


def _ref_count_msgs(buf: bytes, s: socket.socket) -> tuple[int, int]:
    """Count whole MSG frames one by one; return (count, bytes used). PINGs get a PONG."""
    count = pos = 0
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            break
        if buf.startswith(b"MSG ", pos):
            end = eol + 4 + int(buf[buf.rfind(b" ", pos, eol) + 1 : eol])
            if end > len(buf):
                break
            count += 1
            pos = end
        else:
            if buf.startswith(b"PING", pos):
                s.sendall(b"PONG\r\n")
            pos = eol + 2
    return count, pos


def ref_raw_pub(port: int, subject: str, n: int, size: int, out: Any, go: Any) -> None:
    s = _raw_connect(port)
    frame = b"PUB %s %d\r\n%s\r\n" % (subject.encode(), size, b"x" * size)
    per = max(1, (1 << 20) // len(frame))
    chunk = frame * per
    go.wait()
    t0 = time.perf_counter()
    sent = 0
    while sent < n:
        k = min(per, n - sent)
        s.sendall(chunk if k == per else frame * k)
        sent += k
    s.sendall(b"PING\r\n")
    _raw_wait_pong(s)
    out.put(("raw_pub", n / (time.perf_counter() - t0)))
    s.close()


def ref_raw_reader(port: int, subject: str, n: int, out: Any, ready: Any) -> None:
    s = _raw_connect(port)
    s.sendall(b"SUB %s 1\r\nPING\r\n" % subject.encode())
    _raw_wait_pong(s)
    ready.set()
    count, buf, t0 = 0, b"", 0.0
    while count < n:
        chunk = s.recv(4 << 20)
        if not t0:
            t0 = time.perf_counter()
        buf = buf + chunk if buf else chunk
        got, pos = _ref_count_msgs(buf, s)
        count += got
        buf = buf[pos:]
    out.put(("raw_sub", n / (time.perf_counter() - t0)))
    s.close()


def ref_raw_js(port: int, subject: str, n: int, size: int, out: Any) -> None:
    s = _raw_connect(port)
    s.sendall(b"SUB _INBOX.ref 1\r\nPING\r\n")
    _raw_wait_pong(s)
    frame = b"PUB %s _INBOX.ref %d\r\n%s\r\n" % (subject.encode(), size, b"x" * size)
    t0 = time.perf_counter()
    sent = acked = 0
    buf = b""
    while acked < n:
        while sent < n and sent - acked <= 3500:
            k = min(500, n - sent)
            s.sendall(frame * k)
            sent += k
        buf += s.recv(1 << 20)
        got, pos = _ref_count_msgs(buf, s)
        acked += got
        buf = buf[pos:]
    out.put(("raw_js", n / (time.perf_counter() - t0)))
    s.close()


# --- plain nats-py loops ------------------------------------------------------------------
async def natspy_pub(url: str, subject: str, n: int, size: int) -> float:
    import nats

    nc = await nats.connect(url)
    payload = b"x" * size
    t0 = time.perf_counter()
    for _ in range(n):
        await nc.publish(subject, payload)
    await nc.flush()
    rate = n / (time.perf_counter() - t0)
    await nc.close()
    return rate


async def natspy_sub(url: str, subject: str, n: int, started: Callable[[], None]) -> float:
    import nats

    nc = await nats.connect(url)
    done = asyncio.Event()
    count = 0
    t0 = 0.0

    async def cb(msg: Any) -> None:
        nonlocal count, t0
        if not count:
            t0 = time.perf_counter()
        count += 1
        if count == n:
            done.set()

    await nc.subscribe(subject, cb=cb, pending_msgs_limit=-1, pending_bytes_limit=-1)
    await nc.flush()
    started()
    await asyncio.wait_for(done.wait(), 120)
    rate = n / (time.perf_counter() - t0)
    await nc.close()
    return rate


async def natspy_js(url: str, subject: str, stream: str, n: int, size: int) -> float:
    import nats

    nc = await nats.connect(url)
    js = nc.jetstream(publish_async_max_pending=4000)
    await js.add_stream(name=stream, subjects=[subject])
    payload = b"x" * size
    t0 = time.perf_counter()
    for _ in range(n):
        await js.publish_async(subject, payload)
    await js.publish_async_completed()
    rate = n / (time.perf_counter() - t0)
    await js.delete_stream(stream)
    await nc.close()
    return rate


# --- the cases ----------------------------------------------------------------------------
def run_refs(targets: list[tuple[Callable[..., None], tuple[Any, ...]]], ctx: Any,
             out: Any) -> dict[str, float]:
    procs = [ctx.Process(target=t, args=a, daemon=True) for t, a in targets]
    try:
        for p in procs:
            p.start()
        return dict(out.get(timeout=120) for _ in procs)
    finally:
        for p in procs:
            p.join(5)
            if p.is_alive():
                p.terminate()
                p.join(2)


def one_round(port: int, url: str, size: int, n: dict[str, int], rnd: int) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    settings = Settings(servers=(url,), timeout=10.0)
    r: dict[str, float] = {}

    # core publish, one process each
    go = ctx.Event()
    go.set()
    r.update(run_refs([(ref_raw_pub, (port, f"p{rnd}", n["pub"], size, out, go))], ctx, out))
    res = asyncio.run(run_bench(settings, BenchOptions(f"p{rnd}", msgs=n["pub"], size=size)))
    r["natsops_pub"] = res.groups[0].msgs_per_sec
    r["natspy_pub"] = asyncio.run(natspy_pub(url, f"p{rnd}", n["natspy_pub"], size))

    # core publish, two processes (per process figure is the average client rate)
    res = asyncio.run(run_bench(settings, BenchOptions(f"p{rnd}", pubs=2, msgs=2 * n["pub"],
                                                       size=size)))
    r["natsops_pub2_total"] = res.groups[0].msgs_per_sec
    r["natsops_pub2_per_proc"] = res.groups[0].rate_avg

    # subscribe: the raw reader and natsops each with one publisher
    ready = ctx.Event()
    reader = ctx.Process(target=ref_raw_reader, args=(port, f"s{rnd}", n["sub"], out, ready),
                         daemon=True)
    go = ctx.Event()
    pub = ctx.Process(target=ref_raw_pub, args=(port, f"s{rnd}", n["sub"], size, out, go),
                      daemon=True)
    try:
        reader.start()
        pub.start()
        ready.wait(30)
        go.set()
        for _ in range(2):
            k, v = out.get(timeout=120)
            r[k if k != "raw_pub" else "raw_pub_feeding_reader"] = v
    finally:
        for p in (reader, pub):
            p.join(5)
            if p.is_alive():
                p.terminate()
    res = asyncio.run(run_bench(settings, BenchOptions(f"s{rnd}", pubs=1, subs=1,
                                                       msgs=n["sub"], size=size)))
    sub = res.group("sub")
    if sub is None or res.lost:
        raise SystemExit(f"natsops bench lost messages: {res.warnings}")
    r["natsops_sub"] = sub.msgs_per_sec

    async def natspy_sub_case() -> float:
        go2 = ctx.Event()
        p = ctx.Process(target=ref_raw_pub, args=(port, f"n{rnd}", n["natspy_sub"], size, out,
                                                  go2), daemon=True)
        p.start()
        try:
            return await natspy_sub(url, f"n{rnd}", n["natspy_sub"], go2.set)
        finally:
            await asyncio.to_thread(p.join, 30)
            out.get(timeout=30)

    r["natspy_sub"] = asyncio.run(natspy_sub_case())

    # JetStream async publish, R1 file stream
    res = asyncio.run(run_bench(settings, BenchOptions(f"js{rnd}", mode="js", stream=f"NB{rnd}",
                                                       msgs=n["js"], size=size)))
    r["natsops_js"] = res.groups[0].msgs_per_sec
    r["natspy_js"] = asyncio.run(natspy_js(url, f"jp{rnd}", f"NP{rnd}", n["natspy_js"], size))

    async def raw_js_stream(add: bool) -> None:
        import nats

        nc = await nats.connect(url)
        js = nc.jetstream()
        if add:
            await js.add_stream(name=f"NR{rnd}", subjects=[f"jr{rnd}"])
        else:
            await js.delete_stream(f"NR{rnd}")
        await nc.close()

    asyncio.run(raw_js_stream(True))
    r.update(run_refs([(ref_raw_js, (port, f"jr{rnd}", n["js"], size, out))], ctx, out))
    asyncio.run(raw_js_stream(False))
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply message counts")
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    args = ap.parse_args()
    n = {k: int(v * args.scale) for k, v in {
        "pub": 2_000_000, "natspy_pub": 300_000, "sub": 1_000_000, "natspy_sub": 200_000,
        "js": 300_000, "natspy_js": 60_000}.items()}  # fmt: skip

    with tempfile.TemporaryDirectory(prefix="natsops-bench-") as tmp:
        d = Path(tmp)
        conf = d / "server.conf"
        conf.write_text(CONF.format(store=d / "js"))
        srv = ServerProcess.start(find_server_binary(), ["-c", conf, "-a", "127.0.0.1",
                                                         "-p", "-1", "-m", "-1"],
                                  log_file=d / "server.log")
        try:
            srv.wait_ready(15)
            assert srv.client_port is not None
            rounds = [one_round(srv.client_port, srv.client_url, args.size, n, i)
                      for i in range(args.rounds)]
        finally:
            srv.stop(grace=5)
    report(rounds, args.size, args.json)


def report(rounds: list[dict[str, float]], size: int, as_json: bool) -> None:
    keys = list(rounds[0])
    med = {k: statistics.median(r[k] for r in rounds) for k in keys}
    ratios = {
        "natsops_pub / raw_pub (target >= 0.70)": [r["natsops_pub"] / r["raw_pub"] for r in rounds],
        "natsops_pub2_per_proc / raw_pub": [r["natsops_pub2_per_proc"] / r["raw_pub"]
                                            for r in rounds],
        "natsops_pub / natspy_pub": [r["natsops_pub"] / r["natspy_pub"] for r in rounds],
        "natsops_sub / raw_sub (target >= 0.60)": [r["natsops_sub"] / r["raw_sub"] for r in rounds],
        "natsops_sub / natspy_sub": [r["natsops_sub"] / r["natspy_sub"] for r in rounds],
        "natsops_js / raw_js": [r["natsops_js"] / r["raw_js"] for r in rounds],
        "natsops_js / natspy_js": [r["natsops_js"] / r["natspy_js"] for r in rounds],
    }
    targets = {
        "core publish >= 70% of raw per process": statistics.median(
            ratios["natsops_pub / raw_pub (target >= 0.70)"]) >= 0.70,
        "subscribe >= 60% of the raw reader": statistics.median(
            ratios["natsops_sub / raw_sub (target >= 0.60)"]) >= 0.60,
        "JetStream async publish R1 >= 150k msgs/s": med["natsops_js"] >= 150_000,
    }
    if as_json:
        print(json.dumps({"size": size, "rounds": rounds, "median": med,
                          "ratios": {k: statistics.median(v) for k, v in ratios.items()},
                          "targets_met": targets}, indent=2, sort_keys=True))
        return
    print(f"{len(rounds)} rounds, {size}-byte messages, msgs/s median (min-max)")
    for k in keys:
        vals = [r[k] for r in rounds]
        print(f"  {k:<26} {med[k]:>12,.0f}  ({min(vals):,.0f}-{max(vals):,.0f})")
    print("ratios, same round, median (min-max)")
    for k, vals in ratios.items():
        print(f"  {k:<42} {statistics.median(vals):6.2f}  ({min(vals):.2f}-{max(vals):.2f})")
    for k, ok in targets.items():
        print(f"target: {k}: {'MET' if ok else 'NOT MET'}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
