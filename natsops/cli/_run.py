"""Run the library's coroutines for a command (the only place that calls asyncio.run)."""

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

if TYPE_CHECKING:
    from natsops.connection import Conn

T = TypeVar("T")
P = ParamSpec("P")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion.

    SIGINT, SIGTERM and SIGHUP cancel it; once its clean-ups ran, :class:`Stopped` (a
    KeyboardInterrupt) propagates and the CLI exits 130, 143 or 129 (natsops.cli.signals).
    """
    from natsops.cli.signals import guard

    return asyncio.run(guard(coro))


def call(ctx: object, fn: "Callable[Concatenate[Conn, P], Awaitable[T]]",
         *args: P.args, **kwargs: P.kwargs) -> T:
    """Connect with the command's settings, return ``await fn(conn, *args, **kwargs)``, close.

    Typed end to end: the library function's return type is what the command gets. Prompt
    before calling this, never inside: no question waits on a user while a connection is open.
    """
    from natsops.cli.state import get_state
    from natsops.connection import connect

    settings = get_state(ctx).settings

    async def go() -> T:
        async with connect(settings) as conn:
            return await fn(conn, *args, **kwargs)

    return run(go())
