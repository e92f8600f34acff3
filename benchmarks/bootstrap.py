"""Time-to-usable of `natsops bootstrap` for fresh 3-node clusters.

Run: python benchmarks/bootstrap.py [--trials 5]

Each trial runs the real command (`natsops bootstrap --base-port auto --dir <tmp>`) as a new
process, so the figure includes Python start-up, rendering, spawning three nats-servers and
waiting until the cluster is usable (healthz on every node, meta leader, R3 probe stream). For
reference it also prints when the servers alone were usable, from the library's own timings.
The cluster is torn down (by pid) after every trial.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from natsops.cluster.local import LocalCluster


def trial(natsops: str, root: Path, i: int) -> dict[str, float]:
    d = root / f"c{i}"
    env = dict(os.environ, HOME=str(root / "home"), XDG_CONFIG_HOME=str(root / "home" / "cfg"))
    t0 = time.perf_counter()
    p = subprocess.run([natsops, "bootstrap", "--base-port", "auto", "--dir", str(d), "--json"],
                       capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - t0
    try:
        if p.returncode != 0:
            raise SystemExit(f"bootstrap failed: {p.stderr.strip()}")
        inner = json.loads(p.stdout)["seconds"]
    finally:
        if LocalCluster.exists(d):
            LocalCluster.load(d).stop_all(grace=5)
    return {"wall": wall, "library": inner}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=5)
    args = ap.parse_args()
    natsops = str(Path(sys.executable).parent / "natsops")
    with tempfile.TemporaryDirectory() as tmp:
        results = [trial(natsops, Path(tmp), i) for i in range(args.trials)]
    walls = [r["wall"] for r in results]
    libs = [r["library"] for r in results]
    print(f"natsops bootstrap, 3 fresh nodes, {args.trials} trials (seconds)")
    print(f"  whole command (process start to usable): median {statistics.median(walls):.2f}"
          f"  ({min(walls):.2f}-{max(walls):.2f})")
    print(f"  inside the library (render+spawn+wait):   median {statistics.median(libs):.2f}"
          f"  ({min(libs):.2f}-{max(libs):.2f})")
    print(f"  Python start-up + imports + output:       median "
          f"{statistics.median(w - x for w, x in zip(walls, libs, strict=True)):.2f}")
    med = statistics.median(walls)
    print(f"target: usable cluster in < 2 s, process start included: "
          f"{'MET' if med < 2 else 'NOT MET'} ({med:.2f} s)")


if __name__ == "__main__":
    main()
