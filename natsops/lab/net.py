"""Network namespaces, veth links and blackhole routes, through iproute2's ``ip``.

Everything is created inside namespaces: ``ip -n HUB link add vX type veth peer name eth0
netns NODE`` makes both ends of a link directly where they belong, so the host's own
interfaces and routes never change. A cut between two nodes is a pair of ``blackhole`` routes
(one in each node's namespace): neither can send to the other (a local sender gets EINVAL at
once; an established route connection goes silent and is closed by the route pings), while both
still reach everything else on the bridge. No iptables, nft or tc needed.

:func:`inside` moves the calling process into a namespace for a block (``setns(2)``), so the
library can read the nodes' monitors from the lab's client namespace.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from natsops.errors import NatsopsError, UsageError

__all__ = ["NETNS_DIR", "blackhole", "inside", "ip", "netns_exists", "netns_pids",
           "require_privileges", "unblackhole"]

NETNS_DIR = Path("/var/run/netns")
_CAP_NET_ADMIN = 12
_CLONE_NEWNET = 0x40000000


def _cap_net_admin(status: str) -> bool:
    for line in status.splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> _CAP_NET_ADMIN & 1)
    return False


def require_privileges() -> str:
    """The path of ``ip``; UsageError (exit 2) without root/CAP_NET_ADMIN or without iproute2."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        status = ""
    if os.geteuid() != 0 and not _cap_net_admin(status):
        raise UsageError("natsops lab needs root or CAP_NET_ADMIN (it creates network "
                         "namespaces); run it with sudo")
    exe = shutil.which("ip")
    if exe is None:
        raise UsageError("natsops lab needs `ip` (iproute2) on PATH")
    return exe


def ip(*args: str, ok_errors: tuple[str, ...] = ()) -> str:
    """Run ``ip ARGS``; raise naming the command unless it worked (or failed with one of
    ``ok_errors``, e.g. "File exists")."""
    try:
        done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=15,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NatsopsError(f"ip {' '.join(args)}: {exc}") from None
    if done.returncode != 0:
        err = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        if any(e in err[0] for e in ok_errors):
            return ""
        raise NatsopsError(f"ip {' '.join(args)}: {err[0]}")
    return done.stdout


def netns_exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def netns_pids(name: str) -> list[int]:
    """The processes inside namespace ``name`` (none when it does not exist)."""
    if not netns_exists(name):
        return []
    out = ip("netns", "pids", name, ok_errors=("No such file",))
    return [int(w) for w in out.split() if w.isdigit()]


def blackhole(netns: str, address: str) -> None:
    """In ``netns``, drop everything sent to ``address``."""
    ip("-n", netns, "route", "add", "blackhole", f"{address}/32", ok_errors=("File exists",))


def unblackhole(netns: str, address: str) -> None:
    ip("-n", netns, "route", "del", "blackhole", f"{address}/32",
       ok_errors=("No such process", "Cannot find device", "No such file"))


def blackholes(netns: str) -> list[str]:
    """The addresses ``netns`` has blackhole routes to."""
    if not netns_exists(netns):
        return []
    out = ip("-n", netns, "route", "show", "type", "blackhole")
    return [line.split()[1].split("/")[0] for line in out.splitlines() if len(line.split()) > 1]


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise NatsopsError(f"cannot enter a network namespace: {os.strerror(err)}")


@contextlib.contextmanager
def inside(netns: str) -> Iterator[None]:
    """Run the block in network namespace ``netns`` (sockets opened meanwhile live there),
    then return to the namespace the process was in."""
    if not netns_exists(netns):
        raise NatsopsError(f"network namespace {netns} does not exist",
                           hint="start the lab again: natsops lab up --dir DIR")
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        target = os.open(NETNS_DIR / netns, os.O_RDONLY)
        try:
            _setns(target)
        finally:
            os.close(target)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(home)
