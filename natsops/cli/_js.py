"""Helpers shared by the JetStream command groups (stream, consumer, kv, object): rendering,
the shared-flags mechanism and the terminal's answers to natscli's questions."""


import functools
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar, cast

if TYPE_CHECKING:
    from natsops.jetstream.models import ClusterView
    from natsops.jetstream.questions import Ask
    from natsops.jetstream.spec import Change
    from natsops.jetstream.streams import StepDown, StreamEdit

F = TypeVar("F", bound=Callable[..., object])


class _Merged:
    """``fn`` with the parameters of ``extra`` appended, worked out only when Typer asks."""

    def __init__(self, fn: Callable[..., object], extra: Callable[..., object]) -> None:
        functools.update_wrapper(self, fn)
        self._fn, self._extra = fn, extra
        self._sig: inspect.Signature | None = None

    @property
    def __signature__(self) -> inspect.Signature:
        if self._sig is None:
            sig = inspect.signature(self._fn, eval_str=True)
            own = [p for p in sig.parameters.values() if p.kind is not p.VAR_KEYWORD]
            extra = inspect.signature(self._extra, eval_str=True).parameters.values()
            self._sig = sig.replace(parameters=[*own, *extra])
        return self._sig

    def __call__(self, *args: object, **kwargs: object) -> object:
        return self._fn(*args, **kwargs)


def with_options(extra: Callable[..., object]) -> Callable[[F], F]:
    """Give a command every parameter of ``extra`` (a signature-only function) via ``**kwargs``.

    ``stream add`` and ``stream edit`` share ~30 flags; they are declared once on ``extra``.
    The merged signature is built lazily, so importing the CLI stays cheap.
    """

    def deco(fn: F) -> F:
        return cast(F, _Merged(fn, extra))

    return deco


def asker() -> "Ask | None":
    """Questions answered at the terminal (stderr), or None when stdin is not one."""
    from natsops.cli import prompt

    if not prompt.interactive():
        return None
    import typer

    return lambda q: str(typer.prompt(q.text, default=q.default, show_default=q.show_default,
                                      err=True))


def step_down_result(what: str, r: "StepDown", as_json: bool) -> None:
    """Print a step-down outcome; Timeout when no new leader appeared."""
    from natsops.cli import output
    from natsops.errors import Timeout

    if as_json:
        output.print_json({**output.jsonable(r), "preferred_honoured": r.preferred_honoured})
        return
    if r.single_replica:
        output.info(f"{what} {r.subject} has one replica: leader stays {r.old_leader}")
        return
    if not r.moved:
        raise Timeout(f"{what} {r.subject}: no new leader after the step-down "
                      f"(was {r.old_leader or 'none'})")
    output.success(f"{what} {r.subject}: leader {r.old_leader} -> {r.new_leader} "
                   f"in {r.seconds:.2f}s")
    if r.preferred_honoured is False:
        output.error(f"preferred server {r.preferred} was not chosen (it may be offline or "
                     "behind); the server picked another peer")


def print_names(names: Sequence[str], as_json: bool) -> None:
    """A list of names: one JSON array (natscli's `ls --json`), or one name per line."""
    from natsops.cli import output

    if as_json:
        output.print_json(list(names))
        return
    for n in names:
        output.out().print(n, markup=False, highlight=False)


def replicas_cell(cluster: "ClusterView | None") -> str:
    """natscli's replica cell: ``n1*, n2, n3!`` (* leader, ! offline, not current or lagging)."""
    if cluster is None:
        return ""
    parts = []
    for p in sorted(cluster.peers, key=lambda p: p.name):
        mark = "*" if p.leader else ("" if p.healthy and not p.lag else "!")
        parts.append(f"{p.name}{mark}")
    return ", ".join(parts)


def replica_json(cluster: "ClusterView | None") -> list[dict[str, object]]:
    if cluster is None:
        return []
    return [{"name": p.name, "leader": p.leader, "current": p.current, "offline": p.offline,
             "active_s": round(p.active_s, 3), "lag": p.lag} for p in cluster.peers]


