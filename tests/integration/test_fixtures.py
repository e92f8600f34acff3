"""The shared fixtures give real, usable servers."""

from __future__ import annotations

import nats


async def test_single_server_accepts_jetstream(nats_server, unique) -> None:
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        name = unique("FIX")
        await js.add_stream(name=name, subjects=[f"{name}.>"])
        ack = await js.publish(f"{name}.a", b"x")
        assert ack.seq == 1
        await js.delete_stream(name)
    finally:
        await nc.close()


async def test_cluster_places_r3_stream(nats_cluster, unique) -> None:
    nc = await nats.connect(nats_cluster.urls)
    try:
        js = nc.jetstream()
        name = unique("FIXR3")
        info = await js.add_stream(name=name, subjects=[f"{name}.>"], num_replicas=3)
        assert info.config.num_replicas == 3
        assert len(info.cluster.replicas or []) == 2
        await js.delete_stream(name)
    finally:
        await nc.close()
