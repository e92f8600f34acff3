"""Trends since an older run: ``natsops doctor --since ARCHIVE`` (an archive of yesterday's run).

``--sample`` compares two gatherings seconds apart; this compares the current Snapshot with the
baseline one an earlier ``doctor --archive`` wrote, hours or days before, and reports what grew:

- a consumer whose backlog (pending + unacknowledged) grew: the workers fall further behind;
- a stream filling towards its ``max_bytes``/``max_msgs``: when it will be full at the rate seen,
  and what happens then (discard new: publishes fail; discard old: the oldest messages go);
- a server whose slow-consumer counter rose (clients or links that were cut off since then);
- a server restarted since then, and streams or consumers that existed then and are gone.

Quiet without ``--since``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from natsops.doctor.checks._util import as_int, doc, format_bytes, format_duration
from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import Snapshot

ID = "trends"
BACKLOG_MIN = 1000  # messages: a backlog that grew by less is noise
BACKLOG_FACTOR = 2.0  # ... or that did not at least double
FULL_SOON = 7 * 86400.0  # seconds: a stream full within a week at the rate seen is news


def _ago(now: Snapshot, then: Snapshot) -> float:
    return max(now.taken_at - then.taken_at, 1.0)


def _backlog(info: Mapping[str, Any]) -> int:
    return as_int(info.get("num_pending")) + as_int(info.get("num_ack_pending"))


def _consumers(now: Snapshot, then: Snapshot, dt: float) -> Iterator[Finding]:
    before = {(c.account, c.stream, c.name): c for c in then.consumers}
    seen = set()
    for c in now.consumers:
        key = (c.account, c.stream, c.name)
        seen.add(key)
        old = before.get(key)
        if old is None:
            continue
        b0, b1 = _backlog(old.info), _backlog(c.info)
        if b1 - b0 < BACKLOG_MIN or b1 < b0 * BACKLOG_FACTOR:
            continue
        rate = (b1 - b0) / dt * 3600
        yield Finding.warn(
            ID, f"{c.account} > {c.stream} > {c.name}",
            f"consumer {c.stream} > {c.name}: its backlog grew from {b0:,} to {b1:,} messages "
            f"in {format_duration(dt)} (+{rate:,.0f}/h): the consumers fall further behind",
            evidence={"before": b0, "now": b1, "seconds": round(dt), "per_hour": round(rate),
                      "num_pending": as_int(c.info.get("num_pending")),
                      "num_ack_pending": as_int(c.info.get("num_ack_pending"))},
            fix=f"Add workers (more pull clients on {c.name}) or make each faster; see "
                f"`natsops consumer info {c.stream} {c.name}` and `natsops doctor --sample 10s` "
                "for the current rate.")
    for key in sorted(set(before) - seen):
        if any(s.account == key[0] and s.name == key[1] for s in now.streams):
            yield Finding.info(ID, " > ".join(key), f"consumer {key[1]} > {key[2]} existed "
                               f"{format_duration(dt)} ago and is gone now",
                               evidence={"account": key[0], "stream": key[1], "consumer": key[2]})


def _fill(used: int, used0: int, limit: int, dt: float) -> float | None:
    """Seconds until ``used`` reaches ``limit`` at the rate since ``used0`` (None: not growing)."""
    if limit <= 0 or used <= used0:
        return None
    return max(limit - used, 0) / ((used - used0) / dt)


def _streams(now: Snapshot, then: Snapshot, dt: float) -> Iterator[Finding]:
    before = {(s.account, s.name): s for s in then.streams}
    names = {(s.account, s.name) for s in now.streams}
    for s in now.streams:
        old = before.get((s.account, s.name))
        if old is None:
            continue
        cfg, st, st0 = s.config, s.state, old.state
        eta = {what: t for what, t in (
            ("max_bytes", _fill(as_int(st.get("bytes")), as_int(st0.get("bytes")),
                                as_int(cfg.get("max_bytes"), -1), dt)),
            ("max_msgs", _fill(as_int(st.get("messages")), as_int(st0.get("messages")),
                               as_int(cfg.get("max_msgs"), -1), dt)),
        ) if t is not None and t < FULL_SOON}
        if not eta:
            continue
        what, left = min(eta.items(), key=lambda kv: kv[1])
        new = cfg.get("discard") == "new"
        then_what = ("publishes will fail (discard new)" if new
                     else "the oldest messages will be dropped (discard old)")
        yield Finding(
            ID, Severity.WARN if new else Severity.INFO, s.subject,
            f"stream {s.name} reaches its {what} in about {format_duration(left)} at the rate "
            f"seen over {format_duration(dt)}: then {then_what}",
            evidence={"limit": what, "seconds_left": round(left),
                      "bytes": as_int(st.get("bytes")), "bytes_before": as_int(st0.get("bytes")),
                      "messages": as_int(st.get("messages")),
                      "messages_before": as_int(st0.get("messages")),
                      "max_bytes": format_bytes(as_int(cfg.get("max_bytes"), -1))
                      if as_int(cfg.get("max_bytes"), -1) > 0 else None},
            fix=f"Raise the limit (`natsops stream edit {s.name} --{what.replace('_', '-')} "
                "...`), shorten max_age, or consume faster if it is a work queue.")
    for key in sorted(set(before) - names):
        yield Finding.info(ID, " > ".join(key), f"stream {key[1]} existed {format_duration(dt)} "
                           "ago and is gone now", evidence={"account": key[0], "stream": key[1]})


def _servers(now: Snapshot, then: Snapshot, dt: float) -> Iterator[Finding]:
    for s in now.servers:
        old = then.server(s.name)
        if old is None:
            continue
        v, v0 = doc(s.varz), doc(old.varz)
        if v.get("start") and v0.get("start") and v.get("start") != v0.get("start"):
            yield Finding.info(ID, s.name, f"{s.name} restarted since the baseline "
                               f"({format_duration(dt)} ago): its counters started again",
                               evidence={"start_then": v0.get("start"), "start": v.get("start")})
            continue
        slow = as_int(v.get("slow_consumers")) - as_int(v0.get("slow_consumers"))
        if slow > 0:
            yield Finding.warn(
                ID, s.name, f"{s.name} cut off {slow} slow consumer(s) in the last "
                f"{format_duration(dt)}", evidence={"slow_consumers": slow, "seconds": round(dt)},
                fix="See `natsops doctor --only slow-consumers` and `natsops top --sort pending` "
                    "for who falls behind now.")


@check(ID, title="Trends since an earlier run (--since)", severity=Severity.WARN,
       suite="jetstream")
def trends(snap: Snapshot) -> Iterator[Finding]:
    then = snap.baseline
    if then is None:
        return
    dt = _ago(snap, then)
    yield from _servers(snap, then, dt)
    yield from _streams(snap, then, dt)
    yield from _consumers(snap, then, dt)
