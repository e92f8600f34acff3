"""Rolling restart under steady JetStream load: natsops upgrade --rolling vs a naive restart.

Run: python benchmarks/upgrade_bench.py [--rate 1500] [--freeze 3]

Starts a 3-node cluster (the bundled nats-server, 127.0.0.1, free ports, temp dir) and, for each
case, puts it under load from a thread of its own:
- a sync publisher: one ``js.publish`` at a time, 0.25 s timeout, ``Nats-Msg-Id``, the same id
  retried until acknowledged (its longest gap between two acks is the "stall");
- an async publisher: ~``--rate`` msgs/s to an R3 stream (batches of concurrent publishes, same
  retry rule).
Cases, in one run:
1. naive: SIGTERM each node, start it, wait for one ``/healthz`` 200 (the documented
   procedure), next; no step-down, no lame duck, no other gate;
2. natsops: ``upgrade --rolling --restart-only`` (library; canary on, balance on);
3. and 4. the same two with one replica kept behind: the node to restart second is SIGSTOPped
   for ``--freeze`` seconds as soon as the first node is back.
After each case both streams are read back: every acknowledged id must be there exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from natsops.cluster.local import LocalCluster, plan_nodes
from natsops.cluster.process import find_server_binary
from natsops.cluster.ready import start_usable
from natsops.upgrade import UpgradeOptions, execute, prepare


@dataclass
class Load:
    urls: list[str]
    tag: str
    rate: float
    acked: dict[str, set[str]] = field(default_factory=lambda: {"SYNC": set(), "ASYNC": set()})
    retries: int = 0
    stall: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(60)

    async def _main(self) -> None:
        import nats

        async def quiet(_: Exception) -> None:
            return None

        nc = await nats.connect(servers=self.urls, max_reconnect_attempts=-1,
                                reconnect_time_wait=0.1, error_cb=quiet,
                                name="bench-load")
        js = nc.jetstream()
        await asyncio.gather(self._sync(js), self._async(js))
        await nc.close()

    async def _one(self, js: Any, stream: str, mid: str) -> None:
        while True:
            try:
                await js.publish(f"{stream.lower()}.x", mid.encode(), timeout=0.25,
                                 headers={"Nats-Msg-Id": mid})
                self.acked[stream].add(mid)
                return
            except Exception:  # timeout, no responders, reconnecting: same id again
                self.retries += 1
                await asyncio.sleep(0.02)

    async def _sync(self, js: Any) -> None:
        n, last = 0, time.monotonic()
        while not self._stop.is_set():
            await self._one(js, "SYNC", f"{self.tag}-s{n}")
            now = time.monotonic()
            self.stall, last = max(self.stall, now - last), now
            n += 1

    async def _async(self, js: Any) -> None:
        n, batch, tick = 0, max(1, int(self.rate / 100)), 0.01
        nxt = time.monotonic()
        while not self._stop.is_set():
            await asyncio.gather(*(self._one(js, "ASYNC", f"{self.tag}-a{n + i}")
                                   for i in range(batch)))
            n += batch
            nxt += tick
            await asyncio.sleep(max(0.0, nxt - time.monotonic()))


async def read_ids(urls: list[str], stream: str) -> Counter[str]:
    import nats

    nc = await nats.connect(servers=urls)
    js = nc.jetstream()
    info = await js.stream_info(stream)
    sub = await js.pull_subscribe("", stream=stream)
    ids: Counter[str] = Counter()
    got = 0
    while got < info.state.messages:
        for m in await sub.fetch(1000, timeout=10):
            ids[(m.headers or {}).get("Nats-Msg-Id", "")] += 1
            got += 1
            await m.ack()
    await js.delete_consumer(stream, (await sub.consumer_info()).name)
    await nc.close()
    return ids


def follower(c: LocalCluster, candidates: list[str]) -> str:
    """A candidate that leads neither stream nor holds the load's connection (freezing those
    stalls the publishers whatever the restart strategy)."""
    leaders = set()
    for n in c.nodes:
        jsz = httpx.get(f"{n.monitor_url}/jsz", params={"streams": "true"}, timeout=3).json()
        for acc in jsz.get("account_details") or []:
            for sd in acc.get("stream_detail") or []:
                leaders.add((sd.get("cluster") or {}).get("leader"))
        connz = httpx.get(f"{n.monitor_url}/connz", timeout=3).json()
        if any(cn.get("name") == "bench-load" for cn in connz.get("connections") or []):
            leaders.add(n.name)
    return next((n for n in candidates if n not in leaders), candidates[0])


def freezer(c: LocalCluster, name: str, seconds: float) -> None:
    print(f"  freezing {name} for {seconds:g}s", flush=True)
    pid = c.pid(name)
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    threading.Timer(seconds, os.kill, (pid, signal.SIGCONT)).start()


async def naive(c: LocalCluster, on_first: Callable[[str], None] | None) -> None:
    for i, n in enumerate(c.nodes):
        c.stop_node(n.name, grace=20)
        log = c.log_path(n.name)
        offset = log.stat().st_size
        proc = c.start_node(n.name)
        assert proc is not None
        deadline = time.monotonic() + 30
        while b"Server is ready" not in log.read_bytes()[offset:]:  # this start's line
            if time.monotonic() > deadline or not proc.running:
                raise SystemExit(f"{n.name} did not start")
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient() as http:  # the documented procedure: one /healthz 200
            while True:
                assert time.monotonic() < deadline, "JetStream did not come up"
                with contextlib.suppress(httpx.HTTPError):
                    r = await http.get(f"{n.monitor_url}/healthz", timeout=1)
                    if r.status_code == 200:
                        break
                await asyncio.sleep(0.02)
        if i == 0 and on_first is not None:
            on_first(n.name)


BALANCE = [True]


async def settled(c: LocalCluster) -> Any:
    """Prepare once the preflight passes (the previous case may still be catching up)."""
    opts = UpgradeOptions(cluster_dir=c.dir, restart_only=True, drain_timeout=1.0,
                          balance=BALANCE[0], state_file=c.dir / "bench.json")
    deadline = time.monotonic() + 60
    while True:
        prep = await prepare(opts)
        if not prep.refused:
            return prep
        if time.monotonic() > deadline:
            raise SystemExit("preflight refused: " + "; ".join(f.message for f in prep.refused))
        await asyncio.sleep(0.5)


async def gated(c: LocalCluster, on_first: Callable[[str], None] | None) -> dict[str, Any]:
    prep = await settled(c)
    fired: list[str] = []

    def progress(line: str) -> None:
        if on_first is not None and not fired and ": done in " in line:
            fired.append(line)
            on_first(line.split(":")[0])

    rep = await execute(prep, progress=progress, handle_signals=False)
    (c.dir / "bench.json").unlink(missing_ok=True)
    assert rep.status == "done", (rep.status, rep.reason)
    cres = rep.canary
    return {"canary": "ok" if cres and cres.ok else cres,
            "canary_retries": cres.retries if cres else None,
            "leaderless_s": rep.longest_leaderless}


def run_case(c: LocalCluster, kind: str, freeze: float, rate: float, tag: str) -> dict[str, Any]:
    order = [n.name for n in c.nodes]

    def on_first(done: str) -> None:
        freezer(c, follower(c, [n for n in order if n != done]), freeze)

    asyncio.run(settled(c))  # every case starts from a settled cluster
    load = Load(c.client_urls, tag, rate)
    load.start()
    time.sleep(1.0)
    t0 = time.monotonic()
    extra: dict[str, Any] = {}
    hook = on_first if freeze > 0 else None
    if kind == "naive":
        asyncio.run(naive(c, hook))
    else:
        extra = asyncio.run(gated(c, hook))
    total = time.monotonic() - t0
    time.sleep(1.0)
    load.stop()
    lost = dup = 0
    for stream in ("SYNC", "ASYNC"):
        ids = asyncio.run(read_ids(c.client_urls, stream))
        lost += sum(1 for i in load.acked[stream] if ids[i] == 0)
        dup += sum(1 for i in load.acked[stream] if ids[i] > 1)
    return {"case": kind + (f" + {freeze:g}s frozen replica" if freeze else ""),
            "seconds": round(total, 1), "acked": sum(len(v) for v in load.acked.values()),
            "lost": lost, "duplicated": dup, "retries": load.retries,
            "stall_s": round(load.stall, 3), **extra}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=float, default=1500.0, help="async publisher msgs/s")
    ap.add_argument("--freeze", type=float, default=3.0, help="SIGSTOP seconds (cases 3, 4)")
    ap.add_argument("--no-balance", action="store_true", help="natsops cases: no balance")
    ap.add_argument("--cases", default="1,2,3,4", help="which cases to run (comma separated)")
    args = ap.parse_args()
    BALANCE[0] = not args.no_balance
    with tempfile.TemporaryDirectory(prefix="natsops-upgrade-bench-") as tmp:
        c = LocalCluster.create(Path(tmp) / "c", name="BENCH", nodes=plan_nodes(3, None),
                                binary=find_server_binary())
        try:
            asyncio.run(start_usable(c, timeout=45))

            async def streams() -> None:
                import nats

                nc = await nats.connect(servers=c.client_urls)
                for s in ("SYNC", "ASYNC"):
                    await nc.jetstream().add_stream(name=s, subjects=[f"{s.lower()}.>"],
                                                    num_replicas=3)
                await nc.close()

            asyncio.run(streams())
            rows = []
            for i, (kind, freeze) in enumerate((("naive", 0.0), ("natsops", 0.0),
                                                ("naive", args.freeze),
                                                ("natsops", args.freeze))):
                if str(i + 1) not in args.cases.split(","):
                    continue
                rows.append(run_case(c, kind, freeze, args.rate, f"r{i}"))
                print(rows[-1], flush=True)
        finally:
            LocalCluster.load(c.dir).stop_all(grace=10)
    print()
    print(f"{'case':34} {'time s':>7} {'acked':>7} {'lost':>5} {'dup':>4} {'retries':>8} "
          f"{'stall s':>8}  canary")
    for r in rows:
        print(f"{r['case']:34} {r['seconds']:>7} {r['acked']:>7} {r['lost']:>5} "
              f"{r['duplicated']:>4} {r['retries']:>8} {r['stall_s']:>8}  {r.get('canary', '-')}")


if __name__ == "__main__":
    main()