def peers_table(title: str, cluster: "ClusterView | None") -> None:
    from natsops.cli import output

    if cluster is None:
        output.info("not clustered")
        return
    output.table(title, ["server", "role", "current", "offline", "active", "lag"],
                 [(p.name, "leader" if p.leader else "follower",
                   "" if p.leader else ("yes" if p.current else "NO"),
                   "" if p.leader else ("YES" if p.offline else "no"),
                   "" if p.leader else f"{p.active_s:.2f}s", "" if p.leader else p.lag)
                  for p in cluster.peers])


def print_changes(changes: "Sequence[Change]", *, as_json: bool) -> None:
    from natsops.cli import output

    if as_json:
        return
    if not changes:
        output.info("no changes")
        return
    for c in changes:
        old, new = human_value(c.field, c.old), human_value(c.field, c.new)
        output.out().print(f"  {c.field}: {old} -> {new}", markup=False, highlight=False)


# config fields the API gives in nanoseconds, and in bytes (shown as 30d, 50 GiB in a diff)
NS_FIELDS = frozenset(("max_age", "duplicate_window", "subject_delete_marker_ttl", "ack_wait",
                       "inactive_threshold", "idle_heartbeat", "max_expires", "backoff"))
BYTE_FIELDS = frozenset(("max_bytes", "max_msg_size", "max_request_max_bytes"))


def human_value(field: str, value: object) -> str:
    """A config value as a person reads it: durations and sizes with units, else JSON."""
    import json

    from natsops.units import format_bytes, format_duration

    key = field.rsplit(".", 1)[-1]
    if value is None:
        return "(unset)"
    if isinstance(value, int) and not isinstance(value, bool):
        if key in NS_FIELDS:
            return "unlimited" if key == "max_age" and value <= 0 else format_duration(value / 1e9)
        if key in BYTE_FIELDS:
            return format_bytes(value)
    if key == "backoff" and isinstance(value, list):
        return "[" + ", ".join(human_value(key, v) for v in value) + "]"
    return json.dumps(value)


def edit_result(what: str, changes: "Sequence[Change]", config: Mapping[str, object], *,
                applied: bool, dry_run: bool, as_json: bool) -> None:
    """The end of an ``edit``: the plan as JSON, or a line saying it was applied."""
    from natsops.cli import output

    if as_json:
        output.print_json({"changes": changes, "config": config, "applied": applied,
                           "dry_run": dry_run})
    elif applied:
        output.success(f"{what} updated ({len(changes)} changes)")


def kv_lines(pairs: Iterable[tuple[str, object]]) -> None:
    from natsops.cli import output

    for k, v in pairs:
        if v is None or v == "":
            continue
        output.out().print(f"{k:>22}: {output.cell(v)}", markup=False, highlight=False)


def exit_if_partial(what: str, missing: Sequence[str], offline: Mapping[str, str]) -> None:
    """Exit 11 when a listing misses ``what`` (streams, consumers) whose servers did not
    answer in time (``missing``) or are ``offline``; the listing was printed already."""
    from natsops.cli import output

    output.exit_incomplete(f"{what} missing from the answer",
                           [*missing, *(n for n in offline if n not in missing)],
                           hint="their servers did not answer in time or are offline: "
                                "natsops server ls, natsops doctor")


def finish_edit(ctx: object, what: str, plan: "StreamEdit", *, dry_run: bool, force: bool,
                as_json: bool, wait: str, confirm: "Callable[..., None] | None" = None) -> None:
    """The end of ``stream|kv|object edit``: show the diff; unless a dry run, ask (``confirm``,
    default the shared prompt), apply and wait for changed replicas to be current."""
    from natsops.cli._run import call
    from natsops.cli.prompt import confirm as ask
    from natsops.jetstream.scale import apply_edit_and_wait
    from natsops.units import parse_duration

    ready = parse_duration(wait, what="--wait")
    print_changes(plan.changes, as_json=as_json)
    apply = bool(plan.changes) and not dry_run
    if apply:
        (confirm or ask)(f"Really edit {what}?", force=force)
        call(ctx, apply_edit_and_wait, plan, ready_timeout=ready)
    edit_result(what, plan.changes, plan.config, applied=apply, dry_run=dry_run,
                as_json=as_json)
