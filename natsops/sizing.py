"""Capacity model for a JetStream cluster: a pure function from a workload to per-server needs.

No I/O. Every figure comes with the formula that produced it (``SizingResult.steps``), so the
CLI can print the reasoning. The constants are the operations guide's Sizing table (4-8 vCPU,
8 GB memory baseline, NVMe, 10 GbE, odd node counts) and measurements on a 2-core test machine
(quoted at each constant of :class:`Assumptions`); each is a field there and can be overridden.

The model, per server, for ``N`` nodes, ``R`` replicas, ``S`` streams:

* stored bytes per message = payload + record overhead (34 B measured: 566.5 MB for
  1,953,500 x 256 B messages in a file stream);
* logical data ``L`` = min(rate x stored bytes x max-age, max-bytes);
* data per server = ceil(S x R / N) x L / S (placement spreads S x R replicas over N servers;
  the busiest server holds the rounded-up share);
* ``max_file_store`` = data per server x (1 + growth headroom); disk = max_file_store /
  (1 - free-space reserve for compaction, logs and the filesystem);
* memory = max(8 GiB baseline, 2 x (runtime + connections x buffer + memory streams + write
  cache of ``cache_seconds`` of ingest)); ``max_memory_store`` = memory-stream data x (1 +
  headroom), at least 1 GiB when JetStream is used;
* CPU = replica writes per server / writes-per-vCPU + deliveries per server /
  deliveries-per-vCPU, doubled for peaks, at least 4 vCPU;
* network = ingress (rate x wire bytes) + replication (ingress x (R - 1)) + fan-out egress
  (rate x fan-out x wire bytes) + gateway egress (ingress x gateways), divided over N.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from natsops.errors import UsageError

if TYPE_CHECKING:
    from natsops.monitoring.snapshot import Snapshot, StreamView

__all__ = ["Assumptions", "CostResult", "Observed", "Prices", "SizingInput", "SizingResult",
           "Step", "StreamLimit", "cost", "jetstream_config", "observe", "size"]

GiB = 1 << 30
MiB = 1 << 20
KiB = 1 << 10


@dataclass(frozen=True)
class Assumptions:
    """The model's constants, with where each comes from."""

    record_overhead: int = 34  # B per stored message (566.5 MB for 1,953,500 x 256 B)
    wire_overhead: int = 40  # B per message on the wire: PUB/MSG line + subject + CRLFs
    growth_headroom: float = 0.25  # max_file_store above the expected data
    disk_free_reserve: float = 0.20  # disk kept free above max_file_store
    memory_baseline: int = 8 * GiB  # guide: "8 GB baseline"
    runtime_memory: int = 512 * MiB  # server process, sublist, Raft state
    conn_buffer: int = 64 * KiB  # per connection read/write buffers
    cache_seconds: float = 10.0  # ingest kept in the file store's write cache
    # replica writes/s per vCPU: a 2-core box stored 237k msg/s in an R1 stream, 140k in an R3
    js_writes_per_vcpu: float = 100_000.0
    deliveries_per_vcpu: float = 1_000_000.0  # core msgs/s per vCPU (2 cores moved 3.7 M/s)
    cpu_min: int = 4  # guide: 4-8 vCPU typical
    cpu_peak_factor: float = 2.0
    nic_utilisation: float = 0.5  # plan the NIC at half its line rate

    def describe(self) -> dict[str, str]:
        return {
            "record_overhead": f"{self.record_overhead} B per stored message (measured)",
            "wire_overhead": f"{self.wire_overhead} B per message on the wire",
            "growth_headroom": f"{self.growth_headroom:.0%} above expected data in max_file_store",
            "disk_free_reserve": f"{self.disk_free_reserve:.0%} of the disk kept free "
                                 "(compaction, logs)",
            "memory_baseline": f"{self.memory_baseline // GiB} GiB minimum (guide)",
            "conn_buffer": f"{self.conn_buffer // KiB} KiB per connection",
            "cache_seconds": f"{self.cache_seconds:g} s of ingest cached in memory",
            "js_writes_per_vcpu": f"{self.js_writes_per_vcpu:,.0f} replica writes/s per vCPU",
            "deliveries_per_vcpu": f"{self.deliveries_per_vcpu:,.0f} deliveries/s per vCPU",
            "cpu": f"at least {self.cpu_min} vCPU, x{self.cpu_peak_factor:g} for peaks",
            "nic_utilisation": f"NIC planned at {self.nic_utilisation:.0%} of line rate",
        }


