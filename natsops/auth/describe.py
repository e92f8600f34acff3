"""Decode any NATS JWT or creds file and check its chain of trust against the store.

The input may be a bare JWT (operator, account, user, activation, generic) or a creds file (the
first block is the JWT; the seed block is noted, never kept or shown). The signature is checked
against ``iss``; then ``iss`` is looked up among the store's keys (operator identity or signing
key, account identity or signing key, scoped or not) and the server's rules are applied: who may
sign what, ``issuer_account``, strict signing-key usage, revocations, expiry. Each rule is a
finding (AUTH040-AUTH047): OK when it holds, FAIL when the server would refuse the JWT.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from natsops.auth import jwt as jwtmod
from natsops.auth.store import Entity, Store
from natsops.errors import UsageError
from natsops.findings import Finding

__all__ = ["JwtDescription", "KeyRole", "describe_jwt", "key_index", "token_of"]

_BLOCK = re.compile(r"^\s*-{3,}[^\n]*-{3,}\s*\n([^\n]+)\n\s*-{3,}[^\n]*-{3,}\s*$", re.MULTILINE)


@dataclass(frozen=True)
class KeyRole:
    """What a public key is in the store."""

    role: str  # operator | operator signing key | account | account signing key
    operator: str
    account: str | None = None
    scope: str | None = None  # the role name of a scoped account signing key

    def __str__(self) -> str:
        if self.role.startswith("operator"):
            return f"{self.role} of {self.operator}" if "signing" in self.role \
                else f"operator {self.operator} (identity key)"
        scoped = f", scoped role {self.scope!r}" if self.scope else ""
        if "signing" in self.role:
            return f"signing key of account {self.account}{scoped}"
        return f"account {self.account} (identity key)"


@dataclass(frozen=True)
class JwtDescription:
    """A decoded JWT (public data only) and the findings of its chain check."""

    source: str
    form: str  # jwt | creds
    kind: str
    name: str
    subject: str
    issuer: str
    signer: str  # what the issuer is in the store, or "unknown"
    iat: int
    jti: str
    expires: int | None
    claims: Mapping[str, Any] = field(repr=False)
    findings: tuple[Finding, ...] = ()


def token_of(text: str, source: str) -> tuple[str, str]:
    """(the JWT, "jwt" or "creds") of a bare JWT or a creds/decorated file."""
    blocks = [m.group(1).strip() for m in _BLOCK.finditer(text)]
    if blocks:
        return blocks[0], "creds" if len(blocks) > 1 else "jwt"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if len(lines) == 1 and lines[0].count(".") == 2:
        return lines[0], "jwt"
    raise UsageError(f"{source}: not a JWT or a creds file")


def key_index(store: Store) -> dict[str, KeyRole]:
    """Every public key of every operator and account of the store, and what it is."""
    out: dict[str, KeyRole] = {}
    for op in store.operators():
        o = store.operator(op)
        out[o.public_key] = KeyRole("operator", op)
        for k in o.signing_keys:
            out.setdefault(k, KeyRole("operator signing key", op))
        for acc in store.accounts(op):
            out[acc.public_key] = KeyRole("account", op, acc.name)
            for sk in acc.nats.get("signing_keys") or []:
                if isinstance(sk, Mapping):
                    out[str(sk.get("key"))] = KeyRole("account signing key", op, acc.name,
                                                      str(sk.get("role") or "") or "scoped")
                else:
                    out[str(sk)] = KeyRole("account signing key", op, acc.name)
    return out


class _Chain:
    """Collects the findings of one JWT's chain check."""

    def __init__(self, tok: jwtmod.Token, store: Store | None, now: int) -> None:
        self.tok, self.store, self.now = tok, store, now
        self.keys = key_index(store) if store is not None else {}
        self.found: list[Finding] = []
        self.subject = f"{tok.kind} {tok.name or tok.subject[:12]}"

    def ok(self, id: str, message: str) -> None:
        self.found.append(Finding.ok(id, self.subject, message))

    def info(self, id: str, message: str) -> None:
        self.found.append(Finding.info(id, self.subject, message))

    def fail(self, id: str, message: str, fix: str | None = None) -> None:
        self.found.append(Finding.fail(id, self.subject, message, fix=fix))

    def times(self) -> None:
        exp, nbf = self.tok.expires, self.tok.claims.get("nbf")
        stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(exp)) if exp else ""
        if exp and exp <= self.now:
            self.fail("AUTH041", f"expired at {stamp}", fix="re-issue it")
        elif exp:
            self.ok("AUTH041", f"valid until {stamp}")
        else:
            self.ok("AUTH041", "does not expire")
        if nbf and int(nbf) > self.now:
            self.fail("AUTH041", "not valid yet (nbf is in the future)")

    def account(self, key: str) -> Entity | None:
        role = self.keys.get(key)
        if self.store is None or role is None or role.role != "account":
            return None
        return self.store.account(role.operator, str(role.account))

    def operator_trusts(self, acc_tok: jwtmod.Token, what: str) -> None:
        role = self.keys.get(acc_tok.issuer)
        if role is None or not role.role.startswith("operator"):
            self.fail("AUTH043", f"{what} is signed by {acc_tok.issuer}, which is no operator "
                      "key of the store: servers of the store's operator refuse it")
            return
        strict = self.store is not None and \
            self.store.operator(role.operator).nats.get("strict_signing_key_usage")
        if strict and role.role == "operator":
            self.fail("AUTH043", f"{what} is signed by the operator identity key, but operator "
                      f"{role.operator} is strict: only its signing keys may sign accounts",
                      fix=f"re-sign it: natsops auth account edit {acc_tok.name}")
        else:
            self.ok("AUTH043", f"{what} is signed by the {role}")

    def run(self) -> None:
        kind = self.tok.kind
        self.times()
        if self.store is None:
            self.info("AUTH040", "no store to check the chain against (--store)")
            return
        getattr(self, f"_{kind}", self._generic)()

    def _operator(self) -> None:
        role = self.keys.get(self.tok.subject)
        if self.tok.issuer != self.tok.subject:
            self.fail("AUTH042", "an operator JWT must be self-signed (iss == sub)")
        elif role is None:
            self.info("AUTH042", "self-signed by an operator the store does not hold")
        else:
            self.ok("AUTH042", f"self-signed: operator {role.operator} of the store")
            self._current(self.store.operator(role.operator) if self.store else None)

    def _account(self) -> None:
        self.operator_trusts(self.tok, "the account")
        self._current(self.account(self.tok.subject))

    def _current(self, stored: Entity | None) -> None:
        if stored is None:
            self.info("AUTH047", "the store holds no JWT for this subject")
        elif stored.token.jti == self.tok.jti:
            self.ok("AUTH047", "identical to the store's copy")
        else:
            newer = "newer" if stored.token.iat > self.tok.iat else "older or as old"
            self.info("AUTH047", f"the store holds a different JWT ({newer}: iat "
                      f"{stored.token.iat} vs {self.tok.iat})")

    def _signer_of_account(self, what: str) -> Entity | None:
        """Check ``iss`` against the account (``issuer_account`` or ``iss``); return it."""
        iss = self.tok.issuer
        issuer_account = str(self.tok.nats.get("issuer_account") or "")
        acc = self.account(issuer_account or iss)
        role = self.keys.get(iss)
        if acc is None:
            self.fail("AUTH044", f"{what} is issued for account {issuer_account or iss}, which "
                      "the store does not hold")
            return None
        if role is None or role.account != acc.name:
            self.fail("AUTH044", f"{what} is signed by {iss}, which is not a key of account "
                      f"{acc.name} (removed or rotated signing key?)",
                      fix=f"re-issue it with a current key of account {acc.name}")
        elif role.role == "account signing key" and not issuer_account:
            self.fail("AUTH044", f"{what} is signed by a signing key of {acc.name} but has no "
                      "issuer_account: the server cannot find its account")
        else:
            strict = self.store is not None and \
                self.store.operator(role.operator).nats.get("strict_signing_key_usage")
            if strict and role.role == "account":
                self.fail("AUTH044", f"{what} is signed by the identity key of {acc.name}, but "
                          "the operator is strict: only account signing keys may sign")
            else:
                self.ok("AUTH044", f"{what} is signed by the {role}")
        self.operator_trusts(acc.token, f"its account {acc.name}")
        return acc

    def _user(self) -> None:
        acc = self._signer_of_account("the user")
        if acc is None:
            return
        revs = acc.nats.get("revocations") or {}
        ts = revs.get(self.tok.subject, revs.get("*"))
        if ts is not None and self.tok.iat <= int(ts):
            self.fail("AUTH045", f"revoked in account {acc.name} (iat {self.tok.iat} <= "
                      f"{int(ts)})", fix=f"natsops auth revocations rm --account {acc.name} "
                      f"--name {self.tok.name or self.tok.subject}")
        else:
            self.ok("AUTH045", f"not revoked in account {acc.name}")
        users = {u.public_key: u for u in self.store.users(acc.operator, acc.name)} \
            if self.store else {}
        self._current(users.get(self.tok.subject))

    def _activation(self) -> None:
        acc = self._signer_of_account("the activation")
        if acc is None:
            return
        subject = self.tok.nats.get("subject")
        exports = [e for e in acc.nats.get("exports") or [] if e.get("subject") == subject]
        if not exports:
            self.fail("AUTH046", f"account {acc.name} does not export {subject}")
            return
        revs = exports[0].get("revocations") or {}
        ts = revs.get(self.tok.subject, revs.get("*"))
        if ts is not None and self.tok.iat <= int(ts):
            self.fail("AUTH045", f"revoked on export {subject} of {acc.name}")
        else:
            self.ok("AUTH046", f"account {acc.name} exports {subject}")

    def _generic(self) -> None:
        role = self.keys.get(self.tok.issuer)
        if role is None:
            self.info("AUTH042", f"signed by {self.tok.issuer}, unknown to the store")
        else:
            self.ok("AUTH042", f"signed by the {role}")


def describe_jwt(text: str, source: str, store: Store | None,
                 now: float | None = None) -> JwtDescription:
    """Decode ``text`` (a JWT or creds file), verify its signature, check its chain."""
    token, form = token_of(text, source)
    try:
        tok = jwtmod.decode(token)
    except UsageError as exc:
        raise UsageError(f"{source}: {exc}") from None
    chain = _Chain(tok, store, int(time.time() if now is None else now))
    chain.run()
    role = chain.keys.get(tok.issuer)
    return JwtDescription(source=source, form=form, kind=tok.kind, name=tok.name,
                          subject=tok.subject, issuer=tok.issuer,
                          signer=str(role) if role else "unknown to the store", iat=tok.iat,
                          jti=tok.jti, expires=tok.expires, claims=dict(tok.claims),
                          findings=tuple(chain.found))
