"""Revocations in account JWTs: users (``revocations``) and activations (export ``revocations``).

The server refuses a user JWT whose ``iat`` is at or before the time recorded for its key (or
for ``"*"``: every user issued before then) and closes its connections when the account JWT
with the revocation arrives; removing the entry lets the same creds back in. An export's
``revocations`` map does the same for activation tokens, keyed by the importing account.
Every change re-signs the account JWT in the store; ``natsops auth push`` sends it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from natsops.auth.nkey import is_public_key
from natsops.auth.ops import Change, _update_account
from natsops.auth.store import Store
from natsops.errors import NotFound, UsageError

__all__ = ["Revocation", "Target", "add_revocation", "list_revocations", "parse_time",
           "remove_revocation"]

ALL = "*"


@dataclass(frozen=True)
class Revocation:
    """One entry: a user key (or ``*``) revoked in an account, or an importer of an export."""

    account: str
    kind: str  # user | activation
    key: str
    name: str | None  # the user's or importing account's name in the store
    at: int
    export: str | None = None


@dataclass(frozen=True)
class Target:
    """What to revoke: ``user`` (name, U-key or ``*``), or ``export`` + ``importer``."""

    user: str | None = None
    export: str | None = None
    importer: str | None = None  # account name, A-key or ``*``

    def __post_init__(self) -> None:
        if bool(self.user) == bool(self.export):
            raise UsageError("give the user (--name), or --export with --importer")
        if self.export and not self.importer:
            raise UsageError("--export needs --importer ACCOUNT (or '*' for every importer)")


def parse_time(text: str | None, now: float | None = None) -> int:
    """``now`` (default), unix seconds, or an ISO 8601 date/time (UTC unless it says)."""
    t = int(time.time() if now is None else now)
    if text is None or text.strip().lower() in ("", "now", "0"):
        return t
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"invalid --at {text!r}: use now, unix seconds or "
                         "2026-01-31T12:00:00Z") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp())


def list_revocations(store: Store, op: str, account: str | None = None) -> list[Revocation]:
    """Every revocation of ``account`` (all accounts when None), with the names the store knows."""
    accounts = store.accounts(op)
    acc_names = {a.public_key: a.name for a in accounts}
    out = []
    for acc in accounts:
        if account and acc.name != account:
            continue
        users = {u.public_key: u.name for u in store.users(op, acc.name)}
        for key, at in sorted((acc.nats.get("revocations") or {}).items()):
            out.append(Revocation(acc.name, "user", key, users.get(key), int(at)))
        for exp in acc.nats.get("exports") or []:
            for key, at in sorted((exp.get("revocations") or {}).items()):
                out.append(Revocation(acc.name, "activation", key, acc_names.get(key), int(at),
                                      str(exp.get("subject"))))
    if account and account not in acc_names.values():
        raise NotFound(f"account '{account}' not found under operator {op}")
    return out


def _user_key(store: Store, op: str, account: str, ref: str) -> tuple[str, int]:
    """(key, its user's iat or 0) of a user name, a U-key or ``*``."""
    if ref == ALL:
        return ALL, 0
    if is_public_key(ref, "user"):
        return ref, 0
    user = store.user(op, account, ref)
    return user.public_key, user.token.iat


def _importer_key(store: Store, op: str, ref: str) -> str:
    if ref == ALL or is_public_key(ref, "account"):
        return ref
    return store.account(op, ref).public_key


def _export_of(nats: dict[str, Any], subject: str, account: str) -> dict[str, Any]:
    for exp in nats.get("exports") or []:
        if exp.get("subject") == subject:
            return exp  # type: ignore[no-any-return]
    raise NotFound(f"account {account} does not export {subject}")


def add_revocation(store: Store, op: str, account: str, target: Target, *,
                   at: int | None = None, dry_run: bool = False) -> Change:
    """Revoke a user (or every user with ``*``) or an importer's activations as of ``at``.

    ``at`` defaults to now, and to at least the user's ``iat`` (a JWT issued this second is
    revoked too).
    """
    if target.user:
        key, iat = _user_key(store, op, account, target.user)
        when = max(at if at is not None else int(time.time()), iat)
        what = "every user issued until then" if key == ALL else f"user {target.user} ({key})"
    else:
        key = _importer_key(store, op, str(target.importer))
        when = at if at is not None else int(time.time())
        what = f"activations of {target.importer} for export {target.export}"

    def mutate(nats: dict[str, Any]) -> None:
        holder = nats if target.user else _export_of(nats, str(target.export), account)
        revs = dict(holder.get("revocations") or {})
        revs[key] = when
        holder["revocations"] = revs

    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(when))
    return _update_account(store, op, account, mutate, dry_run,
                           notes=(f"revoked {what} as of {stamp}",))


def remove_revocation(store: Store, op: str, account: str, target: Target, *,
                      dry_run: bool = False) -> Change:
    """Take a revocation out: the same creds work again once the account is pushed."""
    if target.user:
        key, _ = _user_key(store, op, account, target.user)
    else:
        key = _importer_key(store, op, str(target.importer))

    def mutate(nats: dict[str, Any]) -> None:
        holder = nats if target.user else _export_of(nats, str(target.export), account)
        revs = dict(holder.get("revocations") or {})
        if key not in revs:
            raise NotFound(f"account {account} has no revocation for {key}")
        del revs[key]
        if revs:
            holder["revocations"] = revs
        else:
            holder.pop("revocations", None)

    return _update_account(store, op, account, mutate, dry_run,
                           notes=(f"revocation of {key} removed",))
