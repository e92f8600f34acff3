"""Plans and apply reports as text lines (terraform-plan-like) and as JSON-ready dicts."""

from __future__ import annotations

from typing import Any

from natsops.estate.fields import human_duration, human_size
from natsops.estate.model import Action, ApplyReport, Op, Plan

__all__ = ["SYMBOLS", "apply_json", "apply_lines", "plan_json", "plan_lines", "summary"]

SYMBOLS = {Op.CREATE: "+", Op.UPDATE: "~", Op.RECREATE: "-/+", Op.DELETE: "-", Op.NOOP: "="}
_DURATIONS = {"max_age", "duplicate_window", "subject_delete_marker_ttl", "ack_wait",
              "idle_heartbeat", "inactive_threshold", "max_expires", "ttl", "priority_timeout"}
_SIZES = {"max_bytes", "max_msg_size", "max_value_size"}


def show(field: str, value: Any) -> str:
    """A changed value as a person reads it: ``720h``, ``50GB``, ``(unset)``."""
    last = field.split(".")[-1]
    if value is None:
        return "(unset)"
    if last in _DURATIONS:
        value = human_duration(value)
    elif last in _SIZES:
        value = human_size(value)
    return str(value)


def _head(a: Action) -> str:
    extra = []
    if a.op is Op.RECREATE:
        extra.append(f"must be recreated: {a.reason}")
    elif a.reason:
        extra.append(a.reason)
    if a.destructive and a.live and a.live.holds:
        extra.append(f"holds {a.live.holds:,} messages")
    where = f"  ({a.source})" if a.source and a.op is not Op.NOOP else ""
    tail = f"  [{'; '.join(extra)}]" if extra else ""
    return f"{SYMBOLS[a.op]:>3} {a.kind} {a.name}{tail}{where}"


def plan_lines(plan: Plan, *, unchanged: bool = False) -> list[str]:
    """One line per resource that changes (``+ ~ -/+ -``) and one per changed field under it;
    unchanged ones too with ``unchanged``. Ends with the summary line."""
    lines = []
    for a in plan.actions:
        if a.op is Op.NOOP and not unchanged:
            continue
        lines.append(_head(a))
        lines.extend(f"      {c.field}: {show(c.field, c.old)} -> {show(c.field, c.new)}"
                     for c in a.changes)
    lines.append(summary(plan))
    return lines


def summary(plan: Plan) -> str:
    n = plan.counts()
    if not plan.pending:
        return f"No changes: {n['no-change']} resource(s) match the recipes."
    return (f"Plan: {n['create']} to create, {n['update']} to update, {n['recreate']} to "
            f"recreate, {n['delete']} to delete, {n['no-change']} unchanged.")


def _action(a: Action) -> dict[str, Any]:
    return {"kind": a.kind, "name": a.name, "op": a.op.value, "source": a.source,
            "reason": a.reason, "holds": a.live.holds if a.live else 0,
            "changes": [{"field": c.field, "old": c.old, "new": c.new} for c in a.changes]}


def plan_json(plan: Plan) -> dict[str, Any]:
    return {"pending": bool(plan.pending), "summary": plan.counts(),
            "actions": [_action(a) for a in plan.actions]}


def apply_lines(report: ApplyReport) -> list[str]:
    """Each step that ran (ok or failed, with its note) and each step that did not run."""
    lines = [f"{'ok' if s.ok else 'FAILED':>6}  {s.action.op.value} {s.action.label}"
             f"{': ' + s.note if s.note else ''}" for s in report.steps]
    lines.extend(f"{'not run':>6}  {a.op.value} {a.label}" for a in report.not_run)
    return lines


def apply_json(report: ApplyReport) -> dict[str, Any]:
    return {"ok": report.ok, "error": str(report.error) if report.error else None,
            "steps": [{**_action(s.action), "ok": s.ok, "note": s.note,
                       "seconds": round(s.seconds, 3)} for s in report.steps],
            "not_run": [_action(a) for a in report.not_run]}
