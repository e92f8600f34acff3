"""Run a rolling upgrade (or restart): :func:`prepare` reads the cluster, runs the preflight
and builds the plan; the caller shows it (and asks); :func:`execute` does it.

Per server, in the plan's order (followers first, the meta leader last), once the cluster is
settled: step the meta leader down if it is this server; move every stream and consumer leader
off it (bounded parallel step-downs, each new leader read back: a step-down to an unhealthy
preferred peer silently picks another); lame duck mode; wait for the exit; restart; then the
gate (:mod:`natsops.upgrade.gates`). Any abort condition stops the run before the next server;
the journal records where, so ``--resume`` continues. SIGINT/SIGTERM stop it between steps.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from natsops.access import SystemAccess
from natsops.cluster.deployment import LocalDeployment
from natsops.cluster.local import LocalCluster
from natsops.cluster.process import server_version as binary_version
from natsops.connection import Conn
from natsops.context import Settings
from natsops.errors import ChecksFailed, ExitCode, NatsopsError, UsageError
from natsops.findings import Finding
from natsops.jetstream.balance import BalanceResult, apply_balance, plan_balance
from natsops.monitoring.snapshot import Snapshot, as_map
from natsops.upgrade.canary import CanaryResult, canary
from natsops.upgrade.conn import durable
from natsops.upgrade.gates import Abort, GateTimeout, Watcher, _Stopping, wait_gate
from natsops.upgrade.journal import Journal, default_path
from natsops.upgrade.plan import UpgradePlan, build_plan
from natsops.upgrade.preflight import preflight, refusals
from natsops.upgrade.state import (
    Group,
    groups,
    meta_leader_of,
    observe,
    peer_problem,
    server_start,
)
from natsops.upgrade.strategies import (
    CommandStrategy,
    KubernetesStrategy,
    LocalStrategy,
    RestartFailed,
    Strategy,
    Target,
    TopologyStrategy,
)
from natsops.upgrade.versions import (
    describe_path,
    fetch_release,
    parse_version,
    released_versions,
)

__all__ = ["Prepared", "ServerResult", "UpgradeOptions", "UpgradeReport", "execute", "prepare"]

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class UpgradeOptions:
    """What ``natsops upgrade --rolling`` was asked for."""

    cluster_dir: Path | None = None
    settings: Settings | SystemAccess | None = None  # how to reach the system account
    account_settings: Settings | None = None  # an account whose leaders are stepped down
    to_binary: Path | None = None
    to_version: str | None = None
    restart_only: bool = False
    restart_cmd: str | None = None
    lame_duck_cmd: str | None = None
    shell: bool = False
    kubernetes: bool = False
    namespace: str | None = None
    force: bool = False
    accept_downtime: bool = False
    resume: bool = False
    state_file: Path | None = None
    canary: bool | None = None  # None: on for local clusters
    canary_rate: float = 50.0
    balance: bool = True
    stall_timeout: float = 30.0
    drain_timeout: float = 2.0
    parallel: int = 4
    resume_command: str = "natsops upgrade --rolling ... --resume"

    def check(self) -> None:
        given = [f for f, v in (("--to-binary", self.to_binary), ("--to-version", self.to_version),
                                ("--restart-only", self.restart_only)) if v]
        if len(given) != 1:
            raise UsageError("say what to do: exactly one of --to-binary, --to-version, "
                             "--restart-only" + (f" (got {', '.join(given)})" if given else ""))
        if self.restart_cmd and self.kubernetes:
            raise UsageError("--restart-cmd and --kubernetes exclude each other")
        if self.lame_duck_cmd and not self.restart_cmd:
            raise UsageError("--lame-duck-cmd goes with --restart-cmd")
        if self.shell and not self.restart_cmd:
            raise UsageError("--shell goes with --restart-cmd")
        if self.namespace and not self.kubernetes:
            raise UsageError("--namespace goes with --kubernetes")
        local = not (self.restart_cmd or self.kubernetes)
        if local and self.cluster_dir is None:
            raise UsageError("how are servers restarted? give --dir (a natsops local cluster), "
                             "--restart-cmd TEMPLATE or --kubernetes")
        if self.to_binary and not local:
            raise UsageError("--to-binary installs a binary into a local cluster (--dir); with "
                             "--restart-cmd/--kubernetes the command installs the new version: "
                             "pass --to-version X.Y.Z to have it checked")
        if self.cluster_dir is None and self.settings is None:
            raise UsageError("no connection settings: give --dir or a system-account context")
        for name, v in (("--stall-timeout", self.stall_timeout),
                        ("--drain-timeout", self.drain_timeout)):
            if v <= 0:
                raise UsageError(f"{name} must be above zero")
        if self.parallel < 1:
            raise UsageError("--parallel must be at least 1")
        if self.restart_cmd:
            CommandStrategy(self.restart_cmd, self.lame_duck_cmd, self.shell)  # checks both
        if self.to_version:
            parse_version(self.to_version)


@dataclass
class Prepared:
    options: UpgradeOptions
    plan: UpgradePlan
    findings: tuple[Finding, ...]
    sys_settings: Settings
    account_settings: Settings | None
    target_version: str | None
    target_binary: Path | None
    state_file: Path
    servers: tuple[str, ...]
    targets: dict[str, Target]
    cluster: LocalCluster | LocalDeployment | None = None

    @property
    def refused(self) -> list[Finding]:
        return refusals(self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {**self.plan.to_dict(), "state_file": str(self.state_file),
                "canary": self.canary_on}

    @property
    def canary_on(self) -> bool:
        c = self.options.canary
        on = self.cluster is not None if c is None else c
        return on and self.account_settings is not None


@dataclass
class ServerResult:
    name: str
    version_before: str
    version_after: str | None = None
    seconds: float = 0.0
    step_downs: int = 0
    skipped: str | None = None
    phases: dict[str, float] = field(default_factory=dict)


@dataclass
class UpgradeReport:
    status: str  # done | aborted | stopped
    target: str
    servers: list[ServerResult]
    versions_before: dict[str, str]
    versions_after: dict[str, str]
    seconds: float
    longest_leaderless: float
    longest_leaderless_asset: str | None
    canary: CanaryResult | None = None
    balance: BalanceResult | None = None
    stopped_at: str | None = None
    phase: str | None = None
    reason: str | None = None
    cluster_state: list[str] = field(default_factory=list)
    resume: str | None = None
    signal: int | None = None
    timed_out: bool = False
    state_file: str = ""

    @property
    def exit_code(self) -> ExitCode:
        if self.status == "stopped":
            return ExitCode.TERMINATED if self.signal == signal.SIGTERM else ExitCode.INTERRUPTED
        if self.status == "aborted":
            return ExitCode.TIMEOUT if self.timed_out else ExitCode.ERROR
        if self.canary is not None and not self.canary.ok:
            return ExitCode.FAILED
        return ExitCode.OK


# ---- prepare ------------------------------------------------------------------------------


def _local(opts: UpgradeOptions) -> tuple[LocalCluster | LocalDeployment | None,
                                           Settings | None]:
    """The local cluster or topology (``--dir``) and the account whose leaders are stepped
    down (a topology: its APP user on its clusters)."""
    if opts.cluster_dir is None:
        return None, opts.account_settings
    from natsops.cluster.ready import app_settings
    from natsops.cluster.target import load_local

    local = load_local(opts.cluster_dir)
    if isinstance(local, LocalDeployment):
        return local, opts.account_settings or local.settings("app")
    return local, opts.account_settings or app_settings(local)


def _by_group(plan: UpgradePlan, dep: LocalDeployment) -> UpgradePlan:
    """A topology: cluster by cluster, the meta leader's cluster last of the clusters, the
    leaf sites after them (they dial the clusters); the plan's order inside each group."""
    leader_group = dep.group_of(plan.meta_leader).name if plan.meta_leader and any(
        n.name == plan.meta_leader for n in dep.nodes) else None
    rank = {g.name: (g.is_leaf, g.name == leader_group, i) for i, g in enumerate(dep.groups)}
    pos = {s.name: i for i, s in enumerate(plan.steps)}
    steps = sorted(plan.steps, key=lambda s: (rank[dep.group_of(s.name).name], pos[s.name]))
    return replace(plan, steps=tuple(steps))


