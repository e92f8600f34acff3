"""Push account JWTs to the servers' resolvers, and prove every server holds them.

The push goes through a system-account user: the one from the settings (``--creds`` …) or a
short-lived one minted in memory from the store (2 minutes, only ``$SYS.REQ.*`` publish rights),
so no system creds file is needed. ``$SYS.REQ.CLAIMS.UPDATE`` is answered by every full or cache
resolver, so replies are collected until every known server answered or the timeout ran out.

A "jwt updated" reply is no proof: a full resolver also says it for a JWT signed by a key the
running operator does not trust, and for an older JWT (it then rolls back). So before pushing,
each account's signer is checked against the operator JWT the servers run (``VARZ``), and the
stored copies (``CLAIMS.LOOKUP``) must not be newer. After pushing, :func:`verify` compares the
live copy on every server (``PING.ACCOUNTZ``); servers where the account is not loaded yet are
made to load it from their own resolver store by a short connection of a throw-away user.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from natsops.auth import jwt as jwtmod
from natsops.auth.claims import Permissions, user_claims
from natsops.auth.nkey import generate
from natsops.auth.ops import account_signer
from natsops.auth.store import Entity, Store
from natsops.context import Secret, Settings
from natsops.errors import (
    AuthError,
    Conflict,
    NatsopsError,
    ServerError,
    Unreachable,
    UsageError,
)
from natsops.findings import Finding, Severity

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
    "pull",
    "push",
    "remove_from_servers",
    "verify",
]

log = logging.getLogger(__name__)

_AUTH_KEYS = ("creds", "user", "nkey", "user_jwt", "token")
PUSH_USER_TTL = 120


@dataclass(frozen=True)
class ServerInfo:
    """A server that answered the system ping."""

    name: str
    id: str
    client_url: str | None
    trusted_operators: tuple[str, ...] = field(default=(), repr=False)  # operator JWTs


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
        """
        return self.status == "accepted" or "cache skipped" in self.message


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

    @property
    def ok(self) -> bool:
        return all(f.severity < Severity.WARN for f in self.findings)


@dataclass(frozen=True)
class PushReport:
    """A push: per account the server replies, then the verification."""

    servers: tuple[str, ...]
    pushes: tuple[AccountPush, ...]
    verification: VerifyReport | None
    refused: tuple[Finding, ...] = ()

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Everything the push found, for :func:`natsops.findings.exit_code` to decide on.

        The pre-push refusals (FAIL: with ``--dry-run`` the push would be refused, with
        ``--force`` it went ahead anyway), a FAIL per server reply that was not accepted,
        then the verification's findings.
        """
        replies = tuple(_reply_finding(p, r) for p in self.pushes for r in p.replies
                        if not (r.ok or r.status == "would push"))
        verified = self.verification.findings if self.verification else ()
        return self.refused + replies + verified


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


# ---- connection ------------------------------------------------------------------------------
def mint_system_user(store: Store, op: str, ttl: int = PUSH_USER_TTL) -> tuple[str, Secret]:
    """A throw-away system-account user (JWT, seed): pub ``$SYS.REQ.>``, sub ``_INBOX.>``."""
    sys_acc = store.system_account(op)
    return mint_user(store, sys_acc, "natsops temporary system user", ttl,
                     Permissions(allow_pub=("$SYS.REQ.>",), allow_sub=("_INBOX.>",)))


def mint_user(store: Store, acc: Entity, name: str, ttl: int,
              permissions: Permissions) -> tuple[str, Secret]:
    """A short-lived user of ``acc`` signed from the store (signing key preferred)."""
    strict = bool(store.operator(acc.operator).nats.get("strict_signing_key_usage"))
    signer, issuer_account = account_signer(store, acc, strict)
    kp = generate("user")
    now = int(time.time())
    claims = user_claims(name, kp.public_key, now, issuer_account=issuer_account,
                         permissions=permissions, expires=now + ttl)
    return jwtmod.encode(claims, signer), kp.seed


def _has_auth(settings: Settings) -> bool:
    return any(getattr(settings, k, None) for k in _AUTH_KEYS)


def target_servers(store: Store, op: str, settings: Settings) -> tuple[str, ...]:
    """``--server``/env/context URLs, else the operator's service URLs / account server URL."""
    if "servers" in settings.sources:
        return settings.servers
    nats = store.operator(op).nats
    urls = [u for u in nats.get("operator_service_urls") or []]
    asu = nats.get("account_server_url")
    if asu and str(asu).split("://", 1)[0] in ("nats", "tls", "ws", "wss") and asu not in urls:
        urls.append(asu)
    return tuple(urls) or settings.servers


def system_settings(store: Store, op: str, settings: Settings) -> Settings:
    """Settings that connect as a system user: the given credentials or a minted user."""
    servers = target_servers(store, op, settings)
    if _has_auth(settings):
        return settings.with_(servers=servers)
    jwt, seed = mint_system_user(store, op)
    return settings.with_(servers=servers, user_jwt=Secret(jwt), user_seed=seed)


