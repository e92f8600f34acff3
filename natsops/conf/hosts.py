"""Which listener of a set of configs a route, gateway or leaf URL reaches.

A URL and a listener agree on the port and on the host, where "the host" is decided like this:

- the listener binds one address: the URL's host is that address, or a name that resolves to it
  (or both are loopback);
- the listener binds ``0.0.0.0``/``::`` (every address of its machine): the URL's host is one of
  the addresses that config names for its machine (``advertise`` of any block,
  ``client_advertise``, any address another of its listeners binds), or resolves to one; when a
  config names no address of its machine at all, only the port can be compared, and the match
  says so.

Names are resolved once per lint run, all at once, each with a short timeout; a name that does
not resolve is reported as such, never as "points at no listener".
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from natsops.conf.parser import Config
from natsops.tls import is_ip as _is_ip

__all__ = ["RESOLVE_TIMEOUT", "WILDCARD", "HostMatcher", "Listener", "Verdict"]

RESOLVE_TIMEOUT = 1.0  # seconds for all the names of one lint run
_TTL = 30.0  # the rules of one run share what was resolved
_RESOLVED: dict[str, tuple[float, frozenset[str] | None]] = {}
WILDCARD = frozenset({"", "0.0.0.0", "::", "[::]", "*"})
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
# blocks whose host/listen/advertise name an address of the config's machine
_BLOCKS = ("cluster", "gateway", "leafnodes", "websocket", "mqtt")


@dataclass(frozen=True)
class Listener:
    """One listener of a config: which config, which block, bound host and port."""

    cfg: Config
    block: str
    host: str
    port: int

    @property
    def text(self) -> str:
        return f"{self.host or '0.0.0.0'}:{self.port}"


@dataclass(frozen=True)
class Verdict:
    """Whether a URL host reaches a listener, and how that was decided (for evidence)."""

    match: bool
    how: str
    unresolved: str | None = None  # a name that did not resolve (then ``match`` is False)


def _host_of(hostport: str) -> str:
    h, sep, p = hostport.rpartition(":")
    if not sep or not p.isdigit():
        h = hostport
    return h.strip("[]").lower()


def identity(cfg: Config) -> dict[str, str]:
    """The addresses (or names) a config gives for its own machine -> where it says so
    (loopback addresses say nothing about which machine)."""
    out: dict[str, str] = {}

    def add(node_path: tuple[str, ...], value: object) -> None:
        if isinstance(value, str):
            h = _host_of(value)
            if h and h not in WILDCARD and h not in _LOOPBACK:  # every machine has loopback
                out.setdefault(h, ".".join(node_path))

    for key in ("client_advertise", "host", "net", "listen", "http", "https"):
        n = cfg.get(key)
        if n is not None and n.kind == "string":
            add((key,), n.value)
    for block in _BLOCKS:
        for key in ("advertise", "host", "listen"):
            n = cfg.get(block, key)
            if n is not None and n.kind == "string":
                add((block, key), n.value)
    return out


class HostMatcher:
    """Resolves names (cached, bounded in time) and decides URL-to-listener matches."""

    def __init__(self, timeout: float = RESOLVE_TIMEOUT) -> None:
        self.timeout = timeout
        now = time.monotonic()
        self._cache: dict[str, frozenset[str] | None] = {
            k: v for k, (t, v) in _RESOLVED.items() if now - t < _TTL}
        self._ids: dict[int, dict[str, str]] = {}

    def prime(self, names: Iterable[str]) -> None:
        """Resolve every name not yet known, in parallel, within the timeout overall."""
        todo = sorted({n.lower() for n in names if n and not _is_ip(n)
                       and n.lower() not in self._cache and n not in WILDCARD})
        if not todo:
            return
        # daemon threads: a lookup still hanging after the timeout must not hold the process
        # at exit (a ThreadPoolExecutor's workers are joined then)
        found: dict[str, frozenset[str] | None] = {}
        threads = [threading.Thread(target=lambda n=n: found.__setitem__(n, _resolve(n)),
                                    daemon=True, name=f"resolve {n}") for n in todo]
        for t in threads:
            t.start()
        deadline = time.monotonic() + self.timeout
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        for name in todo:
            self._cache[name] = found.get(name)
            _RESOLVED[name] = (time.monotonic(), self._cache[name])

    def addresses(self, host: str) -> frozenset[str] | None:
        """The IPs of ``host`` (itself for an IP); None when a name did not resolve."""
        h = host.lower().strip("[]")
        if _is_ip(h):
            return frozenset({str(ipaddress.ip_address(h))})
        if h not in self._cache:
            self.prime([h])
        return self._cache.get(h)

    def identity(self, cfg: Config) -> dict[str, str]:
        key = id(cfg)
        if key not in self._ids:
            self._ids[key] = identity(cfg)
        return self._ids[key]

    def same_host(self, url_host: str, addr: str) -> Verdict:
        """Whether ``url_host`` and ``addr`` (an address or name) are the same machine."""
        u, a = url_host.lower().strip("[]"), addr.lower().strip("[]")
        if u == a:
            return Verdict(True, f"{url_host} is {addr}")
        if u in _LOOPBACK and a in _LOOPBACK:
            return Verdict(True, f"{url_host} and {addr} are both loopback")
        ua, aa = self.addresses(u), self.addresses(a)
        if ua is None or aa is None:
            name = u if ua is None else a
            return Verdict(False, f"{name} does not resolve", unresolved=name)
        common = sorted(ua & aa)
        if common:
            names = [x for x in (u, a) if not _is_ip(x)]
            return Verdict(True, f"{' and '.join(names)} resolve{'s' if len(names) == 1 else ''}"
                           f" to {common[0]}")
        return Verdict(False, f"{url_host} ({', '.join(sorted(ua))}) is not {addr} "
                       f"({', '.join(sorted(aa))})")

    def reaches(self, url_host: str, lst: Listener, dialer: Config | None = None) -> Verdict:
        """Whether a URL to ``url_host`` on ``lst.port``, dialed by ``dialer``'s server,
        reaches listener ``lst`` (a loopback URL reaches the dialer's own machine only)."""
        if url_host.lower().strip("[]") in _LOOPBACK:
            return self._loopback(url_host, lst, dialer)
        if lst.host.lower() not in WILDCARD:
            v = self.same_host(url_host, lst.host)
            how = f"{lst.block} listens on {lst.text} of {lst.cfg.file}: {v.how}"
            return Verdict(v.match, how, v.unresolved)
        ids = self.identity(lst.cfg)
        wild = f"{lst.block} binds every address ({lst.text}) of {lst.cfg.file}"
        if not ids:
            return Verdict(True, f"{wild}, which names no address of its machine (no advertise,"
                           " no other bound address): matched by port only")
        unresolved = None
        for addr, where in ids.items():
            v = self.same_host(url_host, addr)
            if v.match:
                return Verdict(True, f"{wild}; {v.how}, its {where}")
            unresolved = unresolved or v.unresolved
        known = ", ".join(f"{a} ({w})" for a, w in ids.items())
        if unresolved:
            return Verdict(False, f"{wild}; {unresolved} does not resolve", unresolved)
        return Verdict(False, f"{wild}; {url_host} is none of its addresses: {known}")

    def _loopback(self, url_host: str, lst: Listener, dialer: Config | None) -> Verdict:
        where = f"{lst.block} listens on {lst.text} of {lst.cfg.file}"
        if lst.host.lower() not in WILDCARD and lst.host.lower().strip("[]") not in _LOOPBACK:
            v = self.same_host(url_host, lst.host)
            return Verdict(v.match, f"{where}: {v.how}", v.unresolved)
        if dialer is None or dialer is lst.cfg:
            return Verdict(True, f"{where}; {url_host} is loopback")
        mine = [a for a in self.identity(dialer) if a not in _LOOPBACK]
        theirs = [a for a in self.identity(lst.cfg) if a not in _LOOPBACK]
        if not mine or not theirs:
            return Verdict(True, f"{where}; {url_host} is loopback: the same machine assumed "
                           "(a config names no other address of its machine)")
        for a in mine:
            for b in theirs:
                if self.same_host(a, b).match:
                    return Verdict(True, f"{where}; {url_host} is loopback and both configs "
                                   f"name {b}: the same machine")
        return Verdict(False, f"{where}; {url_host} is the dialing server's own machine "
                       f"({', '.join(mine)}), not {lst.cfg.file}'s ({', '.join(theirs)})")

def _resolve(name: str) -> frozenset[str] | None:
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return None
    return frozenset(str(ipaddress.ip_address(str(i[4][0]).split("%")[0])) for i in infos)