def _target(opts: UpgradeOptions, local: bool, dry_run: bool) -> tuple[str | None, Path | None]:
    if opts.restart_only:
        return None, None
    if opts.to_binary is not None:
        exe = opts.to_binary.expanduser().resolve()
        if not exe.is_file():
            raise UsageError(f"--to-binary {opts.to_binary}: no such file")
        return binary_version(exe), exe
    assert opts.to_version is not None
    parse_version(opts.to_version)
    return opts.to_version, None


async def _two_looks(opts: UpgradeOptions, expected: tuple[str, ...]
                     ) -> tuple[Snapshot, Settings]:
    """Two gatherings a second apart (the replicas check wants a peer bad twice), through the
    first login that is a system-account user; returns its settings too."""
    from natsops.access import SystemAccess, system_connection

    access = SystemAccess.of(opts.settings, opts.cluster_dir)
    async with system_connection(access, "natsops upgrade") as (conn, login):
        first = await observe(conn.nc, expected)
        await asyncio.sleep(1.0)
        return (await observe(conn.nc, expected)).with_previous(first), login.settings


def _targets(snap: Snapshot, servers: tuple[str, ...],
             cluster: LocalCluster | LocalDeployment | None) -> dict[str, Target]:
    out = {}
    for n in servers:
        if cluster is not None:
            out[n] = Target(n, cluster.node(n).host, cluster.pid(n))
            continue
        sv = snap.server(n)
        v = as_map(sv.varz if sv is not None else None)
        host = str(v.get("host") or "")
        if host in ("", "0.0.0.0", "::", "[::]"):
            urls = [str(u) for u in v.get("connect_urls") or ()]
            host = urls[0].rsplit(":", 1)[0] if urls else n
        out[n] = Target(n, host, None)
    return out


