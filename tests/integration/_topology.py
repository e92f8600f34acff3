"""Helpers shared by the tests of local topologies (plain and operator mode)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client
from typer.testing import CliRunner, Result

from natsops.auth import ops
from natsops.auth.store import Store
from natsops.cli.main import app


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30))  # type: ignore[arg-type]


async def until(what: str, cond: Callable[[], Awaitable[bool]], timeout: float = 10) -> None:
    """Wait for ``cond`` with a deadline (no fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not await cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def crosses(sender: Client, receiver: Client, subject: str, where: str) -> None:
    """A message ``sender`` publishes reaches a subscriber on ``receiver`` (interest crosses a
    gateway a moment after the subscription: publish until one arrives)."""
    sub = await receiver.subscribe(subject)
    await receiver.flush()
    got: list[bytes] = []

    async def arrived() -> bool:
        await sender.publish(subject, b"hello")
        await sender.flush()
        try:
            got.append((await sub.next_msg(timeout=0.1)).data)
        except nats.errors.TimeoutError:
            return False
        return True

    await until(f"the message in {where}", arrived)
    assert got == [b"hello"]


def operator_store(tmp: Path, op: str, topology: str) -> tuple[Store, dict[str, str], Path]:
    """A test auth store with operator ``op`` (and SYS) and account EDGE (JetStream), the
    environment that points natsops at it (its own HOME for the contexts), and the topology
    file written in ``tmp``."""
    store = Store(tmp / "store")
    ops.add_operator(store, op, sys=True)
    ops.add_account(store, op, "EDGE", jetstream=True)
    home = tmp / "home"
    f = tmp / "topology.yaml"
    f.write_text(topology)
    return store, {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
                   "NATSOPS_STORE": str(store.root)}, f


def bootstrap(topology: Path, tmp: Path, env: dict[str, str], server_bin: Path,
              *extra: str) -> tuple[Result, Path]:
    """``bootstrap --topology``, once more on a fresh folder if a port was taken meanwhile."""
    r = None
    for attempt in range(2):
        d = tmp / f"try{attempt}"
        r = CliRunner().invoke(app, ["bootstrap", "--topology", str(topology), "--dir", str(d),
                                     "--server-bin", str(server_bin), *extra], env=env)
        if r.exit_code == 0:
            break
    assert r is not None and r.exit_code == 0, r.output if r else None
    return r, d