@dataclass(frozen=True)
class StreamLimit:
    """One measured stream: its share of the message rate and the limits that bound it."""

    name: str
    share: float  # of the cluster's message rate, 0..1
    max_age_s: float | None = None
    max_bytes: int | None = None
    stored_bytes: int = 0

    def bound(self, ingest: float) -> float | None:
        """min(ingest x share x max_age, max_bytes), never below what it holds now.

        None when neither limit is set and the stream takes traffic: it grows without bound.
        """
        caps = [ingest * self.share * self.max_age_s] if self.max_age_s else []
        if self.max_bytes:
            caps.append(float(self.max_bytes))
        if not caps:
            return float(self.stored_bytes) if self.share == 0 else None
        return max(float(self.stored_bytes), min(caps))


@dataclass(frozen=True)
class SizingInput:
    """A workload. Sizes in bytes, times in seconds, rates per second (cluster-wide)."""

    msgs_per_sec: float
    msg_size: int
    retention_seconds: float | None = None
    max_bytes: int | None = None
    replicas: int = 3
    streams: int = 1
    consumers: int = 1
    connections: int = 100
    fan_out: float = 1.0
    nodes: int | None = None
    gateways: int = 0
    memory_fraction: float = 0.0  # share of the data kept in memory streams
    assumptions: Assumptions = field(default_factory=Assumptions)
    # measured streams (sizing --from-cluster): each bounded by its own limits
    stream_limits: tuple[StreamLimit, ...] = ()


@dataclass(frozen=True)
class Step:
    """One line of reasoning: what, the value, and the formula."""

    name: str
    value: float
    unit: str
    formula: str


@dataclass(frozen=True)
class SizingResult:
    nodes: int
    replicas: int
    logical_bytes: int
    data_per_server: int
    disk_per_server: int
    max_file_store: int
    memory_per_server: int
    max_memory_store: int
    vcpu_per_server: int
    ingress_bytes_per_sec: float
    network_bytes_per_sec_per_server: float
    gateway_egress_bytes_per_sec: float
    nic_gbit: int
    steps: list[Step]
    notes: list[str]
    assumptions: dict[str, str]


def _validate(w: SizingInput) -> None:
    if w.msgs_per_sec <= 0 or w.msg_size <= 0:
        raise UsageError("--msgs-per-sec and --msg-size must be positive")
    if w.retention_seconds is None and w.max_bytes is None and not w.stream_limits:
        raise UsageError("give --retention (max age, e.g. 7d) or --max-bytes (e.g. 500GB)")
    if (w.retention_seconds is not None and w.retention_seconds <= 0) or \
            (w.max_bytes is not None and w.max_bytes <= 0):
        raise UsageError("--retention and --max-bytes must be positive")
    if not 1 <= w.replicas <= 5:
        raise UsageError("--replicas must be 1 to 5 (the JetStream maximum)")
    if w.streams < 1 or w.consumers < 0 or w.connections < 0 or w.fan_out < 0:
        raise UsageError("--streams must be >= 1; --consumers, --connections, --fan-out >= 0")
    if w.nodes is not None and w.nodes < w.replicas:
        raise UsageError(f"--nodes {w.nodes} cannot hold R{w.replicas} streams")
    if not 0 <= w.memory_fraction <= 1:
        raise UsageError("--memory-fraction must be between 0 and 1")


def _auto_nodes(w: SizingInput) -> int:
    n = max(3 if w.replicas > 1 else 1, w.replicas)
    return n if n % 2 else n + 1


def _streams_data(w: SizingInput, ingest: float, notes: list[str]) -> float:
    """The data the measured streams hold at ``ingest``: each bounded by its own limits."""
    total = 0.0
    for st in w.stream_limits:
        bound = st.bound(ingest)
        if bound is None:  # no limit at all, and traffic: the longest max_age elsewhere
            if w.retention_seconds is None:
                raise UsageError(f"stream {st.name} has no max_age or max_bytes and takes "
                                 "traffic: give --retention or --max-bytes to size it")
            bound = ingest * st.share * w.retention_seconds
            notes.append(f"stream {st.name} has no limit: sized as if it kept the longest "
                         "max_age of the other streams")
        total += bound
    return total