async def prepare(opts: UpgradeOptions, *, dry_run: bool = False,
                  progress: Progress = _quiet) -> Prepared:
    """Read the cluster, build the plan and run the preflight (changes nothing)."""
    opts.check()
    cluster, account = _local(opts)
    if opts.canary and account is None:
        raise UsageError("--canary writes to a JetStream account: give --account-context NAME")
    local = not (opts.restart_cmd or opts.kubernetes)
    progress("reading the cluster")
    expected = tuple(n.name for n in cluster.nodes) if cluster else ()
    snap, sys_settings = await _two_looks(opts, expected)
    servers = expected or tuple(sorted(set(snap.names) | set(snap.meta_peers)))
    target_version, target_binary = _target(opts, local, dry_run)
    state_file = opts.state_file or default_path(
        cluster.dir if cluster else None, cluster.name if cluster else
        (snap.servers[0].cluster or "cluster") if snap.servers else "cluster")
    journal = Journal.load(state_file)
    done = tuple(journal.done) if opts.resume and journal is not None else ()
    strategy = "local" if local else "kubernetes" if opts.kubernetes else "command"
    plan = build_plan(snap, servers, target_version=None if opts.restart_only else
                      target_version, target_binary=str(target_binary) if target_binary
                      else None, strategy=strategy, already_done=done)
    if isinstance(cluster, LocalDeployment):
        plan = _by_group(plan, cluster)
    if local and cluster is not None and target_binary is not None:
        plan = _skip_by_binary(plan, cluster, target_binary, done)
    path: list[str] = []
    running = [v for v in plan.versions.values() if v]
    if target_version and any(parse_version(v)[:2] != parse_version(target_version)[:2]
                              for v in running):
        progress("listing releases on the package index")
        path = describe_path(running, target_version, released_versions())
    if local and opts.to_version and not dry_run and (not path or opts.force):
        progress(f"fetching nats-server {opts.to_version}")
        target_binary = fetch_release(opts.to_version)
        plan = replace(plan, target_binary=str(target_binary))
    problems = []
    targets = _targets(snap, servers, cluster)
    if opts.restart_cmd:
        cs = CommandStrategy(opts.restart_cmd, opts.lame_duck_cmd, opts.shell)
        if cs.uses_pid() and cluster is None:
            problems.append("{pid} is only known for a local cluster (--dir)")
    if opts.kubernetes and shutil.which("kubectl") is None:
        problems.append("kubectl is not on PATH")
    if local and cluster is not None:
        stopped = [n for n in plan.to_restart if cluster.pid(n) is None
                   and n != (journal.current if opts.resume and journal else None)]
        if stopped:
            problems.append(f"not running: {', '.join(stopped)} (start them first: "
                            "`natsops cluster start`)")
    if isinstance(cluster, LocalDeployment):
        problems += await _link_problems(cluster)
    interrupted = journal.current if opts.resume and journal is not None else None
    findings = preflight(snap, plan, accept_downtime=opts.accept_downtime, path_problems=path,
                         target_problems=problems, interrupted=interrupted)
    return Prepared(opts, plan, findings, sys_settings, account, target_version, target_binary,
                    state_file, servers, targets, cluster)