async def _collect(nc: Client, subject: str, body: bytes, *, expected: int | None,
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


def _envelope(msg: Msg) -> dict[str, Any]:
    try:
        doc = json.loads(msg.data)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


async def discover(nc: Client, timeout: float, expect: int | None = None) -> list[ServerInfo]:
    """Every server that answers ``$SYS.REQ.SERVER.PING.VARZ``.

    With ``expect``, ping again until that many servers answered or ``timeout`` ran out (a
    server that just restarted answers once its routes are up).
    """
    deadline = time.monotonic() + timeout
    found: dict[str, ServerInfo] = {}
    while True:
        left = max(0.05, deadline - time.monotonic())
        msgs = await _collect(nc, "$SYS.REQ.SERVER.PING.VARZ", b"{}", expected=expect,
                              timeout=min(left, 1.0) if expect else left)
        for m in msgs:
            if not _no_responders(m):
                info = _server_info(_envelope(m))
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


def _missing(servers: Sequence[ServerInfo], expect: int | None) -> list[Finding]:
    if expect is None or len(servers) >= expect:
        return []
    return [Finding.fail("AUTH016", "cluster",
                         f"expected {expect} servers, only {len(servers)} answered "
                         f"({', '.join(s.name for s in servers)})",
                         fix="start the missing servers, then: natsops auth push")]


# ---- pre-push checks -------------------------------------------------------------------------
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


async def _lookup(nc: Client, key: str, expected: int,
                  timeout: float) -> list[jwtmod.Token | None]:
    """The stored copies (``CLAIMS.LOOKUP``, one reply per full resolver; None: not stored)."""
    msgs = await _collect(nc, f"$SYS.REQ.ACCOUNT.{key}.CLAIMS.LOOKUP", b"", expected=expected,
                          timeout=timeout)
    out: list[jwtmod.Token | None] = []
    for m in msgs:
        if _no_responders(m):
            continue
        try:
            out.append(jwtmod.decode(m.data.decode(), kind="account") if m.data else None)
        except UsageError:
            out.append(None)
    return out


# ---- push ------------------------------------------------------------------------------------
def _no_responders(msg: Msg) -> bool:
    headers = getattr(msg, "headers", None) or {}
    return not msg.data and str(headers.get("Status", "")) == "503"


def _reply_of(msg: Msg) -> tuple[str, ServerReply]:
    doc = _envelope(msg)
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
    msgs = await _collect(nc, "$SYS.REQ.CLAIMS.UPDATE", body, expected=expected, timeout=timeout)
    msgs = [m for m in msgs if not _no_responders(m)]
    if not msgs:
        msgs = await _collect(nc, f"$SYS.REQ.ACCOUNT.{acc.public_key}.CLAIMS.UPDATE", body,
                              expected=expected, timeout=timeout)
        msgs = [m for m in msgs if not _no_responders(m)]
    return msgs


def _accounts(store: Store, op: str, names: Sequence[str] | None) -> list[Entity]:
    if not names:
        return store.accounts(op)
    return [store.account(op, n) for n in names]


async def push(store: Store, op: str, settings: Settings, accounts: Sequence[str] | None = None,
               *, timeout: float = 2.0, force: bool = False, check: bool = True,
               expect: int | None = None, dry_run: bool = False) -> PushReport:
    """Push accounts (all when ``accounts`` is empty), then verify every server holds them.

    With ``dry_run``, only discover the servers and run the pre-push checks.
    """
    from natsops.connection import connect

    targets = _accounts(store, op, accounts)
    async with connect(system_settings(store, op, settings)) as conn:
        nc = conn.nc
        servers = await discover(nc, timeout, expect)
        names = tuple(s.name for s in servers)
        refused: list[Finding] = []
        for acc in targets:
            stored = await _lookup(nc, acc.public_key, len(servers), timeout)
            refused += preflight(store, op, acc, servers, [t for t in stored if t])
        if refused and not force and not dry_run:
            raise _refusal(refused)
        pushes = []
        for acc in targets:
            if dry_run:
                pushes.append(AccountPush(acc.name, acc.public_key, acc.token.jti, acc.token.iat,
                                          tuple(ServerReply(n, "would push", "") for n in names)))
                continue
            msgs = await _update(nc, acc, len(servers), timeout)
            got = dict(_reply_of(m) for m in msgs)
            replies = [got.pop(n, ServerReply(n, "no answer", "")) for n in names]
            replies += list(got.values())  # servers that answered but missed the ping
            pushes.append(AccountPush(acc.name, acc.public_key, acc.token.jti, acc.token.iat,
                                      tuple(replies)))
            log.info("pushed %s to %d of %d servers", acc.name,
                     sum(r.status == "accepted" for r in replies), len(names))
        report = (await _verify(nc, store, op, targets, servers, timeout, expect=expect)
                  if check and not dry_run else None)
    return PushReport(names, tuple(pushes), report, tuple(refused))


def _refusal(findings: Sequence[Finding]) -> NatsopsError:
    first = findings[0]
    more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
    cls = Conflict if first.id == "AUTH003" else AuthError
    return cls(f"refusing to push: {first.message}{more}", hint=(first.fix or "") + "; or --force")


# ---- verify ----------------------------------------------------------------------------------
async def verify(store: Store, op: str, settings: Settings,
                 accounts: Sequence[str] | None = None, *, timeout: float = 2.0,
                 load: bool = True, expect: int | None = None) -> VerifyReport:
    """Compare every server's live copy of each account with the store."""
    from natsops.connection import connect

    targets = _accounts(store, op, accounts)
    async with connect(system_settings(store, op, settings)) as conn:
        servers = await discover(conn.nc, timeout, expect)
        return await _verify(conn.nc, store, op, targets, servers, timeout, load=load,
                             expect=expect)


async def _accountz(nc: Client, key: str, expected: int,
                    timeout: float) -> dict[str, dict[str, Any]]:
    msgs = await _collect(nc, "$SYS.REQ.SERVER.PING.ACCOUNTZ",
                          json.dumps({"account": key}).encode(), expected=expected,
                          timeout=timeout)
    out: dict[str, dict[str, Any]] = {}
    for m in msgs:
        doc = _envelope(m)
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


async def _verify(nc: Client, store: Store, op: str, targets: Sequence[Entity],
                  servers: Sequence[ServerInfo], timeout: float, *,
                  load: bool = True, expect: int | None = None) -> VerifyReport:
    copies: list[ServerCopy] = []
    stored: list[StoredCopies] = []
    findings: list[Finding] = _missing(servers, expect)
    names = [s.name for s in servers]
    for acc in targets:
        live = await _accountz(nc, acc.public_key, len(servers), timeout)
        unloaded = [s for s in servers if not (live.get(s.name) or {}).get("data")]
        if load and unloaded:
            await _load_account(store, acc, unloaded, timeout)
            live = await _accountz(nc, acc.public_key, len(servers), timeout)
        mine = [_copy_of(acc, name, live.get(name)) for name in names]
        copies += mine
        findings += [_finding(acc, c) for c in mine]
        summary = _stored(acc, await _lookup(nc, acc.public_key, len(servers), timeout))
        stored.append(summary)
        findings += _stored_findings(acc, summary, mine)
    return VerifyReport(tuple(names), tuple(copies), tuple(findings), tuple(stored))


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


# ---- delete ----------------------------------------------------------------------------------
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


async def delete_accounts(store: Store, op: str, settings: Settings, accounts: Sequence[str],
                          *, timeout: float = 2.0,
                          expect: int | None = None) -> list[ServerReply]:
    """Delete accounts from every full resolver (needs ``allow_delete: true``)."""
    from natsops.connection import connect

    keys = [store.account(op, a).public_key for a in accounts]
    if store.operator(op).nats.get("system_account") in keys:
        raise UsageError("the system account cannot be deleted")
    async with connect(system_settings(store, op, settings)) as conn:
        servers = await discover(conn.nc, timeout, expect)
        msgs = await _collect(conn.nc, "$SYS.REQ.CLAIMS.DELETE",
                              delete_request(store, op, keys).encode(),
                              expected=len(servers), timeout=timeout)
    got = dict(_reply_of(m) for m in msgs if not _no_responders(m))
    return [got.pop(s.name, ServerReply(s.name, "no answer", "")) for s in servers] + list(
        got.values())


async def remove_from_servers(store: Store, op: str, settings: Settings, account: str, *,
                              timeout: float = 2.0) -> list[ServerReply]:
    """Delete one account from every full resolver; any reply but "accepted" is an error."""
    replies = await delete_accounts(store, op, settings, [account], timeout=timeout)
    bad = [r for r in replies if r.status != "accepted"]
    if bad:
        raise ServerError(
            f"{bad[0].server} did not delete {account}: {bad[0].message or bad[0].status}",
            hint="the store was left as it was")
    return replies


# ---- pull ------------------------------------------------------------------------------------
async def pull(store: Store, op: str, settings: Settings, *, timeout: float = 2.0,
               dry_run: bool = False) -> list[PullResult]:
    """Fetch every account JWT the servers hold (``CLAIMS.PACK``); update older store copies."""
    from natsops.connection import connect

    async with connect(system_settings(store, op, settings)) as conn:
        # one responder sends "<id>|<jwt>" per account, then an empty message
        msgs = await _collect(conn.nc, "$SYS.REQ.CLAIMS.PACK", b"", expected=None,
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
