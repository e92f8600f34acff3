"""When a local cluster is usable, and starting nodes with a roll-back.

A cluster is usable when, within one :class:`Deadline`:

1. every node's full ``/healthz`` is ok;
2. every node sees the same JetStream meta leader, and the meta leader's own view lists every
   other node as current and online. A restarted follower's ``/healthz`` turns ok about 0.3 s
   after start and can turn bad again while it catches up, so the leader's view decides;
3. a probe stream with ``min(3, nodes)`` replicas can be created, written to and deleted.

nats-server 2.10, when all nodes start at once, can leave a node with its routes up whose
JetStream never gets current with the meta leader; it stays so until restarted. A node in that
state that the caller started itself is restarted, once, after ``kick_after`` seconds.

:func:`started` is the one start-then-roll-back: it starts nodes, and if anything fails before
the ``with`` block ends (a timeout, a crash, Ctrl-C, a cancelled task) it stops by pid exactly
the nodes it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from natsops._version import __version__
from natsops.cluster.local import LocalCluster, NodeSpec
from natsops.context import Secret, Settings
from natsops.errors import NatsopsError, Timeout, UsageError

__all__ = [
    "Deadline",
    "MetaVerdict",
    "Progress",
    "Ready",
    "app_settings",
    "check_processes",
    "meta_verdict",
    "others_running",
    "probe_stream",
    "restart_node",
    "silent",
    "start_nodes",
    "start_usable",
    "started",
    "wait_healthz",
    "wait_meta_current",
    "wait_usable",
]

Progress = Callable[[str], None]
"""Called with one line saying what a long step is doing (the CLI prints it on stderr)."""


def silent(_: str) -> None:
    """A :data:`Progress` that says nothing."""


@dataclass
class Deadline:
    """One time budget for every step of a wait.

    ``pending`` holds, by subject, why something is not ready yet; the :class:`Timeout` raised
    when the budget is spent names them.
    """

    seconds: float
    what: str
    hint: str | None = None
    clock: Callable[[], float] = time.monotonic
    pending: dict[str, str] = field(default_factory=dict)
    start: float = field(init=False)

    def __post_init__(self) -> None:
        self.start = self.clock()

    def elapsed(self) -> float:
        return self.clock() - self.start

    @property
    def expired(self) -> bool:
        return self.elapsed() >= self.seconds

    def remaining(self) -> float:
        """Seconds left; raises :class:`Timeout` once there are none."""
        left = self.seconds - self.elapsed()
        if left <= 0:
            raise self.error()
        return left

    def cap(self, seconds: float) -> float:
        """``seconds``, or less if the deadline comes first (raises once expired)."""
        return min(seconds, self.remaining())

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(self.cap(seconds))

    def error(self) -> Timeout:
        detail = "; ".join(f"{k}: {v}" for k, v in sorted(self.pending.items())) or "no answer"
        return Timeout(f"{self.what} not usable after {self.seconds:g}s ({detail})",
                       hint=self.hint)


@dataclass(frozen=True)
class Ready:
    """What a start-and-wait did: the nodes it started and the probe's replica count."""

    started: tuple[str, ...]
    probe_replicas: int


# ---- start, then roll back ------------------------------------------------------------------

@contextlib.contextmanager
def started(cluster: LocalCluster, names: Iterable[str] | None = None, *,
            grace: float = 5.0) -> Iterator[tuple[str, ...]]:
    """Start the given (default: all) nodes that are not running; yield the names started.

    On any exception before the block ends, including KeyboardInterrupt and a cancelled task,
    exactly the nodes started here are stopped by pid before the exception propagates. Nodes
    that were already running are never touched.
    """
    wanted = None if names is None else {cluster.node(n).name for n in names}
    ids: list[str] = []
    try:
        for n in cluster.nodes:
            if (wanted is None or n.name in wanted) and cluster.start_node(n.name) is not None:
                ids.append(n.name)
        yield tuple(ids)
    except BaseException:
        cluster.stop_all(grace=grace, only=ids)
        raise


def start_nodes(cluster: LocalCluster, names: Iterable[str] | None = None) -> tuple[str, ...]:
    """Start nodes that the caller owns from now on; if one fails to start, stop the others."""
    with started(cluster, names) as ids:
        return ids


async def start_usable(
    cluster: LocalCluster,
    names: Iterable[str] | None = None,
    *,
    timeout: float = 30.0,
    probe: bool = True,
    probe_settings: Settings | None = None,
    progress: Progress = silent,
) -> Ready:
    """Start the given (default: all) stopped nodes and wait until usable, or stop them again.

    Usable needs every node up: starting some while others are stopped too is refused
    before anything starts.
    """
    if names is not None:
        others_running(cluster, names)
    with started(cluster, names) as ids:
        replicas = await wait_usable(cluster, timeout=timeout, probe=probe,
                                     probe_settings=probe_settings, restartable=ids,
                                     progress=progress)
    return Ready(started=ids, probe_replicas=replicas)


