"""Run one coroutine of the library for a command (the only place that calls asyncio.run)."""

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion; Ctrl-C propagates as KeyboardInterrupt (exit 130)."""
    return asyncio.run(coro)
