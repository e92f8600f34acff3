"""How a server is put into lame duck mode, stopped and started again.

* :class:`LocalStrategy`: a natsops-managed local cluster (``--dir``): signals by pid (SIGUSR2
  for lame duck; SIGINT once the drain time is over, since lame duck mode ignores SIGTERM),
  then the node is started with the target binary, recorded per node in ``cluster.json``;
* :class:`CommandStrategy`: ``--restart-cmd`` / ``--lame-duck-cmd`` templates with ``{name}``,
  ``{host}``, ``{pid}``; split into words and filled in word by word (no shell) unless
  ``--shell``, where the values are shell-quoted;
* :class:`KubernetesStrategy`: ``kubectl delete pod NAME``: the StatefulSet recreates the pod
  and its preStop hook puts the server into lame duck mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from natsops.cluster.deployment import LocalDeployment
from natsops.cluster.local import LocalCluster
from natsops.cluster.process import is_running, stop_pid
from natsops.errors import NatsopsError, UsageError

__all__ = ["CommandStrategy", "KubernetesStrategy", "LocalStrategy", "RestartFailed",
           "Strategy", "Target", "TopologyStrategy", "check_template"]

FIELDS = ("name", "host", "pid")


class RestartFailed(NatsopsError):
    """The restart (or lame duck) command failed, or a local node did not start."""


@dataclass(frozen=True)
class Target:
    """One server to restart: its name, host, and pid when known (local clusters)."""

    name: str
    host: str = ""
    pid: int | None = None


class Strategy(Protocol):
    kind: str

    def describe(self) -> str: ...

    async def lame_duck(self, t: Target) -> bool:
        """Start lame duck mode; False when this strategy has no separate lame duck step."""

    def exited(self, t: Target) -> bool | None:
        """True/False when the process can be watched here; None when it cannot (remote)."""

    async def stop(self, t: Target) -> None:
        """Make sure the server is down before :meth:`restart` (no-op where restart does it)."""

    async def restart(self, t: Target) -> None:
        """Start the server again (with the target version); raises :class:`RestartFailed`."""


def check_template(template: str, flag: str) -> None:
    """Refuse fields other than {name} {host} {pid} and malformed braces."""
    try:
        names = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise UsageError(f"{flag}: {exc}") from None
    bad = sorted({n for n in names if n not in FIELDS})
    if bad:
        raise UsageError(f"{flag}: unknown field(s) {', '.join('{' + b + '}' for b in bad)}",
                         hint="use {name}, {host} and {pid}")
    if not template.strip():
        raise UsageError(f"{flag} is empty")


def _values(t: Target) -> dict[str, str]:
    return {"name": t.name, "host": t.host or t.name, "pid": "" if t.pid is None else str(t.pid)}


def render_command(template: str, t: Target, *, shell: bool) -> list[str]:
    """The argv for ``t``: word by word without a shell, quoted values with ``--shell``."""
    vals = _values(t)
    if shell:
        return ["/bin/sh", "-c", template.format(**{k: shlex.quote(v) for k, v in vals.items()})]
    try:
        words = shlex.split(template)
    except ValueError as exc:
        raise UsageError(f"cannot split the command {template!r}: {exc}") from None
    return [w.format(**vals) for w in words]


async def run_command(argv: list[str], *, what: str, timeout: float,
                      env: Mapping[str, str] | None = None) -> None:
    """Run ``argv``; a non-zero exit, a missing program or a timeout raises RestartFailed."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, env=dict(env) if env is not None else None)
    except OSError as exc:
        raise RestartFailed(f"{what}: cannot run {argv[0]}: {exc.strerror or exc}") from None
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise RestartFailed(f"{what}: still running after {timeout:g}s; killed") from None
    if proc.returncode != 0:
        tail = out.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise RestartFailed(f"{what} exited with {proc.returncode}: {tail[0]}")


@dataclass
class LocalStrategy:
    """Signals by pid, restarts with ``binary`` (recorded in ``cluster.json``)."""

    cluster: LocalCluster
    binary: Path | None  # None: --restart-only, each node keeps its binary
    version: str
    drain: float = 3.0  # seconds clients get in lame duck mode before SIGINT
    start_timeout: float = 30.0
    kind: str = "local"
    _pids: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        return f"local processes in {self.cluster.dir} (lame duck by SIGUSR2)"

    async def lame_duck(self, t: Target) -> bool:
        pid = self.cluster.pid(t.name)
        if pid is None:
            return False
        self._pids[t.name] = pid
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGUSR2)
        return True

    def exited(self, t: Target) -> bool | None:
        pid = self._pids.get(t.name) or self.cluster.pid(t.name)
        return pid is None or not is_running(pid)

    async def stop(self, t: Target) -> None:
        pid = self._pids.get(t.name) or self.cluster.pid(t.name)
        if pid is not None and is_running(pid):
            # lame duck mode ignores SIGTERM; SIGINT is the clean shutdown (leaders already moved)
            await asyncio.to_thread(stop_pid, pid, grace=20.0, sig=signal.SIGINT)
        self.cluster.pid_path(t.name).unlink(missing_ok=True)
        self._pids.pop(t.name, None)

    async def restart(self, t: Target) -> None:
        if self.binary is not None and self.cluster.binary_for(t.name) != self.binary:
            self.cluster.set_node_binary(t.name, self.binary, self.version)
        log = self.cluster.log_path(t.name)
        offset = log.stat().st_size if log.is_file() else 0  # the log is appended to
        try:
            proc = self.cluster.start_node(t.name)
        except NatsopsError as exc:
            raise RestartFailed(f"{t.name} did not start: {exc}", hint=exc.hint) from None
        if proc is None:
            return
        deadline = asyncio.get_running_loop().time() + self.start_timeout
        while b"Server is ready" not in _read_from(log, offset):
            if not proc.running:
                tail = _read_from(log, offset).decode(errors="replace").strip().splitlines()
                self.cluster.pid_path(t.name).unlink(missing_ok=True)
                raise RestartFailed(f"{t.name} exited during start-up: "
                                    f"{tail[-1] if tail else 'no log output'}",
                                    hint=f"see {log}")
            if asyncio.get_running_loop().time() > deadline:
                raise RestartFailed(f"{t.name} not ready {self.start_timeout:g}s after start",
                                    hint=f"see {log}")
            await asyncio.sleep(0.02)


