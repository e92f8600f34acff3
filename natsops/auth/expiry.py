"""Which JWTs of the store expire soon (or have expired): operator, accounts, users, activations.

Activations are the import tokens an account holds (``imports[].token``). An expired account
refuses every user; an expired user is refused at connect and disconnected when its ``exp``
arrives; an expired activation silently breaks the import. Each expiring JWT is a FAIL finding
(AUTH030 expired, AUTH031 expires within the window), so ``auth expirations`` exits 6 for CI.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from natsops.auth import jwt as jwtmod
from natsops.auth.store import Entity, Store
from natsops.errors import UsageError
from natsops.findings import Finding
from natsops.units import format_duration

__all__ = ["Expiring", "expirations", "expiry_findings"]


@dataclass(frozen=True)
class Expiring:
    """A JWT with an expiry inside the window (or past)."""

    kind: str  # operator | account | user | activation
    name: str
    account: str | None
    public_key: str
    expires: int
    seconds_left: int
    where: str
    expired: bool = False


def _item(e: Entity, now: int, where: str) -> Expiring | None:
    exp = e.token.expires
    if exp is None:
        return None
    return Expiring(e.kind, e.name, e.account, e.public_key, exp, exp - now, where, exp <= now)


def _activations(store: Store, op: str, acc: Entity, now: int) -> list[Expiring]:
    names = {a.public_key: a.name for a in store.accounts(op)}
    out = []
    for imp in acc.nats.get("imports") or []:
        token = imp.get("token")
        if not token:
            continue
        try:
            tok = jwtmod.decode(str(token), kind="activation")
        except UsageError:
            continue  # a token that does not verify is not an expiry question
        if tok.expires is None:
            continue
        src = names.get(str(imp.get("account")), str(imp.get("account", "?")))
        out.append(Expiring("activation", f"{imp.get('subject')} from {src}", acc.name,
                            tok.subject, tok.expires, tok.expires - now,
                            f"import {imp.get('subject')} of account {acc.name}",
                            tok.expires <= now))
    return out


def expirations(store: Store, op: str, within: float,
                now: float | None = None) -> tuple[list[Expiring], int]:
    """(JWTs expiring within ``within`` seconds or already expired, JWTs checked)."""
    t = int(time.time() if now is None else now)
    checked = 1
    found = [_item(store.operator(op), t, "operator")]
    for acc in store.accounts(op):
        checked += 1
        found.append(_item(acc, t, f"account {acc.name}"))
        users = store.users(op, acc.name)
        checked += len(users) + sum(1 for i in acc.nats.get("imports") or [] if i.get("token"))
        found += [_item(u, t, f"user {acc.name}/{u.name}") for u in users]
        found += _activations(store, op, acc, t)
    items = [i for i in found if i is not None and i.seconds_left <= within]
    return sorted(items, key=lambda i: i.expires), checked


def _label(i: Expiring) -> str:
    if i.kind == "user":
        return f"user {i.account}/{i.name}"
    if i.kind == "activation":
        return f"activation {i.name} (held by {i.account})"
    return f"{i.kind} {i.name}"


def expiry_findings(items: Sequence[Expiring], within: float, checked: int) -> list[Finding]:
    """A FAIL per expiring JWT; one OK when none expires within the window."""
    out = []
    for i in items:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(i.expires))
        ev = {"kind": i.kind, "name": i.name, "account": i.account, "public_key": i.public_key,
              "expires": i.expires, "where": i.where}
        fix = ("re-issue it with a later --expiry (or none)" if i.kind != "activation"
               else "generate a new activation token and import it again")
        if i.expired:
            out.append(Finding.fail("AUTH030", _label(i), f"{_label(i)} expired at {when}",
                                    evidence=ev, fix=fix))
        else:
            out.append(Finding.fail(
                "AUTH031", _label(i),
                f"{_label(i)} expires in {format_duration(i.seconds_left)} ({when})",
                evidence=ev, fix=fix))
    if not out:
        out.append(Finding.ok("AUTH031", "store",
                              f"no JWT expires within {format_duration(within)} "
                              f"({checked} checked)", evidence={"checked": checked}))
    return out
