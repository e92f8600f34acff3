"""Rotate an account signing key without locking anyone out.

1. add a new signing key to the account (a scoped key keeps its role and template);
2. re-issue every user the old key signed: same user key and claims, the new key as issuer,
   creds files in the store rewritten (0600); likewise the activation tokens it signed that
   other accounts of the store import (those accounts are re-signed);
3. push the accounts (both keys valid: old and new creds work);
4. remove the old key from the account and push again: creds signed by it stop working;
   its seed leaves the key store for ``keys/retired/`` (no JWT of the store names it any more).

A push that is not accepted everywhere stops the rotation before the old key is removed.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from natsops.auth import jwt as jwtmod
from natsops.auth.creds import format_creds
from natsops.auth.edit import revoked_at
from natsops.auth.nkey import KeyPair, generate
from natsops.auth.ops import Change, _update_account
from natsops.auth.store import Entity, Store
from natsops.auth.sysuser import SysAccess
from natsops.errors import ExitCode, ServerError, UsageError
from natsops.findings import exit_code

__all__ = ["RotationPlan", "RotationReport", "plan_rotation", "push_accounts", "reissue_user",
           "rotate_signing_key"]


@dataclass(frozen=True)
class RotationPlan:
    """Which key goes, and what is re-issued."""

    account: str
    old_key: str
    role: str | None  # the scoped role the key carries
    users: tuple[str, ...]  # users signed by the old key
    activations: tuple[tuple[str, str], ...]  # (importing account, subject) signed by the old key
    revoked: tuple[str, ...] = ()  # users signed by the old key but revoked: not re-issued


@dataclass(frozen=True)
class RotationReport:
    plan: RotationPlan
    new_key: str | None
    steps: tuple[str, ...]
    dry_run: bool = False


def _key_of(sk: Any) -> str:
    return str(sk.get("key")) if isinstance(sk, Mapping) else str(sk)


def plan_rotation(store: Store, op: str, account: str, old: str | None = None) -> RotationPlan:
    """The rotation of ``old`` (default: the account's only signing key)."""
    acc = store.account(op, account)
    keys = list(acc.nats.get("signing_keys") or [])
    if not keys:
        raise UsageError(f"account {account} has no signing key to rotate",
                         hint=f"add one: natsops auth account edit {account} --add-signing-key")
    if old is None:
        if len(keys) > 1:
            raise UsageError(f"account {account} has {len(keys)} signing keys: name the one "
                             "to rotate with --key",
                             hint=", ".join(_key_of(k) for k in keys))
        old = _key_of(keys[0])
    found = [k for k in keys if _key_of(k) == old]
    if not found:
        raise UsageError(f"{old} is not a signing key of account {account}")
    role = str(found[0].get("role") or "") or None if isinstance(found[0], Mapping) else None
    signed = [u for u in store.users(op, account) if u.token.issuer == old]
    # a revoked user stays revoked: re-issuing it would lift the revocation, and once the old
    # key is gone its JWT is refused anyway
    revoked = tuple(u.name for u in signed if revoked_at(acc, u) is not None)
    users = tuple(u.name for u in signed if u.name not in revoked)
    acts = []
    for other in store.accounts(op):
        for imp in other.nats.get("imports") or []:
            tok = imp.get("token")
            if tok and jwtmod.decode(str(tok)).issuer == old:
                acts.append((other.name, str(imp.get("subject"))))
    return RotationPlan(account, old, role, users, tuple(acts), revoked)


def reissue_user(store: Store, op: str, acc: Entity, name: str, new: KeyPair, *,
                 mutate: Callable[[dict[str, Any]], None] | None = None) -> str:
    """Re-sign user ``name`` of ``acc`` with the account signing key ``new``: same user key and
    claims (after ``mutate(claims)`` when given), ``issuer_account`` set, creds file rewritten
    (0600) when the store holds its seed."""
    user = store.user(op, acc.name, name)
    claims = copy.deepcopy(dict(user.token.claims))
    if mutate is not None:
        mutate(claims)
    claims["iat"] = jwtmod.next_iat(user.token.iat)
    claims["nats"]["issuer_account"] = acc.public_key
    token = jwtmod.encode(claims, new)
    store.write_jwt(user.path, token)
    if store.has_key(user.public_key):
        seed = store.load_key(user.public_key, "user").seed
        store.write_text_private(store.creds_path(op, acc.name, name), format_creds(token, seed))
        return f"re-issued user {name} (creds rewritten)"
    return f"re-issued user {name} (no seed in the store: its creds file was not rewritten)"


def _reissue_activations(store: Store, op: str, importer: str, old: str, new: KeyPair,
                         issuer_account: str) -> str:
    """Re-sign, with ``new``, the import tokens of ``importer`` that ``old`` signed."""

    def mutate(nats: dict[str, Any]) -> None:
        for imp in nats.get("imports") or []:
            tok = jwtmod.decode(str(imp["token"])) if imp.get("token") else None
            if tok is not None and tok.issuer == old:
                claims = copy.deepcopy(dict(tok.claims))
                claims["iat"] = jwtmod.next_iat(tok.iat)
                claims["nats"]["issuer_account"] = issuer_account
                imp["token"] = jwtmod.encode(claims, new)

    _update_account(store, op, importer, mutate, False)
    return f"re-issued the activation tokens {importer} imports"


def _with_new(keys: list[Any], old: str, new: str) -> list[Any]:
    out = list(keys)
    for sk in keys:
        if _key_of(sk) == old:
            out.append({**sk, "key": new} if isinstance(sk, Mapping) else new)
    return out


async def push_accounts(store: Store, op: str, accounts: list[str], access: SysAccess,
                        timeout: float, hint: str) -> str:
    """Push ``accounts``; ServerError (with ``hint``) unless every server accepted them."""
    from natsops.auth.push import push

    report = await push(store, op, access, accounts, timeout=timeout)
    if exit_code(report.findings) != ExitCode.OK:
        bad = [f for f in report.findings if f.severity.label == "fail"]
        raise ServerError(f"push of {', '.join(accounts)} was not accepted everywhere: "
                          f"{bad[0].message}", hint=hint)
    return f"pushed {', '.join(accounts)} to {len(report.servers)} server(s)"


async def rotate_signing_key(store: Store, op: str, account: str, access: SysAccess | None, *,
                             old: str | None = None, timeout: float = 2.0,
                             dry_run: bool = False) -> RotationReport:
    """Run the rotation; without ``access`` (``--no-push``) only the store changes."""
    plan = plan_rotation(store, op, account, old)
    if dry_run:
        return RotationReport(plan, None, (), dry_run=True)
    new = generate("account")
    steps: list[str] = []

    def add(nats: dict[str, Any]) -> None:
        nats["signing_keys"] = _with_new(list(nats.get("signing_keys") or []), plan.old_key,
                                         new.public_key)

    def drop(nats: dict[str, Any]) -> None:
        nats["signing_keys"] = [k for k in nats.get("signing_keys") or []
                                if _key_of(k) != plan.old_key]

    ch: Change = _update_account(store, op, account, add, False, [new])
    steps.append(f"added signing key {new.public_key} to {account} ({ch.path})")
    acc = store.account(op, account)
    steps += [reissue_user(store, op, acc, u, new) for u in plan.users]
    importers = sorted({a for a, _ in plan.activations})
    steps += [_reissue_activations(store, op, a, plan.old_key, new, acc.public_key)
              for a in importers]
    hint = ("the old key is still valid; fix the servers, then: natsops auth account "
            f"rotate-signing-key {account} --key ...")
    if access is not None:
        steps.append(await push_accounts(store, op, [account, *importers], access, timeout,
                                         hint))
    _update_account(store, op, account, drop, False)
    steps.append(f"removed signing key {plan.old_key} from {account}")
    retired = store.retire_key(plan.old_key)
    if retired is not None:
        steps.append(f"moved the old key's seed out of the key store to {retired}")
    if access is not None:
        steps.append(await push_accounts(store, op, [account], access, timeout,
                                         f"push it again: natsops auth push --account {account}"))
    else:
        steps.append("not pushed: natsops auth push --account " +
                     " --account ".join([account, *importers]))
    return RotationReport(plan, new.public_key, tuple(steps))
