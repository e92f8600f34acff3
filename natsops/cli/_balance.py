"""``stream cluster balance`` / ``consumer cluster balance``: plan, confirm, move, report."""

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer

    from natsops.jetstream.balance import BalancePlan, BalanceResult, Kind


def print_plan(plan: "BalancePlan") -> None:
    from natsops.cli import output

    servers = sorted(plan.before)
    output.table(f"{plan.kind} leaders per server ({plan.groups} replicated, share "
                 f"{plan.share} each)", ["SERVER", "LEADS NOW", "AFTER"],
                 [(s, plan.before[s], plan.after[s]) for s in servers])
    if plan.moves:
        output.table("Planned step-downs", [plan.kind.upper(), "FROM", "TO (preferred)"],
                     [(m.group, m.from_, m.to) for m in plan.moves])
    else:
        output.info(f"nothing to move: no server leads more than its share of {plan.share}")
    if plan.leaderless:
        output.error(f"without a leader (not moved): {', '.join(plan.leaderless)}",
                     "natsops doctor explains what is wrong")


def print_result(res: "BalanceResult") -> None:
    from natsops.cli import output
    from natsops.errors import NatsopsError

    f = res.final
    output.table("Leaders per server afterwards", ["SERVER", "LEADS"],
                 [(s, f.before[s]) for s in sorted(f.before)])
    for r in res.not_honoured:
        output.error(f"{r.move.group}: preferred {r.move.to} not elected: "
                     f"{r.error or 'leader is ' + (r.new_leader or 'none')}")
    if not res.balanced:
        raise NatsopsError(f"still unbalanced: a server leads more than {f.share + 1} "
                           f"{f.kind}s after {len(res.results)} step-down(s)")
    output.success(f"{res.honoured} of {len(res.results)} step-down(s) went to the preferred "
                   f"server; no server leads more than {f.share + 1}")


def balance(ctx: "typer.Context", kind: "Kind", names: Sequence[str] | None, *,
            dry_run: bool, force: bool, as_json: bool) -> None:
    """Plan (one connection), print, confirm with no connection open, then move and report."""
    from natsops.cli import output
    from natsops.cli._run import call
    from natsops.cli.prompt import confirm
    from natsops.jetstream.balance import apply_balance, plan_balance

    plan = call(ctx, plan_balance, kind, names=names)
    if not as_json:
        print_plan(plan)
    if dry_run or not plan.moves:
        if as_json:
            output.print_json({"plan": plan, "dry_run": dry_run})
    else:
        confirm(f"Step down {len(plan.moves)} {kind} leader(s) as planned?", force=force)
        res = call(ctx, apply_balance, plan, progress=None if as_json else output.info)
        if as_json:
            output.print_json({"plan": plan, "dry_run": False, "result": res,
                               "balanced": res.balanced})
        else:
            print_result(res)
    if plan.missing:  # a partial plan is not a balanced cluster
        output.exit_incomplete(f"{kind}(s) did not answer in time and were left out", plan.missing)