def size(w: SizingInput) -> SizingResult:
    """Size a cluster for workload ``w`` (raises UsageError on impossible input)."""
    _validate(w)
    a = w.assumptions
    steps: list[Step] = []
    notes: list[str] = []

    def step(name: str, value: float, unit: str, formula: str) -> float:
        steps.append(Step(name, value, unit, formula))
        return value

    nodes = w.nodes or _auto_nodes(w)
    if nodes % 2 == 0:
        notes.append(f"{nodes} nodes is even: Raft tolerates no more failures than with "
                     f"{nodes - 1}; the guide asks for odd counts (3, 5)")
    if w.replicas in (2, 4):
        notes.append(f"R{w.replicas} tolerates as many failures as R{w.replicas - 1}; "
                     "use R3 (or R5)")
    stored = step("stored bytes/msg", w.msg_size + a.record_overhead, "B",
                  f"msg size {w.msg_size} + record overhead {a.record_overhead}")
    ingest = step("ingest (stored)", w.msgs_per_sec * stored, "B/s",
                  f"{w.msgs_per_sec:g} msg/s x {stored:g} B")
    if w.stream_limits:
        logical = step("logical data", _streams_data(w, ingest, notes), "B",
                       "sum over the streams of min(ingest x its share x its max_age, its "
                       "max_bytes)")
    else:
        candidates = []
        if w.retention_seconds is not None:
            candidates.append(ingest * w.retention_seconds)
        if w.max_bytes is not None:
            candidates.append(float(w.max_bytes))
        logical = step("logical data", min(candidates), "B",
                       "min(ingest x max-age, max-bytes)" if len(candidates) == 2 else
                       ("ingest x max-age" if w.retention_seconds is not None else
                        "max-bytes"))
    share = math.ceil(w.streams * w.replicas / nodes)
    data = step("data per server", share * logical / w.streams, "B",
                f"ceil({w.streams} streams x R{w.replicas} / {nodes} nodes) = {share} "
                f"replica(s) x logical / {w.streams}")
    mem_data = data * w.memory_fraction
    file_data = data - mem_data
    mfs = step("max_file_store", math.ceil(file_data * (1 + a.growth_headroom)), "B",
               f"file data per server x {1 + a.growth_headroom:g}")
    disk = step("disk per server", math.ceil(mfs / (1 - a.disk_free_reserve)), "B",
                f"max_file_store / {1 - a.disk_free_reserve:g} (free-space reserve)")
    mms = step("max_memory_store",
               max(math.ceil(mem_data * (1 + a.growth_headroom)), GiB), "B",
               f"memory-stream data x {1 + a.growth_headroom:g}, at least 1 GiB")
    conns = math.ceil(w.connections / nodes)
    est = step("memory estimate",
               a.runtime_memory + conns * a.conn_buffer + mms + ingest * a.cache_seconds *
               w.replicas / nodes, "B",
               f"runtime {a.runtime_memory // MiB} MiB + {conns} conns x "
               f"{a.conn_buffer // KiB} KiB + max_memory_store + {a.cache_seconds:g} s of "
               "replicated ingest")
    memory = step("memory per server", _round_gib(max(a.memory_baseline, 2 * est)), "B",
                  f"max({a.memory_baseline // GiB} GiB baseline, 2 x estimate), whole GiB")
    if mms > memory / 2:
        notes.append("memory streams need more than half the RAM: lower --memory-fraction or "
                     "add nodes")
    writes = w.msgs_per_sec * w.replicas / nodes
    deliveries = w.msgs_per_sec * w.fan_out / nodes
    raw_cpu = step("CPU (busy vCPU)", writes / a.js_writes_per_vcpu +
                   deliveries / a.deliveries_per_vcpu, "vCPU",
                   f"{writes:,.0f} replica writes/s / {a.js_writes_per_vcpu:,.0f} + "
                   f"{deliveries:,.0f} deliveries/s / {a.deliveries_per_vcpu:,.0f}")
    vcpu = int(step("vCPU per server", max(a.cpu_min, math.ceil(raw_cpu * a.cpu_peak_factor)),
                    "vCPU", f"max({a.cpu_min}, ceil({a.cpu_peak_factor:g} x busy vCPU))"))
    if vcpu > 8:
        notes.append(f"{vcpu} vCPU per server is above the guide's 4-8: spread the load over "
                     "more nodes or streams")
    wire = w.msg_size + a.wire_overhead
    ingress = step("ingress", w.msgs_per_sec * wire, "B/s",
                   f"{w.msgs_per_sec:g} msg/s x {wire} B on the wire")
    repl = ingress * (w.replicas - 1)
    fan = w.msgs_per_sec * w.fan_out * wire
    gw = step("gateway egress", ingress * w.gateways, "B/s", f"ingress x {w.gateways} gateway(s)")
    per_server = step("network per server", (ingress + repl + fan + gw) / nodes, "B/s",
                      f"(ingress + replication x{w.replicas - 1} + fan-out x{w.fan_out:g} + "
                      f"gateway) / {nodes}")
    gbit = per_server * 8 / 1e9 / a.nic_utilisation
    nic = 1 if gbit <= 1 else (10 if gbit <= 10 else (25 if gbit <= 25 else 100))
    step("NIC", nic, "Gbit/s", f"network per server x 8 / {a.nic_utilisation:g} utilisation")
    if w.consumers > 0 and w.consumers * w.replicas / nodes > 10_000:
        notes.append("more than 10,000 consumer replicas per server: expect Raft overhead "
                     "(nats audit CLUSTER_003 'High HA Assets')")
    if nodes == 1 and w.replicas == 1:
        notes.append("a single server has no redundancy: development and edge only")
    return SizingResult(
        nodes=nodes, replicas=w.replicas, logical_bytes=int(logical),
        data_per_server=int(data), disk_per_server=int(disk), max_file_store=int(mfs),
        memory_per_server=int(memory), max_memory_store=int(mms), vcpu_per_server=vcpu,
        ingress_bytes_per_sec=ingress, network_bytes_per_sec_per_server=per_server,
        gateway_egress_bytes_per_sec=gw, nic_gbit=nic, steps=steps, notes=notes,
        assumptions=a.describe())


