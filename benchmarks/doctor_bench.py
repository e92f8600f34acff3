"""How long does ``natsops doctor`` take on a 3-node cluster with 1,000 streams + 1,000 consumers?

    python benchmarks/doctor_bench.py [--streams 1000] [--reps 5]

Starts its own cluster on free ports in a temp dir (stopped at the end, even on failure),
creates the streams (R1, spread over the servers, one message each) and one durable consumer
per stream, then prints, median (min-max) over ``--reps``:

* the gathering step over $SYS (connection open) and over HTTP, with the request counts;
* the reference: listing the streams and one INFO request per stream and consumer, in series;
* the whole ``natsops doctor --dir`` command as a subprocess (start-up included).
Not a test: it prints figures, it does not fail on them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import nats  # noqa: E402
import nats.js.errors  # noqa: E402

from natsops.access import local_login  # noqa: E402
from natsops.cluster.local import LocalCluster, plan_nodes  # noqa: E402
from natsops.cluster.ready import start_nodes, wait_usable  # noqa: E402
from natsops.connection import connect  # noqa: E402
from natsops.context import Settings  # noqa: E402
from natsops.doctor import DoctorOptions, run  # noqa: E402
from natsops.monitoring import GatherOptions, gather_http, gather_sys, local_inventory  # noqa: E402


def fmt(xs: list[float]) -> str:
    return (f"{statistics.median(xs) * 1000:7.1f} ms ({min(xs) * 1000:.1f}-"
            f"{max(xs) * 1000:.1f})")


async def populate(urls: list[str], streams: int) -> None:
    nc = await nats.connect(urls)
    js = nc.jetstream(timeout=30)
    sem = asyncio.Semaphore(50)

    async def one(i: int) -> None:
        async with sem:
            name = f"ST{i:04d}"
            await js.add_stream(name=name, subjects=[f"bench.{i}"], num_replicas=1,
                                max_bytes=1 << 20)
            for attempt in range(50):  # a new stream can take a moment to accept messages
                try:
                    await js.publish(f"bench.{i}", b"hello")
                    break
                except nats.js.errors.NoStreamResponseError:
                    await asyncio.sleep(0.05 * (attempt + 1))
            await js.add_consumer(name, durable_name=f"C{i:04d}", ack_policy="explicit")

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(streams)))
    print(f"created {streams} streams + {streams} consumers in {time.perf_counter() - t0:.2f}s")
    await nc.close()


async def reference(urls: list[str]) -> tuple[float, int]:
    """The naive way: STREAM.NAMES, then STREAM.INFO and CONSUMER.INFO one after another."""
    nc = await nats.connect(urls)
    js = nc.jetstream(timeout=30)
    t0 = time.perf_counter()
    names: list[str] = []
    offset = 0
    requests = 0
    while True:
        msg = await nc.request("$JS.API.STREAM.NAMES", json.dumps({"offset": offset}).encode(),
                               timeout=10)
        requests += 1
        page = json.loads(msg.data)
        got = page.get("streams") or []
        names += got
        offset += page.get("limit", 1024)
        if not got or offset >= page.get("total", 0):
            break
    for n in names:
        await js.stream_info(n)
        await js.consumer_info(n, f"C{n[2:]}")
        requests += 2
    took = time.perf_counter() - t0
    await nc.close()
    return took, requests


async def measure(c: LocalCluster, reps: int) -> dict[str, Any]:
    inv = local_inventory(c.dir)
    opts = GatherOptions(expected_names=inv.names)
    out: dict[str, Any] = {}
    login = local_login(c.dir, Settings())
    assert login is not None
    sys_settings = login.settings
    sys_t, sys_conn_t = [], []
    async with connect(sys_settings) as conn:
        for _ in range(reps):
            snap = await gather_sys(conn.nc, opts)
            sys_t.append(snap.seconds)
    for _ in range(reps):
        t0 = time.perf_counter()
        async with connect(sys_settings) as conn:
            await gather_sys(conn.nc, opts)
        sys_conn_t.append(time.perf_counter() - t0)
    out["sys"] = (sys_t, snap.requests, len(snap.streams), len(snap.consumers))
    out["sys_connect"] = sys_conn_t
    http_t = []
    for _ in range(reps + 1):  # the first one pays the httpx import
        hs = await gather_http(inv.monitors, opts)
        http_t.append(hs.seconds)
    out["http"] = (http_t[1:], hs.requests, len(hs.streams), len(hs.consumers))
    lib_t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        rep = await run(None, DoctorOptions(cluster_dir=c.dir))
        lib_t.append(time.perf_counter() - t0)
    out["library"] = (lib_t, len(rep.findings))
    out["reference"] = await reference(c.client_urls)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--streams", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="natsops-doctor-bench-") as tmp:
        c = LocalCluster.create(Path(tmp) / "B1", name="B1", nodes=plan_nodes(3, None))
        try:
            start_nodes(c)
            asyncio.run(wait_usable(c, timeout=60))
            asyncio.run(populate(c.client_urls, args.streams))
            m = asyncio.run(measure(c, args.reps))
            cli_t = []
            natsops = Path(sys.executable).parent / "natsops"
            for _ in range(args.reps):
                t0 = time.perf_counter()
                res = subprocess.run([str(natsops), "doctor", "--dir", str(c.dir), "--format",
                                      "json"], capture_output=True, text=True, check=False)
                cli_t.append(time.perf_counter() - t0)
            doc = json.loads(res.stdout)
        finally:
            c.stop_all(grace=10)
    sys_t, sys_req, n_st, n_co = m["sys"]
    http_t, http_req, h_st, h_co = m["http"]
    ref_t, ref_req = m["reference"]
    print(f"cluster: 3 servers, {n_st} streams, {n_co} consumers seen by doctor "
          f"(HTTP: {h_st}/{h_co})")
    print(f"gather over $SYS (connection open): {fmt(sys_t)}  {sys_req} requests  "
          f"[target < 150 ms]")
    print(f"gather over $SYS incl. connect:     {fmt(m['sys_connect'])}")
    print(f"gather over HTTP (3 monitors):      {fmt(http_t)}  {http_req} requests  "
          f"[target < 300 ms]")
    print(f"reference: NAMES + INFO per stream and consumer, in series: "
          f"{ref_t * 1000:.0f} ms, {ref_req} requests "
          f"(= {ref_t / statistics.median(sys_t):.0f}x the $SYS gathering)")
    lib_t, nfind = m["library"]
    print(f"doctor.run() in-process (connect + gather + {len(doc['checks'])} checks): "
          f"{fmt(lib_t)}  {nfind} findings")
    print(f"`natsops doctor --dir` command:     {fmt(cli_t)}  exit {res.returncode}  "
          f"[target < 1 s]")


if __name__ == "__main__":
    main()
