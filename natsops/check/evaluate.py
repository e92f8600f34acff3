"""Pure evaluations of JetStream API replies against thresholds (no I/O; unit-tested on data).

Semantics follow natscli's ``nats server check`` (jsm.go ``monitor/``): critical wins over
warning; message counts alert when *at or below* the level; ``subjects`` and KV ``values``
invert to "too few" when the critical level is below the warning one; replica lag and inactivity
alert when strictly *above* the level.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from natsops.check.model import CheckResult, Perf, Threshold
from natsops.findings import Severity

__all__ = ["ConsumerThresholds", "CredentialThresholds", "MetaThresholds", "StreamThresholds",
           "age_seconds",
           "evaluate_consumer", "evaluate_credential", "evaluate_kv", "evaluate_meta",
           "evaluate_stream"]

_NO = Threshold()


def age_seconds(stamp: str | None, now: float) -> float | None:
    """Seconds since an RFC 3339 time from the server (nanoseconds allowed); None if absent."""
    if not stamp or stamp.startswith("0001-01-01"):
        return None
    text, tz = stamp, "+00:00"
    if text.endswith(("Z", "z")):
        text = text[:-1]
    elif len(text) > 19 and text[-6] in "+-":
        text, tz = text[:-6], text[-6:]
    frac = ""
    if "." in text:
        text, frac = text.split(".", 1)
        frac = "." + frac[:6]
    try:
        dt = datetime.fromisoformat(f"{text}{frac}{tz}")
    except ValueError:
        return None
    return max(0.0, now - dt.timestamp())


def _ns(value: Any) -> float:
    """A duration in the API's nanoseconds as seconds."""
    return float(value or 0) / 1e9


@dataclass(frozen=True)
class StreamThresholds:
    """``check stream`` levels (natscli names in brackets)."""

    peer_expect: int | None = None  # leader + replicas must be this many [--peer-expect]
    peer_lag_crit: float | None = None  # replicas more than this many ops behind
    peer_seen_crit: float | None = None  # replicas not seen for more than this many seconds
    lag: Threshold = _NO  # mirror/source lag in messages [--lag-critical]
    seen: Threshold = _NO  # mirror/source last seen, seconds [--seen-critical]
    min_sources: int | None = None
    max_sources: int | None = None
    msgs: Threshold = _NO  # alerts at or below [--msgs-warn/--msgs-critical]
    subjects: Threshold = _NO


def evaluate_stream(info: Mapping[str, Any], t: StreamThresholds) -> CheckResult:
    """Check a ``STREAM.INFO`` reply."""
    name = str(info.get("config", {}).get("name", ""))
    r = CheckResult("stream", name)
    state = info.get("state", {})
    _peers(r, info.get("cluster"), t)
    _sources(r, info, t)
    r.measure("messages", "messages", float(state.get("messages", 0)),
              Threshold(t.msgs.warn, t.msgs.crit, below=True))
    r.measure("subjects", "subjects", float(state.get("num_subjects", 0)), t.subjects)
    return r


def _peers(r: CheckResult, cluster: Mapping[str, Any] | None, t: StreamThresholds) -> None:
    if t.peer_expect is None and t.peer_lag_crit is None and t.peer_seen_crit is None:
        return
    if not cluster or (not cluster.get("leader") and not cluster.get("replicas")):
        if t.peer_expect is not None and t.peer_expect > 1:
            r.add(Severity.FAIL, "peers", "stream is not clustered")
        return
    replicas = list(cluster.get("replicas") or [])
    if not cluster.get("leader"):
        r.add(Severity.FAIL, "leader", "no leader")
    if t.peer_expect is not None:
        n = len(replicas) + 1
        r.perf.append(_perf("peers", n))
        if n != t.peer_expect:
            r.add(Severity.FAIL, "peers", f"expected {t.peer_expect} peers got {n}",
                  peers=n, expected=t.peer_expect)
        else:
            r.add(Severity.OK, "peers", f"{n} peers led by {cluster.get('leader')}")
    offline = [p["name"] for p in replicas if p.get("offline")]
    lagged = [p["name"] for p in replicas if t.peer_lag_crit is not None
              and float(p.get("lag", 0)) > t.peer_lag_crit]
    inactive = [p["name"] for p in replicas if t.peer_seen_crit is not None
                and _ns(p.get("active")) > t.peer_seen_crit]
    for what, names in (("offline", offline), ("lagged", lagged), ("inactive", inactive)):
        if names:
            r.add(Severity.FAIL, f"peer-{what}", f"{len(names)} replicas {what}", peers=names)
    r.measure("peer_lagged", "lagged replicas", float(len(lagged)), _NO)
    r.measure("peer_inactive", "inactive replicas", float(len(inactive)), _NO)
    r.measure("peer_offline", "offline replicas", float(len(offline)), _NO)


