"""`natsops plan` over 1,000 streams and 1,000 consumers vs one INFO request per resource.

Run: python benchmarks/plan_bench.py [--streams 1000] [--consumers 1000] [--per-stream 10]

Starts its own nats-server (127.0.0.1, OS-chosen port, temp store, stopped by pid at the end),
writes a recipe directory (``--streams`` memory streams; ``--consumers`` durable consumers,
``--per-stream`` on each of the first streams) and applies it with ``natsops apply``'s library
path. Then measures, best of ``--repeat``:
- ``plan``: loading the recipes (YAML, validation) and ``build_plan`` -- one paged STREAM.LIST
  plus one paged CONSUMER.LIST per stream that has consumers in the recipes;
- the reference: one STREAM.INFO per stream and one CONSUMER.INFO per consumer, in sequence
  (what a per-resource reconciler does), then the same diff.
Prints both times and the ratio; the target is a plan under 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from natsops.cluster.process import ServerProcess, find_server_binary
from natsops.connection import connect
from natsops.context import Settings
from natsops.estate import ApplyOptions, EstateContext, apply_plan, build_plan, load_resources
from natsops.estate.kinds import handler
from natsops.estate.model import Live, Plan
from natsops.jetstream.consumers import consumer_info
from natsops.jetstream.streams import stream_info


def write_recipes(folder: Path, streams: int, consumers: int, per_stream: int) -> None:
    folder.mkdir()
    docs: list[str] = []
    for i in range(streams):
        docs.append(f"kind: Stream\nmetadata: {{name: B{i:04d}}}\nspec:\n"
                    f"  subjects: ['bench.{i}.>']\n  storage: memory\n  max_age: 1h\n"
                    f"  max_bytes: 1MB\n")
    for j in range(consumers):
        s = j // per_stream
        docs.append(f"kind: Consumer\nmetadata: {{name: c{j:04d}, stream: B{s:04d}}}\nspec:\n"
                    f"  filter_subject: 'bench.{s}.{j}'\n  ack_policy: explicit\n"
                    f"  max_deliver: 5\n  ack_wait: 30s\n")
    (folder / "estate.yaml").write_text("---\n".join(docs))


async def per_resource_plan(settings: Settings, recipes: Path) -> Plan:
    """The reference: one INFO request per resource, then the same diff."""
    resources = load_resources([recipes])
    async with connect(settings) as conn:
        actions = []
        for r in resources:
            h = handler(r.kind)
            if r.kind == "Stream":
                si = await stream_info(conn, r.name)
                live = Live(r.kind, r.name, si.config, detail=si)
            else:
                stream, _, name = r.name.partition("/")
                ci = await consumer_info(conn, stream, name)
                live = Live(r.kind, r.name, ci.config, detail=ci)
            actions.append(h.diff(r, live))
        return Plan(tuple(actions))


async def paged_plan(settings: Settings, recipes: Path) -> Plan:
    resources = load_resources([recipes])
    async with connect(settings) as conn:
        return await build_plan(EstateContext(conn), resources)


async def best(fn: object, settings: Settings, recipes: Path, repeat: int) -> tuple[float, Plan]:
    times = []
    plan = Plan(())
    for _ in range(repeat):
        t0 = time.perf_counter()
        plan = await fn(settings, recipes)  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return min(times), plan


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        proc = ServerProcess.start(
            find_server_binary(), ["-js", "-sd", str(d / "js"), "-a", "127.0.0.1", "-p", "-1",
                                   "-m", "-1", "-n", "plan-bench"], log_file=d / "server.log")
        try:
            proc.wait_ready(15)
            settings = Settings(servers=(proc.client_url,), timeout=30.0)
            recipes = d / "recipes"
            write_recipes(recipes, args.streams, args.consumers, args.per_stream)
            t0 = time.perf_counter()
            async with connect(settings) as conn:
                ctx = EstateContext(conn, ApplyOptions())
                report = await apply_plan(ctx, await build_plan(ctx, load_resources([recipes])))
            assert report.ok, report.error
            print(f"setup: applied {len(report.steps)} resources in "
                  f"{time.perf_counter() - t0:.1f}s")
            t_paged, p1 = await best(paged_plan, settings, recipes, args.repeat)
            t_info, p2 = await best(per_resource_plan, settings, recipes, args.repeat)
            assert not p1.pending and not p2.pending, "the plans should show no change"
            n = len(p1.actions)
            print(f"plan (paged listing):        {t_paged:6.3f}s for {n} resources "
                  f"({'under' if t_paged < 2 else 'OVER'} the 2 s target)")
            print(f"one INFO per resource:       {t_info:6.3f}s")
            print(f"ratio (INFO / plan):         {t_info / t_paged:6.1f}x")
        finally:
            proc.stop(grace=5)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--streams", type=int, default=1000)
    ap.add_argument("--consumers", type=int, default=1000)
    ap.add_argument("--per-stream", type=int, default=10,
                    help="consumers on each stream (1000 over 100 streams by default)")
    ap.add_argument("--repeat", type=int, default=3)
    asyncio.run(main(ap.parse_args()))