async def _link_problems(dep: LocalDeployment) -> list[str]:
    """A topology's gateways and leafnodes that are not connected (the preflight refuses)."""
    from natsops.cluster.deployment_ready import link_problems

    links = await link_problems(dep)
    return [f"{k}: {v}" for k, v in sorted(links.items())]


def _skip_by_binary(plan: UpgradePlan, cluster: LocalCluster | LocalDeployment, binary: Path,
                    done: tuple[str, ...]) -> UpgradePlan:
    """Local: a node is done when it already runs the target *binary* (not just its version)."""
    steps = []
    for s in plan.steps:
        owner = cluster.cluster_of(s.name) if isinstance(cluster, LocalDeployment) else cluster
        same = owner.binary_for(s.name).resolve() == binary
        skip = "done (journal)" if s.name in done else \
            f"already runs {binary}" if same else None
        steps.append(replace(s, skip=skip))
    return replace(plan, steps=tuple(steps))


# ---- execute -------------------------------------------------------------------------------


def _strategy(p: Prepared) -> Strategy:
    o = p.options
    if o.kubernetes:
        return KubernetesStrategy(o.namespace)
    if o.restart_cmd:
        return CommandStrategy(o.restart_cmd, o.lame_duck_cmd, o.shell)
    assert p.cluster is not None
    binary = p.target_binary
    version = p.target_version
    if isinstance(p.cluster, LocalDeployment):
        return TopologyStrategy(p.cluster, binary, version or "", drain=o.drain_timeout)
    return LocalStrategy(p.cluster, binary, version or "", drain=o.drain_timeout)