def _sources(r: CheckResult, info: Mapping[str, Any], t: StreamThresholds) -> None:
    upstream = list(info.get("sources") or [])
    if info.get("mirror"):
        upstream.append(info["mirror"])
    if t.min_sources is not None or t.max_sources is not None:
        n = len(upstream)
        r.perf.append(_perf("sources", n))
        if (t.min_sources is not None and n < t.min_sources) or \
                (t.max_sources is not None and n > t.max_sources):
            r.add(Severity.FAIL, "sources", f"{n} sources, expected between "
                  f"{t.min_sources if t.min_sources is not None else 0} and "
                  f"{t.max_sources if t.max_sources is not None else 'any'}", sources=n)
        else:
            r.add(Severity.OK, "sources", f"{n} sources")
    if not upstream or not (t.lag.enabled or t.seen.enabled):
        return
    for s in upstream:
        label = str(s.get("name", "?"))
        if t.lag.enabled:
            r.measure("lag", f"{label} lag", float(s.get("lag", 0)), t.lag)
        if t.seen.enabled:
            if int(s.get("active", -1)) < 0:  # the server never heard from it
                sev = Severity.FAIL if t.seen.crit is not None else Severity.WARN
                r.add(sev, "active", f"{label} never seen")
                continue
            active = _ns(s.get("active"))
            r.measure("active", f"{label} last seen", active, t.seen, unit="s",
                      shown=f"{active:.3f}s")


def _perf(name: str, value: float) -> Perf:
    return Perf(name, float(value))


@dataclass(frozen=True)
class ConsumerThresholds:
    """``check consumer`` levels; each alerts at or above (ages in seconds)."""

    outstanding_ack: Threshold = _NO
    waiting: Threshold = _NO
    unprocessed: Threshold = _NO
    redelivery: Threshold = _NO
    last_delivery: Threshold = _NO
    last_ack: Threshold = _NO


def evaluate_consumer(info: Mapping[str, Any], t: ConsumerThresholds, now: float) -> CheckResult:
    """Check a ``CONSUMER.INFO`` reply; ``now`` is the Unix time ages are measured at."""
    r = CheckResult("consumer", f"{info.get('stream_name', '')}_{info.get('name', '')}")
    r.measure("ack_pending", "ack pending", float(info.get("num_ack_pending", 0)),
              t.outstanding_ack)
    r.measure("pull_waiting", "waiting pulls", float(info.get("num_waiting", 0)), t.waiting)
    r.measure("pending", "unprocessed", float(info.get("num_pending", 0)), t.unprocessed)
    r.measure("redelivered", "redelivered", float(info.get("num_redelivered", 0)), t.redelivery)
    for id, label, block, th in (("last_delivery", "last delivery", "delivered", t.last_delivery),
                                 ("last_ack", "last ack", "ack_floor", t.last_ack)):
        age = age_seconds((info.get(block) or {}).get("last_active"), now)
        if age is None:
            if th.enabled:
                r.add(Severity.FAIL, id, f"no {'deliveries' if block == 'delivered' else 'acks'}")
            continue
        r.measure(id, f"{label} age", age, th, unit="s", shown=f"{age:.1f}s")
    return r


@dataclass(frozen=True)
class MetaThresholds:
    """``check meta``: the meta group's size and its followers' health (lag in operations,
    inactivity in seconds; a follower alerts strictly above a level)."""

    expect: int | None = None
    lag_crit: float | None = None
    seen_crit: float | None = None
    lag_warn: float | None = None
    seen_warn: float | None = None


