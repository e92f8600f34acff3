"""Prove every server holds the store's JWT of each account.

:func:`verify` compares the live copy on every server (``PING.ACCOUNTZ``) with the store, and
counts the copies the resolvers store (``CLAIMS.LOOKUP``); servers where the account is not
loaded yet are made to load it from their own resolver store by a short connection of a
throw-away user. Every result is a :class:`Finding` (AUTH010-AUTH018).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from natsops.access import system_connection
from natsops.auth import jwt as jwtmod
from natsops.auth.claims import Permissions
from natsops.auth.store import Entity, Store
from natsops.auth.sysreq import (
    ServerInfo,
    collect,
    discover,
    envelope,
    lookup,
    missing_names,
    missing_servers,
    peers,
)
from natsops.auth.sysuser import SysAccess, auth_access, mint_user
from natsops.context import Secret, Settings
from natsops.findings import Finding, Severity

if TYPE_CHECKING:
    from nats.aio.client import Client

__all__ = ["ServerCopy", "StoredCopies", "VerifyReport", "check_servers", "select_accounts",
           "verify"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerCopy:
    """What one server holds for one account."""

    server: str
    account: str
    status: str  # current | stale | newer | not loaded | no answer | error
    jti: str | None = None
    iat: int | None = None
    detail: str = ""


@dataclass(frozen=True)
class StoredCopies:
    """What the resolvers store for one account (``CLAIMS.LOOKUP`` replies carry no server id)."""

    account: str
    replies: int
    current: int
    older: int
    newer: int
    missing: int


@dataclass(frozen=True)
class VerifyReport:
    """Per account and server: does the server hold the JWT in the store?"""

    servers: tuple[str, ...]
    copies: tuple[ServerCopy, ...]
    findings: tuple[Finding, ...]
    stored: tuple[StoredCopies, ...] = ()
    missing: tuple[str, ...] = ()  # known servers (meta group, routes) that did not answer

    @property
    def ok(self) -> bool:
        return all(f.severity < Severity.WARN for f in self.findings)


def select_accounts(store: Store, op: str, names: Sequence[str] | None) -> list[Entity]:
    """The named accounts of ``op``, or all of them when ``names`` is empty."""
    if not names:
        return store.accounts(op)
    return [store.account(op, n) for n in names]


async def verify(store: Store, op: str, settings: SysAccess,
                 accounts: Sequence[str] | None = None, *, timeout: float = 2.0,
                 load: bool = True, expect: int | None = None) -> VerifyReport:
    """Compare every server's live copy of each account with the store."""
    targets = select_accounts(store, op, accounts)
    async with system_connection(auth_access(store, op, settings)) as (conn, _):
        servers = await discover(conn.nc, timeout, expect)
        known = await peers(conn.nc, servers, timeout)
        return await check_servers(conn.nc, store, op, targets, servers, timeout, load=load,
                                   expect=expect, known=known)


async def _accountz(nc: Client, key: str, expected: int,
                    timeout: float) -> dict[str, dict[str, Any]]:
    msgs = await collect(nc, "$SYS.REQ.SERVER.PING.ACCOUNTZ",
                         json.dumps({"account": key}).encode(), expected=expected,
                         timeout=timeout)
    out: dict[str, dict[str, Any]] = {}
    for m in msgs:
        doc = envelope(m)
        name = str((doc.get("server") or {}).get("name", "?"))
        out[name] = doc
    return out


async def _load_account(store: Store, acc: Entity, servers: Sequence[ServerInfo],
                        timeout: float) -> None:
    """Make servers load the account from their own store: connect a throw-away user.

    The probes run in parallel: a server that does not know the account spends its resolver
    fetch timeout (1.9 s by default) before it refuses.
    """
    from natsops.connection import connect_options

    jwt, seed = mint_user(store, acc, "natsops verify probe", 30,
                          Permissions(deny_pub=(">",), deny_sub=(">",)))

    async def probe(s: ServerInfo) -> None:
        from nats.aio.client import Client as NatsClient

        opts = connect_options(Settings(servers=(str(s.client_url),), user_jwt=Secret(jwt),
                                        user_seed=seed, timeout=timeout))
        opts["connect_timeout"] = min(timeout, 3.0)
        nc = NatsClient()
        try:
            await nc.connect(**opts)
        except Exception as exc:  # the probe is best effort; verify reports what it sees
            log.debug("probe connect to %s failed: %s", s.name, exc)
        finally:
            with contextlib.suppress(Exception):  # also frees the socket of a refused connect
                await nc.close()

    await asyncio.gather(*(probe(s) for s in servers if s.client_url))


