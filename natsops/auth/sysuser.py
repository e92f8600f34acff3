"""The system-account user that push, pull, verify and ``account rm --from-servers`` use.

:func:`auth_access` takes the logins :mod:`natsops.access` finds (the credentials given, a
system-account context, the ``-sys`` context beside the one in use, a local cluster's) and adds,
last, a short-lived user minted in memory from the store (2 minutes, only ``$SYS.REQ.*`` publish
rights), so no system creds file is needed. Credentials given explicitly (``--sys-creds``,
``--creds``...) are the only login tried.
"""

from __future__ import annotations

import time

from natsops.access import Login, SystemAccess
from natsops.auth import jwt as jwtmod
from natsops.auth.claims import Permissions, user_claims
from natsops.auth.creds import parse_creds
from natsops.auth.nkey import generate
from natsops.auth.ops import account_signer
from natsops.auth.store import Entity, Store
from natsops.context import AUTH_FIELDS, Secret, Settings
from natsops.files import read_text

__all__ = ["AUTH_FIELDS", "PUSH_USER_TTL", "SysAccess", "auth_access", "mint_system_user",
           "mint_user", "target_servers"]

# the fields that make a connection log in as someone (a password alone does not)
_AUTH_KEYS = ("creds", "user", "nkey", "user_jwt", "token")
PUSH_USER_TTL = 120  # seconds a minted system user lives
# how an auth command logs in: the logins natsops.access found, or Settings used as given
SysAccess = Settings | SystemAccess


def auth_access(store: Store, op: str, settings: SysAccess) -> SystemAccess:
    """The logins an auth command tries, in order; the last is a system user minted from the
    store (unless credentials were given explicitly: then they are the only login).

    ``settings``: what :func:`natsops.access.system_access` found (the CLI), or Settings (a
    library caller: used as given when they hold credentials). A creds file that cannot be read
    or is malformed is a :class:`UsageError` here, before any connection is tried.
    """
    access = SystemAccess.of(settings, final=_has_auth(settings)) \
        if isinstance(settings, Settings) else settings
    if access.final:
        for login in access.logins:
            _check_creds(login.settings)
        return access
    base = access.base or Settings()
    jwt, seed = mint_system_user(store, op)
    minted = base.with_(**{**dict.fromkeys(AUTH_FIELDS), "user_jwt": Secret(jwt),
                           "user_seed": seed, "servers": target_servers(store, op, base)})
    return access.then(Login(f"a system user minted from the store (operator {op})", minted))


def _check_creds(settings: Settings) -> None:
    if not settings.creds or settings.user:
        return
    text = read_text(settings.creds, what="creds file")
    parse_creds(text, source=settings.creds)  # malformed creds: one clear line


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
