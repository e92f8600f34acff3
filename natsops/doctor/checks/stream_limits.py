"""Streams near their own limits where reaching them makes writes fail.

With ``discard: new`` a stream at ``max_msgs`` or ``max_bytes`` refuses publishes ("maximum
messages exceeded", 10077 / "maximum bytes exceeded"); with ``discard: old`` it drops its
oldest messages instead (not a fault, and not reported here). At ``max_consumers`` creating a
consumer fails whatever the discard policy (10026). KV buckets and object stores are streams
with ``discard: new`` and are checked the same way. ``max_msgs_per_subject`` with
``discard_new_per_subject`` is per subject and not visible in the stream's totals: not checked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from natsops.doctor.checks._util import as_int, format_bytes, near_limit
from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import Snapshot

ID = "stream-limits"
WARN_PCT, FAIL_PCT = 80.0, 95.0


@check(ID, title="Streams below the limits that refuse writes", severity=Severity.FAIL,
       suite="jetstream")
def stream_limits(snap: Snapshot) -> Iterator[Finding]:
    for st in snap.streams:
        cfg, state = st.config, st.state
        discard_new = str(cfg.get("discard") or "").lower() == "new"
        ev = {"account": st.account, "stream": st.name, "discard": cfg.get("discard")}
        checks: list[tuple[str, int, int, Callable[[int], str]]] = [
            ("consumers", as_int(state.get("consumer_count")), as_int(cfg.get("max_consumers")),
             str)]
        if discard_new:
            checks += [("messages", as_int(state.get("messages")), as_int(cfg.get("max_msgs")),
                        str),
                       ("bytes", as_int(state.get("bytes")), as_int(cfg.get("max_bytes")),
                        format_bytes)]
        for what, used, limit, show in checks:
            key = {"consumers": "max_consumers", "messages": "max_msgs",
                   "bytes": "max_bytes"}[what]
            if what == "consumers":
                fix = (f"New consumers on {st.name} will be refused: delete unused ones "
                       f"(`natsops consumer find {st.name} --idle 24h`) or raise it: "
                       f"`natsops stream edit {st.name} --max-consumers N`.")
            else:
                fix = (f"Publishes to {st.name} will fail once {key} is reached (discard "
                       f"new): consume and remove messages (work-queue or interest "
                       f"retention, `natsops stream purge {st.name}`), raise the limit "
                       f"(`natsops stream edit {st.name} --{key.replace('_', '-')} N`), or "
                       "set `--discard old` if losing the oldest messages is acceptable.")
            f = near_limit(ID, st.subject, used, limit, f"stream {st.subject}: {what} "
                           f"({key})", warn_pct=WARN_PCT, fail_pct=FAIL_PCT, show=show,
                           evidence={**ev, "limit_key": key}, fix=fix)
            if f is not None:
                yield f
