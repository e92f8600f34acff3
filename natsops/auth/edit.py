"""Edit users and accounts in place: keep the key, re-sign, and say exactly what changed.

``edit_user`` keeps the user's nkey: the JWT is re-signed (``iat = max(now, previous + 1)``) and
the creds file is rewritten with the **same seed**, so a client that reads its creds file at
connect time picks the new claims up at its next connect. The server only evaluates a user JWT
when a client connects: a live connection keeps the claims it connected with. To move live
connections over, ``revoke_previous`` records a revocation of the user's older JWTs in its
account (the new JWT is issued after it): once the account is pushed, the server closes
connections holding an older JWT and refuses old copies of the creds file.

``account_extras`` adds to ``natsops.auth.ops.edit_account`` what nsc also sets: imports/exports
limits, wildcard exports, disallow-bearer, description, ``max_bytes_required`` and **tiered**
JetStream limits (``limits.tiered_limits.R1``/``R3``…, which exclude the flat JetStream limits).

Every edit returns an :class:`Edited`: the change and the claim diff (dotted paths).
"""

from __future__ import annotations

import copy
import ipaddress
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from natsops.auth import jwt as jwtmod
from natsops.auth import ops
from natsops.auth.claims import (
    JS_LIMIT_KEYS,
    NO_PERMISSIONS,
    AccountLimits,
    Permissions,
    apply_permissions,
)
from natsops.auth.creds import format_creds
from natsops.auth.nkey import KeyPair
from natsops.auth.ops import Change, account_signer
from natsops.auth.store import Entity, Store
from natsops.errors import UsageError
from natsops.validate import count

__all__ = [
    "CONNECTION_TYPES",
    "AccountExtras",
    "ClaimDiff",
    "Edited",
    "UserEdit",
    "account_extras",
    "apply_user_edit",
    "claim_diff",
    "edit_user",
    "resign_user",
    "scoped_key",
    "tier_name",
]

CONNECTION_TYPES = ("STANDARD", "WEBSOCKET", "LEAFNODE", "LEAFNODE_WS", "MQTT", "MQTT_WS",
                    "IN_PROCESS")
_TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d:[0-5]\d$")


@dataclass(frozen=True)
class ClaimDiff:
    """One changed claim: its dotted path, the value before and after (None: absent)."""

    path: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Edited:
    """An edit: the change (as the other store operations report it) and its claim diff."""

    change: Change
    diff: tuple[ClaimDiff, ...]


