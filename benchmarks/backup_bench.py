"""Backup and restore throughput against `cp -r` + `sync` of the stream's directory.

Run: python benchmarks/backup_bench.py [--mb 500] [--reps 2]

Starts its own nats-server (127.0.0.1, free ports, temp store), fills two streams with about
``--mb`` MB of incompressible payload each (256-byte and 64 KiB messages, through a raw
pipelined publisher so the fill is quick), then per stream and repetition measures:
- ``cp -r`` of the stream's directory followed by ``sync -f`` (the durable-copy reference),
- ``natsops`` backup (snapshot -> archive, SHA-256 and fsync included),
- ``natsops`` restore (verify archive, restore as R1, compare with the manifest).
MB/s are stream bytes / seconds. The server is stopped by pid at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from natsops.backup import backup_stream, restore_stream
from natsops.cluster.process import ServerProcess, find_server_binary
from natsops.connection import connect
from natsops.context import Settings


def raw_fill(port: int, subject: str, size: int, total_bytes: int) -> int:
    """Publish ~total_bytes of random payload as fast as the socket takes it; returns count."""
    count = max(1, total_bytes // size)
    pool = os.urandom(64 * 1024 * 1024 + size)
    s = socket.create_connection(("127.0.0.1", port))
    s.recv(65536)  # INFO
    s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":false}\r\nPING\r\n')
    buf = b""
    while b"PONG" not in buf:
        buf += s.recv(65536)
    head = f"PUB {subject} {size}\r\n".encode()
    batch: list[bytes] = []
    batch_bytes = 0
    off = 0
    for _ in range(count):
        batch += (head, pool[off:off + size], b"\r\n")
        batch_bytes += size
        off = (off + 4099) % (len(pool) - size)
        if batch_bytes >= 1 << 20:
            s.sendall(b"".join(batch))
            batch, batch_bytes = [], 0
    batch.append(b"PING\r\n")
    s.sendall(b"".join(batch))
    buf = b""
    while b"PONG" not in buf:
        buf += s.recv(65536)
    s.close()
    return count


async def settle(conn, name: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """Wait until the stream stops growing (core publishes are stored asynchronously)."""
    last = -1
    while True:
        info = await conn.js.stream_info(name)
        if info.state.messages == last:
            return info.state.messages, info.state.bytes
        last = info.state.messages
        await asyncio.sleep(0.5)


def cp_sync(src: Path, dst: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(["cp", "-r", str(src), str(dst)], check=True)
    subprocess.run(["sync", "-f", str(dst)], check=True)
    return time.perf_counter() - t0


async def run(mb: int, reps: int, root: Path) -> None:
    from nats.js.api import StreamConfig

    store = root / "store"
    proc = ServerProcess.start(find_server_binary(), [
        "-js", "-sd", str(store), "-a", "127.0.0.1", "-p", "-1", "-m", "-1"],
        log_file=root / "server.log")
    try:
        proc.wait_ready(15)
        settings = Settings(servers=(proc.client_url,), timeout=30)
        async with connect(settings) as conn:
            rows = []
            for name, size in (("S256", 256), ("S64K", 65536)):
                await conn.js.add_stream(StreamConfig(name=name, subjects=[f"{name}.>"],
                                                      max_bytes=-1))
                t0 = time.perf_counter()
                nbytes = 0
                while nbytes < mb * 10**6 * 0.95:  # the server may shed core publishes: top up
                    await asyncio.to_thread(raw_fill, proc.client_port, f"{name}.x", size,
                                            mb * 10**6 - nbytes)
                    msgs, nbytes = await settle(conn, name)
                print(f"{name}: {msgs:,} messages, {nbytes / 1e6:.0f} MB stored "
                      f"(fill {time.perf_counter() - t0:.1f}s)", flush=True)
                sdir = store / "jetstream" / "$G" / "streams" / name
                for rep in range(reps):
                    copy = root / f"copy-{name}-{rep}"
                    t_cp = cp_sync(sdir, copy)
                    shutil.rmtree(copy)
                    archive = root / f"{name}-{rep}.tar"
                    b = await backup_stream(conn, name, archive)
                    r = await restore_stream(conn, archive, name=f"{name}_R{rep}",
                                             subjects=[f"{name}_R{rep}.>"])
                    await conn.js.delete_stream(f"{name}_R{rep}")
                    archive.unlink()
                    rows.append((name, rep, nbytes, t_cp, b.seconds, r.seconds))
                    print(f"  rep {rep}: cp+sync {nbytes / 1e6 / t_cp:6.0f} MB/s   backup "
                          f"{nbytes / 1e6 / b.seconds:6.0f} MB/s ({b.seconds:.2f}s)   restore "
                          f"{nbytes / 1e6 / r.seconds:6.0f} MB/s ({r.seconds:.2f}s)", flush=True)
                await conn.js.delete_stream(name)
        print("\nmedians (MB/s) and ratios")
        for name in ("S256", "S64K"):
            rs = [x for x in rows if x[0] == name]
            cp = statistics.median(x[2] / 1e6 / x[3] for x in rs)
            bk = statistics.median(x[2] / 1e6 / x[4] for x in rs)
            rt = statistics.median(x[2] / 1e6 / x[5] for x in rs)
            print(f"  {name}: cp+sync {cp:.0f}, backup {bk:.0f} (x{bk / cp:.2f} of cp+sync), "
                  f"restore {rt:.0f}")
        s256 = [x for x in rows if x[0] == "S256"]
        bk_ratio = statistics.median((x[2] / x[4]) / (x[2] / x[3]) for x in s256)
        rt = statistics.median(x[2] / 1e6 / x[5] for x in s256)
        print(f"targets: backup >= 0.9x cp+sync: {'MET' if bk_ratio >= 0.9 else 'NOT MET'} "
              f"(x{bk_ratio:.2f}); restore >= 100 MB/s for 256 B messages: "
              f"{'MET' if rt >= 100 else 'NOT MET'} ({rt:.0f} MB/s)")
    finally:
        proc.stop(grace=10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=500, help="MB of payload per stream")
    ap.add_argument("--reps", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("NATSOPS_BENCH_DIR")) as tmp:
        asyncio.run(run(args.mb, args.reps, Path(tmp)))


if __name__ == "__main__":
    main()
