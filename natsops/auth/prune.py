"""``auth push --prune``: delete from the servers the accounts the store no longer has.

The plan asks every full or cache resolver which accounts it stores (``$SYS.REQ.CLAIMS.LIST``)
and keeps those the store's operator does not hold (never the system account); the name comes
from the stored JWT (``CLAIMS.LOOKUP``). The deletion is one ``$SYS.REQ.CLAIMS.DELETE`` with a
generic JWT self-signed by an operator key listing them; resolvers accept it only with
``allow_delete: true`` (which ``natsops auth render-config`` writes for full resolvers). The
server renames the file to ``<id>.jwt.deleted`` and disconnects the account's clients.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from natsops.access import system_connection
from natsops.auth.push import ServerReply, delete_keys
from natsops.auth.store import Store
from natsops.auth.sysreq import (
    collect,
    discover,
    envelope,
    lookup,
    no_responders,
)
from natsops.auth.sysuser import SysAccess, auth_access
from natsops.errors import ServerError

__all__ = ["Doomed", "plan_prune", "prune"]


@dataclass(frozen=True)
class Doomed:
    """An account the servers store and the store does not have."""

    public_key: str
    name: str | None
    servers: tuple[str, ...]


async def plan_prune(store: Store, op: str, access: SysAccess, *,
                     timeout: float = 2.0) -> list[Doomed]:
    """The accounts a prune would delete (nothing is changed)."""
    keep = {a.public_key for a in store.accounts(op)}
    sys_key = store.operator(op).nats.get("system_account")
    async with system_connection(auth_access(store, op, access)) as (conn, _):
        servers = await discover(conn.nc, timeout, None)
        msgs = await collect(conn.nc, "$SYS.REQ.CLAIMS.LIST", b"", expected=len(servers),
                             timeout=timeout)
        held: dict[str, list[str]] = {}
        for m in msgs:
            if no_responders(m):
                continue
            doc = envelope(m)
            name = str((doc.get("server") or {}).get("name") or "?")
            for key in doc.get("data") or []:
                held.setdefault(str(key), []).append(name)
        out = []
        for key, where in sorted(held.items()):
            if key in keep or key == sys_key:
                continue
            copies = [t for t in await lookup(conn.nc, key, len(servers), timeout) if t]
            out.append(Doomed(key, copies[0].name if copies else None, tuple(sorted(where))))
    return out


async def prune(store: Store, op: str, access: SysAccess, keys: Sequence[str], *,
                timeout: float = 2.0) -> list[ServerReply]:
    """Delete ``keys`` from every full resolver; ServerError when a server refuses."""
    replies = await delete_keys(store, op, access, keys, timeout=timeout)
    bad = [r for r in replies if r.status != "accepted"]
    if bad:
        raise ServerError(f"{bad[0].server} did not delete the accounts: "
                          f"{bad[0].message or bad[0].status}",
                          hint="a full resolver needs allow_delete: true in its config")
    return replies