class Servers(Protocol):
    """What has servers by name: a :class:`LocalCluster`, or a whole local topology."""

    dir: Path

    @property
    def nodes(self) -> tuple[NodeSpec, ...]: ...

    def node(self, name: str) -> NodeSpec: ...

    def pid(self, name: str) -> int | None: ...


def others_running(cluster: Servers, names: Iterable[str], what: str = "cluster") -> None:
    """UsageError unless every node but ``names`` runs (usable needs every node up)."""
    wanted = {cluster.node(n).name for n in names}
    down = [n.name for n in cluster.nodes if n.name not in wanted and cluster.pid(n.name) is None]
    if down:
        raise UsageError(f"{', '.join(down)} {'is' if len(down) == 1 else 'are'} stopped too: "
                         f"the {what} is usable only with every node running",
                         hint=f"start every node: natsops cluster start --dir {cluster.dir}")


async def restart_node(cluster: LocalCluster, name: str, *, grace: float = 10.0,
                       timeout: float = 30.0, progress: Progress = silent) -> Ready:
    """Stop one node by pid, start it again and wait until the cluster is usable.

    If the cluster does not become usable, the restarted node is stopped again.
    """
    others_running(cluster, [name])  # before stopping it: it could not come back usable
    cluster.stop_node(name, grace=grace)
    return await start_usable(cluster, [name], timeout=timeout, progress=progress)


# ---- readiness --------------------------------------------------------------------------------

async def wait_usable(
    cluster: LocalCluster,
    *,
    timeout: float = 30.0,
    probe: bool = True,
    probe_settings: Settings | None = None,
    restartable: Collection[str] = (),
    kick_after: float = 5.0,
    progress: Progress = silent,
) -> int:
    """Wait until the cluster is usable (see module doc); returns the probe's replica count.

    ``restartable`` names nodes this caller started: one that stays behind the meta leader for
    ``kick_after`` seconds while others are current is restarted once.
    """
    deadline = Deadline(timeout, f"cluster {cluster.name}", hint=f"see the logs in {cluster.dir}")
    progress("waiting for /healthz on every node")
    await wait_healthz(cluster, deadline)
    progress("waiting for a JetStream meta leader")
    await wait_meta_current(cluster, deadline, restartable=restartable, kick_after=kick_after,
                            progress=progress)
    if not probe:
        return 0
    replicas = min(3, len(cluster.nodes))
    progress(f"placing an R{replicas} probe stream")
    await probe_stream(cluster, deadline, replicas=replicas, settings=probe_settings)
    return replicas


def check_processes(cluster: LocalCluster) -> None:
    """Raise naming the log's last error if a node's process is gone."""
    for n in cluster.nodes:
        proc = cluster.process(n.name)
        if proc is None:  # stopped before, not started by this caller
            raise NatsopsError(f"{n.name} is not running",
                               hint=f"start it: natsops cluster start --dir {cluster.dir}")
        if not proc.running:  # the lines of this start only, not an earlier run's
            raise NatsopsError(f"{n.name} exited during start-up: "
                               f"{_log_error(proc.log_tail(40))}",
                               hint=f"see {cluster.log_path(n.name)}")


async def _health_of(url: str, timeout: float) -> tuple[bool, str | None]:
    from natsops.monitoring import MonitorClient

    try:
        async with MonitorClient(url, timeout=timeout) as mon:
            h = await mon.healthz()
    except NatsopsError as exc:
        return False, str(exc)
    return h.ok, h.error


async def wait_healthz(cluster: LocalCluster, deadline: Deadline) -> None:
    """Step 1: every node's full ``/healthz`` has said ok."""
    pending = {n.name: n for n in cluster.nodes}
    while pending:
        check_processes(cluster)
        results = await asyncio.gather(
            *(_health_of(n.monitor_url, deadline.cap(2.0)) for n in pending.values()))
        for name, (ok, err) in zip(list(pending), results, strict=True):
            if ok:
                del pending[name]
                deadline.pending.pop(name, None)
            else:
                deadline.pending[name] = err or "not healthy"
        if pending:
            await deadline.sleep(0.1)


@dataclass(frozen=True)
class MetaVerdict:
    """The meta group as the nodes report it: the leader, and who is behind."""

    leader: str | None
    behind: tuple[str, ...]  # not in contact with the leader, or not current in its view
    reason: str | None  # None: every node is current

    @property
    def ready(self) -> bool:
        return self.reason is None


