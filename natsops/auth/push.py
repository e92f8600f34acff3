"""Push account JWTs to the servers' resolvers, and prove every server holds them.

The push goes through a system-account user (:mod:`natsops.auth.sysuser`).
``$SYS.REQ.CLAIMS.UPDATE`` is answered by every full or cache resolver, so replies are
collected until every known server answered or the timeout ran out.

A "jwt updated" reply is no proof: a full resolver also says it for a JWT signed by a key the
running operator does not trust, and for an older JWT (it then rolls back). So before pushing,
each account's signer is checked against the operator JWT the servers run (``VARZ``), and the
stored copies (``CLAIMS.LOOKUP``) must not be newer. After pushing, :mod:`natsops.auth.verify`
compares the live copy on every server. A report ends in findings: refusals, replies that were
not accepted, then the verification's.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from natsops.access import system_connection
from natsops.auth import jwt as jwtmod
from natsops.auth.store import Entity, Store
from natsops.auth.sysreq import (
    ServerInfo,
    collect,
    discover,
    envelope,
    lookup,
    missing_names,
    missing_servers,
    no_responders,
    peers,
)
from natsops.auth.sysuser import SysAccess, auth_access
from natsops.auth.verify import StoredCopies, VerifyReport, check_servers, select_accounts, verify
from natsops.errors import AuthError, Conflict, NatsopsError, ServerError, UsageError
from natsops.findings import Finding

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg

__all__ = [
    "AccountPush",
    "PullResult",
    "PushReport",
    "ServerInfo",
    "ServerReply",
    "StoredCopies",
    "VerifyReport",
    "delete_accounts",
    "delete_keys",
    "pull",
    "push",
    "remove_from_servers",
    "verify",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerReply:
    """One server's answer to a push: accepted, error or no answer."""

    server: str
    status: str
    message: str

    @property
    def ok(self) -> bool:
        """Accepted, or skipped by a cache resolver (it fetches the account when needed).

        A MEMORY resolver's "jwt update skipped" is not ok: it keeps serving its preload.
        "reloaded": a local topology's MEMORY resolver got the new preload (push_preload).
        """
        return self.status in ("accepted", "reloaded") or "cache skipped" in self.message


@dataclass(frozen=True)
class AccountPush:
    """The push of one account JWT."""

    account: str
    public_key: str
    jti: str
    iat: int
    replies: tuple[ServerReply, ...]

    @property
    def accepted(self) -> int:
        return sum(r.ok for r in self.replies)