def _flatten(obj: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(obj, Mapping) and obj:
        for k, v in obj.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    else:
        out[prefix] = obj


def claim_diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[ClaimDiff, ...]:
    """What differs between two claim sets (``iat``/``jti``/``iss`` left out); lists compare
    whole, an empty object counts as absent."""
    a: dict[str, Any] = {}
    b: dict[str, Any] = {}
    skip = ("iat", "jti", "iss")
    _flatten({k: v for k, v in before.items() if k not in skip}, "", a)
    _flatten({k: v for k, v in after.items() if k not in skip}, "", b)
    out = []
    for path in sorted(set(a) | set(b)):
        old, new = a.get(path), b.get(path)
        if _blank(old) and _blank(new):
            continue
        if old != new:
            out.append(ClaimDiff(path, None if _blank(old) else old, None if _blank(new) else new))
    return tuple(out)


def _blank(v: Any) -> bool:
    return v is None or v == {} or v == []


# ---- users -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class UserEdit:
    """What to change in a user; ``None``/empty leaves a claim as it is.

    ``permissions`` adds subjects, ``remove`` takes them out (``allow_resp`` in ``remove``
    drops the response permission). Limits: -1 unlimited. ``expires``: a Unix time, 0 removes
    the expiry. ``response_ttl``: seconds.
    """

    permissions: Permissions = NO_PERMISSIONS
    remove: Permissions = NO_PERMISSIONS
    response_max: int | None = None
    response_ttl: float | None = None
    remove_response: bool = False
    add_src: tuple[str, ...] = ()
    rm_src: tuple[str, ...] = ()
    add_times: tuple[tuple[str, str], ...] = ()
    rm_times: tuple[str, ...] = ()  # by start time
    time_zone: str | None = None  # "" removes it
    add_conn_types: tuple[str, ...] = ()
    rm_conn_types: tuple[str, ...] = ()
    subs: int | None = None
    data: int | None = None
    payload: int | None = None
    add_tags: tuple[str, ...] = ()
    rm_tags: tuple[str, ...] = ()
    expires: int | None = None
    bearer: bool | None = None
    revoke_previous: bool = False

    def __post_init__(self) -> None:
        for cidr in self.add_src:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise UsageError(f"invalid --source-network {cidr!r}: give a CIDR such as "
                                 "10.0.0.0/8 or an address") from None
        for start, end in self.add_times:
            for t in (start, end):
                if not _TIME_RE.match(t):
                    raise UsageError(f"invalid --time {start}-{end}: use HH:MM:SS-HH:MM:SS")
        if self.time_zone:
            try:
                ZoneInfo(self.time_zone)
            except (ZoneInfoNotFoundError, ValueError):
                raise UsageError(f"unknown --time-zone {self.time_zone!r}: give an IANA name "
                                 "such as Europe/Berlin") from None
        for ct in (*self.add_conn_types, *self.rm_conn_types):
            if ct.upper() not in CONNECTION_TYPES:
                raise UsageError(f"unknown connection type {ct!r}: one of "
                                 f"{', '.join(CONNECTION_TYPES)}")
        if self.response_max is not None:
            count(self.response_max, "--response-max", minimum=1)
        if self.response_ttl is not None and self.response_ttl < 0:
            raise UsageError("--response-ttl cannot be negative")
        for flag, v in (("--max-subs", self.subs), ("--max-data", self.data),
                        ("--max-payload", self.payload)):
            if v is not None and v < -1:
                raise UsageError(f"{flag} must be -1 (unlimited) or more")

    def permission_fields(self) -> bool:
        """True when this edit touches what a scoped (role) user may not carry."""
        return bool(not self.permissions.empty() or not self.remove.empty()
                    or self.response_max is not None or self.response_ttl is not None
                    or self.remove_response or self.add_src or self.rm_src or self.add_times
                    or self.rm_times or self.time_zone is not None or self.add_conn_types
                    or self.rm_conn_types or self.subs is not None or self.data is not None
                    or self.payload is not None or self.bearer is not None)


def _edit_list(nats: dict[str, Any], key: str, add: tuple[str, ...],
               rm: tuple[str, ...]) -> None:
    current = [str(x) for x in nats.get(key) or []]
    if isinstance(nats.get(key), str):  # the server also reads "a,b" for src
        current = [s.strip() for s in str(nats[key]).split(",") if s.strip()]
    current = [x for x in current if x not in rm] + [x for x in add if x not in current]
    if current:
        nats[key] = current
    else:
        nats.pop(key, None)


def apply_user_edit(nats: dict[str, Any], e: UserEdit) -> None:
    apply_permissions(nats, e.permissions)
    apply_permissions(nats, e.remove, remove=True)
    if e.remove_response:
        nats.pop("resp", None)
    if e.response_max is not None or e.response_ttl is not None:
        resp = dict(nats.get("resp") or {"max": 1, "ttl": 0})
        if e.response_max is not None:
            resp["max"] = e.response_max
        if e.response_ttl is not None:
            resp["ttl"] = int(e.response_ttl * 1e9)
        nats["resp"] = resp
    for key in ("pub", "sub"):
        nats.setdefault(key, {})
    _edit_list(nats, "src", e.add_src, e.rm_src)
    times = [t for t in nats.get("times") or [] if t.get("start") not in e.rm_times]
    times += [{"start": s, "end": t} for s, t in e.add_times
              if {"start": s, "end": t} not in times]
    if times:
        nats["times"] = times
    else:
        nats.pop("times", None)
    if e.time_zone is not None:
        if e.time_zone:
            nats["times_location"] = e.time_zone
        else:
            nats.pop("times_location", None)
    _edit_list(nats, "allowed_connection_types", tuple(c.upper() for c in e.add_conn_types),
               tuple(c.upper() for c in e.rm_conn_types))
    for key in ("subs", "data", "payload"):
        if getattr(e, key) is not None:
            nats[key] = getattr(e, key)
    _edit_list(nats, "tags", tuple(t.lower() for t in e.add_tags),
               tuple(t.lower() for t in e.rm_tags))
    if e.bearer is not None:
        if e.bearer:
            nats["bearer_token"] = True
        else:
            nats.pop("bearer_token", None)


def scoped_key(acc: Entity, key: str) -> Mapping[str, Any] | None:
    """The scoped signing key (role) ``key`` of ``acc``, or None."""
    for sk in acc.nats.get("signing_keys") or []:
        if isinstance(sk, Mapping) and sk.get("key") == key:
            return sk
    return None


def _user_signer(store: Store, acc: Entity, user: Entity,
                 strict: bool) -> tuple[KeyPair, str | None]:
    """The key that signed the user (when the store holds it and the account still lists it),
    else the account's usual signer."""
    iss = user.token.issuer
    if iss == acc.public_key and not strict and store.has_key(iss):
        return store.load_key(iss, "account"), None
    if iss in acc.signing_keys and store.has_key(iss):
        return store.load_key(iss, "account"), acc.public_key
    return account_signer(store, acc, strict)


def revoked_at(acc: Entity, user: Entity) -> int | None:
    """When ``acc`` revoked ``user``'s current JWT (its key's entry, else ``*``), or None.

    Re-signing a revoked user issues a JWT newer than the revocation and so lifts it: every
    path that re-issues users skips or refuses these."""
    revs = acc.nats.get("revocations") or {}
    ts = revs.get(user.public_key, revs.get("*"))
    return int(ts) if ts is not None and int(ts) >= user.token.iat else None


def edit_user(store: Store, op: str, account: str, name: str, edit: UserEdit, *,
              dry_run: bool = False) -> list[Edited]:
    """Re-sign a user with changed claims, same key; rewrite its creds file (0600, same seed).

    With ``revoke_previous`` also returns the account edit that revokes the older JWTs (push
    the account to apply it). UsageError for a revoked user, for permission changes on a user
    issued through a role, for bearer on an account that disallows it.
    """
    acc = store.account(op, account)
    user = store.user(op, account, name)
    if revoked_at(acc, user) is not None:
        raise UsageError(f"user {name} is revoked in account {account}: re-signing it would "
                         "lift the revocation; remove the revocation first")
    role = scoped_key(acc, user.token.issuer)
    if role is not None and edit.permission_fields():
        raise UsageError(f"user {name} was issued through role {role.get('role')!r}: its "
                         "permissions and limits come from the role's template (the server "
                         "refuses a role user that carries its own)",
                         hint="change the role instead: natsops auth account signing-key edit")
    if edit.bearer and (acc.nats.get("limits") or {}).get("disallow_bearer"):
        raise UsageError(f"account {account} disallows bearer tokens")
    now = int(time.time())
    if edit.expires is not None and edit.expires and edit.expires <= now:
        raise UsageError("the expiry is in the past")

    def mutate(claims: dict[str, Any]) -> None:
        apply_user_edit(claims["nats"], edit)
        if edit.expires is not None:
            if edit.expires:
                claims["exp"] = edit.expires
            else:
                claims.pop("exp", None)

    before, new_claims, creds = resign_user(store, op, account, name, mutate, dry_run=dry_run)
    notes = [f"creds: {creds} (same key)"]
    if not edit.revoke_previous:
        notes.append("connections keep the claims they connected with; older copies of the "
                     "creds file stay valid (--revoke-previous closes them once the account "
                     "is pushed)")
    out = [Edited(Change("update", "user", name, user.public_key, user.path, new_claims, dry_run,
                         tuple(notes)), claim_diff(before, new_claims))]
    if edit.revoke_previous:
        out.append(_revoke_older(store, op, account, user.public_key, int(new_claims["iat"]),
                                 dry_run))
    return out


def resign_user(store: Store, op: str, account: str, name: str,
                mutate: Callable[[dict[str, Any]], None], *,
                dry_run: bool = False) -> tuple[dict[str, Any], dict[str, Any], Path]:
    """Re-sign a user after ``mutate(claims)``, same key; rewrite its creds file (same seed).

    Returns the claims before and after, and the creds path. A user issued through a role is
    re-signed by the role's key and keeps no empty permission objects.
    """
    acc = store.account(op, account)
    user = store.user(op, account, name)
    before = dict(user.token.claims)
    claims = copy.deepcopy(before)
    mutate(claims)
    nats = claims["nats"]
    if scoped_key(acc, user.token.issuer) is not None:
        for key in ("pub", "sub"):
            if not nats.get(key):
                nats.pop(key, None)
    strict = bool(store.operator(op).nats.get("strict_signing_key_usage"))
    signer, issuer_account = _user_signer(store, acc, user, strict)
    if issuer_account:
        nats["issuer_account"] = issuer_account
    else:
        nats.pop("issuer_account", None)
    claims["iat"] = jwtmod.next_iat(user.token.iat)
    token = jwtmod.encode(claims, signer)
    creds = store.creds_path(op, account, name)
    if not dry_run:
        kp = store.load_key(user.public_key, "user")  # the same seed: the key does not change
        store.write_jwt(user.path, token)
        store.write_text_private(creds, format_creds(token, kp.seed))
    return before, dict(jwtmod.decode(token).claims), creds


def _revoke_older(store: Store, op: str, account: str, user_key: str, new_iat: int,
                  dry_run: bool) -> Edited:
    before = dict(store.account(op, account).token.claims)

    def mutate(nats: dict[str, Any]) -> None:
        revs = dict(nats.get("revocations") or {})
        # the server refuses a user JWT whose iat <= the recorded time: every older JWT
        revs[user_key] = new_iat - 1
        nats["revocations"] = revs

    ch = ops._update_account(store, op, account, mutate, dry_run,
                             notes=(f"older JWTs of {user_key} revoked",))
    return Edited(ch, claim_diff(before, ch.claims))


# ---- accounts --------------------------------------------------------------------------------
def tier_name(text: str) -> str:
    """``3``/``r3``/``R3`` -> ``R3`` (a JetStream tier is a replica count)."""
    t = text.strip().upper()
    t = t[1:] if t.startswith("R") else t
    if not t.isdigit() or not 1 <= int(t) <= 5:
        raise UsageError(f"invalid JetStream tier {text!r}: give a replica count R1..R5")
    return f"R{int(t)}"


@dataclass(frozen=True)
class AccountExtras:
    """Account claims ``ops.edit_account`` does not set; None leaves a claim as it is.

    With ``tier`` (``R1``, ``R3``…), the JetStream limits given to ``edit_account`` go to that
    tier instead of the flat limits (the caller passes them here as ``tier_limits``).
    """

    wildcards: bool | None = None
    disallow_bearer: bool | None = None
    description: str | None = None  # "" removes it
    info_url: str | None = None
    max_bytes_required: bool | None = None
    tier: str | None = None
    tier_limits: Mapping[str, int] = field(default_factory=dict)
    rm_tiers: tuple[str, ...] = ()

    def __call__(self, nats: dict[str, Any]) -> None:
        """Apply to an account's ``nats`` object."""
        lim = nats.setdefault("limits", {})
        for key, value in (("wildcards", self.wildcards),
                           ("disallow_bearer", self.disallow_bearer)):
            if value is not None:
                lim[key] = value
        if self.disallow_bearer is False:
            lim.pop("disallow_bearer", None)
        for key, text in (("description", self.description), ("info_url", self.info_url)):
            if text is not None:
                if text:
                    nats[key] = text
                else:
                    nats.pop(key, None)
        if self.max_bytes_required is not None and not self.tier:
            _set_js(lim, "max_bytes_required", self.max_bytes_required)
        tiers = dict(lim.get("tiered_limits") or {})
        for t in self.rm_tiers:
            tiers.pop(tier_name(t), None)
        if self.tier:
            name = tier_name(self.tier)
            if any(lim.get(k) for k in ("mem_storage", "disk_storage")):
                raise UsageError("the account has flat JetStream limits: tiered limits cannot "
                                 "be combined with them (add --js-disable to drop them)")
            tier = dict(tiers.get(name) or {"mem_storage": 0, "disk_storage": 0,
                                              "streams": -1, "consumer": -1})
            tier.update(self.tier_limits)
            if self.max_bytes_required is not None:
                _set_js(tier, "max_bytes_required", self.max_bytes_required)
            tiers[name] = tier
        if tiers:
            lim["tiered_limits"] = tiers
            for k in JS_LIMIT_KEYS:  # tiers and flat JetStream limits exclude each other
                lim.pop(k, None)
        else:
            lim.pop("tiered_limits", None)


def _set_js(lim: dict[str, Any], key: str, on: bool) -> None:
    if on:
        lim[key] = True
    else:
        lim.pop(key, None)


def split_tier_limits(limits: AccountLimits, tier: str | None) -> tuple[AccountLimits,
                                                                        dict[str, int]]:
    """With a tier, take the JetStream limits out of ``limits`` (they go to the tier)."""
    if not tier:
        return limits, {}
    given = limits.given()
    js = {k: v for k, v in given.items() if k in JS_LIMIT_KEYS}
    return replace(limits, **{f: None for f in vars(limits) if f.startswith("js_")}), js


def account_extras(store: Store, op: str, name: str, *, limits: AccountLimits,
                   jetstream: bool | None, allow: Permissions, remove: Permissions,
                   add_signing_key: bool, extras: AccountExtras,
                   dry_run: bool = False) -> Edited:
    """``ops.edit_account`` plus :class:`AccountExtras`, with the claim diff.

    ``--js-disable`` (``jetstream=False``) without a tier also drops the tiered limits.
    """
    before = dict(store.account(op, name).token.claims)
    flat, tier_limits = split_tier_limits(limits, extras.tier)
    if jetstream is False and any(k in JS_LIMIT_KEYS for k in flat.given()):
        raise UsageError("--js-disable drops the JetStream limits: it cannot go with flat ones "
                         "(--js-mem, --js-disk, --js-streams...); give --js-tier to set a tier")
    tiers = set((before["nats"].get("limits") or {}).get("tiered_limits") or {})
    kept = tiers - {tier_name(t) for t in extras.rm_tiers}
    if kept and jetstream is not False and any(k in JS_LIMIT_KEYS for k in flat.given()):
        raise UsageError(f"account {name} has tiered JetStream limits ({', '.join(sorted(kept))})"
                         ": give --js-tier to set one, or remove them (--rm-js-tier) to use "
                         "flat limits")
    if tier_limits:
        extras = replace(extras, tier_limits=tier_limits)
    if jetstream is False and not extras.tier:
        extras = replace(extras, rm_tiers=(*extras.rm_tiers, *sorted(tiers)))
    if extras.tier and jetstream:
        jetstream = None  # a tier with storage is what enables JetStream
    ch = ops.edit_account(store, op, name, limits=flat, jetstream=jetstream, allow=allow,
                          remove=remove, add_signing_key=add_signing_key, also=extras,
                          dry_run=dry_run)
    return Edited(ch, claim_diff(before, ch.claims))
