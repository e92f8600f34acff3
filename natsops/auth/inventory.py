"""What the store holds, as public data: names, keys, issuers, timestamps, claims. No seeds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from natsops.auth.store import Entity, Store
from natsops.errors import UsageError

__all__ = ["Listed", "describe", "inventory"]


@dataclass(frozen=True)
class Listed:
    """One operator, account or user (public data)."""

    kind: str
    name: str
    operator: str
    account: str | None
    public_key: str
    issuer: str
    iat: int
    jti: str
    expires: int | None = None
    revoked: bool = False
    jetstream: bool | None = None
    signing_keys: tuple[str, ...] = ()
    system: bool = False
    claims: Mapping[str, Any] = field(default_factory=dict, repr=False)


def _listed(e: Entity, **extra: Any) -> Listed:
    return Listed(kind=e.kind, name=e.name, operator=e.operator, account=e.account,
                  public_key=e.public_key, issuer=e.token.issuer, iat=e.token.iat,
                  jti=e.token.jti, expires=e.token.expires,
                  signing_keys=tuple(e.signing_keys), claims=dict(e.token.claims), **extra)


def _revoked(acc: Entity, user: Entity) -> bool:
    revs = acc.nats.get("revocations") or {}
    ts = revs.get(user.public_key, revs.get("*"))
    return ts is not None and user.token.iat <= int(ts)


def inventory(store: Store, op: str) -> list[Listed]:
    """The operator, its accounts and their users, in that order."""
    operator = store.operator(op)
    sys_key = operator.nats.get("system_account")
    out = [_listed(operator)]
    for acc in store.accounts(op):
        lim = acc.nats.get("limits") or {}
        out.append(_listed(acc, system=acc.public_key == sys_key,
                           jetstream=bool(lim.get("mem_storage") or lim.get("disk_storage"))))
        for user in store.users(op, acc.name):
            out.append(_listed(user, revoked=_revoked(acc, user)))
    return out


def describe(store: Store, op: str, kind: str, name: str | None = None,
             account: str | None = None) -> Listed:
    """One entity with its decoded claims (public keys only)."""
    if kind == "operator":
        return _listed(store.operator(op))
    if kind == "account":
        if not name:
            raise UsageError("describe account needs a NAME")
        acc = store.account(op, name)
        lim = acc.nats.get("limits") or {}
        return _listed(acc, system=acc.public_key == store.operator(op).nats.get("system_account"),
                       jetstream=bool(lim.get("mem_storage") or lim.get("disk_storage")))
    if kind == "user":
        if not name or not account:
            raise UsageError("describe user needs a NAME and --account")
        user = store.user(op, account, name)
        return _listed(user, revoked=_revoked(store.account(op, account), user))
    raise UsageError(f"describe what? operator, account or user, not {kind!r}")
