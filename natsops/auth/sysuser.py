"""The system-account user that push, pull, verify and ``account rm --from-servers`` use.

The one from the settings (``--creds`` …) or a short-lived one minted in memory from the store
(2 minutes, only ``$SYS.REQ.*`` publish rights), so no system creds file is needed.
Credentials count only when given on purpose (flags, env, an explicitly chosen context): the
natscli context that is merely selected usually holds an application user, so its credentials
are dropped (its URL is kept) and :func:`system_settings` mints a system user instead.
"""

from __future__ import annotations

import time
from pathlib import Path

from natsops.auth import jwt as jwtmod
from natsops.auth.claims import Permissions, user_claims
from natsops.auth.creds import parse_creds
from natsops.auth.nkey import generate
from natsops.auth.ops import account_signer
from natsops.auth.store import Entity, Store
from natsops.context import Secret, Settings
from natsops.files import read_text

__all__ = ["AUTH_FIELDS", "PUSH_USER_TTL", "mint_system_user", "mint_user", "push_settings",
           "system_settings", "target_servers"]

# every Settings field that carries credentials
AUTH_FIELDS = ("creds", "user", "password", "token", "nkey", "user_jwt", "user_seed")
# the fields that make a connection log in as someone (a password alone does not)
_AUTH_KEYS = ("creds", "user", "nkey", "user_jwt", "token")
PUSH_USER_TTL = 120  # seconds a minted system user lives


def push_settings(settings: Settings, *, explicit_context: bool,
                  sys_creds: str | Path | None = None) -> Settings:
    """``settings`` with the credentials a system-account connection should use.

    Args:
        explicit_context: a context was chosen on purpose (``--context``, ``NATS_CONTEXT``);
            its credentials are then kept.
        sys_creds: a system user's creds file; it replaces every other credential.

    A creds file that cannot be read or is malformed is a :class:`UsageError` here, before
    any connection is tried.
    """
    from_selected = [k for k in AUTH_FIELDS
                     if str(settings.sources.get(k, "")).startswith("context:")]
    if from_selected and not explicit_context:
        settings = settings.with_(**dict.fromkeys(AUTH_FIELDS))
    if sys_creds is not None:
        settings = settings.with_(creds=str(sys_creds), user=None, token=None, nkey=None,
                                  user_jwt=None)
    if settings.creds:
        text = read_text(settings.creds, what="creds file")
        parse_creds(text, source=settings.creds)  # malformed creds: one clear line
    return settings


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


def system_settings(store: Store, op: str, settings: Settings) -> Settings:
    """Settings that connect as a system user: the given credentials or a minted user."""
    servers = target_servers(store, op, settings)
    if _has_auth(settings):
        return settings.with_(servers=servers)
    jwt, seed = mint_system_user(store, op)
    return settings.with_(servers=servers, user_jwt=Secret(jwt), user_seed=seed)
