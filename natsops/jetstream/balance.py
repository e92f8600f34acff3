"""Spread stream or consumer leaders over the servers that host them.

After rolling restarts leaders pile onto the servers that stayed up. :func:`plan_balance`
reads every replicated (R>1) group's leader and peers (the leader's view, from the paged
``STREAM.LIST`` / ``CONSUMER.LIST``) and picks step-downs; :func:`apply_balance` runs them with
``placement.preferred`` and reads each new leader back, since a step-down to an unhealthy
preferred peer silently elects another one (and 2.10 servers ignore ``preferred``: there the
moves land at random and are reported as not honoured). The planning itself
(:func:`plan_moves`) is a pure, deterministic function.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

from natsops.errors import NatsopsError, NotFound
from natsops.jetstream.models import ClusterView

if TYPE_CHECKING:
    from natsops.connection import Conn

__all__ = ["BalancePlan", "BalanceResult", "Group", "Move", "MoveResult", "apply_balance",
           "plan_balance", "plan_moves"]

Kind = Literal["stream", "consumer"]


@dataclass(frozen=True)
class Group:
    """One replicated stream or consumer: its leader and peers as the leader sees them."""

    stream: str
    consumer: str | None
    leader: str
    peers: tuple[str, ...]  # every member, the leader included
    current: tuple[str, ...]  # followers that are online, current and recently heard

    @property
    def name(self) -> str:
        return self.stream if self.consumer is None else f"{self.stream} > {self.consumer}"

    @classmethod
    def from_view(cls, stream: str, consumer: str | None, view: ClusterView) -> Group:
        return cls(stream=stream, consumer=consumer, leader=view.leader,
                   peers=tuple(sorted(p.name for p in view.peers)),
                   current=tuple(sorted(p.name for p in view.peers
                                        if not p.leader and p.healthy)))


@dataclass(frozen=True)
class Move:
    """Step ``group``'s leader down from ``from_`` with ``to`` as the preferred peer."""

    group: str
    from_: str
    to: str
    stream: str = field(default="", repr=False)
    consumer: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class BalancePlan:
    """Leader counts per server before and after the planned moves; ``share`` is the most
    leaders any server should hold: ceil(groups / servers that host them)."""

    kind: Kind
    groups: int
    share: int
    moves: tuple[Move, ...]
    before: dict[str, int]
    after: dict[str, int]
    leaderless: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()  # listed by the server as not answering in time: not planned
    names: tuple[str, ...] | None = field(default=None, repr=False)

    @property
    def balanced(self) -> bool:
        """No server leads more than its share + 1 once the moves are done."""
        return all(n <= self.share + 1 for n in self.after.values())


def plan_moves(kind: Kind, groups: Iterable[Group], *,
               names: tuple[str, ...] | None = None) -> BalancePlan:
    """Pick step-downs so that no server leads more than its share (deterministic).

    Servers over their share give up leaders, in name order of server and group, each to the
    least-loaded current follower that is under its share (ties: by name). Leaderless groups
    count toward the share but cannot be moved.
    """
    gs = sorted(groups, key=lambda g: (g.stream, g.consumer or ""))
    servers = sorted({p for g in gs for p in g.peers} | {g.leader for g in gs if g.leader})
    share = math.ceil(len(gs) / len(servers)) if servers else 0
    before = {s: 0 for s in servers}
    for g in gs:
        if g.leader:
            before[g.leader] += 1
    counts = dict(before)
    moves: list[Move] = []
    for server in servers:
        for g in gs:
            if counts[server] <= share:
                break
            if g.leader != server:
                continue
            targets = [p for p in g.current if counts[p] < share]
            if not targets:
                continue
            to = min(targets, key=lambda p: (counts[p], p))
            counts[server] -= 1
            counts[to] += 1
            moves.append(Move(g.name, server, to, g.stream, g.consumer))
    return BalancePlan(kind=kind, groups=len(gs), share=share, moves=tuple(moves),
                       before=before, after=counts,
                       leaderless=tuple(g.name for g in gs if not g.leader), names=names)


async def _groups(conn: Conn, kind: Kind, names: Sequence[str] | None
                  ) -> tuple[list[Group], tuple[str, ...]]:
    from natsops.jetstream.consumers import list_consumers
    from natsops.jetstream.streams import list_stream_names, list_streams

    if kind == "stream":
        listing = await list_streams(conn)
        wanted = set(names) if names else None
        unknown = sorted((wanted or set()) - {s.name for s in listing.streams}
                         - set(listing.missing))
        if unknown:
            raise NotFound(f"no such stream: {', '.join(unknown)}")
        return [Group.from_view(s.name, None, s.cluster) for s in listing.streams
                if s.cluster and s.replicas > 1 and (wanted is None or s.name in wanted)
                ], tuple(m for m in listing.missing if wanted is None or m in wanted)
    sem = asyncio.Semaphore(8)

    async def one(stream: str) -> tuple[list[Group], tuple[str, ...]]:
        async with sem:
            listing = await list_consumers(conn, stream)
        return [Group.from_view(stream, c.name, c.cluster) for c in listing.consumers
                if c.cluster and len(c.cluster.peers) > 1], listing.missing

    streams = list(names or await list_stream_names(conn))
    parts = await asyncio.gather(*(one(s) for s in streams))
    return ([g for gs, _ in parts for g in gs],
            tuple(f"{s} > {m}" for s, (_, ms) in zip(streams, parts, strict=True) for m in ms))