@dataclass(frozen=True)
class PushReport:
    """A push: per account the server replies, then the verification."""

    servers: tuple[str, ...]
    pushes: tuple[AccountPush, ...]
    verification: VerifyReport | None
    refused: tuple[Finding, ...] = ()
    missing: tuple[str, ...] = ()  # known servers (meta group, routes) that did not answer
    absent: tuple[Finding, ...] = ()  # AUTH016: a FAIL per missing server (or too few)

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Everything the push found, for :func:`natsops.findings.exit_code` to decide on.

        The pre-push refusals (FAIL: with ``--dry-run`` the push would be refused, with
        ``--force`` it went ahead anyway), a FAIL per server that did not answer, a FAIL per
        server reply that was not accepted, then the verification's findings.
        """
        replies = tuple(_reply_finding(p, r) for p in self.pushes for r in p.replies
                        if not (r.ok or r.status == "would push" or r.server in self.missing))
        verified = tuple(f for f in self.verification.findings if f.id != "AUTH016") \
            if self.verification else ()
        return self.refused + self.absent + replies + verified


def _reply_finding(p: AccountPush, r: ServerReply) -> Finding:
    detail = f"{r.status}: {r.message}" if r.message else r.status
    return Finding.fail("AUTH019", f"{p.account}@{r.server}",
                        f"{r.server} did not accept the JWT of {p.account} ({detail})",
                        evidence={"server": r.server, "account": p.account,
                                  "public_key": p.public_key, "jti": p.jti,
                                  "status": r.status, "message": r.message},
                        fix="check the server's resolver; then natsops auth push "
                            f"--account {p.account}")


@dataclass(frozen=True)
class PullResult:
    """An account JWT the servers hold, and what pull did with it."""

    account: str
    public_key: str
    action: str  # updated | added | unchanged | older on server | skipped
    iat: int


def _trusted_keys(operator_jwts: Sequence[str]) -> tuple[set[str], set[str]]:
    """(operator identities, keys allowed to sign accounts) of the deployed operators."""
    ids: set[str] = set()
    signers: set[str] = set()
    for tok in operator_jwts:
        try:
            op = jwtmod.decode(tok, kind="operator")
        except UsageError:
            continue
        ids.add(op.subject)
        sks = {str(k) for k in op.nats.get("signing_keys") or []}
        signers |= sks
        if not op.nats.get("strict_signing_key_usage"):
            signers.add(op.subject)
    return ids, signers


def preflight(store: Store, op: str, acc: Entity, servers: Sequence[ServerInfo],
              stored: Sequence[jwtmod.Token]) -> list[Finding]:
    """Reasons the servers would accept this JWT and then break (FAIL) or roll back."""
    out: list[Finding] = []
    for s in servers:
        ids, signers = _trusted_keys(s.trusted_operators)
        if not s.trusted_operators:
            out.append(Finding.fail("AUTH001", f"{acc.name}@{s.name}",
                                    f"server {s.name} is not in operator mode",
                                    fix="configure it with: natsops auth render-config"))
        elif store.operator(op).public_key not in ids:
            out.append(Finding.fail("AUTH001", f"{acc.name}@{s.name}",
                                    f"server {s.name} does not run operator {op}",
                                    fix="push to the servers of this operator (--server)"))
        elif s.trusted_operators and acc.token.issuer not in signers:
            out.append(Finding.fail(
                "AUTH002", f"{acc.name}@{s.name}",
                f"account {acc.name} is signed by {acc.token.issuer}, which the operator "
                f"running on {s.name} does not trust",
                fix="restart the servers with the current operator JWT "
                    "(natsops auth render-config), then push"))
    for tok in stored:
        if tok.iat > acc.token.iat and tok.jti != acc.token.jti:
            out.append(Finding.fail(
                "AUTH003", acc.name,
                f"a server holds a newer JWT for {acc.name} (iat {tok.iat} > {acc.token.iat}); "
                "pushing would roll it back",
                fix="natsops auth pull, then edit and push again (or --force)"))
            break
    return out


def _reply_of(msg: Msg) -> tuple[str, ServerReply]:
    doc = envelope(msg)
    srv = doc.get("server") or {}
    name = str(srv.get("name") or srv.get("id") or "?")
    if doc.get("error"):
        err = doc["error"]
        return name, ServerReply(name, "error", str(err.get("description", err)))
    message = str((doc.get("data") or {}).get("message", ""))
    # "jwt update skipped" (memory/URL resolver, account not loaded): nothing was applied
    status = "skipped" if "skipped" in message else "accepted"
    return name, ServerReply(name, status, message)


async def _update(nc: Client, acc: Entity, expected: int, timeout: float) -> list[Msg]:
    """``$SYS.REQ.CLAIMS.UPDATE`` (full/cache resolvers, as nsc), else the per-account subject.

    A MEMORY resolver does not listen on the first (no responders) but applies the second to
    accounts it has loaded.
    """
    body = acc.token.token.encode()
    msgs = await collect(nc, "$SYS.REQ.CLAIMS.UPDATE", body, expected=expected, timeout=timeout)
    msgs = [m for m in msgs if not no_responders(m)]
    if not msgs:
        msgs = await collect(nc, f"$SYS.REQ.ACCOUNT.{acc.public_key}.CLAIMS.UPDATE", body,
                             expected=expected, timeout=timeout)
        msgs = [m for m in msgs if not no_responders(m)]
    return msgs


async def push(store: Store, op: str, settings: SysAccess, accounts: Sequence[str] | None = None,
               *, timeout: float = 2.0, force: bool = False, check: bool = True,
               expect: int | None = None, dry_run: bool = False) -> PushReport:
    """Push accounts (all when ``accounts`` is empty), then verify every server holds them.

    With ``dry_run``, only discover the servers and run the pre-push checks.
    """
    from natsops.auth import push_preload as mem

    targets = select_accounts(store, op, accounts)
    access = auth_access(store, op, settings)
    async with system_connection(access) as (conn, login):
        nc = conn.nc
        servers = await discover(nc, timeout, expect)
        names = tuple(s.name for s in servers)
        known = await peers(nc, servers, timeout)
        gone = missing_names(servers, known)
        absent = missing_servers(servers, expect, known,
                                 consequence="it did not get the JWTs" if not dry_run
                                 else "a push would not reach it")
        refused: list[Finding] = []
        memory = bool(servers) and await mem.memory_resolver(nc, len(servers), timeout)
        for acc in targets:  # a MEMORY resolver stores nothing to look up
            stored = [] if memory else await lookup(nc, acc.public_key, len(servers), timeout)
            refused += preflight(store, op, acc, servers, [t for t in stored if t])
        local = mem.local_preload(access, login, op, (*names, *gone)) if memory else None
        if memory and local is None:
            refused.append(mem.refusal(op))
        if refused and not force and not dry_run:
            raise _refusal(refused)
        reloaded = (await mem.push_preload(store, op, local, names, timeout)
                    if local is not None and not dry_run else None)
        if reloaded is not None:  # every server back on $SYS before verifying
            await discover(nc, timeout, len(names))
        pushes = []
        for acc in targets:
            if dry_run or reloaded is not None:
                what = reloaded or dict.fromkeys(names, (
                    "would push", "would rewrite the preload and reload" if local else ""))
                pushes.append(AccountPush(acc.name, acc.public_key, acc.token.jti, acc.token.iat,
                                          tuple(ServerReply(n, *what[n]) for n in names)
                                          + _unreached(gone)))
                continue
            msgs = await _update(nc, acc, len(servers), timeout)
            got = dict(_reply_of(m) for m in msgs)
            replies = [got.pop(n, ServerReply(n, "no answer", "")) for n in names]
            replies += list(got.values())  # servers that answered but missed the ping
            pushes.append(AccountPush(acc.name, acc.public_key, acc.token.jti, acc.token.iat,
                                      tuple(replies) + _unreached(gone)))
            log.info("pushed %s to %d of %d servers", acc.name,
                     sum(r.status == "accepted" for r in replies), len(names))
        report = (await check_servers(nc, store, op, targets, servers, timeout, expect=expect,
                                      known=known)
                  if check and not dry_run else None)
    return PushReport(names, tuple(pushes), report, tuple(refused), gone, tuple(absent))


def _unreached(names: Sequence[str]) -> tuple[ServerReply, ...]:
    return tuple(ServerReply(n, "no answer", "did not answer the system ping") for n in names)


def _refusal(findings: Sequence[Finding]) -> NatsopsError:
    first = findings[0]
    more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
    cls = Conflict if first.id in ("AUTH003", "AUTH004") else AuthError
    return cls(f"refusing to push: {first.message}{more}", hint=(first.fix or "") + "; or --force")


def delete_request(store: Store, op: str, keys: Sequence[str]) -> str:
    """A generic JWT self-signed by an operator key asking resolvers to delete ``keys``."""
    operator = store.operator(op)
    signer = None
    for key in operator.signing_keys:
        if store.has_key(key):
            signer = store.load_key(key, "operator")
            break
    if signer is None:
        signer = store.load_key(operator.public_key, "operator")
    # the data sits inside "nats": at the top level the server answers "malformed request"
    claims = {"iat": jwtmod.next_iat(None), "sub": signer.public_key,
              "nats": {"accounts": list(keys), "version": 2}}
    return jwtmod.encode(claims, signer)


async def delete_accounts(store: Store, op: str, settings: SysAccess, accounts: Sequence[str],
                          *, timeout: float = 2.0,
                          expect: int | None = None) -> list[ServerReply]:
    """Delete accounts from every full resolver (needs ``allow_delete: true``)."""

    keys = [store.account(op, a).public_key for a in accounts]
    return await delete_keys(store, op, settings, keys, timeout=timeout, expect=expect)


async def delete_keys(store: Store, op: str, settings: SysAccess, keys: Sequence[str], *,
                      timeout: float = 2.0, expect: int | None = None) -> list[ServerReply]:
    """Delete accounts by public key from every full resolver (the store may lack them)."""
    if store.operator(op).nats.get("system_account") in keys:
        raise UsageError("the system account cannot be deleted")
    async with system_connection(auth_access(store, op, settings)) as (conn, _):
        servers = await discover(conn.nc, timeout, expect)
        known = await peers(conn.nc, servers, timeout)
        msgs = await collect(conn.nc, "$SYS.REQ.CLAIMS.DELETE",
                             delete_request(store, op, keys).encode(),
                             expected=len(servers), timeout=timeout)
    got = dict(_reply_of(m) for m in msgs if not no_responders(m))
    return [got.pop(s.name, ServerReply(s.name, "no answer", "")) for s in servers] + list(
        got.values()) + list(_unreached(missing_names(servers, known)))


async def remove_from_servers(store: Store, op: str, settings: SysAccess, account: str, *,
                              timeout: float = 2.0) -> list[ServerReply]:
    """Delete one account from every full resolver; any reply but "accepted" is an error."""
    replies = await delete_accounts(store, op, settings, [account], timeout=timeout)
    bad = [r for r in replies if r.status != "accepted"]
    if bad:
        raise ServerError(
            f"{bad[0].server} did not delete {account}: {bad[0].message or bad[0].status}",
            hint="the store was left as it was")
    return replies


async def pull(store: Store, op: str, settings: SysAccess, *, timeout: float = 2.0,
               dry_run: bool = False) -> list[PullResult]:
    """Fetch every account JWT the servers hold (``CLAIMS.PACK``); update older store copies."""

    async with system_connection(auth_access(store, op, settings)) as (conn, _):
        # one responder sends "<id>|<jwt>" per account, then an empty message
        msgs = await collect(conn.nc, "$SYS.REQ.CLAIMS.PACK", b"", expected=None,
                             timeout=timeout, quiet=timeout, until=lambda m: not m.data)
    known = {a.public_key: a for a in store.accounts(op)}
    results = []
    for m in msgs:
        if not m.data:
            break
        key, _, token = m.data.decode().partition("|")
        try:
            tok = jwtmod.decode(token, kind="account")
        except UsageError:
            continue
        local = known.get(key)
        if local is None:
            results.append(PullResult(tok.name, key, "skipped", tok.iat))  # no keys to manage it
        elif tok.jti == local.token.jti:
            results.append(PullResult(local.name, key, "unchanged", tok.iat))
        elif tok.iat > local.token.iat:
            if not dry_run:
                store.write_jwt(local.path, tok.token)
            results.append(PullResult(local.name, key, "updated", tok.iat))
        else:
            results.append(PullResult(local.name, key, "older on server", tok.iat))
    return results
