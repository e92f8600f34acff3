"""The JetStream meta group (the cluster-wide Raft group): its leader, step-down, server removal.

Everything here needs a **system-account** connection (``sys_conn``): the meta requests are
answered only for it (from another account the server stays silent).

The leader's view is read with ``$SYS.REQ.SERVER.PING.JSZ {"leader_only": true}``: only the
meta leader answers, with ``meta_cluster`` (leader, peers with current/offline/active/lag).
That request and its ``leader_only`` filter exist on every server from 2.10 to 2.15, where the
``$JS.API`` route is closed to the system account (10039).

A deployment with several JetStream domains (a hub and leaf sites in their own domains, sharing
the system account over their leafnodes) has one meta group per domain. ``domain`` picks one:
the ping carries the ``domain`` filter (other domains' servers stay silent) and the step-down
goes to ``$JS.<domain>.API.META.LEADER.STEPDOWN``, which that domain's servers map to their
``$JS.API`` (checked on 2.15.1 from the hub's system account: the leaf domain's leader moved,
while the plain subject reached only the hub). Without ``domain`` the default domain's leader
is preferred.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from natsops.errors import (
    AuthError,
    Conflict,
    NatsopsError,
    NotFound,
    ServerError,
    Timeout,
    UsageError,
)
from natsops.jetstream._api import api_prefix, request, request_subject
from natsops.jetstream.models import ClusterView, Replica
from natsops.jetstream.streams import StepDown, wait_new_leader

if TYPE_CHECKING:
    from natsops.connection import Conn

__all__ = ["MetaState", "StepDown", "check_domain", "meta_leader", "remove_server_peer",
           "step_down_meta"]


@dataclass(frozen=True)
class MetaState:
    """The meta group as its leader sees it (the leader is the first peer)."""

    leader: str
    cluster: str
    cluster_size: int
    peers: tuple[Replica, ...]
    domain: str = ""  # the JetStream domain of the servers that answered ("": the default)

    @classmethod
    def parse(cls, meta: Mapping[str, Any]) -> MetaState:
        view = ClusterView.parse(meta)
        peers = view.peers if view else ()
        return cls(leader=view.leader if view else "", cluster=str(meta.get("name") or ""),
                   cluster_size=int(meta.get("cluster_size") or len(peers)), peers=peers)

    def peer(self, name: str) -> Replica | None:
        return next((p for p in self.peers if p.name == name), None)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.peers)

    @property
    def healthy(self) -> bool:
        """A leader, and every peer online, current and heard from within 10 s."""
        return bool(self.leader) and all(p.healthy for p in self.peers)


def check_domain(domain: str | None) -> str | None:
    """``domain`` as a JetStream domain name (None or "": the default domain); UsageError for
    one the server would refuse (``.``, ``*``, ``>`` or whitespace)."""
    if not domain:
        return None
    if any(c in domain for c in ".*>") or any(c.isspace() for c in domain):
        raise UsageError(f"invalid JetStream domain {domain!r}: no '.', '*', '>' or spaces")
    return domain


def meta_subject(sys_conn: Conn, rest: str, domain: str | None = None) -> str:
    """The full API subject of a meta request: ``$JS.<domain>.API.<rest>`` for a domain."""
    return f"$JS.{domain}.API.{rest}" if domain else f"{api_prefix(sys_conn)}.{rest}"


async def _jsz_leader(sys_conn: Conn, timeout: float, domain: str | None = None
                      ) -> MetaState | None:
    from natsops.monitoring.sys import sys_ping

    body: dict[str, Any] = {"leader_only": True, **({"domain": domain} if domain else {})}
    res = await sys_ping(sys_conn.nc, "JSZ", body, timeout=timeout, gap=0.1)
    if res.no_responders:
        raise AuthError("no server answered $SYS.REQ.SERVER.PING.JSZ: the connection is not a "
                        "system-account user", hint="use the system account's credentials "
                        "(a sys context, or --dir of a local cluster)")
    states = []
    problem: NatsopsError | None = None  # raised only when no meta group answered at all
    for env in res.replies:
        data = env.get("data") or {}
        meta = data.get("meta_cluster")
        name = str((env.get("server") or {}).get("name") or "")
        own = str((env.get("server") or {}).get("domain") or "")
        if domain and own != domain:
            continue  # a server too old to honour the filter
        if data.get("disabled"):
            problem = ServerError(f"JetStream is not enabled on server {name or '?'}")
        elif isinstance(meta, Mapping) and meta.get("leader"):
            states.append(((own != "", meta.get("leader") != name),
                           replace(MetaState.parse(meta), domain=own)))
        elif data and not meta and not env.get("error") and (domain or not own):
            # a single server has no meta group (one in another domain, e.g. a one-server
            # leaf site, is not the one asked about: while the default domain elects, it
            # would be the only answer)
            problem = UsageError(f"server {name or '?'} runs JetStream without clustering: "
                                 "there is no meta group")
    if not states and problem is not None:
        raise problem
    # the default domain's first, then an answer from the leader itself
    states.sort(key=lambda s: s[0])
    return states[0][1] if states else None


async def meta_leader(sys_conn: Conn, *, timeout: float = 5.0,
                      domain: str | None = None) -> MetaState:
    """The meta leader's view (of ``domain``'s meta group, see the module doc); retried until
    ``timeout`` (an election leaves nobody answering).

    Raises :class:`AuthError` for a non-system connection and :class:`ServerError` when no
    meta leader answered in time (no quorum, or JetStream off everywhere).
    """
    deadline = time.monotonic() + timeout
    while True:
        state = await _jsz_leader(sys_conn, min(1.0, max(0.1, deadline - time.monotonic())),
                                  domain)
        if state is not None:
            return state
        if time.monotonic() >= deadline:
            where = f" in JetStream domain {domain}" if domain else ""
            raise ServerError(f"no JetStream meta leader{where} answered within {timeout:g}s",
                              hint="a majority of the meta peers must be up: "
                              "natsops doctor explains what is wrong")
        await asyncio.sleep(0.1)


async def step_down_meta(sys_conn: Conn, *, preferred: str | None = None,
                         timeout: float = 10.0, domain: str | None = None) -> StepDown:
    """``$JS.API.META.LEADER.STEPDOWN`` (with ``{"placement": {"preferred": ...}}``), then read
    the new leader back until it changes. With ``domain``: that domain's meta group, through
    ``$JS.<domain>.API``; the new leader must be one of that group's peers.

    The server refuses an unknown ``preferred`` and the current leader (10005); a preferred
    peer that is known but unhealthy is silently replaced by another, so check
    ``StepDown.preferred_honoured``. 2.10 ignores ``preferred`` (the field is newer).
    """
    before = await meta_leader(sys_conn, timeout=timeout, domain=domain)
    if not domain and before.domain:  # the plain subject would reach the default domain
        raise UsageError(f"the only JetStream meta group that answered is domain "
                         f"{before.domain}'s (the default domain has none: its servers run "
                         f"JetStream without clustering?)", hint=f"pass --domain {before.domain}")
    if preferred is not None:
        if before.peer(preferred) is None:
            raise NotFound(f"preferred server {preferred!r} is not a meta peer "
                           f"(peers: {', '.join(before.names)})")
        if preferred == before.leader:
            raise Conflict(f"preferred server {preferred!r} is already the meta leader")
    if len(before.peers) <= 1:
        return StepDown("meta", before.leader, before.leader, 0.0, preferred)
    body = {"placement": {"preferred": preferred}} if preferred else None
    what = "meta leader step-down" + (f" in JetStream domain {domain}" if domain else "")
    await request_subject(sys_conn, meta_subject(sys_conn, "META.LEADER.STEPDOWN", domain),
                          body, what=what, timeout=min(timeout, sys_conn.settings.timeout))

    async def leader() -> str:
        try:
            return (await meta_leader(sys_conn, timeout=1.0, domain=domain)).leader
        except ServerError:  # mid-election: nobody answers as leader yet
            return ""

    new, secs = await wait_new_leader(leader, before.leader, timeout=timeout)
    if new and before.peer(new) is None:
        raise ServerError(f"{what}: the new leader {new!r} is not a peer of that meta group "
                          f"({', '.join(before.names)})")
    return StepDown("meta", before.leader, new, secs, preferred)


async def _answering(sys_conn: Conn) -> set[str]:
    from natsops.monitoring.sys import sys_ping

    res = await sys_ping(sys_conn.nc, "IDZ", timeout=1.0, gap=0.3)
    return {str(r.get("name") or "") for r in res.replies}  # IDZ: bare {name, host, id}


async def remove_server_peer(sys_conn: Conn, name: str, *, force: bool = False,
                             timeout: float = 10.0) -> None:
    """``$JS.API.SERVER.REMOVE {"peer": name}``: drop a server that is gone for good from the
    meta group, then wait until the leader no longer lists it.

    The server itself only refuses a name that is not a meta peer (10044): it would remove a
    live server too. So this refuses (:class:`Conflict`) a server that still answers ``$SYS``
    pings or that the meta leader sees online and current, unless ``force``; the meta
    leader itself is always refused (step it down first).
    """
    state = await meta_leader(sys_conn, timeout=timeout)
    peer = state.peer(name)
    if peer is None:
        raise NotFound(f"server {name!r} is not a meta peer (peers: {', '.join(state.names)})")
    if name == state.leader:
        raise Conflict(f"server {name!r} is the meta leader: it cannot be removed",
                       hint="natsops server raft step-down first (and stop it for good)")
    live = name in await _answering(sys_conn) or (peer.current and not peer.offline)
    if live and not force:
        raise Conflict(f"server {name!r} is online and current in the meta group: remove only "
                       "a server that is gone for good",
                       hint="stop it first (or pass --allow-online)")
    await request(sys_conn, "SERVER.REMOVE", {"peer": name}, what=f"remove server {name}",
                  timeout=min(timeout, sys_conn.settings.timeout))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if (await meta_leader(sys_conn, timeout=1.0)).peer(name) is None:
                return
        except ServerError:
            pass
        await asyncio.sleep(0.1)
    raise Timeout(f"server {name!r} is still listed as a meta peer {timeout:g}s after removal")