def meta_verdict(metas: Mapping[str, Mapping[str, Any]]) -> MetaVerdict:
    """Judge each node's ``jsz.meta_cluster`` (by node name): ready only when all name one
    leader and that leader's own ``replicas`` list every other node current and not offline."""
    seen = {name: m.get("leader") or None for name, m in metas.items()}
    lost = tuple(sorted(name for name, leader in seen.items() if not leader))
    leaders = set(seen.values())
    if lost:
        return MetaVerdict(None, lost, f"{', '.join(lost)} not in contact with the meta leader")
    if len(leaders) != 1:
        return MetaVerdict(None, (), "nodes disagree on the meta leader")
    leader = str(next(iter(leaders)))
    peers = {r.get("name"): r for r in metas.get(leader, {}).get("replicas") or []}
    behind = tuple(sorted(
        name for name in metas if name != leader
        and not (peers.get(name, {}).get("current") and not peers.get(name, {}).get("offline"))))
    if behind:
        late = [n for n in behind if n in peers]
        # not even listed: the meta group formed without it (nats-server 2.10 sometimes
        # leaves out a server that started with the others, and does not take it in later)
        absent = [n for n in behind if n not in peers]
        parts = [f"{', '.join(late)} not current in the meta leader's view"] if late else []
        if absent:
            size = metas.get(leader, {}).get("cluster_size")
            parts.append(f"{', '.join(absent)} not in the meta group (its leader counts "
                         f"{size if size else len(peers) + 1} peers for {len(metas)} servers)")
        return MetaVerdict(leader, behind, "; ".join(parts))
    return MetaVerdict(leader, (), None)


async def _meta_views(cluster: LocalCluster, deadline: Deadline) -> dict[str, dict[str, Any]]:
    from natsops.monitoring import MonitorClient

    async def one(name: str, url: str) -> dict[str, Any]:
        try:
            async with MonitorClient(url, timeout=deadline.cap(2.0)) as mon:
                jsz = await mon.jsz()
        except NatsopsError as exc:
            deadline.pending[name] = str(exc)
            return {}
        return dict(jsz.get("meta_cluster") or {})

    views = await asyncio.gather(*(one(n.name, n.monitor_url) for n in cluster.nodes))
    return dict(zip((n.name for n in cluster.nodes), views, strict=True))


async def wait_meta_current(
    cluster: LocalCluster,
    deadline: Deadline,
    *,
    restartable: Collection[str] = (),
    kick_after: float = 5.0,
    progress: Progress = silent,
) -> None:
    """Step 2: one meta leader, and every other node current in its view (see module doc)."""
    since = deadline.clock()
    kicked = False
    while len(cluster.nodes) > 1:
        check_processes(cluster)
        verdict = meta_verdict(await _meta_views(cluster, deadline))
        if verdict.ready:
            break
        deadline.pending["meta"] = str(verdict.reason)
        # the 2.10 start-up race (module doc): restart, once, the nodes we started that are
        # behind while at least one node is not
        kick = [name for name in verdict.behind if name in restartable]
        if kick and not kicked and len(verdict.behind) < len(cluster.nodes) and \
                deadline.clock() - since > kick_after:
            progress(f"restarting {', '.join(kick)}: not current with the meta leader")
            for name in kick:
                cluster.stop_node(name, grace=5)
                cluster.start_node(name)
            kicked = True
        await deadline.sleep(0.1)
    deadline.pending.pop("meta", None)


def app_settings(cluster: LocalCluster) -> Settings:
    """Settings for the local cluster's APP account (its ``app`` user)."""
    creds = cluster.credentials()
    return Settings(servers=tuple(cluster.client_urls), user="app",
                    password=Secret(creds.get("app", "")), timeout=2.0,
                    connection_name=f"natsops {__version__} bootstrap probe")


async def probe_stream(cluster: LocalCluster, deadline: Deadline, *, replicas: int,
                       settings: Settings | None = None) -> None:
    """Step 3: create an R``replicas`` stream, publish to it, delete it; retry until the
    deadline. ``settings`` default to the cluster's APP user."""
    from nats.js.api import StorageType, StreamConfig

    from natsops.connection import connect

    settings = settings or app_settings(cluster)
    name = f"NATSOPS_PROBE_{secrets.token_hex(4).upper()}"
    subject = f"natsops.probe.{name.lower()}"
    while True:
        check_processes(cluster)
        attempt = settings.with_(timeout=max(0.5, deadline.cap(2.0)))
        try:
            async with connect(attempt) as conn:
                try:
                    await conn.js.add_stream(StreamConfig(
                        name=name, subjects=[subject], num_replicas=replicas, max_msgs=10,
                        storage=StorageType.FILE))
                    ack = await conn.js.publish(subject, b"probe")
                    if ack.stream == name:
                        return
                    deadline.pending["probe"] = (f"probe publish acked by {ack.stream}, "
                                                 f"expected {name}")
                finally:
                    # a probe must not survive us, whatever happened above
                    with contextlib.suppress(Exception):
                        await conn.js.delete_stream(name)
        except Exception as exc:  # the meta group or the account may still be forming
            deadline.pending["probe"] = f"{type(exc).__name__}: {exc}".strip(": ")
        await deadline.sleep(0.2)


def _log_error(lines: list[str]) -> str:
    for line in reversed(lines):
        if "[FTL]" in line or "[ERR]" in line:
            return line.split("] ", 2)[-1].strip()
    return lines[-1].strip() if lines else "no log output"
