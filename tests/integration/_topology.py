"""Helpers shared by the tests of local topologies (plain and operator mode)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import nats
from nats.aio.client import Client


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
