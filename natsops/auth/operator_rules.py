"""Operator signing-key rules: ``strict_signing_key_usage``, removing operator signing keys, and
re-signing what a stricter operator would refuse.

With strict usage the server accepts accounts signed only by an operator *signing* key, and
users signed only by an account signing key (with ``issuer_account``). Turning it on is refused
without an operator signing key. :func:`plan_resign` names what the operator after the edit
would refuse: accounts signed by the operator identity key (or by a removed signing key), users
signed by their account's identity key. :func:`resign` fixes them in the store and pushes:

1. each such account is re-signed by an operator signing key; an account without a usable
   account signing key gets one (a strict operator needs it to issue users);
2. each such user is re-issued through its account's signing key with the **same user key**
   (:func:`natsops.auth.rotate.reissue_user`): its creds file in the store is rewritten, and
   deployed copies must be replaced by it before the servers run the strict operator JWT;
3. the changed accounts are pushed.

The servers keep the operator JWT they started with until restarted, so the push lands while
they are not strict yet: old and new creds both work until the restart. An operator signing key
created in the same command is not known to the running servers: accounts it signs would be
refused, so re-signing with a push is refused then (add the key, restart, then re-sign).

Activation tokens are left as they are: measured on nats-server 2.15.1, a strict server still
accepts one signed by the exporting account's identity key (the import keeps working).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from natsops.auth.edit import revoked_at
from natsops.auth.nkey import generate
from natsops.auth.ops import _update_account, account_signer
from natsops.auth.store import Store
from natsops.auth.sysuser import SysAccess
from natsops.errors import NotFound, UsageError

__all__ = ["ResignPlan", "ResignReport", "apply_operator_rules", "plan_notes", "plan_resign",
           "resign"]


@dataclass(frozen=True)
class ResignPlan:
    """What the operator after the edit would refuse, and how it is fixed (public data)."""

    operator: str
    strict: bool  # the operator is strict after the edit
    accounts: tuple[str, ...]  # re-signed by an operator signing key
    new_signing_keys: tuple[str, ...]  # accounts that get an account signing key
    users: tuple[tuple[str, str], ...]  # (account, user) re-issued through a signing key

    @property
    def pushed(self) -> tuple[str, ...]:
        """The accounts whose JWT changes (pushed afterwards)."""
        return tuple(sorted({*self.accounts, *self.new_signing_keys}))

    def empty(self) -> bool:
        return not (self.accounts or self.new_signing_keys or self.users)


@dataclass(frozen=True)
class ResignReport:
    plan: ResignPlan
    steps: tuple[str, ...]
    redeploy: tuple[str, ...]  # creds files (store paths) whose deployed copies must be replaced
    dry_run: bool = False


def apply_operator_rules(store: Store, op: str, nats: dict[str, Any], strict: bool | None,
                         remove: tuple[str, ...], adding_key: bool) -> list[str]:
    """Change ``nats`` (the operator's) in place; returns notes for the user."""
    keys = [str(k) for k in nats.get("signing_keys") or []]
    for key in remove:
        if key not in keys:
            raise NotFound(f"{key} is not a signing key of operator {op}")
        keys.remove(key)
    if remove:
        if keys:
            nats["signing_keys"] = keys
        else:
            nats.pop("signing_keys", None)
    if strict is True:
        if not keys and not adding_key:
            raise UsageError("--require-signing-keys needs an operator signing key",
                             hint="add one in the same command: --add-signing-key")
        nats["strict_signing_key_usage"] = True
    elif strict is False:
        nats.pop("strict_signing_key_usage", None)
    return plan_notes(_plan(store, op, strict, remove))


def plan_notes(plan: ResignPlan) -> list[str]:
    """Notes naming what the plan would re-sign (what a stricter operator would refuse)."""
    out = []
    if plan.accounts:
        out.append("accounts the operator would no longer trust until re-signed and pushed: "
                   f"{', '.join(plan.accounts)}")
    by_account: dict[str, list[str]] = {}
    for acc, user in plan.users:
        by_account.setdefault(acc, []).append(user)
    for acc, users in by_account.items():
        out.append(f"users of {acc} signed by its identity key will be refused: "
                   f"{', '.join(users)}")
    if out:
        out.append("--resign re-signs them (same user keys) and pushes the accounts")
    return out


def _strict_after(store: Store, op: str, strict: bool | None) -> bool:
    return bool(store.operator(op).nats.get("strict_signing_key_usage")) if strict is None \
        else strict


def _plan(store: Store, op: str, strict: bool | None, remove: tuple[str, ...]) -> ResignPlan:
    operator = store.operator(op)
    strict_after = _strict_after(store, op, strict)
    keys_after = [k for k in operator.signing_keys if k not in remove]
    trusted = set(keys_after) | ({operator.public_key} if not strict_after else set())
    accounts, new_keys, users = [], [], []
    for acc in store.accounts(op):
        if acc.token.issuer not in trusted:
            accounts.append(acc.name)
        if not strict_after:
            continue
        # revoked users are left as they are: re-issuing one would lift its revocation
        direct = [u.name for u in store.users(op, acc.name)
                  if u.token.issuer == acc.public_key and revoked_at(acc, u) is None]
        users += [(acc.name, u) for u in direct]
        usable = [k for k in acc.nats.get("signing_keys") or []
                  if not isinstance(k, Mapping) and store.has_key(str(k))]
        if not usable:
            new_keys.append(acc.name)
    return ResignPlan(op, strict_after, tuple(accounts), tuple(new_keys), tuple(users))


def plan_resign(store: Store, op: str, *, strict: bool | None, remove: tuple[str, ...] = (),
                adding_key: bool = False, push: bool = True) -> ResignPlan:
    """What the operator after the edit (``strict``, ``remove``, ``adding_key``) would refuse.

    UsageError when it cannot be fixed: a strict operator without a signing key seed in the
    store, or (with ``push``) accounts signed by a key created in this very edit, which the
    running servers do not know until restarted with the new operator JWT.
    """
    plan = _plan(store, op, strict, remove)
    if plan.pushed:
        keys_after = [k for k in store.operator(op).signing_keys if k not in remove]
        seeded = [k for k in keys_after if store.has_key(k)]
        if plan.strict and not seeded and not adding_key:
            raise UsageError(f"the store holds no seed of a signing key of operator {op}: "
                             "accounts cannot be re-signed",
                             hint="add one: natsops auth operator edit --add-signing-key")
        if not seeded and adding_key and push:
            raise UsageError("the running servers do not know the operator signing key this "
                             "edit creates: accounts it re-signs would be refused",
                             hint="first: natsops auth operator edit --add-signing-key, restart "
                                  "the servers with the new operator JWT, then run this again "
                                  "(or re-sign the store only: --no-push)")
    return plan


def _adding(keys: list[str]) -> Callable[[dict[str, Any]], None]:
    def mutate(nats: dict[str, Any]) -> None:
        if keys:
            nats["signing_keys"] = [*(nats.get("signing_keys") or []), *keys]

    return mutate


async def resign(store: Store, op: str, plan: ResignPlan, access: SysAccess | None, *,
                 timeout: float = 2.0, dry_run: bool = False) -> ResignReport:
    """Re-sign the plan's accounts, re-issue its users (same keys), push (unless no access).

    Run it after the operator edit is written: accounts are signed by its signing key.
    """
    from natsops.auth.rotate import push_accounts, reissue_user

    redeploy = tuple(str(store.creds_path(op, a, u)) for a, u in plan.users)
    if dry_run:
        return ResignReport(plan, (), redeploy, dry_run=True)
    steps = []
    for name in plan.pushed:
        new = [generate("account")] if name in plan.new_signing_keys else []
        ch = _update_account(store, op, name, _adding([k.public_key for k in new]), False, new)
        added = f", added signing key {new[0].public_key}" if new else ""
        steps.append(f"re-signed account {name} by operator signing key "
                     f"{store.account(op, name).token.issuer}{added} ({ch.path})")
    for acc_name, user in plan.users:
        acc = store.account(op, acc_name)
        signer, _ = account_signer(store, acc, True)
        steps.append(f"{acc_name}: " + reissue_user(store, op, acc, user, signer))
    if access is not None and plan.pushed:
        steps.append(await push_accounts(
            store, op, list(plan.pushed), access, timeout,
            "the store is re-signed; push again: natsops auth push --account "
            + " --account ".join(plan.pushed)))
    elif plan.pushed:
        steps.append("not pushed: natsops auth push --account " + " --account ".join(plan.pushed))
    return ResignReport(plan, tuple(steps), redeploy)
