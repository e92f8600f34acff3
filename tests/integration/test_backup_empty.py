"""An empty stream (never written, or purged) backs up and restores: its first_seq differs by
design (0 for a fresh stream, 1 for a restored one), so only messages and last_seq must match."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import nats
import pytest

from tests.cli._helpers import natsops


async def _stream(url: str, name: str, count: int, purge: bool) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(name=name, subjects=[f"{name}.>"])
        for i in range(count):
            await js.publish(f"{name}.x", str(i).encode())
        if purge:
            await js.purge_stream(name)
    finally:
        await nc.close()


@pytest.mark.parametrize(("count", "purge"), [(0, False), (5, True)], ids=["fresh", "purged"])
def test_empty_stream_round_trip(nats_server: Any, unique: Any, tmp_path: Path, count: int,
                                 purge: bool) -> None:
    url, name = nats_server.url, unique("EMPTY")
    asyncio.run(_stream(url, name, count, purge))
    archive = tmp_path / "empty.tgz"
    r = natsops(url, "stream", "backup", name, str(archive), "--no-progress")
    assert r.exit_code == 0, r.stderr
    r = natsops(url, "stream", "rm", name, "--force")
    assert r.exit_code == 0, r.stderr
    r = natsops(url, "stream", "restore", str(archive), "--no-progress", "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["messages"] == 0
    info = json.loads(natsops(url, "stream", "info", name, "--json").stdout)
    assert info["state"]["messages"] == 0
    assert info["state"]["last_seq"] == count
    natsops(url, "stream", "rm", name, "--force")
