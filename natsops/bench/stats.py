"""Benchmark results: per-client and aggregate rates, latency percentiles, CSV rows.

The maths follows natscli so figures compare with published ones: bytes are payload bytes only;
a client's rate is its messages over its own duration; a group's rate is all its messages over
the wall-clock span from the earliest start to the latest end (not the sum of client rates);
percentiles are nearest-rank over every sampled operation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = [
    "BenchResult",
    "ClientStats",
    "GroupStats",
    "Latency",
    "StreamReport",
    "csv_rows",
    "group_stats",
    "latency_stats",
]


@dataclass(frozen=True)
class Latency:
    """Latency of sampled operations in microseconds."""

    count: int
    min_us: float
    avg_us: float
    max_us: float
    stddev_us: float
    p50_us: float
    p90_us: float
    p99_us: float
    p999_us: float


@dataclass(frozen=True)
class ClientStats:
    """One client (one connection in one worker process)."""

    id: str
    msgs: int
    bytes: int
    seconds: float
    msgs_per_sec: float
    bytes_per_sec: float
    expected: int = 0
    errors: int = 0
    latency: Latency | None = None
    # monotonic ns of the first and last counted operation (for the group's wall-clock span)
    start_ns: int = field(default=0, repr=False)
    end_ns: int = field(default=0, repr=False)


@dataclass(frozen=True)
class GroupStats:
    """All clients of one role (publishers, subscribers, requesters, JetStream publishers)."""

    role: str
    label: str
    clients: tuple[ClientStats, ...]
    msgs: int
    bytes: int
    seconds: float
    msgs_per_sec: float
    bytes_per_sec: float
    rate_min: float
    rate_avg: float
    rate_max: float
    rate_stddev: float
    errors: int = 0
    latency: Latency | None = None


@dataclass(frozen=True)
class StreamReport:
    """The JetStream stream a run published to."""

    name: str
    subjects: tuple[str, ...]
    replicas: int
    storage: str
    created: bool
    removed: bool
    messages_before: int
    messages_after: int
    stored: int  # messages_after - messages_before


@dataclass(frozen=True)
class BenchResult:
    """Everything one benchmark run measured."""

    mode: str
    subject: str
    size: int
    pubs: int
    subs: int
    msgs: int | None
    duration: float | None
    servers: tuple[str, ...]
    server_version: str
    groups: tuple[GroupStats, ...]
    published: int
    expected: int
    received: int
    lost: int
    stream: StreamReport | None = None
    subjects: int = 1  # publishers cycled through <subject>.<n> when above 1
    payload: str = "text"
    consume: str | None = None  # JetStream: how the stream was read back (fetch | ordered)
    pace_bytes: int | None = None  # publishers stayed this close to the slowest subscriber
    latency_unit: str = ""  # what one latency sample times: request, publish or batch
    window: int | None = None  # JetStream: un-acked publishes per publisher
    batch: int | None = None  # JetStream: publishes written at once
    warnings: tuple[str, ...] = ()

    def group(self, role: str) -> GroupStats | None:
        return next((g for g in self.groups if g.role == role), None)


def _nearest_rank(sorted_vals: Sequence[float], q: float) -> float:
    idx = max(0, math.ceil(q * len(sorted_vals)) - 1)
    return sorted_vals[min(idx, len(sorted_vals) - 1)]


def latency_stats(samples_ns: Sequence[int]) -> Latency | None:
    """min/avg/max/stddev and nearest-rank P50/P90/P99/P99.9 in µs; None without samples."""
    if not samples_ns:
        return None
    vals = sorted(v / 1000.0 for v in samples_ns)
    n = len(vals)
    avg = sum(vals) / n
    var = sum((v - avg) ** 2 for v in vals) / n
    return Latency(
        count=n, min_us=vals[0], avg_us=avg, max_us=vals[-1], stddev_us=math.sqrt(var),
        p50_us=_nearest_rank(vals, 0.50), p90_us=_nearest_rank(vals, 0.90),
        p99_us=_nearest_rank(vals, 0.99), p999_us=_nearest_rank(vals, 0.999),
    )  # fmt: skip


def client_stats(
    cid: str, msgs: int, size: int, start_ns: int, end_ns: int, *, expected: int = 0,
    errors: int = 0, latency: Latency | None = None,
) -> ClientStats:  # fmt: skip
    secs = max(end_ns - start_ns, 1) / 1e9 if msgs else 0.0
    rate = msgs / secs if secs else 0.0
    return ClientStats(
        id=cid, msgs=msgs, bytes=msgs * size, seconds=secs, msgs_per_sec=rate,
        bytes_per_sec=rate * size, expected=expected, errors=errors, latency=latency,
        start_ns=start_ns, end_ns=end_ns,
    )  # fmt: skip


def group_stats(
    role: str, label: str, clients: Sequence[ClientStats], size: int,
    samples_ns: Sequence[int] = (),
) -> GroupStats:  # fmt: skip
    """Aggregate clients: wall-clock rate of the group plus min/avg/max/stddev of client rates."""
    active = [c for c in clients if c.msgs]
    msgs = sum(c.msgs for c in clients)
    if active:
        span = max(c.end_ns for c in active) - min(c.start_ns for c in active)
        secs = max(span, 1) / 1e9
    else:
        secs = 0.0
    rate = msgs / secs if secs else 0.0
    rates = [c.msgs_per_sec for c in clients]
    avg = sum(rates) / len(rates) if rates else 0.0
    std = math.sqrt(sum((r - avg) ** 2 for r in rates) / len(rates)) if rates else 0.0
    return GroupStats(
        role=role, label=label, clients=tuple(clients), msgs=msgs, bytes=msgs * size,
        seconds=secs, msgs_per_sec=rate, bytes_per_sec=rate * size,
        rate_min=min(rates, default=0.0), rate_avg=avg, rate_max=max(rates, default=0.0),
        rate_stddev=std, errors=sum(c.errors for c in clients), latency=latency_stats(samples_ns),
    )  # fmt: skip


CSV_HEADER = (
    "#RunID", "ClientID", "MsgCount", "MsgBytes", "MsgsPerSec", "BytesPerSec", "DurationSecs",
    "MinLatencyMicroSecs", "AvgLatencyMicroSecs", "MaxLatencyMicroSecs", "P50LatencyMicroSecs",
    "P90LatencyMicroSecs", "P99LatencyMicroSecs", "P99.9LatencyMicroSecs",
    "StdDevLatencyMicroSecs",
)  # fmt: skip


def csv_rows(result: BenchResult, run_id: str) -> list[list[str]]:
    """natscli's per-client CSV (header first), latency columns empty where not measured."""
    rows = [list(CSV_HEADER)]
    for g in result.groups:
        for c in g.clients:
            row = [run_id, c.id, str(c.msgs), str(c.bytes), f"{c.msgs_per_sec:.0f}",
                   f"{c.bytes_per_sec:.0f}", f"{c.seconds:.6f}"]
            lat = c.latency
            if lat is None:
                row += [""] * 8
            else:
                row += [f"{v:.2f}" for v in (lat.min_us, lat.avg_us, lat.max_us, lat.p50_us,
                                             lat.p90_us, lat.p99_us, lat.p999_us, lat.stddev_us)]
            rows.append(row)
    return rows
