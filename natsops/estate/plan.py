"""Plan: compare the recipes' resources with the live ones, kind by kind."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from natsops.errors import UsageError
from natsops.estate.context import AuthStore, EstateContext
from natsops.estate.kinds import handler, handlers
from natsops.estate.model import OWNER_KEY, Action, Live, Op, Plan, Resource

if TYPE_CHECKING:
    from natsops.connection import Conn

__all__ = ["build_plan", "plan_recipes"]


async def build_plan(ctx: EstateContext, resources: Sequence[Resource], *,
                     prune: bool = False) -> Plan:
    """Every resource's action, in apply order: deletes (dependents first), then the rest.

    Live state is read once per kind (streams and buckets from one paged STREAM.LIST, consumers
    from one paged CONSUMER.LIST per stream). With ``prune``, live resources that are not in
    the recipes and carry natsops' ownership metadata are deleted; others are never touched.
    """
    wanted: dict[str, list[Resource]] = {}
    for r in resources:
        wanted.setdefault(r.kind, []).append(r)
    hs = [h for h in handlers() if prune or h.kind in wanted]

    async def live_of(kind: str) -> dict[str, Live]:
        names = None if prune and handler(kind).prunable else \
            [r.name for r in wanted.get(kind, [])]
        return await handler(kind).fetch_live(ctx, names)

    lives = dict(zip([h.kind for h in hs],
                     await asyncio.gather(*(live_of(h.kind) for h in hs)), strict=True))
    await _check_requirements(ctx, resources, lives)
    for h in hs:
        await h.check(ctx, wanted.get(h.kind, []), resources)
    _check_server_version(getattr(ctx.conn, "server_version", ""), resources)
    deletes: list[Action] = []
    rest: list[Action] = []
    for h in hs:
        live = lives[h.kind]
        mine = {r.name for r in wanted.get(h.kind, [])}
        rest.extend(h.diff(r, live.get(r.name)) for r in wanted.get(h.kind, []))
        if prune:
            deletes.extend(
                Action(h.kind, name, Op.DELETE, live=lv, reason="; ".join(
                    x for x in (f"not in the recipes; has {OWNER_KEY}", h.delete_note(lv)) if x))
                for name, lv in sorted(live.items()) if name not in mine and h.owned(lv))
    recreated = {(a.kind, a.name) for a in rest if a.op is Op.RECREATE}
    recreated |= {(a.kind, a.name) for a in deletes}
    rest = [handler(a.kind).adjust(a, recreated) for a in rest]
    return Plan(tuple(reversed(deletes)) + tuple(rest))


async def _check_requirements(ctx: EstateContext, resources: Sequence[Resource],
                              lives: dict[str, dict[str, Live]]) -> None:
    declared = {(r.kind, r.name) for r in resources}
    for r in resources:
        for kind, name in handler(r.kind).requires(r):
            if (kind, name) in declared or name in lives.get(kind, {}):
                continue
            if name not in await handler(kind).fetch_live(ctx, [name]):
                raise UsageError(f"{r.source}: {r.kind} {r.name} needs {kind} {name}, which is "
                                 "neither in the recipes nor on the server")


def _check_server_version(version: str, resources: Sequence[Resource]) -> None:
    """Refuse a spec field the connected server is too old to know (it would ignore it: the
    apply "succeeds" and every later plan shows the same update again)."""
    m = re.match(r"v?(\d+)\.(\d+)", version)
    if not m:
        return
    have = (int(m.group(1)), int(m.group(2)))
    for r in resources:
        for key, need in handler(r.kind).since.items():
            value = r.spec.get(key)
            if need <= have or value in (None, False, 0, "", "none", "default", [], {}):
                continue
            message = (f"needs nats-server {need[0]}.{need[1]} or newer; the connected server "
                       f"runs {version}")
            hint = f"leave {key} out until every server runs {need[0]}.{need[1]}+"
            if r.doc is not None:
                err = r.doc.error(f"spec.{key}", message)
                err.hint = hint
                raise err
            raise UsageError(f"{r.source}: {r.kind} {r.name}: field {key!r}: {message}",
                             hint=hint)


async def plan_recipes(conn: Conn, resources: Sequence[Resource], *,
                       prune: bool = False, auth: AuthStore | None = None) -> Plan:
    """:func:`build_plan` over a connection (what ``natsops plan`` runs); ``auth``: the store
    of Account and User resources."""
    return await build_plan(EstateContext(conn, auth=auth or AuthStore()), resources,
                            prune=prune)
