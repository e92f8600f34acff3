"""``top``: a live view of every server's connections (like nats-top), frame by frame.

:func:`top_frames` watches the deployment and turns each Snapshot into a
:class:`~natsops.monitoring.views.TopFrame`, with rates from the previous Snapshot.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path

from natsops.errors import Unreachable, UsageError
from natsops.monitoring.gather import Access, GatherOptions, watch
from natsops.monitoring.snapshot import Snapshot
from natsops.monitoring.views import TopFrame, top_frame

__all__ = ["SORTS", "TopOptions", "top_frames"]

# the connz sort names, as ``nats-top`` and ``connz?sort=`` spell them (see views.SORT_KEYS)
SORTS = ("pending", "cid", "subs", "msgs_to", "msgs_from", "bytes_to", "bytes_from", "idle",
         "uptime")

MAX_INTERVAL = 3600.0  # a frame an hour is already not "live"; 1e99 would never print


@dataclass(frozen=True)
class TopOptions:
    """What ``top`` shows and how often; invalid values are usage errors."""

    sort: str = "pending"
    limit: int = 20  # connections per server
    interval: float = 1.0  # seconds between two frames
    once: bool = False  # one frame (two gatherings ``interval`` apart, for the rates)

    def __post_init__(self) -> None:
        if self.sort not in SORTS:
            raise UsageError(f"unknown --sort {self.sort!r}: use {', '.join(SORTS)}")
        if self.limit < 1:
            raise UsageError("--limit must be at least 1")
        if not 0 < self.interval <= MAX_INTERVAL:  # nan fails too
            raise UsageError("--delay must be above 0s and at most 1h")

    @classmethod
    def parse(cls, *, sort: str = "pending", limit: int = 20, delay: str = "1s",
              once: bool = False) -> TopOptions:
        """The options from ``top``'s flags (``delay`` is a duration such as ``1s``)."""
        from natsops.units import parse_duration

        return cls(sort=sort, limit=limit, interval=parse_duration(delay, what="--delay"),
                   once=once)

    @property
    def gather_options(self) -> GatherOptions:
        """varz and the top connections of each server, sorted by the server."""
        return GatherOptions(parts=("varz", "connz"), connz_sort=self.sort,
                             connz_limit=self.limit, config_files=False)


async def top_frames(
    settings: Access,
    opts: TopOptions = TopOptions(),
    *,
    monitors: Sequence[str] = (),
    cluster_dir: Path | None = None,
    transport: str = "auto",
    stop: Callable[[], bool] | None = None,
) -> AsyncGenerator[TopFrame, None]:
    """Yield a frame every ``opts.interval`` seconds until ``stop()`` (one with ``opts.once``).

    Rates are the deltas against the previous gathering, so the first live frame has none;
    with ``once`` the first gathering only serves as that previous one.
    """
    previous: Snapshot | None = None
    snaps = watch(settings, opts.gather_options, monitors=monitors, cluster_dir=cluster_dir,
                  transport=transport, interval=opts.interval, stop=stop, name="natsops top")
    async with aclosing(snaps):
        async for snap in snaps:
            if opts.once and not snap.servers:  # a frame of nothing is no answer
                detail = "; ".join(f"{u}: {e}" for u, e in sorted(snap.unreachable.items()))
                raise Unreachable(f"no server answered{': ' + detail if detail else ''}")
            if opts.once and previous is None:
                previous = snap
                continue
            yield top_frame(snap, previous, sort=opts.sort,
                            limit=opts.limit * max(1, len(snap.servers)))
            if opts.once:
                return
            previous = snap