def _round_gib(n: float) -> int:
    return math.ceil(n / GiB) * GiB


def jetstream_config(r: SizingResult) -> str:
    """The server config's ``jetstream`` block for the result (limits rounded up to whole GB)."""
    return (f"jetstream {{ max_memory_store: {-(-r.max_memory_store // GiB)}GB, "
            f"max_file_store: {-(-r.max_file_store // GiB)}GB }}")


@dataclass(frozen=True)
class Prices:
    """Example monthly prices (USD), to be overridden with the user's own table."""

    vcpu_month: float = 25.0
    gib_ram_month: float = 3.5
    disk_gb_month: float = 0.10  # SSD/NVMe block storage, per GB provisioned
    egress_gb: float = 0.09  # internet / cross-region egress
    cross_zone_gb: float = 0.01  # replication between zones
    managed_per_connection_month: float = 1.0
    managed_per_gb: float = 0.10  # data in + out through the managed service
    managed_base_month: float = 0.0
    self_hosted_ops_month: float = 0.0  # your time running the cluster


@dataclass(frozen=True)
class CostResult:
    compute: float
    storage: float
    network: float
    self_hosted: float
    managed: float
    managed_is_cheaper: bool
    break_even_msgs_per_sec: float | None
    lines: dict[str, str]


_MONTH = 30 * 86400


def _self_parts(w: SizingInput, r: SizingResult, p: Prices) -> tuple[float, float, float]:
    compute = r.nodes * (r.vcpu_per_server * p.vcpu_month +
                         r.memory_per_server / GiB * p.gib_ram_month)
    storage = r.nodes * r.disk_per_server / 1e9 * p.disk_gb_month
    network = (r.ingress_bytes_per_sec * (w.replicas - 1) * p.cross_zone_gb +
               r.gateway_egress_bytes_per_sec * p.egress_gb) * _MONTH / 1e9
    return compute, storage, network


