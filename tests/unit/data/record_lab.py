"""Record the partition Snapshots the unit tests read (run by hand, as root: it starts a lab).

    python tests/unit/data/record_lab.py

Starts a 3-node ``natsops lab`` in a temp dir, cuts the meta leader off from the others and
records, over HTTP from the lab's client namespace, ``partition_leader.json``: the first
gathering where the cut-off leader has no route left and the other two have elected a new
leader (the old one still calls itself leader with /healthz ok). Then heals, cuts one pair
(``isolate``) and records ``partition_pair.json``. Tears the lab down.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from natsops import lab  # noqa: E402
from natsops.lab import net  # noqa: E402
from natsops.monitoring import GatherOptions  # noqa: E402
from natsops.monitoring.gather import gather_http  # noqa: E402
from natsops.monitoring.snapshot import Snapshot  # noqa: E402

OUT = Path(__file__).resolve().parent


def save(name: str, snap: Snapshot) -> None:
    doc = snap.to_dict()
    (OUT / name).write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print("wrote", name, len(json.dumps(doc)), "bytes")


async def look(d: Path) -> Snapshot:
    cluster = lab.load(d).cluster()
    opts = GatherOptions(expected_names=tuple(n.name for n in cluster.nodes), jsz_detail=False)
    with net.inside(lab.load(d).client):
        return await gather_http([n.monitor_url for n in cluster.nodes], opts)


def routes(s: Snapshot, name: str) -> int:
    v = s.server(name)
    return len((v.routez or {}).get("routes") or []) if v else -1


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="natsops-lab-record-") as tmp:
        d = Path(tmp) / "lab"
        await lab.up(lab.LabOptions(dir=d, name="REC", write_contexts=False), {})
        try:
            snap = await look(d)
            leader = str(snap.meta_view.get("leader"))
            lab.partition(d, [leader])
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                snap = await look(d)
                others = {str((s.meta or {}).get("leader")) for s in snap.servers
                          if s.name != leader}
                if routes(snap, leader) == 0 and len(others) == 1 and leader not in others:
                    save("partition_leader.json", snap)
                    break
                await asyncio.sleep(0.5)
            lab.heal(d)
            await asyncio.sleep(15)
            lab.partition(d, ["n1"], isolate_from="n2")
            await asyncio.sleep(6)
            save("partition_pair.json", await look(d))
        finally:
            await lab.down(d)


if __name__ == "__main__":
    asyncio.run(main())
