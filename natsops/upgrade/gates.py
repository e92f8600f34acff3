"""Watching the cluster through the upgrade, and the gates that decide when to go on.

A :class:`Watcher` gathers a Snapshot every ``interval`` for the whole run. From each it keeps
the longest window a stream had no leader, every replica's highest last sequence (a replica going
back aborts), and groups without quorum (aborts once it lasts ``NO_QUORUM_S``).

:func:`wait_gate` waits until a restarted server is back and caught up (see :data:`GATES`);
``server=None`` waits until the whole cluster is settled (every server healthy, every group with
a leader and all peers current) before the next server is touched. Both end on *lack of
progress*: the set of pending conditions or the replicas' lag not shrinking for
``stall_timeout`` seconds raises :class:`GateTimeout`; there is no fixed sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from natsops.errors import NatsopsError, Timeout
from natsops.monitoring.snapshot import Snapshot, as_int, as_map
from natsops.upgrade.state import (
    SeqWatch,
    groups,
    meta_leaders,
    observe,
    peer_problem,
    server_start,
)

if TYPE_CHECKING:
    from nats.aio.client import Client

__all__ = ["Abort", "GateTimeout", "Watcher", "pending_conditions", "wait_gate"]

NO_QUORUM_S = 2.0


class Abort(NatsopsError):
    """The abort rule fired: a group without quorum, a sequence going backwards."""


class GateTimeout(Timeout):
    """No progress towards a gate for ``--stall-timeout`` seconds."""


@dataclass
class Watcher:
    nc: Client
    expected: tuple[str, ...]
    interval: float = 0.2
    latest: Snapshot | None = None
    seq: SeqWatch = field(default_factory=SeqWatch.new)
    longest_leaderless: float = 0.0
    longest_leaderless_asset: str | None = None
    problems: list[str] = field(default_factory=list)
    allowed_down: set[str] = field(default_factory=set)  # R1 groups accepted to be down
    _leaderless: dict[str, float] = field(default_factory=dict)
    _no_quorum: dict[str, float] = field(default_factory=dict)
    _fresh: asyncio.Condition = field(default_factory=asyncio.Condition)
    _count: int = 0
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _loop(self) -> None:
        while True:
            t0 = time.monotonic()
            try:
                snap = await observe(self.nc, self.expected)
            except NatsopsError:
                snap = None  # the connection is reconnecting: look again
            if snap is not None:
                self._digest(snap)
                async with self._fresh:
                    self.latest = snap
                    self._count += 1
                    self._fresh.notify_all()
            await asyncio.sleep(max(0.0, self.interval - (time.monotonic() - t0)))

    def _digest(self, snap: Snapshot) -> None:
        now = time.monotonic()
        self.problems.extend(self.seq.update(snap))
        up = set(snap.names)
        for g in groups(snap):
            if g.kind == "stream":
                if g.leader:
                    since = self._leaderless.pop(g.subject, None)
                    if since is not None and now - since > self.longest_leaderless:
                        self.longest_leaderless = now - since
                        self.longest_leaderless_asset = g.subject
                else:
                    self._leaderless.setdefault(g.subject, now)
            if g.replicas < 2:
                continue
            if g.leader and g.from_leader:
                ok = 1 + sum(1 for m in g.members if m != g.leader and m in up
                             and peer_problem(g.peer(m)) is None)
            elif g.leader:
                ok = g.quorum  # the leader's copy is missing: servers-missing says why
            else:
                ok = sum(1 for m in g.members if m in up)
            if ok < g.quorum:
                since = self._no_quorum.setdefault(g.subject, now)
                if now - since >= NO_QUORUM_S:
                    msg = (f"{g.kind} {g.subject} (R{g.replicas}) has no quorum: "
                           f"{ok} of {len(g.members)} replicas usable for {now - since:.1f}s")
                    if msg.split(" for ")[0] not in {p.split(" for ")[0] for p in self.problems}:
                        self.problems.append(msg)
            else:
                self._no_quorum.pop(g.subject, None)

    def leaderless_now(self) -> float:
        """Close the open leaderless windows into the maximum (at the end of the run)."""
        now = time.monotonic()
        for subject, since in self._leaderless.items():
            if now - since > self.longest_leaderless:
                self.longest_leaderless, self.longest_leaderless_asset = now - since, subject
        return self.longest_leaderless

    async def next(self) -> Snapshot:
        """The next Snapshot gathered after this call (raises :class:`Abort` on a problem)."""
        async with self._fresh:
            seen = self._count
            await self._fresh.wait_for(lambda: self._count > seen)
            snap = self.latest
        if self.problems:
            raise Abort(self.problems[0])
        assert snap is not None
        return snap


def _meta_pending(snap: Snapshot, server: str | None, domain: str, leader: str | None,
                  pending: dict[str, str]) -> int:
    """The meta group of one JetStream domain: a leader, and (only ``server``) current peers,
    in its leader's view; returns their lag."""
    label = f"meta ({domain})" if domain else "meta"
    if server is not None:
        s = snap.server(server)
        if s is None or (s.domain or "") != domain:
            return 0
    if not leader:
        pending[label] = "no meta leader agreed on"
        return 0
    ls = snap.server(leader)
    lag = 0
    for r in (ls.meta if ls is not None and ls.meta else snap.meta_view).get("replicas") or ():
        r = as_map(r)
        name = str(r.get("name", ""))
        if server and name != server:
            continue
        why = peer_problem(r)
        if why:
            pending[f"{label} {name}"] = why
            lag += as_int(r.get("lag"))
    return lag