class _Run:
    """One execution: the connections, the watcher, the journal and the results."""

    def __init__(self, p: Prepared, sys_conn: Conn, acc: Conn | None, watcher: Watcher,
                 journal: Journal, progress: Progress) -> None:
        self.p, self.sys, self.acc, self.w, self.j = p, sys_conn, acc, watcher, journal
        self.progress = progress
        self.strategy = _strategy(p)
        self.signal: int | None = None
        self.done: list[str] = list(journal.done)
        self.results: list[ServerResult] = []
        self.acc_name: str | None = None  # the account of ``acc``: its leaders are stepped down

    def on_signal(self, sig: int) -> None:
        self.signal = sig
        self.progress(f"signal {sig}: stopping after the current step")

    def stopping(self) -> bool:
        return self.signal is not None

    def check_stop(self) -> None:
        if self.signal is not None:
            raise _Stopping()

    async def settle(self, server: str | None = None, **kw: Any) -> float:
        return await wait_gate(self.w, server, stall_timeout=self.p.options.stall_timeout,
                               progress=self.progress, stopping=self.stopping, **kw)

    async def server(self, name: str) -> None:
        step = self.p.plan.step(name)
        res = ServerResult(name, step.version)
        self.results.append(res)
        t0 = time.monotonic()
        interrupted = self.j.current == name  # a resumed run stopped inside this server
        resumed_gate = interrupted and self.j.phase == "restarted"
        if resumed_gate and (await self.w.next()).server(name) is None:
            resumed_gate = False  # restarted, then gone again: restart it once more
        if not resumed_gate:
            if not interrupted:
                self.progress(f"{name}: waiting until the cluster is settled")
                res.phases["settle"] = round(await self.settle(None), 3)
            self.check_stop()
            self.j.at(name, "draining")
            snap = await self.w.next()
            old_start = server_start(snap, name)
            self.j.old_start = old_start or self.j.old_start
            t1 = time.monotonic()
            res.step_downs = await self.move_leaders(name, snap)
            res.phases["step_down"] = round(time.monotonic() - t1, 3)
            t1 = time.monotonic()
            target = self.p.targets[name]
            if self.p.cluster is not None:
                target = Target(name, target.host, self.p.cluster.pid(name))
            self.progress(f"{name}: draining (lame duck)")
            if await self.strategy.lame_duck(target):
                await self.wait_exit(target)
            await self.strategy.stop(target)
            res.phases["drain"] = round(time.monotonic() - t1, 3)
            self.j.at(name, "restarting")
            self.progress(f"{name}: restarting")
            t1 = time.monotonic()
            await self.strategy.restart(target)
            res.phases["restart"] = round(time.monotonic() - t1, 3)
            self.j.at(name, "restarted")
        old = self.j.old_start
        t1 = time.monotonic()
        res.phases["gate"] = round(await self.settle(
            name, old_start=old, version=self.p.target_version), 3)
        if isinstance(self.p.cluster, LocalDeployment):
            res.phases["links"] = round(await self.wait_links(self.p.cluster, name), 3)
        res.version_after = _version(self.w.latest, name) or None
        res.seconds = round(time.monotonic() - t0, 3)
        self.j.old_start = None
        self.j.finish(name, seconds=res.seconds, version=res.version_after)
        self.done.append(name)
        self.progress(f"{name}: done in {res.seconds:.1f}s ({res.version_after})")

    async def wait_links(self, dep: LocalDeployment, name: str) -> float:
        """A topology's gate: every gateway and leafnode connected again (up to
        --stall-timeout)."""
        t0 = time.monotonic()
        while True:
            problems = await _link_problems(dep)
            if not problems:
                return time.monotonic() - t0
            if time.monotonic() - t0 > self.p.options.stall_timeout:
                raise GateTimeout(f"{name}: links not reconnected after "
                                  f"{self.p.options.stall_timeout:g}s: {'; '.join(problems[:3])}")
            self.check_stop()
            await asyncio.sleep(0.2)

    async def wait_exit(self, t: Target) -> None:
        """Up to --drain-timeout for the process to exit (clients move meanwhile)."""
        deadline = time.monotonic() + self.p.options.drain_timeout
        while time.monotonic() < deadline:
            gone = self.strategy.exited(t)
            if gone is None:
                snap = await self.w.next()
                gone = snap.server(t.name) is None
            if gone:
                return
            await asyncio.sleep(0.05)

    def _preferred(self, g: Group, leaving: str, load: dict[str, int]) -> str | None:
        ok = [m for m in g.members if m != leaving and (g.peer(m) is None or
              peer_problem(g.peer(m)) is None)]
        if not ok:
            return None
        # a server already done never restarts again; otherwise the one restarted last, so
        # the group moves as few times as possible
        order = self.p.plan.order
        return min(ok, key=lambda m: (m not in self.done, -order.index(m) if m in order else 0,
                                      load.get(m, 0), m))

    async def move_leaders(self, name: str, snap: Snapshot) -> int:
        """Meta leader first, then every stream and consumer leader: off ``name``."""
        moved = 0
        if meta_leader_of(snap, name) == name:
            moved += await self.step_down_meta(name, snap)
        led = [g for g in groups(snap) if g.leader == name and g.replicas > 1]
        if not led:
            return moved
        mine = [g for g in led if self.acc is not None and g.account == self.acc_name]
        if len(mine) < len(led):
            self.progress(f"{name}: {len(led) - len(mine)} leader(s) in other accounts move "
                          "with lame duck mode")
        load: dict[str, int] = {}
        for g in groups(snap):
            if g.leader:
                load[g.leader] = load.get(g.leader, 0) + 1
        sem = asyncio.Semaphore(self.p.options.parallel)
        self.progress(f"{name}: stepping down {len(mine)} stream/consumer leader(s)")

        async def one(g: Group) -> bool:
            pref = self._preferred(g, name, load)
            if pref:
                load[pref] = load.get(pref, 0) + 1
            async with sem:
                for attempt in (pref, None):
                    try:
                        new = await self._step_down(g, attempt)
                    except NatsopsError:
                        continue
                    if new and new != name:
                        return True
            return False

        ok = await asyncio.gather(*(one(g) for g in mine))
        stuck = [g.subject for g, good in zip(mine, ok, strict=True) if not good]
        if stuck:
            self.progress(f"{name}: still leads {', '.join(stuck[:3])}; lame duck mode "
                          "moves it")
        return moved + sum(ok)

    async def step_down_meta(self, name: str, snap: Snapshot) -> int:
        """Move the meta leadership of ``name``'s JetStream domain (each domain is its own meta
        group: a leaf site's is asked through ``$JS.<domain>.API``) to a peer in that domain,
        preferably one already done."""
        from natsops.jetstream.meta import step_down_meta

        me = snap.server(name)
        domain = (me.domain or None) if me is not None else None
        peers = [s.name for s in snap.servers
                 if s.name != name and (s.domain or None) == domain]
        pref = next((n for n in self.done if n in peers), None)
        where = f" of JetStream domain {domain}" if domain else ""
        self.progress(f"{name}: stepping down as meta leader{where}")
        sd = await step_down_meta(self.sys, preferred=pref, timeout=10.0, domain=domain)
        if sd.new_leader == name or not sd.new_leader:
            sd = await step_down_meta(self.sys, timeout=10.0, domain=domain)
        self.progress(f"{name}: meta leader{where} is now {sd.new_leader}")
        return 1

    async def _step_down(self, g: Group, preferred: str | None) -> str:
        assert self.acc is not None
        if g.kind == "stream":
            from natsops.jetstream.streams import step_down

            return (await step_down(self.acc, g.stream, preferred=preferred)).new_leader
        from natsops.jetstream.consumers import step_down as consumer_step_down

        assert g.consumer is not None
        return (await consumer_step_down(self.acc, g.stream, g.consumer,
                                         preferred=preferred)).new_leader