def _managed(w: SizingInput, p: Prices, rate: float) -> float:
    data_gb = rate * (w.msg_size + w.assumptions.wire_overhead) * (1 + w.fan_out) * _MONTH / 1e9
    return p.managed_base_month + w.connections * p.managed_per_connection_month + \
        data_gb * p.managed_per_gb


def cost(w: SizingInput, prices: Prices | None = None) -> CostResult:
    """Monthly cost of self-hosting ``w`` versus a per-connection + per-data managed service.

    Compute, storage and network egress are the guide's cost drivers; the managed price is
    per connection plus per GB moved, which is why it wins at low scale.
    """
    p = prices or Prices()
    r = size(w)
    compute, storage, network = _self_parts(w, r, p)
    self_hosted = compute + storage + network + p.self_hosted_ops_month
    managed = _managed(w, p, w.msgs_per_sec)
    repl_gb = r.ingress_bytes_per_sec * (w.replicas - 1) * _MONTH / 1e9
    gw_gb = r.gateway_egress_bytes_per_sec * _MONTH / 1e9
    return CostResult(
        compute=compute, storage=storage, network=network, self_hosted=self_hosted,
        managed=managed, managed_is_cheaper=managed < self_hosted,
        break_even_msgs_per_sec=_break_even(w, p),
        lines={"compute": f"{r.nodes} nodes x ({r.vcpu_per_server} vCPU x {p.vcpu_month:g} + "
                          f"{r.memory_per_server // GiB} GiB x {p.gib_ram_month:g})",
               "storage": f"{r.nodes} x {r.disk_per_server / 1e9:,.0f} GB x "
                          f"{p.disk_gb_month:g}/GB",
               "network": f"replication {repl_gb:,.0f} GB x {p.cross_zone_gb:g} + gateway "
                          f"{gw_gb:,.0f} GB x {p.egress_gb:g}",
               "managed": f"{w.connections} conns x {p.managed_per_connection_month:g} + data "
                          f"x {p.managed_per_gb:g}/GB + {p.managed_base_month:g} base"})


def _break_even(w: SizingInput, p: Prices) -> float | None:
    """The message rate above which self-hosting is cheaper than the managed service."""

    def diff(rate: float) -> float:
        wr = replace(w, msgs_per_sec=rate)
        c, s, n = _self_parts(wr, size(wr), p)
        return _managed(w, p, rate) - (c + s + n + p.self_hosted_ops_month)

    lo, hi = 1e-3, 1e9
    if diff(lo) >= 0 or diff(hi) <= 0:
        return None
    for _ in range(60):
        mid = math.sqrt(lo * hi)
        if diff(mid) < 0:
            lo = mid
        else:
            hi = mid
    return hi


# ---- the workload of a running cluster (sizing --from-cluster) ------------------------------


@dataclass(frozen=True)
class Observed:
    """A JetStream workload measured between two Snapshots of a running deployment."""

    seconds: float
    msgs_per_sec: float
    msg_size: int | None
    streams: int
    consumers: int
    connections: int
    servers: int
    replicas: int
    fan_out: float
    retention_seconds: float | None
    max_bytes: int | None
    stored_bytes: int
    notes: tuple[str, ...] = ()
    stream_limits: tuple[StreamLimit, ...] = ()


def _num(v: Any) -> int:
    try:
        return int(v or 0)
    except (TypeError, ValueError):
        return 0


