"""The system-account transport: ``$SYS.REQ.SERVER.PING.<X>`` requests every server answers.

:func:`sys_connection` connects as a system-account user to a server that is answering right
now; :func:`sys_ping` sends one request and collects every server's reply. A server that is
down simply does not answer: comparing the replies with an inventory is the caller's job.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from natsops.errors import Unreachable

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg

    from natsops.connection import Conn
    from natsops.context import Settings

__all__ = ["PingResult", "ping_server", "sys_connection", "sys_ping"]


@dataclass(frozen=True)
class PingResult:
    """The replies to one ``$SYS.REQ.SERVER.PING.<X>`` request.

    ``replies`` are the decoded envelopes (``{"server": ..., "data": ..., "error": ...}``) in
    arrival order; ``no_responders`` is True when the server said nobody listens on the subject
    (the connection is not a system-account user, or ``X`` does not exist).
    """

    subject: str
    replies: tuple[Mapping[str, Any], ...]
    arrivals: tuple[float, ...] = ()  # seconds from the request to each reply
    no_responders: bool = False
    bad_replies: int = 0
    seconds: float = 0.0


async def sys_ping(
    nc: Client,
    what: str,
    body: Mapping[str, Any] | None = None,
    *,
    expected: int = 0,
    timeout: float = 2.0,
    gap: float = 0.3,
    subject: str = "",
) -> PingResult:
    """Send ``$SYS.REQ.SERVER.PING.<what>`` once and collect every server's reply.

    Collection stops when ``expected`` replies arrived (if > 0), when ``gap`` seconds passed
    without a new reply after the first one, or at ``timeout``. A server that is down simply
    does not answer: compare the replies with an inventory (the caller's job).
    """
    subject = subject or f"$SYS.REQ.SERVER.PING.{what.upper()}"  # or a full subject
    replies: list[Mapping[str, Any]] = []
    arrivals: list[float] = []
    state = {"bad": 0, "no_resp": False, "last": 0.0}
    done = asyncio.Event()
    arrived = asyncio.Event()  # wakes the collector on every reply, so the gap can end it

    async def on_msg(msg: Msg) -> None:
        state["last"] = time.monotonic()
        arrived.set()
        headers = getattr(msg, "headers", None) or {}
        if not msg.data:
            if str(headers.get("Status", "")) == "503":
                state["no_resp"] = True
                done.set()
            return
        try:
            doc = json.loads(msg.data)
        except ValueError:
            state["bad"] = int(state["bad"]) + 1
            return
        if isinstance(doc, dict):
            replies.append(doc)
            arrivals.append(time.monotonic() - start)
        else:
            state["bad"] = int(state["bad"]) + 1
        if expected and len(replies) >= expected:
            done.set()

    start = time.monotonic()
    inbox = nc.new_inbox()
    try:
        sub = await nc.subscribe(inbox, cb=on_msg)
    except Exception as exc:  # nats-py: ConnectionClosedError and friends
        raise Unreachable(f"{subject}: connection lost: {exc or type(exc).__name__}") from None
    try:
        try:
            await nc.publish(subject, json.dumps(dict(body or {})).encode(), reply=inbox)
            await nc.flush()
        except Exception as exc:
            raise Unreachable(f"{subject}: connection lost: {exc or type(exc).__name__}"
                              ) from None
        deadline = start + timeout
        while not done.is_set():
            now = time.monotonic()
            last = float(state["last"])
            wait = deadline - now
            if last:
                wait = min(wait, last + gap - now)
            if wait <= 0:
                break
            arrived.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(arrived.wait(), wait)
    finally:
        # a closed connection: the replies we have are still valid
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
    return PingResult(subject=subject, replies=tuple(replies), arrivals=tuple(arrivals),
                      no_responders=bool(state["no_resp"]),
                      bad_replies=int(state["bad"]), seconds=time.monotonic() - start)



async def ping_server(nc: Client, what: str, name: str, body: Mapping[str, Any] | None = None,
                      *, timeout: float = 5.0, first: float = 1.0,
                      subject: str = "") -> Mapping[str, Any] | None:
    """The reply of the one server called ``name`` to ``$SYS.REQ.SERVER.PING.<what>``, or None
    when it did not answer within ``timeout``.

    A single request is lost when it is sent while a route to that server is still forming
    (a cluster just started or restarted), so the request is sent again, with a longer wait each
    time (``first``, twice that, ...), until the deadline: a server that is merely slow still
    answers one of them.
    """
    deadline = time.monotonic() + timeout
    attempt = first
    query = {**dict(body or {}), "server_name": name, "exact_match": True}
    expected = 1  # a request that honours the filter has one answer
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        res = await sys_ping(nc, what, query, expected=expected,
                             timeout=min(attempt, left), subject=subject)
        for env in res.replies:
            if _named(env) == name:
                return env
        if res.replies:  # other servers answered: this request ignores the filter
            expected = 0
        attempt *= 2


def _named(env: Mapping[str, Any]) -> str:
    """The name of the server that sent a ``$SYS`` reply: its envelope's ``server.name``, or
    the document's own ``name`` (IDZ answers without an envelope)."""
    server = env.get("server")
    if isinstance(server, Mapping) and server.get("name"):
        return str(server["name"])
    return str(env.get("name") or "")


@asynccontextmanager
async def sys_connection(settings: Settings) -> AsyncIterator[Conn]:
    """Connect to one of ``settings.servers`` that is answering right now.

    :func:`natsops.connection.connect` probes every URL at once and logs in to the first that
    sends its INFO, so a frozen server does not stop doctor; probing here as well would cost
    a second connection slot (refused at max_connections - 1).
    """
    from natsops.connection import connect

    async with connect(settings) as conn:
        yield conn
