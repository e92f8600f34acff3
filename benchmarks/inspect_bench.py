"""`stream subjects` and `stream view` on a 1M-message, 10k-subject stream vs a nats-py fetch loop.

Run: python benchmarks/inspect_bench.py [--messages 1000000] [--subjects 10000]

Starts its own nats-server (127.0.0.1, free ports, temp store, stopped by pid at the end) and
fills stream ``BENCH`` (allow_direct) through a pipelined raw publisher. Then measures:
- natsops ``subject_counts`` (STREAM.INFO ``subjects_filter``, paged) against counting
  subjects with one nats-py loop fetching every message from an ephemeral pull consumer
  (batches of 1000, no acks): the only way a plain client gets per-subject counts;
- natsops ``view_messages`` over every message (batched direct gets, each message decoded,
  headers parsed) against the same nats-py fetch loop.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import tempfile
import time
from collections import Counter
from pathlib import Path

import nats
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

from natsops.cluster.process import ServerProcess, find_server_binary
from natsops.connection import connect
from natsops.context import Settings
from natsops.jetstream.inspect import (
    StoredMsg,
    View,
    stream_state,
    subject_counts,
    view_messages,
)


async def fill(url: str, messages: int, subjects: int) -> None:
    """Publish ``messages`` 64-byte messages round-robin over ``subjects`` subjects.

    A raw pipelined publisher, in windows of 20,000: JetStream drops core publishes it cannot
    queue, so each window is waited for (the stream's last sequence) before the next one.
    """
    port = int(url.rsplit(":", 1)[1])
    s = socket.create_connection(("127.0.0.1", port))
    s.recv(65536)
    s.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n')
    while b"PONG" not in s.recv(65536):
        pass
    body = b"x" * 64
    async with connect(Settings(servers=(url,), timeout=30.0)) as conn:
        for start in range(0, messages, 20_000):
            end = min(messages, start + 20_000)
            s.sendall(b"".join(b"PUB BENCH.s%d 64\r\n%s\r\n" % (i % subjects, body)
                               for i in range(start, end)))
            deadline = time.monotonic() + 30
            while (await stream_state(conn, "BENCH")).last_seq < end:
                if time.monotonic() > deadline:
                    raise SystemExit(f"the server dropped publishes (window ending {end})")
                await asyncio.sleep(0.005)
    s.close()


async def fetch_loop(url: str, total: int) -> Counter[str]:
    """The reference: one nats-py pull-fetch loop over every message, counting subjects."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe("BENCH.>", stream="BENCH", config=ConsumerConfig(
            ack_policy=AckPolicy.NONE, mem_storage=True, inactive_threshold=60.0))
        counts: Counter[str] = Counter()
        seen = 0
        while seen < total:
            for m in await sub.fetch(1000, timeout=10):
                counts[m.subject] += 1
                seen += 1
        return counts
    finally:
        await nc.close()


async def bench(url: str, messages: int, subjects: int) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="BENCH", subjects=["BENCH.>"], allow_direct=True))
    await nc.close()
    t = time.perf_counter()
    await fill(url, messages, subjects)
    async with connect(Settings(servers=(url,), timeout=30.0)) as conn:
        print(f"fill: {messages:,} messages on {subjects:,} subjects in "
              f"{time.perf_counter() - t:.1f}s")

        t = time.perf_counter()
        rows = await subject_counts(conn, "BENCH")
        subj_s = time.perf_counter() - t
        assert len(rows) == subjects
        assert sum(r.messages for r in rows) == messages

        seen = [0]

        def emit(m: StoredMsg) -> None:
            seen[0] += 1

        t = time.perf_counter()
        n = await view_messages(conn, "BENCH", View(count=messages), emit, stall_timeout=60)
        view_s = time.perf_counter() - t
        assert n == seen[0] == messages

    t = time.perf_counter()
    ref = await fetch_loop(url, messages)
    ref_s = time.perf_counter() - t
    assert len(ref) == subjects
    print(f"natsops stream subjects: {subj_s:8.2f}s  ({subjects:,} subjects)")
    print(f"natsops stream view:     {view_s:8.2f}s  ({messages / view_s:,.0f} msgs/s)")
    print(f"nats-py fetch loop:      {ref_s:8.2f}s  ({messages / ref_s:,.0f} msgs/s; "
          "counts subjects by reading every message)")
    print(f"subjects speed-up vs fetch loop: {ref_s / subj_s:,.0f}x; "
          f"view vs fetch loop: {ref_s / view_s:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--subjects", type=int, default=10_000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        proc = ServerProcess.start(find_server_binary(), [
            "-js", "-sd", str(Path(d) / "js"), "-a", "127.0.0.1", "-p", "-1"],
            log_file=Path(d) / "server.log")
        try:
            proc.wait_ready(15)
            asyncio.run(bench(proc.client_url, a.messages, a.subjects))
        finally:
            proc.stop(grace=5)


if __name__ == "__main__":
    main()