def _version(snap: Snapshot | None, name: str) -> str:
    s = snap.server(name) if snap is not None else None
    return s.version if s is not None else ""


def _state_lines(snap: Snapshot | None, expected: tuple[str, ...]) -> list[str]:
    if snap is None:
        return ["no view of the cluster"]
    lines = []
    for n in expected:
        s = snap.server(n)
        if s is None:
            lines.append(f"{n}: not answering")
        else:
            h = as_map(s.healthz)
            lines.append(f"{n}: {s.version}, /healthz {h.get('status')}"
                         + (f" ({h.get('error')})" if h.get("error") else ""))
    from natsops.upgrade.gates import pending_conditions

    pending, _ = pending_conditions(snap, None)
    lines += [f"{k}: {v}" for k, v in sorted(pending.items()) if k not in expected][:10]
    return lines


async def _account_of(conn: Conn) -> str | None:
    """The account name of a connection, from ``$JS.API.INFO`` (None when it has no JS)."""
    try:
        info = await conn.js.account_info()
    except Exception:  # no JetStream for this account: no step-downs through it
        return None
    del info
    try:
        msg = await conn.nc.request("$SYS.REQ.USER.INFO", b"", timeout=2.0)
        import json

        return str(json.loads(msg.data).get("data", {}).get("account") or "") or None
    except Exception:  # older servers: fall back to the local cluster's account name
        return None