@dataclass
class TopologyStrategy:
    """A local topology (``bootstrap --topology``): each server is restarted by the
    :class:`LocalStrategy` of the cluster or leaf site it belongs to."""

    deployment: LocalDeployment
    binary: Path | None
    version: str
    drain: float = 3.0
    kind: str = "local"
    _by_group: dict[str, LocalStrategy] = field(default_factory=dict)

    def describe(self) -> str:
        return f"local processes of the topology in {self.deployment.dir} (lame duck by SIGUSR2)"

    def of(self, name: str) -> LocalStrategy:
        group = self.deployment.group_of(name).name
        if group not in self._by_group:
            self._by_group[group] = LocalStrategy(self.deployment.cluster(group), self.binary,
                                                  self.version, drain=self.drain)
        return self._by_group[group]

    async def lame_duck(self, t: Target) -> bool:
        return await self.of(t.name).lame_duck(t)

    def exited(self, t: Target) -> bool | None:
        return self.of(t.name).exited(t)

    async def stop(self, t: Target) -> None:
        await self.of(t.name).stop(t)

    async def restart(self, t: Target) -> None:
        await self.of(t.name).restart(t)
        dep = self.deployment
        if self.binary is not None and dep.binary != self.binary and all(
                c.binary_for(n.name) == self.binary for c in dep.clusters() for n in c.nodes):
            dep.binary, dep.version = self.binary, self.version  # every server runs it now
            dep.save()


def _read_from(path: Path, offset: int) -> bytes:
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            return fh.read()
    except OSError:
        return b""


@dataclass
class CommandStrategy:
    """``--restart-cmd`` (and ``--lame-duck-cmd``) templates."""

    restart_cmd: str
    lame_duck_cmd: str | None = None
    shell: bool = False
    timeout: float = 300.0
    kind: str = "command"

    def __post_init__(self) -> None:
        check_template(self.restart_cmd, "--restart-cmd")
        if self.lame_duck_cmd is not None:
            check_template(self.lame_duck_cmd, "--lame-duck-cmd")

    def uses_pid(self) -> bool:
        return any("{pid}" in c for c in (self.restart_cmd, self.lame_duck_cmd or ""))

    def describe(self) -> str:
        ld = f"; lame duck: {self.lame_duck_cmd}" if self.lame_duck_cmd else ""
        return f"command: {self.restart_cmd}{ld}{' (through /bin/sh)' if self.shell else ''}"

    async def lame_duck(self, t: Target) -> bool:
        if self.lame_duck_cmd is None:
            return False
        await run_command(render_command(self.lame_duck_cmd, t, shell=self.shell),
                          what=f"lame duck command for {t.name}", timeout=self.timeout)
        return True

    def exited(self, t: Target) -> bool | None:
        return None

    async def stop(self, t: Target) -> None:
        return None

    async def restart(self, t: Target) -> None:
        await run_command(render_command(self.restart_cmd, t, shell=self.shell),
                          what=f"restart command for {t.name}", timeout=self.timeout)


@dataclass
class KubernetesStrategy:
    """``kubectl delete pod NAME``; the StatefulSet's preStop hook does the lame duck."""

    namespace: str | None = None
    kubectl: str = "kubectl"
    timeout: float = 600.0
    kind: str = "kubernetes"

    def describe(self) -> str:
        ns = f" -n {self.namespace}" if self.namespace else ""
        return f"kubernetes: {self.kubectl} delete pod NAME{ns} (preStop does the lame duck)"

    async def lame_duck(self, t: Target) -> bool:
        return False

    def exited(self, t: Target) -> bool | None:
        return None

    async def stop(self, t: Target) -> None:
        return None

    async def restart(self, t: Target) -> None:
        argv = [self.kubectl, "delete", "pod", t.name, "--wait=true"]
        if self.namespace:
            argv += ["--namespace", self.namespace]
        await run_command(argv, what=f"kubectl delete pod {t.name}", timeout=self.timeout)
