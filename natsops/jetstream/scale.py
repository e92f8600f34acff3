"""Replica changes that finish: wait until a stream (and its consumers) is replicated, and a
scaled mirror or sourcing stream copies again.

``stream edit``, ``kv edit``, ``object edit`` and the restores change ``num_replicas`` and then
wait here until the stream has a leader, exactly ``replicas - 1`` followers that are current and
online, and every consumer has a leader with current peers (the server scales consumers after
their stream, on its own time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from natsops.errors import NatsopsError, ServerError, Timeout
from natsops.jetstream._api import request
from natsops.jetstream.consumers import consumer_names

if TYPE_CHECKING:
    from natsops.connection import Conn
    from natsops.jetstream.models import StreamInfo
    from natsops.jetstream.streams import StreamEdit

__all__ = ["DEFAULT_READY_TIMEOUT", "apply_edit_and_wait", "ensure_copying", "replicated",
           "wait_replicated"]

log = logging.getLogger(__name__)

DEFAULT_READY_TIMEOUT = 60.0


def replicated(info: Mapping[str, Any], replicas: int) -> tuple[bool, str]:
    """(every replica current, a short description) from a stream or consumer info.

    A stream being moved (a placement change) is not done while the server reports the peer
    set it moves to (``cluster.desired``, 2.11+): on 2.15 the info shows the old peers alone,
    all current, for a moment after the update was accepted.
    """
    cl = info.get("cluster") or {}
    peers = cl.get("replicas") or []
    moving = [str(p.get("name")) for p in (cl.get("desired") or {}).get("replicas") or ()]
    ok = bool(cl.get("leader")) and len(peers) == replicas - 1 and not moving and all(
        p.get("current") and not p.get("offline") for p in peers)
    state = f"leader {cl.get('leader')!r}, replicas " + ", ".join(
        f"{p.get('name')}:{'current' if p.get('current') else 'behind'}" for p in peers)
    return ok, state + (f", moving to {', '.join(moving)}" if moving else "")


async def wait_replicated(conn: Conn, name: str, replicas: int, timeout: float) -> None:
    """Wait until stream ``name`` has ``replicas`` current replicas and every consumer a leader
    with current peers; Timeout naming what is behind."""
    consumers = await consumer_names(conn, name)
    stream_check = (f"stream {name}", f"STREAM.INFO.{name}")
    confirmed = not consumers  # with no consumer, the first full check is the last
    pending = [stream_check] + [
        (f"consumer {name} > {c}", f"CONSUMER.INFO.{name}.{c}") for c in consumers]
    deadline = time.monotonic() + timeout
    last = "no info yet"
    while pending and time.monotonic() < deadline:
        what, subject = pending[0]
        try:
            info = await request(conn, subject, what=what)
        except (Timeout, ServerError) as exc:
            last = f"{what}: {exc}"
        else:
            if subject.startswith("STREAM."):
                ok, state = replicated(info, replicas)
            else:
                # the server scales consumers after their stream, on its own time (2.10 can
                # leave one at its old size for a while): wait for a leader and current peers
                peers = len((info.get("cluster") or {}).get("replicas") or [])
                ok, state = replicated(info, peers + 1)
            if ok:
                pending.pop(0)
                if not pending and not confirmed:
                    # scaling the consumers can set the stream's followers briefly behind:
                    # done only when the stream is still fully current after its consumers
                    confirmed = True
                    pending.append(stream_check)
                continue
            confirmed = False
            last = f"{what}: {state}"
        await asyncio.sleep(0.2)
    if pending:
        raise Timeout(f"stream {name} did not reach R{replicas} within {timeout:g}s ({last})",
                      hint="natsops stream info shows the replicas; the change itself was "
                           "applied")


COPY_START_WAIT = 5.0


async def ensure_copying(conn: Conn, name: str, wait: float = COPY_START_WAIT) -> None:
    """Make sure a mirror (or a stream with sources) just scaled up copies again.

    Seen on 2.15.1 under load (2 of 24 restores of a mirror scaled R1 -> R3): the leader never
    starts the mirror (``active`` stays -1, the lag 0) until the leader changes. When an origin
    that exists is not copied from within ``wait`` seconds, the leader steps down once and
    the new one is given ``wait`` seconds more; a mirror still idle then is left as it is (its
    messages match the backup).
    """
    from natsops.jetstream.streams import step_down, stream_exists

    for attempt in range(2):
        deadline = time.monotonic() + wait
        while True:
            info = await request(conn, f"STREAM.INFO.{name}", what=f"stream {name}")
            idle = [o for o in _copies(info) if int(o.get("active", -1)) < 0]
            if not idle:
                return
            idle = [o for o in idle if await stream_exists(conn, str(o.get("name")))]
            if not idle or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        if not idle or attempt:
            return
        log.info("stream %s does not copy from %s: stepping its leader down", name,
                 ", ".join(str(o.get("name")) for o in idle))
        with contextlib.suppress(NatsopsError):
            await step_down(conn, name)


def _copies(info: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A stream's mirror and sources as the info reports them (not the external ones)."""
    found = ([info["mirror"]] if info.get("mirror") else []) + list(info.get("sources") or [])
    return [o for o in found if not o.get("external")]


async def apply_edit_and_wait(conn: Conn, plan: StreamEdit, *,
                              ready_timeout: float = DEFAULT_READY_TIMEOUT) -> StreamInfo:
    """Submit a planned edit; when it changes the replica count or the placement (the server
    moves the stream), wait for the new replicas to be current (``ready_timeout`` seconds) and
    return the stream's info from then."""
    from natsops.jetstream.streams import apply_stream_edit, stream_info

    info = await apply_stream_edit(conn, plan)
    want = int(plan.config.get("num_replicas") or 1)
    moved = (plan.config.get("placement") or {}) != (plan.current.config.get("placement") or {})
    if (want != plan.current.replicas or moved) and _clustered(plan.current):
        await wait_replicated(conn, info.name, want, ready_timeout)
        if want > plan.current.replicas:
            await ensure_copying(conn, info.name)
        info = await stream_info(conn, info.name)
    return info


def _clustered(current: StreamInfo) -> bool:
    """Whether the stream lives in a cluster (a single server answers no ``cluster`` block or
    one without a leader: a replica change there is refused by the server anyway)."""
    return current.cluster is not None and bool(current.cluster.leader)