async def execute(p: Prepared, *, progress: Progress = _quiet,
                  handle_signals: bool = True) -> UpgradeReport:
    """Do the plan (see module doc). Returns the report, also when aborted or stopped."""
    o = p.options
    if p.refused and not o.force:
        raise ChecksFailed(f"preflight refused the upgrade ({len(p.refused)} reason(s))",
                           hint="fix them, or pass --force to go ahead anyway")
    target = p.target_version or "restart"
    journal = Journal.open(p.state_file, target=target, strategy=p.plan.strategy,
                           order=list(p.plan.order), resume=o.resume)
    journal.save()
    start = time.monotonic()
    loop = asyncio.get_running_loop()
    async with contextlib.AsyncExitStack() as stack:
        sys_conn = await stack.enter_async_context(durable(p.sys_settings, "natsops upgrade"))
        acc = None
        if p.account_settings is not None:
            acc = await stack.enter_async_context(durable(p.account_settings,
                                                          "natsops upgrade steps"))
        watcher = Watcher(sys_conn.nc, p.servers)
        watcher.start()
        stack.push_async_callback(watcher.stop)
        run = _Run(p, sys_conn, acc, watcher, journal, progress)
        if acc is not None:
            run.acc_name = await _account_of(acc) or ("APP" if p.cluster is not None else None)
        if handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, run.on_signal, int(sig))
                stack.callback(loop.remove_signal_handler, sig)
        first = await watcher.next()
        before = {n: _version(first, n) for n in p.servers}
        can = None
        if p.canary_on and p.account_settings is not None:
            progress("starting the canary")
            can = await stack.enter_async_context(canary(p.account_settings, rate=o.canary_rate))
            can.start()
        status, reason, where, phase = "done", None, None, None
        timed_out = False
        balance: BalanceResult | None = None
        try:
            for step in p.plan.steps:
                if step.skip or step.name in run.done:
                    run.results.append(ServerResult(step.name, step.version,
                                                    skipped=step.skip or "done (journal)"))
                    continue
                run.check_stop()
                await run.server(step.name)
            progress("waiting until the cluster is settled")
            await run.settle(None)
            if o.balance and acc is not None:
                progress("balancing stream leaders")
                bplan = await plan_balance(acc, "stream")
                balance = await apply_balance(acc, bplan, parallel=o.parallel,
                                              progress=progress)
        except _Stopping:
            status, where, phase = "stopped", journal.current, journal.phase
            reason = f"stopped by signal {run.signal}"
        except (Abort, GateTimeout, RestartFailed) as exc:
            status, where, phase, reason = "aborted", journal.current, journal.phase, str(exc)
            timed_out = isinstance(exc, GateTimeout)
        except NatsopsError as exc:
            status, where, phase, reason = "aborted", journal.current, journal.phase, str(exc)
        cres = None
        if can is not None:
            progress("verifying the canary")
            cres = await can.finish()
            if cres.ok:
                await can.delete()
        last = watcher.latest
        after = {n: _version(last, n) for n in p.servers}
        state = _state_lines(last, p.servers) if status != "done" else []
        journal.current, journal.phase = where, phase
        journal.close(status, reason)
        return UpgradeReport(
            status=status, target=target, servers=run.results, versions_before=before,
            versions_after=after, seconds=round(time.monotonic() - start, 3),
            longest_leaderless=round(watcher.leaderless_now(), 3),
            longest_leaderless_asset=watcher.longest_leaderless_asset, canary=cres,
            balance=balance, stopped_at=where, phase=phase, reason=reason,
            cluster_state=state, resume=o.resume_command if status != "done" else None,
            signal=run.signal, timed_out=timed_out, state_file=str(p.state_file))
    raise AssertionError("unreachable")
