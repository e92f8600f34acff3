"""Prometheus metrics from one doctor run: the Snapshot's figures and one gauge per finding.

The text exposition format (version 0.0.4): ``# HELP`` and ``# TYPE`` once per family, then one
line per sample, label values escaped (``\\``, ``"``, newline). Families:

- ``natsops_doctor_up`` (1 when the last gathering answered), ``natsops_doctor_gather_seconds``,
  ``natsops_doctor_last_gather_timestamp_seconds``, ``natsops_doctor_servers{state}``;
- ``natsops_doctor_finding{check,severity,subject}`` 1 per current finding (OK findings are not
  exported), ``natsops_doctor_findings{severity}`` counts: alert on
  ``natsops_doctor_finding{severity="fail"}`` and Prometheus says what doctor says;
- per server (``server``, ``cluster``): up, connections, subscriptions, slow consumers, messages
  and bytes in/out (counters), memory, CPU, routes, gateways, leafnodes, JetStream memory and
  storage used and reserved, meta leader;
- per stream (``account``, ``stream``): messages, bytes, consumers, first/last sequence,
  replicas, current replicas, the leader (``natsops_stream_leader{...,server}`` 1);
- per consumer (``account``, ``stream``, ``consumer``): pending, ack pending, redelivered,
  waiting pulls, delivered and ack floor stream sequences.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from natsops.findings import Finding, Severity, counts
from natsops.monitoring.snapshot import Snapshot, as_int, as_map

__all__ = ["CONTENT_TYPE", "Family", "render_error", "render_metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
Labels = Mapping[str, str]


@dataclass
class Family:
    """One metric family: its name, type, help and samples (labels, value)."""

    name: str
    kind: str  # gauge | counter
    help: str
    samples: list[tuple[Labels, float]] = field(default_factory=list)

    def add(self, value: float, **labels: str) -> None:
        self.samples.append((labels, value))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if value != value:  # NaN
        return "NaN"
    if float(value).is_integer() and abs(value) < 2**63:
        return str(int(value))
    return repr(float(value))


def _text(families: Iterable[Family]) -> str:
    out: list[str] = []
    for f in families:
        out.append(f"# HELP {f.name} {_escape(f.help)}")
        out.append(f"# TYPE {f.name} {f.kind}")
        for labels, value in f.samples:
            lab = ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items())
            out.append(f"{f.name}{{{lab}}} {_number(value)}" if lab
                       else f"{f.name} {_number(value)}")
    return "\n".join(out) + "\n"


class _Families:
    def __init__(self) -> None:
        self.by_name: dict[str, Family] = {}

    def __call__(self, name: str, kind: str, help: str) -> Family:
        if name not in self.by_name:
            self.by_name[name] = Family(name, kind, help)
        return self.by_name[name]


_SERVER = (  # (metric suffix, kind, help, varz key)
    ("connections", "gauge", "Client connections open", "connections"),
    ("subscriptions", "gauge", "Subscriptions", "subscriptions"),
    ("slow_consumers_total", "counter", "Slow consumer events since start", "slow_consumers"),
    ("in_msgs_total", "counter", "Messages received", "in_msgs"),
    ("out_msgs_total", "counter", "Messages sent", "out_msgs"),
    ("in_bytes_total", "counter", "Bytes received", "in_bytes"),
    ("out_bytes_total", "counter", "Bytes sent", "out_bytes"),
    ("mem_bytes", "gauge", "Resident memory of the server process", "mem"),
    ("cpu_percent", "gauge", "CPU use of the server process (100 = one core)", "cpu"),
    ("routes", "gauge", "Routes connected", "routes"),
    ("remotes", "gauge", "Gateway connections (outbound)", "remotes"),
    ("leafnodes", "gauge", "Leafnode connections", "leafnodes"),
)
_JS = (
    ("jetstream_memory_bytes", "memory"), ("jetstream_storage_bytes", "storage"),
    ("jetstream_reserved_memory_bytes", "reserved_memory"),
    ("jetstream_reserved_storage_bytes", "reserved_storage"),
    ("jetstream_streams", "streams"), ("jetstream_consumers", "consumers"),
    ("jetstream_ha_assets", "ha_assets"),
)
_CONSUMER = (
    ("num_pending", "Messages not yet delivered"),
    ("num_ack_pending", "Messages delivered and not acknowledged"),
    ("num_redelivered", "Messages redelivered"),
    ("num_waiting", "Waiting pull requests"),
)


def _servers(snap: Snapshot, fam: _Families) -> None:
    up = fam("natsops_server_up", "gauge", "1 when the server answered, 0 when it was expected "
             "and did not")
    leader = snap.meta_view.get("leader")
    for s in snap.servers:
        lab = {"server": s.name, "cluster": s.cluster or ""}
        up.add(1, **lab)
        varz = as_map(s.varz)
        for suffix, kind, help, key in _SERVER:
            if isinstance(varz.get(key), (int, float)):
                fam(f"natsops_server_{suffix}", kind, help).add(float(varz[key]), **lab)
        jsz = as_map(s.jsz)
        for suffix, key in _JS:
            if isinstance(jsz.get(key), (int, float)):
                fam(f"natsops_server_{suffix}", "gauge", f"JetStream {key.replace('_', ' ')} "
                    "on this server").add(float(jsz[key]), **lab)
        if s.meta:
            fam("natsops_server_meta_leader", "gauge", "1 on the JetStream meta leader").add(
                1 if leader == s.name else 0, **lab)
    for name in snap.missing:
        up.add(0, server=name, cluster="")


def _streams(snap: Snapshot, fam: _Families) -> None:
    for v in snap.streams:
        lab = {"account": v.account, "stream": v.name}
        st = v.state
        for suffix, key, help in (("messages", "messages", "Messages stored"),
                                  ("bytes", "bytes", "Bytes stored"),
                                  ("consumers", "consumer_count", "Consumers"),
                                  ("first_seq", "first_seq", "First sequence"),
                                  ("last_seq", "last_seq", "Last sequence")):
            fam(f"natsops_stream_{suffix}", "gauge", help).add(as_int(st.get(key)), **lab)
        fam("natsops_stream_replicas", "gauge", "Configured replicas").add(v.replicas, **lab)
        current = (1 if v.leader else 0) + sum(1 for p in v.peers if p.get("current"))
        fam("natsops_stream_replicas_current", "gauge", "Replicas current (leader included)"
            ).add(current if v.leader or v.peers else 1, **lab)
        if v.leader:
            fam("natsops_stream_leader", "gauge", "1 for the server leading the stream").add(
                1, **lab, server=v.leader)


def _consumers(snap: Snapshot, fam: _Families) -> None:
    for c in snap.consumers:
        lab = {"account": c.account, "stream": c.stream, "consumer": c.name}
        for key, help in _CONSUMER:
            fam(f"natsops_consumer_{key}", "gauge", help).add(as_int(c.info.get(key)), **lab)
        for suffix, part in (("delivered_stream_seq", "delivered"),
                             ("ack_floor_stream_seq", "ack_floor")):
            fam(f"natsops_consumer_{suffix}", "gauge", f"{part.replace('_', ' ')} (stream "
                "sequence)").add(as_int(as_map(c.info.get(part)).get("stream_seq")), **lab)


def _findings(findings: Sequence[Finding], fam: _Families) -> None:
    each = fam("natsops_doctor_finding", "gauge", "1 per current doctor finding (OK ones are "
               "not exported)")
    for f in findings:
        if f.severity > Severity.OK:
            each.add(1, check=f.id, severity=f.severity.label, subject=f.subject)
    total = fam("natsops_doctor_findings", "gauge", "Current doctor findings by severity")
    for label, n in counts(findings).items():
        total.add(n, severity=label)


def render_metrics(snap: Snapshot, findings: Sequence[Finding], *, gathered_at: float
                   ) -> str:
    """The exposition text for one gathering and the findings of the checks run on it."""
    fam = _Families()
    fam("natsops_doctor_up", "gauge", "1 when the last gathering reached the servers").add(1)
    fam("natsops_doctor_gather_seconds", "gauge", "How long the last gathering took").add(
        snap.seconds)
    fam("natsops_doctor_last_gather_timestamp_seconds", "gauge",
        "When the last gathering finished (epoch seconds)").add(gathered_at)
    servers = fam("natsops_doctor_servers", "gauge", "Servers by state in the last gathering")
    servers.add(len(snap.servers), state="answered")
    servers.add(len(snap.missing), state="missing")
    _findings(findings, fam)
    _servers(snap, fam)
    _streams(snap, fam)
    _consumers(snap, fam)
    return _text(fam.by_name.values())


def render_error(message: str, *, failed_at: float) -> str:
    """The exposition text when the last gathering failed: ``natsops_doctor_up 0``."""
    fam = _Families()
    fam("natsops_doctor_up", "gauge", "1 when the last gathering reached the servers").add(0)
    fam("natsops_doctor_last_error_timestamp_seconds", "gauge",
        "When the last gathering failed (epoch seconds)").add(failed_at)
    fam("natsops_doctor_error", "gauge", "1 with the reason the last gathering failed").add(
        1, reason=message[:200])
    return _text(fam.by_name.values())
