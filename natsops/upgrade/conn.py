"""A connection that lives through the whole rolling upgrade: it reconnects to the servers that
stay up while one restarts (every other natsops connection fails fast instead)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from natsops.connection import Conn, _map_error, answering_first, connect_options
from natsops.context import Settings

__all__ = ["durable"]

log = logging.getLogger(__name__)


@asynccontextmanager
async def durable(settings: Settings, name: str) -> AsyncIterator[Conn]:
    """Connect (to a server that answers right now) with unlimited quick reconnects."""
    import nats
    from nats.errors import Error as NatsError

    if len(settings.servers) > 1:  # a restarting server listed first must not stall the start
        tls = connect_options(settings).get("tls")
        settings = settings.with_(servers=await answering_first(settings, tls))
    opts: dict[str, Any] = {**connect_options(settings), "allow_reconnect": True,
                            "max_reconnect_attempts": -1, "reconnect_time_wait": 0.1,
                            "dont_randomize": True, "name": name}
    try:
        # unlimited reconnects make nats-py retry the first connect forever: bound it
        nc = await asyncio.wait_for(nats.connect(**opts), max(3.0, 3 * settings.timeout))
    except (OSError, TimeoutError, asyncio.TimeoutError, NatsError) as exc:
        raise _map_error(exc, settings) from None
    except Exception as exc:  # nats-py raises bare Exception subclasses for some auth errors
        raise _map_error(exc, settings) from None
    try:
        yield Conn(nc=nc, js=nc.jetstream(timeout=settings.timeout), settings=settings)
    finally:
        try:
            await nc.close()
        except asyncio.CancelledError:
            # nats-py cancels its own close waiter when the server went away meanwhile; only
            # a cancellation of this task is to be passed on
            cancelling = getattr(asyncio.current_task(), "cancelling", None)  # 3.11+
            if cancelling is None or cancelling():
                raise
        except Exception:  # a broken connection must not hide the real error
            log.debug("error while closing connection", exc_info=True)