def _over(replicas: list[Any], key: str, level: float | None, ns: bool = False) -> list[str]:
    if level is None:
        return []
    return [p["name"] for p in replicas
            if (_ns(p.get(key)) if ns else float(p.get(key, 0))) > level]


def evaluate_meta(jsz: Mapping[str, Any], t: MetaThresholds) -> CheckResult:
    """Check the meta leader's JSZ reply (``data.meta_cluster``)."""
    r = CheckResult("meta", "JetStream Meta Cluster")
    meta = (jsz.get("data") or jsz).get("meta_cluster") or {}
    leader = meta.get("leader")
    if not leader:
        r.add(Severity.FAIL, "leader", "no meta leader")
    replicas = list(meta.get("replicas") or [])
    peers = len(replicas) + 1
    r.perf.append(_perf("peers", peers))
    if t.expect is not None and peers != t.expect:
        r.add(Severity.FAIL, "peers", f"expected {t.expect} peers got {peers}",
              peers=peers, expected=t.expect)
    bad = {"offline": [p["name"] for p in replicas if p.get("offline")],
           "not_current": [p["name"] for p in replicas if not p.get("current")],
           "inactive": _over(replicas, "active", t.seen_crit, ns=True),
           "lagged": _over(replicas, "lag", t.lag_crit)}
    warn = {"inactive": _over(replicas, "active", t.seen_warn, ns=True),
            "lagged": _over(replicas, "lag", t.lag_warn)}
    for what, names in bad.items():
        r.perf.append(_perf(f"peer_{what}", len(names)))
        sev, shown = Severity.FAIL, names
        if not names and warn.get(what):
            sev, shown = Severity.WARN, warn[what]
        if shown:
            r.add(sev, f"peer-{what.replace('_', '-')}",
                  f"{len(shown)} peers {what.replace('_', ' ')}: {', '.join(sorted(shown))}",
                  peers=shown)
    if leader and not r.findings:
        r.add(Severity.OK, "peers", f"{peers} peers led by {leader}")
    return r


def evaluate_kv(bucket: str, info: Mapping[str, Any], values: Threshold, *, key: str | None = None,
                key_op: str | None = None, key_found: bool = True) -> CheckResult:
    """Check a KV bucket's stream info; ``key_op`` is the key's last operation (PUT/DEL/PURGE)."""
    r = CheckResult("kv", bucket)
    state = info.get("state", {})
    r.measure("values", "values", float(state.get("messages", 0)), values)
    r.perf.append(_perf("bytes", float(state.get("bytes", 0))))
    r.perf.append(_perf("replicas", float(info.get("config", {}).get("num_replicas", 1))))
    if key is not None:
        if not key_found:
            r.add(Severity.FAIL, "key", f"key {key} not found")
        elif key_op and key_op != "PUT":
            gone = "deleted" if key_op == "DEL" else "purged"
            r.add(Severity.FAIL, "key", f"key {key} was {gone}")
        else:
            r.add(Severity.OK, "key", f"key {key} found")
    return r


@dataclass(frozen=True)
class CredentialThresholds:
    """``check credential``: time left before the JWT expires, in seconds."""

    validity: Threshold = field(default_factory=Threshold)
    require_expiry: bool = False


def evaluate_credential(expires: int | None, t: CredentialThresholds, now: float) -> CheckResult:
    """Check a JWT's ``exp`` (Unix seconds, None: never expires)."""
    r = CheckResult("credential", "Credential")
    if expires is None:
        sev = Severity.FAIL if t.require_expiry else Severity.OK
        r.add(sev, "expiry", "never expires")
        return r
    left = expires - now
    if left <= 0:
        r.perf.append(_perf("expiry", left))
        r.add(Severity.FAIL, "expiry", f"expired {_dur(-left)} ago", expires=expires)
        return r
    r.measure("expiry", "expires in", left, Threshold(t.validity.warn, t.validity.crit,
                                                       below=True), unit="s", shown=_dur(left))
    return r


def _dur(seconds: float) -> str:
    from natsops.units import format_duration

    return format_duration(seconds)
