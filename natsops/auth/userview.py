"""A user's claims as labelled lines a person reads (``auth user info``); public data only.

Covers what ``nsc describe user`` shows: the user and account keys, who issued it (account
identity key, signing key or role), publish/subscribe allow/deny, response permission,
limits, source networks, time windows, connection types, tags, bearer, issue and expiry
times, revocation. The JWT itself and the seed are never part of it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from natsops.auth.edit import scoped_key
from natsops.auth.store import Store
from natsops.units import format_bytes, format_duration

__all__ = ["effective_view", "user_view"]


def _when(ts: int, now: int) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))
    delta = ts - now
    rel = f"in {format_duration(delta)}" if delta > 0 else f"{format_duration(-delta)} ago"
    return f"{stamp} ({rel})"


def _list(values: Sequence[Any] | str | None, empty: str) -> str:
    if isinstance(values, str):
        values = [v.strip() for v in values.split(",") if v.strip()]
    return ", ".join(str(v) for v in values or ()) or empty


def _limit(value: Any, size: bool) -> str:
    if value is None or int(value) < 0:
        return "unlimited"
    return format_bytes(int(value)) if size else str(value)


def _issuer(store: Store, op: str, account: str, issuer: str) -> str:
    acc = store.account(op, account)
    if issuer == acc.public_key:
        return f"{issuer} (account {account} identity key)"
    role = scoped_key(acc, issuer)
    if role is not None:
        return f"{issuer} (role {role.get('role') or '?'}: permissions and limits come " \
               "from its template)"
    if issuer in acc.signing_keys:
        return f"{issuer} (signing key of account {account})"
    return f"{issuer} (not a key of account {account}: the servers refuse this user)"


def _permissions(nats: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for direction in ("pub", "sub"):
        perm = nats.get(direction) or {}
        label = "publish" if direction == "pub" else "subscribe"
        rows.append((f"{label} allow", _list(perm.get("allow"), "everything")))
        rows.append((f"{label} deny", _list(perm.get("deny"), "-")))
    resp = nats.get("resp")
    if resp:
        ttl = int(resp.get("ttl") or 0) / 1e9
        rows.append(("response", f"max {resp.get('max')} message(s) per request"
                     + (f", within {format_duration(ttl)}" if ttl else ", no time limit")))
    else:
        rows.append(("response", "-"))
    return rows


def _times(nats: Mapping[str, Any]) -> str:
    windows = [f"{t.get('start')}-{t.get('end')}" for t in nats.get("times") or ()]
    if not windows:
        return "any time"
    return ", ".join(windows) + f" ({nats.get('times_location') or 'server local time'})"


def user_view(store: Store, op: str, account: str, name: str,
              now: int | None = None) -> list[tuple[str, str]]:
    """(label, value) lines for one user of the store, in nsc's order."""
    from natsops.auth.inventory import describe

    now = int(time.time()) if now is None else now
    item = describe(store, op, "user", name, account)
    claims = item.claims
    nats: Mapping[str, Any] = claims.get("nats") or {}
    acc_key = store.account(op, account).public_key
    rows = [("user", name), ("public key", item.public_key),
            ("account", f"{account} ({acc_key})"),
            ("issuer", _issuer(store, op, account, item.issuer))]
    rows += _permissions(nats)
    rows += [("max subscriptions", _limit(nats.get("subs"), False)),
             ("max data", _limit(nats.get("data"), True)),
             ("max payload", _limit(nats.get("payload"), True)),
             ("source networks", _list(nats.get("src"), "any")),
             ("time windows", _times(nats)),
             ("connection types", _list(nats.get("allowed_connection_types"), "any")),
             ("bearer token", "yes (no nonce signature: the JWT alone logs in)"
              if nats.get("bearer_token") else "no"),
             ("tags", _list(nats.get("tags"), "-")),
             ("issued", _when(item.iat, now)),
             ("expires", _when(item.expires, now) if item.expires else "never"),
             ("revoked", "yes (in the account JWT)" if item.revoked else "no"),
             ("JWT id", item.jti)]
    creds = store.creds_path(op, account, name)
    rows.append(("creds file", str(creds) if creds.is_file() else "- (not in the store)"))
    return rows


def effective_view(info: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, value) lines of a ``$SYS.REQ.USER.INFO`` answer: the permissions the server
    resolved for the user (a role's template included)."""
    perms: Mapping[str, Any] = info.get("permissions") or {}
    rows = [("account", str(info.get("account") or "-"))]
    for direction in ("publish", "subscribe"):
        perm = perms.get(direction) or {}
        rows.append((f"{direction} allow", _list(perm.get("allow"), "everything")))
        rows.append((f"{direction} deny", _list(perm.get("deny"), "-")))
    resp = perms.get("responses")
    rows.append(("responses", f"max {resp.get('max')}" if resp else "-"))
    return rows