async def check_servers(nc: Client, store: Store, op: str, targets: Sequence[Entity],
                        servers: Sequence[ServerInfo], timeout: float, *,
                        load: bool = True, expect: int | None = None,
                        known: Mapping[str, str] | None = None) -> VerifyReport:
    """Verify ``targets`` on ``servers`` over an open system-account connection.

    ``known`` servers (:func:`~natsops.auth.sysreq.peers`) that did not answer are a FAIL
    each (AUTH016) and a "no answer" copy per account.
    """
    copies: list[ServerCopy] = []
    stored: list[StoredCopies] = []
    findings: list[Finding] = missing_servers(servers, expect, known)
    names = [s.name for s in servers]
    gone = missing_names(servers, known or {})
    for acc in targets:
        live = await _accountz(nc, acc.public_key, len(servers), timeout)
        unloaded = [s for s in servers if not (live.get(s.name) or {}).get("data")]
        if load and unloaded:
            await _load_account(store, acc, unloaded, timeout)
            live = await _accountz(nc, acc.public_key, len(servers), timeout)
        mine = [_copy_of(acc, name, live.get(name)) for name in names]
        copies += mine + [ServerCopy(name, acc.name, "no answer") for name in gone]
        findings += [_finding(acc, c) for c in mine]
        summary = _stored(acc, await lookup(nc, acc.public_key, len(servers), timeout))
        stored.append(summary)
        findings += _stored_findings(acc, summary, mine)
    return VerifyReport(tuple(names), tuple(copies), tuple(findings), tuple(stored), gone)


def _stored(acc: Entity, tokens: Sequence[jwtmod.Token | None]) -> StoredCopies:
    current = sum(1 for t in tokens if t is not None and t.jti == acc.token.jti)
    older = sum(1 for t in tokens if t is not None and t.jti != acc.token.jti
                and t.iat <= acc.token.iat)
    newer = sum(1 for t in tokens if t is not None and t.iat > acc.token.iat)
    return StoredCopies(acc.name, len(tokens), current, older, newer,
                        sum(1 for t in tokens if t is None))


def _stored_findings(acc: Entity, st: StoredCopies,
                     live: Sequence[ServerCopy]) -> list[Finding]:
    """Stored copies that the live view did not already name (e.g. accounts not loaded)."""
    ev = {"account": acc.name, "replies": st.replies, "current": st.current, "older": st.older,
          "newer": st.newer, "missing": st.missing}
    named_stale = sum(c.status == "stale" for c in live)
    if st.older > named_stale:
        return [Finding.fail("AUTH017", acc.name,
                             f"{st.older} resolver(s) store an older JWT of {acc.name} "
                             "(CLAIMS.LOOKUP does not say which server)", evidence=ev,
                             fix=f"natsops auth push --account {acc.name}")]
    if st.missing:
        return [Finding.warn("AUTH018", acc.name,
                             f"{st.missing} resolver(s) do not store {acc.name}", evidence=ev,
                             fix=f"natsops auth push --account {acc.name}")]
    return []


def _copy_of(acc: Entity, server: str, doc: Mapping[str, Any] | None) -> ServerCopy:
    if doc is None:
        return ServerCopy(server, acc.name, "no answer")
    if doc.get("error"):
        desc = str((doc["error"] or {}).get("description", ""))
        status = "not loaded" if "does not exist" in desc else "error"
        return ServerCopy(server, acc.name, status, detail=desc)
    detail = ((doc.get("data") or {}).get("account_detail")) or {}
    decoded = detail.get("decoded_jwt") or {}
    jti, iat = decoded.get("jti"), int(decoded.get("iat") or 0)
    if jti == acc.token.jti:
        status = "current"
    elif iat > acc.token.iat:
        status = "newer"
    else:
        status = "stale"
    return ServerCopy(server, acc.name, status, jti, iat)


def _finding(acc: Entity, c: ServerCopy) -> Finding:
    subject = f"{acc.name}@{c.server}"
    ev = {"server": c.server, "account": acc.name, "public_key": acc.public_key,
          "expected_jti": acc.token.jti, "expected_iat": acc.token.iat, "jti": c.jti,
          "iat": c.iat}
    if c.status == "current":
        return Finding.ok("AUTH010", subject, f"{c.server} holds the current JWT of {acc.name}",
                          evidence=ev)
    if c.status == "stale":
        return Finding.fail("AUTH011", subject,
                            f"{c.server} holds a stale JWT of {acc.name} (iat {c.iat} < "
                            f"{acc.token.iat})", evidence=ev,
                            fix=f"natsops auth push --account {acc.name}")
    if c.status == "newer":
        return Finding.warn("AUTH012", subject,
                            f"{c.server} holds a newer JWT of {acc.name} than the store",
                            evidence=ev, fix="natsops auth pull")
    if c.status == "not loaded":
        return Finding.info("AUTH013", subject,
                            f"{acc.name} is not loaded on {c.server} (no client yet)", evidence=ev)
    if c.status == "no answer":
        return Finding.fail("AUTH014", subject, f"{c.server} did not answer", evidence=ev,
                            fix="check the server; then natsops auth verify")
    return Finding.fail("AUTH015", subject, f"{c.server}: {c.detail}", evidence=ev)