def pending_conditions(snap: Snapshot, server: str | None, *, old_start: str | None = None,
                       version: str | None = None) -> tuple[dict[str, str], int]:
    """What is not ready yet (subject -> why) and the summed lag of the replicas concerned.

    ``server``: the restarted server (it answers with a new start time, reports ``version``,
    its full /healthz is ok, the meta leader sees it current, every group with a replica on it
    has a leader that sees it current). ``None``: every server and every group.
    """
    pending: dict[str, str] = {}
    lag = 0
    names = [server] if server else list(snap.expected or snap.names)
    for n in names:
        s = snap.server(n)
        if s is None:
            pending[n] = "not answering"
            continue
        if server and old_start and server_start(snap, n) == old_start:
            pending[n] = "not restarted yet (same start time)"
            continue
        if server and version and s.version != version:
            pending[n] = f"runs {s.version}, expected {version}"
            continue
        h = as_map(s.healthz)
        if h.get("status") != "ok":
            pending[f"{n} /healthz"] = str(h.get("error") or h.get("status") or "no answer")
    for domain, leader in meta_leaders(snap).items():
        lag += _meta_pending(snap, server, domain, leader, pending)
    for g in groups(snap):
        if server and server not in g.members:
            continue
        if g.replicas < 2:
            if not g.leader:  # an R1 group: back once its server is
                pending[g.subject] = "no leader"
            continue
            continue
        if not g.leader:
            pending[g.subject] = "no leader"
            continue
        if not g.from_leader:
            pending[g.subject] = f"leader {g.leader} did not answer"
            continue
        for m in g.members:
            if m == g.leader or (server and m != server):
                continue
            p = g.peer(m)
            why = peer_problem(p)
            if why:
                pending[f"{g.subject} on {m}"] = why
                lag += as_int((p or {}).get("lag"))
    return pending, lag


Progress = Callable[[str], None]


async def wait_gate(watcher: Watcher, server: str | None, *, stall_timeout: float,
                    progress: Progress, stopping: Callable[[], bool],
                    old_start: str | None = None, version: str | None = None,
                    polls: int = 3, span: float = 2.0) -> float:
    """Wait for the gate (see module doc); returns the seconds it took.

    ``polls``/``span``: the restarted server's full /healthz must be ok on ``polls`` looks in a
    row spread over at least ``span`` seconds (a fresh follower says ok before it has even
    reached its leader, then flips back).
    """
    start = time.monotonic()
    last_progress = start
    best: tuple[int, int] | None = None
    streak, streak_since = 0, 0.0
    said = ""
    while True:
        if stopping():
            raise _Stopping()
        snap = await watcher.next()
        now = time.monotonic()
        pending, lag = pending_conditions(snap, server, old_start=old_start, version=version)
        healthy = not any(k == server or k == f"{server} /healthz" for k in pending)
        if server and healthy:
            if streak == 0:
                streak_since = now
            streak += 1
        elif server:
            streak = 0
        short = server is not None and (streak < polls or now - streak_since < span)
        if not pending and not short:
            return now - start
        score = (len(pending), lag)
        if best is None or score < best or (server and healthy and streak > 1):
            best = score if best is None or score < best else best
            last_progress = now
        line = _describe(server, pending, lag, streak, polls)
        if line != said:
            progress(line)
            said = line
        if now - last_progress >= stall_timeout:
            detail = "; ".join(f"{k}: {v}" for k, v in sorted(pending.items())[:6])
            what = f"{server} did not come back" if server and server in pending and \
                pending[server] == "not answering" else \
                f"no progress for {stall_timeout:g}s waiting for {server or 'the cluster'}"
            raise GateTimeout(f"{what} ({detail or 'health checks not yet passed'})")


class _Stopping(Exception):
    """A signal asked the run to stop (raised out of a gate, handled by the runner)."""


def _describe(server: str | None, pending: dict[str, str], lag: int, streak: int,
              polls: int) -> str:
    who = server or "cluster"
    if not pending:
        return f"{who}: healthy, settling (ok on {polls} polls over 2 s)"
    if server and server in pending:
        return f"{who}: {pending[server]}"
    if lag:
        return f"{who}: catching up, {lag} behind ({len(pending)} pending)"
    first = sorted(pending.items())[0]
    more = f" +{len(pending) - 1}" if len(pending) > 1 else ""
    return f"{who}: waiting for {first[0]} ({first[1]}){more}"
