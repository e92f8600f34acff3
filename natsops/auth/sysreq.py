"""System-account requests: publish once, collect what every server answers.

``$SYS.REQ.SERVER.PING.*`` and the resolver requests (``CLAIMS.*``) are answered by every server
(or every full resolver); replies are read until the expected number arrived or the time ran out.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from natsops.auth import jwt as jwtmod
from natsops.errors import Unreachable, UsageError
from natsops.findings import Finding

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg

__all__ = [
    "ServerInfo",
    "collect",
    "discover",
    "envelope",
    "lookup",
    "missing_names",
    "missing_servers",
    "no_responders",
    "peers",
]


@dataclass(frozen=True)
class ServerInfo:
    """A server that answered the system ping."""

    name: str
    id: str
    client_url: str | None
    trusted_operators: tuple[str, ...] = field(default=(), repr=False)  # operator JWTs


async def collect(nc: Client, subject: str, body: bytes, *, expected: int | None,
                  timeout: float, quiet: float = 0.25,
                  until: Callable[[Msg], bool] | None = None) -> list[Msg]:
    """Publish with a reply inbox; read replies until ``expected`` arrived or time is up.

    Without ``expected``, stop ``quiet`` seconds after the last reply, or at the first
    message for which ``until`` is true.
    """
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    out: list[Msg] = []
    try:
        await nc.publish(subject, body, reply=inbox)
        await nc.flush()
        deadline = time.monotonic() + timeout
        while expected is None or len(out) < expected:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            wait = left if (expected is not None or not out) else min(left, quiet)
            try:
                out.append(await sub.next_msg(timeout=wait))
                if until is not None and until(out[-1]):
                    break
            except asyncio.TimeoutError:
                break
            except Exception as exc:  # nats-py raises its own TimeoutError subclass
                if "timeout" in type(exc).__name__.lower():
                    break
                raise
    finally:
        await sub.unsubscribe()
    return out


def envelope(msg: Msg) -> dict[str, Any]:
    """The JSON object a server answered with (empty when it is not one)."""
    try:
        doc = json.loads(msg.data)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def no_responders(msg: Msg) -> bool:
    """The 503 status message the server sends when nobody listens."""
    headers = getattr(msg, "headers", None) or {}
    return not msg.data and str(headers.get("Status", "")) == "503"


async def discover(nc: Client, timeout: float, expect: int | None = None) -> list[ServerInfo]:
    """Every server that answers ``$SYS.REQ.SERVER.PING.VARZ``.

    With ``expect``, ping again until that many servers answered or ``timeout`` ran out (a
    server that just restarted answers once its routes are up).
    """
    deadline = time.monotonic() + timeout
    found: dict[str, ServerInfo] = {}
    while True:
        left = max(0.05, deadline - time.monotonic())
        msgs = await collect(nc, "$SYS.REQ.SERVER.PING.VARZ", b"{}", expected=expect,
                             timeout=min(left, 1.0) if expect else left)
        for m in msgs:
            if not no_responders(m):
                info = _server_info(envelope(m))
                found[info.id] = info
        if expect is None or len(found) >= expect or time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.1)
    if not found:
        raise Unreachable("no server answered the system ping ($SYS.REQ.SERVER.PING.VARZ): "
                          "the connection is not a system-account user of this operator",
                          hint="pass --sys-creds FILE, or leave credentials out to use a "
                               "temporary system user minted from the store")
    return sorted(found.values(), key=lambda s: s.name)


def _server_info(doc: Mapping[str, Any]) -> ServerInfo:
    srv, data = doc.get("server") or {}, doc.get("data") or {}
    host, port = data.get("host"), data.get("port")
    if host in ("0.0.0.0", "::", ""):
        host = srv.get("host") or "127.0.0.1"
    url = f"nats://{host}:{port}" if host and port else None
    return ServerInfo(name=str(srv.get("name") or srv.get("id")), id=str(srv.get("id")),
                      client_url=url,
                      trusted_operators=tuple(data.get("trusted_operators_jwt") or ()))


async def peers(nc: Client, answered: Sequence[ServerInfo], timeout: float) -> dict[str, str]:
    """Servers the answering ones know of, by name: how each is known.

    The JetStream meta group lists every peer, offline ones too (``PING.JSZ``); the routes
    list the servers of the cluster (``PING.ROUTEZ``; a frozen server keeps its routes until
    the ping interval runs out). A server in either that did not answer the ping is missing.
    """
    async def ask(what: str) -> list[Msg]:
        return await collect(nc, f"$SYS.REQ.SERVER.PING.{what}", b"{}",
                             expected=len(answered), timeout=timeout)

    jsz, routez = await asyncio.gather(ask("JSZ"), ask("ROUTEZ"))
    found: dict[str, str] = {}
    for m in jsz:
        meta = (envelope(m).get("data") or {}).get("meta_cluster") or {}
        names = [meta.get("leader")] + [r.get("name") for r in meta.get("replicas") or ()
                                        if isinstance(r, Mapping)]
        for n in names:
            if n:
                found.setdefault(str(n), "a JetStream meta group peer")
    for m in routez:
        doc = envelope(m)
        src = (doc.get("server") or {}).get("name") or "?"
        for r in (doc.get("data") or {}).get("routes") or ():
            if isinstance(r, Mapping) and r.get("remote_name"):
                found.setdefault(str(r["remote_name"]), f"a route peer of {src}")
    return found


def missing_servers(servers: Sequence[ServerInfo], expect: int | None,
                    known: Mapping[str, str] | None = None, *,
                    consequence: str = "nothing proves it holds the current JWTs"
                    ) -> list[Finding]:
    """A FAIL (AUTH016) per known server that did not answer, and when fewer than ``expect``.

    ``known``: name -> how the server is known (:func:`peers`).
    """
    answered = sorted(s.name for s in servers)
    gone = sorted(set(known or {}) - set(answered))
    out = [Finding.fail("AUTH016", name,
                        f"server {name} did not answer ({(known or {})[name]}): {consequence}",
                        evidence={"server": name, "expected_from": (known or {})[name],
                                  "answered": answered},
                        fix="check the server (its log, natsops server ls); then natsops "
                            "auth push")
           for name in gone]
    if expect is not None and len(servers) + len(gone) < expect:
        out.append(Finding.fail("AUTH016", "cluster",
                                f"expected {expect} servers, only {len(servers)} answered "
                                f"({', '.join(answered)})",
                                evidence={"expected": expect, "answered": answered},
                                fix="start the missing servers, then: natsops auth push"))
    return out


def missing_names(servers: Sequence[ServerInfo], known: Mapping[str, str]) -> tuple[str, ...]:
    """The ``known`` servers that are not among ``servers``."""
    return tuple(sorted(set(known) - {s.name for s in servers}))


async def lookup(nc: Client, key: str, expected: int,
                 timeout: float) -> list[jwtmod.Token | None]:
    """The stored copies (``CLAIMS.LOOKUP``, one reply per full resolver; None: not stored)."""
    msgs = await collect(nc, f"$SYS.REQ.ACCOUNT.{key}.CLAIMS.LOOKUP", b"", expected=expected,
                         timeout=timeout)
    out: list[jwtmod.Token | None] = []
    for m in msgs:
        if no_responders(m):
            continue
        try:
            out.append(jwtmod.decode(m.data.decode(), kind="account") if m.data else None)
        except UsageError:
            out.append(None)
    return out
