"""What the servers hold for a user: its live connections and the permissions they get.

A user JWT is not stored by the servers (only account JWTs are): a server knows a user through
its connections. Two views, both read-only:

* **connections**: ``$SYS.REQ.SERVER.PING.CONNZ`` (``auth: true``, filtered by the user's
  public key) over a system-account connection: every server's live connections of the user,
  with the ``iat`` of the JWT each one connected with, so connections still on an older JWT
  than the store's show up (the server evaluates a user JWT only when a client connects).
* **effective permissions**: a short connection *as the user* (its JWT and seed from the store,
  in memory) asking ``$SYS.REQ.USER.INFO``: the permissions the server resolved for it,
  including a role's template. A user whose permissions do not allow publishing to
  ``$SYS.REQ.USER.INFO`` gets no answer; that is reported, not raised.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from natsops.access import system_connection
from natsops.auth import jwt as jwtmod
from natsops.auth.store import Store
from natsops.auth.sysuser import SysAccess, auth_access, target_servers
from natsops.context import Secret, Settings
from natsops.errors import AuthError, NatsopsError

__all__ = ["LiveConnection", "UserLive", "user_live"]

USER_INFO = "$SYS.REQ.USER.INFO"


@dataclass(frozen=True)
class LiveConnection:
    """One live connection of the user on one server."""

    server: str
    cid: int
    name: str
    ip: str
    iat: int | None  # of the JWT it connected with
    current: bool  # that JWT is the one in the store


@dataclass(frozen=True)
class UserLive:
    """What the servers hold for one user."""

    account: str
    user: str
    public_key: str
    store_iat: int
    connections: tuple[LiveConnection, ...] = ()
    servers_asked: int = 0
    permissions: Mapping[str, Any] | None = None  # $SYS.REQ.USER.INFO data, None: no answer
    permissions_note: str | None = None
    notes: tuple[str, ...] = field(default=())


def _connections(replies: tuple[Mapping[str, Any], ...], key: str,
                 store_iat: int) -> list[LiveConnection]:
    out = []
    for rep in replies:
        server = str((rep.get("server") or {}).get("name", "?"))
        for c in (rep.get("data") or {}).get("connections") or []:
            if c.get("authorized_user") != key:
                continue
            iat = None
            if c.get("jwt"):
                try:
                    iat = jwtmod.decode(str(c["jwt"])).iat
                except NatsopsError:
                    iat = None
            out.append(LiveConnection(server, int(c.get("cid", 0)), str(c.get("name") or ""),
                                      str(c.get("ip") or ""), iat, iat == store_iat))
    return out


async def _effective(settings: Settings,
                     timeout: float) -> tuple[Mapping[str, Any] | None, str | None]:
    from natsops.connection import connect

    try:
        async with connect(settings) as conn:
            msg = await conn.nc.request(USER_INFO, b"", timeout=timeout)
    except AuthError as exc:
        if "permission" in exc.message:
            return None, (f"the user may not publish to {USER_INFO}: its effective permissions "
                          "cannot be asked (the store's claims above are what it presents)")
        return None, f"connecting as the user failed: {exc}"
    except NatsopsError as exc:
        return None, f"connecting as the user failed: {exc}"
    except Exception as exc:  # nats-py's timeout / no responders
        return None, (f"no answer to {USER_INFO} ({type(exc).__name__}): the user may not be "
                      "allowed to publish to it")
    try:
        doc = json.loads(msg.data)
    except ValueError:
        return None, f"unreadable answer to {USER_INFO}"
    data = doc.get("data") if isinstance(doc, dict) else None
    return (data if isinstance(data, dict) else None), (None if data else str(doc.get("error")))


async def user_live(store: Store, op: str, account: str, name: str, settings: SysAccess, *,
                    timeout: float = 2.0, connect_as_user: bool = True) -> UserLive:
    """The user's live connections on every server, and (``connect_as_user``) its effective
    permissions as the server resolves them."""
    from natsops.monitoring.sys import sys_ping

    acc = store.account(op, account)
    user = store.user(op, account, name)
    access = auth_access(store, op, settings)
    async with system_connection(access, "natsops auth user info") as (conn, _login):
        res = await sys_ping(conn.nc, "CONNZ", {"user": user.public_key, "acc": acc.public_key,
                                                "auth": True, "limit": 1024},
                             timeout=timeout)
    conns = _connections(res.replies, user.public_key, user.token.iat)
    perms, note = None, None
    if connect_as_user:
        kp = store.load_key(user.public_key, "user")
        base = access.base or Settings()
        as_user = base.with_(creds=None, user=None, password=None, token=None, nkey=None,
                             user_jwt=Secret(user.token.token), user_seed=kp.seed,
                             servers=target_servers(store, op, base),
                             connection_name="natsops auth user info --live")
        perms, note = await _effective(as_user, timeout)
    stale = [c for c in conns if not c.current]
    notes = ((f"{len(stale)} connection(s) hold an older JWT: they keep its claims until they "
              "reconnect (or edit --revoke-previous and push the account)",) if stale else ())
    return UserLive(account, name, user.public_key, user.token.iat, tuple(conns),
                    len(res.replies), perms, note, notes)
