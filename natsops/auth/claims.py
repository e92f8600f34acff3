"""Claim builders for operator, account, user and activation JWTs, with nsc's defaults.

Field names are the server's (``mem_storage``, ``disk_storage``, ``consumer``…): the published
Python JWT library writes ``memory_storage``, which the server silently ignores.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any

from natsops.errors import UsageError
from natsops.units import parse_size
from natsops.validate import count, subject, subjects

__all__ = [
    "JS_LIMIT_KEYS",
    "NO_LIMITS",
    "NO_PERMISSIONS",
    "AccountLimits",
    "Permissions",
    "account_claims",
    "activation_claims",
    "apply_limits",
    "apply_permissions",
    "operator_claims",
    "parse_limits",
    "sys_exports",
    "user_claims",
]

# account limit fields: natsops option name -> server claim name
_LIMIT_FIELDS = {
    "conn": "conn", "leaf": "leaf", "subs": "subs", "data": "data", "payload": "payload",
    "imports": "imports", "exports": "exports",
    "js_mem": "mem_storage", "js_disk": "disk_storage", "js_streams": "streams",
    "js_consumers": "consumer", "js_max_ack_pending": "max_ack_pending",
    "js_mem_max_stream_bytes": "mem_max_stream_bytes",
    "js_disk_max_stream_bytes": "disk_max_stream_bytes",
}  # fmt: skip
JS_LIMIT_KEYS = ("mem_storage", "disk_storage", "streams", "consumer", "max_ack_pending",
                 "mem_max_stream_bytes", "disk_max_stream_bytes", "max_bytes_required")


def operator_claims(name: str, public_key: str, iat: int, *, signing_keys: Sequence[str] = (),
                    account_server_url: str | None = None, service_urls: Sequence[str] = (),
                    system_account: str | None = None, strict: bool = False) -> dict[str, Any]:
    """Self-signed operator claims (``iss == sub``)."""
    nats: dict[str, Any] = {"type": "operator", "version": 2}
    if signing_keys:
        nats["signing_keys"] = list(signing_keys)
    if account_server_url:
        nats["account_server_url"] = account_server_url
    if service_urls:
        nats["operator_service_urls"] = list(service_urls)
    if system_account:
        nats["system_account"] = system_account
    if strict:
        nats["strict_signing_key_usage"] = True
    return {"iat": iat, "name": name, "sub": public_key, "nats": nats}


def account_claims(name: str, public_key: str, iat: int, *,
                   signing_keys: Sequence[str] = ()) -> dict[str, Any]:
    """Account claims with ``nsc add account`` defaults: NATS limits -1, JetStream off."""
    nats: dict[str, Any] = {
        "limits": {"subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
                   "wildcards": True, "conn": -1, "leaf": -1},
        "default_permissions": {"pub": {}, "sub": {}},
        "type": "account",
        "version": 2,
    }
    if signing_keys:
        nats["signing_keys"] = list(signing_keys)
    return {"iat": iat, "name": name, "sub": public_key, "nats": nats}


def sys_exports() -> list[dict[str, Any]]:
    """The two exports ``nsc add operator --sys`` gives the system account."""
    return [
        {"name": "account-monitoring-services", "subject": "$SYS.REQ.ACCOUNT.*.*",
         "type": "service", "response_type": "Stream", "account_token_position": 4,
         "description": "Request account specific monitoring services for: SUBSZ, CONNZ, "
                        "LEAFZ, JSZ and INFO"},
        {"name": "account-monitoring-streams", "subject": "$SYS.ACCOUNT.*.>",
         "type": "stream", "account_token_position": 3,
         "description": "Account specific monitoring stream"},
    ]


@dataclass(frozen=True)
class AccountLimits:
    """Account limits to set; ``None`` leaves a limit as it is, -1 means unlimited."""

    conn: int | None = None
    leaf: int | None = None
    subs: int | None = None
    data: int | None = None
    payload: int | None = None
    imports: int | None = None
    exports: int | None = None
    js_mem: int | None = None
    js_disk: int | None = None
    js_streams: int | None = None
    js_consumers: int | None = None
    js_max_ack_pending: int | None = None
    js_mem_max_stream_bytes: int | None = None
    js_disk_max_stream_bytes: int | None = None

    def given(self) -> dict[str, int]:
        """The limits set here, by server claim name."""
        return {_LIMIT_FIELDS[f.name]: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) is not None}


# limits given as byte sizes (``1MB``, ``-1``), and the option that names them in errors
_SIZE_LIMITS = {"payload": "--max-payload", "data": "--max-data", "js_mem": "--js-mem",
                "js_disk": "--js-disk", "js_mem_max_stream_bytes": "--js-max-mem-stream",
                "js_disk_max_stream_bytes": "--js-max-disk-stream"}

# limits given as counts, and their options
_COUNT_LIMITS = {"conn": "--max-conns", "subs": "--max-subs", "leaf": "--max-leafnodes",
                 "imports": "--max-imports", "exports": "--max-exports",
                 "js_streams": "--js-streams", "js_consumers": "--js-consumers",
                 "js_max_ack_pending": "--js-max-ack-pending"}


def parse_limits(**given: str | int | None) -> AccountLimits:
    """Account limits from user input, by field name; sizes may be ``1MB``, negative: unlimited.

    ``None`` leaves a limit unset (as it is).
    """
    values: dict[str, int | None] = {}
    for name, value in given.items():
        if value is not None and name in _SIZE_LIMITS:
            values[name] = parse_size(value, what=_SIZE_LIMITS[name])
        elif value is not None:  # counts: -1 is unlimited, less is a typo the server rejects
            values[name] = count(int(value), _COUNT_LIMITS.get(name, name), minimum=-1)
        else:
            values[name] = None
    return AccountLimits(**values)


def apply_limits(nats: dict[str, Any], limits: AccountLimits, *, js: bool | None = None) -> None:
    """Set limits in an account's ``nats`` object; ``js`` True/False enables/disables JetStream.

    JetStream is enabled iff ``mem_storage`` or ``disk_storage`` is non-zero; enabling without
    sizes gives -1 (bounded only by the server), as nsc does.
    """
    lim = nats.setdefault("limits", {})
    if js is False:
        for key in JS_LIMIT_KEYS:
            lim.pop(key, None)
    if js is True and not (lim.get("mem_storage") or lim.get("disk_storage")):
        lim.update({"mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1})
    for key, value in limits.given().items():
        if key in JS_LIMIT_KEYS and value == 0:
            lim.pop(key, None)
        else:
            lim[key] = value


@dataclass(frozen=True)
class Permissions:
    """Subjects to add to (or, with ``remove``, take out of) publish/subscribe permissions."""

    allow_pub: tuple[str, ...] = ()
    deny_pub: tuple[str, ...] = ()
    allow_sub: tuple[str, ...] = ()
    deny_sub: tuple[str, ...] = ()
    allow_resp: int | None = None  # max responses a user may publish to reply subjects

    def __post_init__(self) -> None:
        # checked before any JWT is signed: the server would ignore or refuse these subjects
        subjects(self.allow_pub, "--allow-pub")
        subjects(self.deny_pub, "--deny-pub")
        for flag, items in (("--allow-sub", self.allow_sub), ("--deny-sub", self.deny_sub)):
            for item in items:
                _sub_permission(item, flag)
        if self.allow_resp is not None:
            count(self.allow_resp, "--allow-pub-response", minimum=0)

    def empty(self) -> bool:
        return not (self.allow_pub or self.deny_pub or self.allow_sub or self.deny_sub
                    or self.allow_resp)


def _sub_permission(item: str, flag: str) -> None:
    """A subscribe permission is a subject, optionally followed by one space and a queue."""
    subject_part, _, queue = item.partition(" ")
    subject(subject_part, flag)
    if " " in item and (not queue or any(c.isspace() for c in queue)):
        raise UsageError(f"invalid subject {item!r} in {flag}: a subscribe permission is "
                         "'SUBJECT' or 'SUBJECT QUEUE'")


def _merge(target: dict[str, Any], key: str, subjects: Iterable[str], remove: bool) -> None:
    current = list(target.get(key) or [])
    for s in subjects:
        if remove and s in current:
            current.remove(s)
        elif not remove and s not in current:
            current.append(s)
    if current:
        target[key] = current
    else:
        target.pop(key, None)


def apply_permissions(perms_holder: dict[str, Any], perms: Permissions, *,
                      remove: bool = False) -> None:
    """Merge subjects into ``pub``/``sub`` of a user's ``nats`` or ``default_permissions``."""
    pub = perms_holder.setdefault("pub", {})
    sub = perms_holder.setdefault("sub", {})
    _merge(pub, "allow", perms.allow_pub, remove)
    _merge(pub, "deny", perms.deny_pub, remove)
    _merge(sub, "allow", perms.allow_sub, remove)
    _merge(sub, "deny", perms.deny_sub, remove)
    if perms.allow_resp is not None:
        if remove or perms.allow_resp == 0:
            perms_holder.pop("resp", None)
        else:
            perms_holder["resp"] = {"max": perms.allow_resp, "ttl": 0}


