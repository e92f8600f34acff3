"""Object store memory bound and paged stream listing, measured against a real server.

Run: python benchmarks/jetstream_assets.py [--mb 200] [--streams 1500]

1. Puts and gets a ``--mb`` MB random file through ``natsops object put/get`` (real CLI
   processes) and prints wall time, throughput and each process's peak RSS, next to the peak RSS
   of ``natsops object info`` (connects, moves no data) measured in the same run: the ratio shows
   that memory does not grow with the file. The copy is compared byte for byte (SHA-256).
2. Creates ``--streams`` memory streams and times ``natsops stream ls --json`` and
   ``natsops stream report --json``, checking that every stream is listed, next to nats-py's
   ``streams_info()`` (one 256-stream page).

Not part of the test suite; numbers on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from natsops.cluster.process import ServerProcess, find_server_binary

CLI = [sys.executable, "-m", "natsops.cli.main"]


def run_cli(url: str, *args: str, cwd: Path | None = None) -> tuple[float, int, str]:
    """Run one natsops process; return (seconds, peak RSS in MiB, stdout)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([*CLI, "-s", url, "--timeout", "30s", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.stdout:
        proc.stdout.close()
    secs = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"natsops {' '.join(args)} failed with exit {proc.returncode}")
    return secs, usage.ru_maxrss // 1024, out.decode()


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def objects(url: str, root: Path, mb: int) -> None:
    src = root / "big.bin"
    with src.open("wb") as fh:
        for _ in range(mb):
            fh.write(os.urandom(1 << 20))
    size = src.stat().st_size
    run_cli(url, "object", "add", "BENCH", "--max-bucket-size", f"{2 * mb}MB")
    t_put, rss_put, _ = run_cli(url, "object", "put", "BENCH", str(src), "--no-progress")
    _, rss_ref, _ = run_cli(url, "object", "info", "BENCH", "big.bin")
    out = root / "out"
    out.mkdir()
    t_get, rss_get, _ = run_cli(url, "object", "get", "BENCH", "big.bin", "--no-progress",
                                cwd=out)
    same = sha256(src) == sha256(out / "big.bin")
    print(f"object put {mb} MiB: {t_put:6.2f}s {size / 2**20 / t_put:6.1f} MiB/s  "
          f"peak RSS {rss_put} MiB")
    print(f"object get {mb} MiB: {t_get:6.2f}s {size / 2**20 / t_get:6.1f} MiB/s  "
          f"peak RSS {rss_get} MiB")
    print(f"reference `object info` (no data moved): peak RSS {rss_ref} MiB -> put/get use "
          f"{rss_put / rss_ref:.2f}x / {rss_get / rss_ref:.2f}x of it for a {mb} MiB file")
    print(f"copy identical (SHA-256): {same}")
    run_cli(url, "object", "rm", "BENCH", "-f")


async def make_streams(url: str, names: list[str], delete: bool = False) -> int:
    import nats

    nc = await nats.connect(url)
    js = nc.jetstream(timeout=30)
    sem = asyncio.Semaphore(64)

    async def one(n: str) -> None:
        async with sem:
            if delete:
                await js.delete_stream(n)
            else:
                await js.add_stream(name=n, subjects=[f"{n}.x"], storage="memory")

    await asyncio.gather(*(one(n) for n in names))
    one_page = len(await js.streams_info()) if not delete else 0
    await nc.close()
    return one_page


def streams(url: str, count: int) -> None:
    names = [f"B{i:05d}" for i in range(count)]
    t0 = time.perf_counter()
    one_page = asyncio.run(make_streams(url, names))
    print(f"created {count} streams in {time.perf_counter() - t0:.1f}s; "
          f"nats-py streams_info() returned {one_page} (one page)")
    t_ls, _, out = run_cli(url, "stream", "ls", "--json")
    listed = json.loads(out)
    t_rep, rss_rep, out = run_cli(url, "stream", "report", "--json")
    rows = json.loads(out)["streams"]
    print(f"stream ls --json: {len(listed)} names in {t_ls:.2f}s (all: {listed == names})")
    print(f"stream report --json: {len(rows)} rows in {t_rep:.2f}s, peak RSS {rss_rep} MiB "
          f"(all: {sorted(r['name'] for r in rows) == names})")
    _, _, out = run_cli(url, "--version")
    t_ver, _, _ = run_cli(url, "--version")
    print(f"reference `natsops --version`: {t_ver:.2f}s (process start-up in this run)")
    asyncio.run(make_streams(url, names, delete=True))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--streams", type=int, default=1500)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="natsops-bench-") as d:
        root = Path(d)
        proc = ServerProcess.start(find_server_binary(), [
            "-js", "-sd", str(root / "store"), "-a", "127.0.0.1", "-p", "-1", "-m", "-1"],
            log_file=root / "server.log")
        try:
            proc.wait_ready(15)
            objects(proc.client_url, root, a.mb)
            streams(proc.client_url, a.streams)
        finally:
            proc.stop(grace=10)


if __name__ == "__main__":
    main()