def observe(first: Snapshot, second: Snapshot,
            assumptions: Assumptions | None = None) -> Observed:
    """Measure the workload between two Snapshots (pure: reads their data, no I/O).

    Rate = stream sequences advanced per second (sums every stream's ``last_seq`` delta, so
    messages removed by limits still count); message size = stored bytes per message minus the
    record overhead, weighted by each stream's traffic; fan-out = consumer deliveries per
    published message; retention = the longest ``max_age`` (and the sum of ``max_bytes`` when
    every stream has one); replicas = the replica count that carries the most traffic. Each
    stream's share of the rate and its own limits (``stream_limits``) let the model bound
    every stream by min(its rate x its max_age, its max_bytes).
    """
    a = assumptions or Assumptions()
    dt = second.taken_at - first.taken_at
    if dt <= 0:
        raise UsageError("the two gatherings are not apart in time: use a longer --window")
    before = {(st.account, st.name): st for st in first.streams}
    before_c = {(c.account, c.stream, c.name): c for c in first.consumers}
    notes: list[str] = []
    seq_delta = 0
    weighted_size = 0.0
    by_replicas: dict[int, int] = {}
    stored = msgs = 0
    ages: list[float] = []
    limits: list[int] = []
    per_stream: list[tuple[StreamView, int]] = []
    for st in second.streams:
        state, cfg = st.state, st.config
        n_msgs, n_bytes = _num(state.get("messages")), _num(state.get("bytes"))
        stored += n_bytes
        msgs += n_msgs
        prev = before.get((st.account, st.name))
        d = max(0, _num(state.get("last_seq")) - _num(prev.state.get("last_seq"))) if prev else 0
        seq_delta += d
        if n_msgs:
            weighted_size += d * max(1, n_bytes / n_msgs - a.record_overhead)
        r = _num(cfg.get("num_replicas")) or 1
        by_replicas[r] = by_replicas.get(r, 0) + (d or 0)
        if _num(cfg.get("max_age")) > 0:
            ages.append(_num(cfg.get("max_age")) / 1e9)
        limits.append(_num(cfg.get("max_bytes")))
        per_stream.append((st, d))
    deliveries = 0
    for c in second.consumers:
        prev_c = before_c.get((c.account, c.stream, c.name))
        if prev_c is not None:
            cur = _num((c.info.get("delivered") or {}).get("consumer_seq"))
            old = _num((prev_c.info.get("delivered") or {}).get("consumer_seq"))
            deliveries += max(0, cur - old)
    if seq_delta:
        size: int | None = max(1, round(weighted_size / seq_delta))
    elif msgs:
        size = max(1, round(stored / msgs - a.record_overhead))
        notes.append("no message was stored during the window: the size is the streams' "
                     "average and the rate is 0")
    else:
        size = None
        notes.append("the streams hold no messages: give --msg-size")
    if not second.streams:
        notes.append("no JetStream streams found (is this a system-account view of the right "
                     "accounts?)")
    replicas = max(by_replicas, key=lambda r: (by_replicas[r], r)) if by_replicas else 3
    max_bytes = sum(limits) if limits and all(b > 0 for b in limits) else None
    if not ages and max_bytes is None:
        notes.append("no stream has max_age, and not every stream has max_bytes: give "
                     "--retention or --max-bytes")
    connections = sum(_num((s.varz or {}).get("connections")) for s in second.servers)
    stream_limits = _stream_limits(per_stream, seq_delta, notes)
    return Observed(
        seconds=dt, msgs_per_sec=seq_delta / dt, msg_size=size, streams=len(second.streams),
        consumers=len(second.consumers), connections=connections,
        servers=len(second.servers), replicas=replicas,
        fan_out=round(deliveries / seq_delta, 3) if seq_delta else 1.0,
        retention_seconds=max(ages) if ages else None, max_bytes=max_bytes,
        stored_bytes=stored, notes=tuple(notes), stream_limits=stream_limits)


def _stream_limits(per_stream: list[tuple[StreamView, int]], seq_delta: int,
                   notes: list[str]) -> tuple[StreamLimit, ...]:
    """Each stream's share of the measured rate and its limits.

    Without traffic in the window the rate is spread evenly over the streams that are not KV
    buckets or object stores (a bucket holds what it holds; the rate describes messages).
    """
    if seq_delta:
        shares = {id(st): d / seq_delta for st, d in per_stream}
    else:
        plain = [st for st, _ in per_stream if not st.name.startswith(("KV_", "OBJ_"))] or \
            [st for st, _ in per_stream]
        shares = {id(st): 1 / len(plain) for st in plain}
        if per_stream:
            notes.append(f"no traffic in the window: the rate is spread evenly over "
                         f"{len(plain)} stream(s)")
    out = []
    for st, _ in per_stream:
        age, mb = _num(st.config.get("max_age")), _num(st.config.get("max_bytes"))
        out.append(StreamLimit(st.name, shares.get(id(st), 0.0), age / 1e9 if age > 0 else None,
                               mb if mb > 0 else None, _num(st.state.get("bytes"))))
    return tuple(out)