def user_claims(name: str, public_key: str, iat: int, *, issuer_account: str | None = None,
                permissions: Permissions | None = None, bearer: bool = False,
                expires: int | None = None, tags: Sequence[str] = ()) -> dict[str, Any]:
    """User claims with ``nsc add user`` defaults (no permissions: everything allowed)."""
    nats: dict[str, Any] = {"pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1}
    apply_permissions(nats, permissions or Permissions())
    if bearer:
        nats["bearer_token"] = True
    if issuer_account:
        nats["issuer_account"] = issuer_account
    if tags:
        nats["tags"] = [t.lower() for t in tags]
    nats.update({"type": "user", "version": 2})
    claims: dict[str, Any] = {"iat": iat, "name": name, "sub": public_key, "nats": nats}
    if expires:
        claims["exp"] = expires
    return claims


def activation_claims(subject: str, kind: str, target_account: str, iat: int, *,
                      issuer_account: str | None = None,
                      expires: int | None = None) -> dict[str, Any]:
    """An activation token letting ``target_account`` import a private export."""
    nats: dict[str, Any] = {"subject": subject, "kind": kind}
    if issuer_account:
        nats["issuer_account"] = issuer_account
    nats.update({"type": "activation", "version": 2})
    claims: dict[str, Any] = {"iat": iat, "name": subject, "sub": target_account, "nats": nats}
    if expires:
        claims["exp"] = expires
    return claims


NO_LIMITS = AccountLimits()
NO_PERMISSIONS = Permissions()
