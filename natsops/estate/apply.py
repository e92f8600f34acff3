"""Apply a plan step by step; a failure stops there and says what ran and what did not."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from natsops.errors import Conflict, NatsopsError
from natsops.estate.context import ApplyOptions, AuthStore, EstateContext
from natsops.estate.kinds import handler
from natsops.estate.model import Action, ApplyReport, Op, Plan, Step
from natsops.faults import note_cleanup

if TYPE_CHECKING:
    from natsops.connection import Conn

__all__ = ["apply_plan", "apply_recipes", "refuse_data_loss", "refused_recreates"]


def refused_recreates(plan: Plan, allow_recreate: bool) -> list[Action]:
    """Recreates that would delete data and were not allowed (``--allow-recreate``)."""
    if allow_recreate:
        return []
    return [a for a in plan.actions if a.op is Op.RECREATE and a.live and a.live.holds]


def refuse_data_loss(plan: Plan, allow_recreate: bool) -> None:
    """Conflict naming the first recreate that would delete messages, unless allowed."""
    refused = refused_recreates(plan, allow_recreate)
    if refused:
        a = refused[0]
        raise Conflict(f"{a.label} needs a recreate ({a.reason}) and holds "
                       f"{a.live.holds if a.live else 0:,} messages: nothing was changed",
                       hint="pass --allow-recreate to take a verified backup first and "
                       "recreate it")


async def apply_plan(ctx: EstateContext, plan: Plan) -> ApplyReport:
    """Run every pending action in plan order; stop at the first failure.

    Nothing runs when a recreate would delete messages without ``allow_recreate`` (Conflict).
    Each step is idempotent against a re-plan: a re-run after a failure plans again and finds
    the steps that ran as "no change".
    """
    refuse_data_loss(plan, ctx.options.allow_recreate)
    steps: list[Step] = []
    pending = list(plan.pending)
    for i, action in enumerate(pending):
        ctx.progress(f"{action.op.value} {action.label}")
        t0 = time.monotonic()
        try:
            note = await handler(action.kind).apply(ctx, action)
        except NatsopsError as exc:
            steps.append(Step(action, False, str(exc), time.monotonic() - t0))
            return ApplyReport(tuple(steps), tuple(pending[i + 1:]), exc)
        except asyncio.CancelledError as exc:  # Ctrl-C/SIGTERM: the CLI's error line says
            # what ran (natsops.cli.signals reads the note)
            done = ", ".join(f"{s.action.op.value} {s.action.label}" for s in steps) or "none"
            note_cleanup(exc, f"apply stopped during {action.op.value} {action.label} (it may "
                         f"have taken effect); applied: {done}; not run: {len(pending) - i - 1}"
                         "; run apply again to continue")
            raise
        steps.append(Step(action, True, note, time.monotonic() - t0))
        ctx.forget_streams()
    return ApplyReport(tuple(steps))


async def apply_recipes(conn: Conn, plan: Plan, options: ApplyOptions | None = None,
                        progress: Callable[[str], None] | None = None,
                        auth: AuthStore | None = None) -> ApplyReport:
    """:func:`apply_plan` over a connection (what ``natsops apply`` runs after confirming)."""
    ctx = EstateContext(conn, options or ApplyOptions(), auth=auth or AuthStore())
    if progress is not None:
        ctx.progress = progress
    return await apply_plan(ctx, plan)