async def plan_balance(conn: Conn, kind: Kind = "stream", *,
                       names: Sequence[str] | None = None) -> BalancePlan:
    """Read every replicated stream's (or, for ``consumer``, every consumer's of the streams
    ``names``, default all) leader and peers, and plan the moves (:func:`plan_moves`).
    ``names`` limits a stream plan to those streams."""
    if kind not in ("stream", "consumer"):
        raise NatsopsError(f"unknown balance kind {kind!r}")
    fixed = tuple(names) if names else None
    groups, missing = await _groups(conn, kind, fixed)
    return replace(plan_moves(kind, groups, names=fixed), missing=missing)


@dataclass(frozen=True)
class MoveResult:
    """What a move did: the leader afterwards, and whether the preferred peer got it."""

    move: Move
    new_leader: str
    honoured: bool
    error: str | None = None


@dataclass(frozen=True)
class BalanceResult:
    """Every step-down done (over at most two rounds); ``final`` is a fresh plan read after
    them: its ``before`` are the leader counts now, its ``moves`` what is still possible."""

    plan: BalancePlan
    results: tuple[MoveResult, ...]
    replanned: bool
    final: BalancePlan

    @property
    def honoured(self) -> int:
        return sum(r.honoured for r in self.results)

    @property
    def not_honoured(self) -> tuple[MoveResult, ...]:
        return tuple(r for r in self.results if not r.honoured)

    @property
    def balanced(self) -> bool:
        """No server leads more than its share + 1 (read back after the moves)."""
        return all(n <= self.final.share + 1 for n in self.final.before.values())


async def _move(conn: Conn, m: Move) -> MoveResult:
    from natsops.jetstream import consumers, streams

    try:
        info = (await streams.stream_info(conn, m.stream) if m.consumer is None
                else await consumers.consumer_info(conn, m.stream, m.consumer))
        now = info.cluster.leader if info.cluster else ""
        if now != m.from_:  # moved since the plan: stepping down now could unbalance
            return MoveResult(m, now, now == m.to, None if now == m.to else
                              f"leader moved to {now or 'none'} since the plan: skipped")
        if m.consumer is None:
            r = await streams.step_down(conn, m.stream, preferred=m.to)
        else:
            r = await consumers.step_down(conn, m.stream, m.consumer, preferred=m.to)
    except NatsopsError as exc:
        if "already leader" in str(exc):  # it moved there on its own meanwhile
            return MoveResult(m, m.to, True)
        return MoveResult(m, "", False, str(exc))
    return MoveResult(m, r.new_leader, r.new_leader == m.to,
                      None if r.moved else "no new leader before the deadline")


async def _run(conn: Conn, moves: Sequence[Move], parallel: int,
               progress: Callable[[str], None] | None) -> list[MoveResult]:
    sem = asyncio.Semaphore(max(1, parallel))

    async def one(m: Move) -> MoveResult:
        async with sem:
            r = await _move(conn, m)
        if progress is not None:
            what = (f"leader now {r.new_leader}" if r.honoured else
                    f"NOT honoured: {r.error or 'leader now ' + (r.new_leader or 'none')}")
            progress(f"{m.group}: {m.from_} -> {m.to}: {what}")
        return r

    return list(await asyncio.gather(*(one(m) for m in moves)))


async def apply_balance(conn: Conn, plan: BalancePlan, *, parallel: int = 4,
                        progress: Callable[[str], None] | None = None) -> BalanceResult:
    """Run the plan's step-downs (at most ``parallel`` at a time), each with its preferred
    peer, and read each new leader back. When more can be moved afterwards (a move was not
    honoured, leaders moved meanwhile, or followers were not current when planned) the plan
    is made again once from fresh reads and its moves run. Per-move failures are reported,
    not raised."""
    results = await _run(conn, plan.moves, parallel, progress)
    final = await plan_balance(conn, plan.kind, names=plan.names)
    replanned = False
    if final.moves:  # a move not honoured, or followers that were not current yet
        replanned = True
        if progress is not None:
            progress(f"re-planning: {len(final.moves)} more move(s)")
        results += await _run(conn, final.moves, parallel, progress)
        final = await plan_balance(conn, plan.kind, names=plan.names)
    return BalanceResult(plan=plan, results=tuple(results), replanned=replanned, final=final)
