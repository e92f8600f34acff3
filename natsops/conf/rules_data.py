"""Rules for JSON/YAML documents: stream recipes (StreamConfig) and official Helm chart values.

Positions are found by looking for the key in the source text (JSON and YAML loaders keep no
line numbers); they point at the first line that names the key.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from natsops.conf.parser import Config, Pos
from natsops.conf.registry import Hit, rule
from natsops.findings import Severity

FAIL, WARN, INFO = Severity.FAIL, Severity.WARN, Severity.INFO


@dataclass(frozen=True)
class Doc:
    """One JSON/YAML document (a stream config or chart values) and its source text."""

    file: str
    data: Mapping[str, Any]
    text: str
    label: str = ""
    start: int = 0  # lines to skip when looking for keys (where this stream's entry begins)

    def pos(self, *keys: str) -> Pos:
        lines = self.text.splitlines()
        for key in keys:
            pat = re.compile(r"""(^|[\s{,"'\[-])""" + re.escape(key) + r"""["']?\s*[:,\]]?""")
            for i, line in enumerate(lines[self.start:], start=self.start + 1):
                if pat.search(line):
                    return Pos(self.file, i, line.find(key) + 1)
        return Pos(self.file, self.start + 1, 1)

    @property
    def name(self) -> str:
        return str(self.data.get("name") or self.label or "stream")


def _num(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str) and v.strip():
        return 1.0  # a size or age string such as "50GB" or "720h": set
    return None


def _limit_set(data: Mapping[str, Any], *keys: str) -> bool:
    for k in keys:
        v = _num(data.get(k))
        if v is not None and v > 0:
            return True
    return False


def _replicas(data: Mapping[str, Any]) -> int | None:
    for k in ("num_replicas", "replicas", "Replicas"):
        v = data.get(k)
        if isinstance(v, int) and not isinstance(v, bool):
            return v
    return None


@rule("stream/retention", WARN, "Exactly one dominant limit: max_age, max_bytes or max_msgs",
      scope="stream")
def retention(doc: Doc) -> Iterator[Hit]:
    d = doc.data
    pairs = (("max_age", ("max_age", "MaxAge")), ("max_bytes", ("max_bytes", "MaxBytes")),
             ("max_msgs", ("max_msgs", "MaxMsgs")))
    limits = [name for name, keys in pairs if _limit_set(d, *keys)]
    if not limits:
        yield Hit(doc.pos("name"), f"stream {doc.name} has no max_age, max_bytes or max_msgs: it "
                  "grows until the server's max_file_store is full and then every stream on the "
                  "server stops accepting writes", "pick one dominant limit, e.g. max_age: 7d, "
                  "and keep max_bytes as a safety net", subject=doc.name)
    elif len(limits) == 3:
        yield Hit(doc.pos("max_msgs"), f"stream {doc.name} sets all three limits "
                  f"({', '.join(limits)}): which one removes messages depends on the traffic",
                  "make one the dominant constraint and size the others as safety nets above "
                  "it", subject=doc.name, severity=INFO)


@rule("stream/invalid-value", FAIL, "Values `stream add --config` refuses (sizes, durations)",
      scope="stream")
def invalid_value(doc: Doc) -> Iterator[Hit]:
    yield from _invalid_values(doc, "stream")


@rule("consumer/invalid-value", FAIL, "Values `consumer add --config` refuses (durations)",
      scope="consumer")
def consumer_invalid_value(doc: Doc) -> Iterator[Hit]:
    yield from _invalid_values(doc, "consumer")


def _invalid_values(doc: Doc, kind: str) -> Iterator[Hit]:
    from natsops.errors import UsageError
    from natsops.jetstream.spec import normalise_config

    name = (doc.data.get("durable_name") or doc.data.get("name") or "") if kind == "consumer" \
        else doc.name
    for key, value in doc.data.items():
        try:  # one field at a time, so every bad field is reported, not only the first
            normalise_config({key: value}, kind)
        except UsageError as exc:
            yield Hit(doc.pos(str(key)), f"{kind} {name}: {exc}; `natsops {kind} add "
                      "--config` refuses this file", "sizes like 50GB, 1MiB or -1; durations "
                      "like 720h, 2m, 1d", subject=str(name))


@rule("stream/replicas", WARN, "R1 only for dev/edge, R3 for prod, no even replica counts",
      scope="stream")
def replicas(doc: Doc) -> Iterator[Hit]:
    r = _replicas(doc.data)
    if r is None:
        return
    where = doc.pos("num_replicas", "replicas")
    if r > 5:
        yield Hit(where, f"stream {doc.name}: {r} replicas; the server allows at most 5",
                  "replicas: 3 (or 5 for critical streams)", subject=doc.name, severity=FAIL)
    elif r in (2, 4):
        yield Hit(where, f"stream {doc.name}: R{r} tolerates no more failures than R{r - 1} "
                  "(Raft needs a majority) and costs more", f"replicas: {r + 1 if r == 2 else 5}"
                  f" or {r - 1}", subject=doc.name)
    elif r == 1:
        yield Hit(where, f"stream {doc.name} is R1: one server restart makes it unavailable; "
                  "the guide keeps R1 for development and edge", "replicas: 3 in production",
                  subject=doc.name, severity=INFO)


_PII = re.compile(r"(?i)^(e-?mail|ssn|social|phone|mobile|passport|iban|card|cc|credit|dob|"
                  r"birth(date)?|first_?name|last_?name|full_?name|address|ip_?addr)$")
_EMAILISH = re.compile(r"@|^\d{3}-\d{2}-\d{4}$")


@rule("stream/subjects", WARN, "Subjects without PII and with a stable token order",
      scope="stream")
def subjects(doc: Doc) -> Iterator[Hit]:
    subs = doc.data.get("subjects") or []
    if isinstance(subs, str):
        subs = [subs]
    orders: dict[tuple[str, ...], str] = {}
    for s in subs:
        if not isinstance(s, str):
            continue
        where = doc.pos(s) if s in doc.text else doc.pos("subjects")
        tokens = s.split(".")
        pii = [t for t in tokens if _PII.match(t) or _EMAILISH.search(t)]
        if pii:
            yield Hit(where, f"stream {doc.name}: subject {s!r} has tokens that look like "
                      f"personal data ({', '.join(pii)}); subjects are not encrypted in protocol "
                      "metadata", "use opaque ids in subjects and keep personal data in the "
                      "payload", subject=doc.name)
        if s in (">", "*.>") or (tokens[0] in ("*", ">") and len(tokens) <= 2):
            yield Hit(where, f"stream {doc.name}: subject {s!r} captures (almost) everything, "
                      "including other streams' and the $JS API's traffic", "start with a "
                      "literal token: region.tenant.entity.action.id", subject=doc.name)
        literal = tuple(sorted(t for t in tokens if t not in ("*", ">")))
        if literal in orders and orders[literal] != s and len(literal) > 1:
            yield Hit(where, f"stream {doc.name}: {s!r} and {orders[literal]!r} use the same "
                      "tokens in a different order", "pick one hierarchical order, e.g. "
                      "region.tenant.entity.action.id", subject=doc.name)
        orders.setdefault(literal, s)


def _get(data: Mapping[str, Any], *path: str) -> Any:
    cur: Any = data
    for p in path:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(p)
    return cur


def _patched(values: Mapping[str, Any], section: str, json_path: str) -> Any:
    """The value a chart section sets via ``merge`` or a JSON ``patch`` at ``json_path``."""
    merged = _get(values, section, "merge", *json_path.strip("/").split("/"))
    if merged is not None:
        return merged
    for op in _get(values, section, "patch") or []:
        if isinstance(op, Mapping) and op.get("op") in ("add", "replace") and \
                str(op.get("path", "")).rstrip("/") == json_path:
            return op.get("value")
    return None


@rule("helm/jetstream-cluster", WARN, "Chart: JetStream cluster of odd size >= 3", scope="helm")
def helm_cluster(doc: Doc) -> Iterator[Hit]:
    v = doc.data
    js = _get(v, "config", "jetstream", "enabled") is True
    cl = _get(v, "config", "cluster", "enabled") is True
    reps = _get(v, "config", "cluster", "replicas")
    if js and cl and isinstance(reps, int) and (reps % 2 == 0 or reps < 3):
        yield Hit(doc.pos("replicas"), f"config.cluster.replicas is {reps}: a JetStream "
                  "cluster needs an odd count of at least 3 for Raft", "replicas: 3 or 5",
                  subject="config.cluster.replicas",
                  severity=FAIL if reps < 2 else WARN)
    if js and _get(v, "config", "jetstream", "fileStore", "enabled") is not False and \
            _get(v, "config", "jetstream", "fileStore", "maxSize") in (None, ""):
        yield Hit(doc.pos("fileStore"), "config.jetstream.fileStore.maxSize is unset, so "
                  "max_file_store = the whole PVC: no headroom for compaction "
                  "(\"resource limits exceeded\")", "set maxSize to ~80-90% of pvc.size",
                  subject="config.jetstream.fileStore.maxSize", severity=INFO)


@rule("helm/jetstream-hpa", FAIL, "Chart: never autoscale a JetStream cluster", scope="helm")
def helm_hpa(doc: Doc) -> Iterator[Hit]:
    if _get(doc.data, "config", "jetstream", "enabled") is not True:
        return
    for i, res in enumerate(doc.data.get("extraResources") or []):
        if isinstance(res, Mapping) and res.get("kind") == "HorizontalPodAutoscaler":
            yield Hit(doc.pos("HorizontalPodAutoscaler"), "a HorizontalPodAutoscaler scales "
                      "the JetStream StatefulSet: each scale event changes the Raft peer set",
                      "remove it; the guide: HPA only for non-JetStream workloads",
                      subject=f"extraResources[{i}]")
    hpa = doc.data.get("autoscaling") or doc.data.get("hpa")
    if isinstance(hpa, Mapping) and hpa.get("enabled") is True:
        yield Hit(doc.pos("autoscaling", "hpa"), "autoscaling is enabled for a JetStream "
                  "cluster", "disable it", subject="autoscaling")


@rule("helm/pod-management", FAIL, "Chart: podManagementPolicy must stay Parallel", scope="helm")
def helm_pod_management(doc: Doc) -> Iterator[Hit]:
    pol = _patched(doc.data, "statefulSet", "/spec/podManagementPolicy")
    if pol == "OrderedReady" and _get(doc.data, "config", "cluster", "enabled") is True:
        yield Hit(doc.pos("podManagementPolicy"), "podManagementPolicy OrderedReady: pod-0 "
                  "waits to be Ready before pod-1 starts, but a JetStream cluster is only "
                  "ready with a quorum, so a cold start never completes (nats-io/k8s#594)",
                  "remove the override (the chart uses Parallel)",
                  subject="statefulSet.spec.podManagementPolicy")


@rule("helm/liveness", WARN, "Chart: liveness must not use the full /healthz", scope="helm")
def helm_liveness(doc: Doc) -> Iterator[Hit]:
    probe = _patched(doc.data, "container", "/livenessProbe")
    path = _get(probe, "httpGet", "path") if isinstance(probe, Mapping) else None
    if path is None:
        path = _patched(doc.data, "container", "/livenessProbe/httpGet/path")
    if isinstance(path, str) and path.split("?")[0] == "/healthz" and "js-enabled-only" not in path:
        yield Hit(doc.pos("livenessProbe", "path"), f"liveness probe on {path!r}: the full "
                  "health check fails while a node catches up, so Kubernetes kills it mid "
                  "catch-up, again and again (nats-server#3563)",
                  "use /healthz?js-enabled-only=true for liveness (the chart default)",
                  subject="container.livenessProbe")


def _seconds(v: Any) -> float | None:
    from natsops.conf.values import go_duration

    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    return go_duration(v) if isinstance(v, str) else None


@rule("helm/lame-duck", WARN, "Chart: termination grace period covers lame duck mode",
      scope="helm")
def helm_lame_duck(doc: Doc) -> Iterator[Hit]:
    merged = _get(doc.data, "config", "merge") or {}
    ldm = _seconds(merged.get("lame_duck_duration", "30s")) if isinstance(merged, Mapping) \
        else 30.0
    grace = _patched(doc.data, "podTemplate", "/spec/terminationGracePeriodSeconds")
    grace_s = _seconds(grace) if grace is not None else 60.0
    if ldm is not None and grace_s is not None and grace_s < ldm:
        yield Hit(doc.pos("terminationGracePeriodSeconds", "lame_duck_duration"),
                  f"terminationGracePeriodSeconds ({grace_s:g}s) is shorter than "
                  f"lame_duck_duration ({ldm:g}s): Kubernetes kills the pod before lame duck "
                  "mode has moved the clients off", "set terminationGracePeriodSeconds to at "
                  "least lame_duck_duration + 20s", subject="podTemplate.terminationGrace")


def _stream_bytes(data: Mapping[str, Any]) -> int | None:
    from natsops.errors import UsageError
    from natsops.units import parse_size

    v = data.get("max_bytes", data.get("MaxBytes"))
    if v is None or isinstance(v, bool):
        return None
    try:
        n = parse_size(v if isinstance(v, (int, str)) else str(v), what="max_bytes")
    except UsageError:  # an unparseable size is not this rule's business
        return None
    return n if n > 0 else None


@rule("set/streams-fit", FAIL, "Streams' max_bytes fit the servers' JetStream limits",
      scope="fit")
def streams_fit(confs: Sequence[Config], docs: Sequence[Doc]) -> Iterator[Hit]:
    from natsops.conf.values import jetstream_enabled, js_size

    limits: dict[str, list[int]] = {"file": [], "memory": []}
    for c in confs:
        if not jetstream_enabled(c.get("jetstream")):
            continue
        for kind, keys in (("file", ("max_file_store", "max_file")),
                           ("memory", ("max_memory_store", "max_mem_store", "max_mem"))):
            node = c.get("jetstream")
            n = node.child(*keys) if node is not None else None
            size = js_size(n) if n is not None else None
            if size is not None and size > 0:
                limits[kind].append(size)
    servers = sum(1 for c in confs if jetstream_enabled(c.get("jetstream")))
    for kind in ("file", "memory"):
        if not limits[kind] or len(limits[kind]) != servers:
            continue  # a server without an explicit limit: nothing to compare with
        smallest = min(limits[kind])
        total = 0.0
        for doc in docs:
            storage = str(doc.data.get("storage", "file")).lower()
            if ("memory" if storage.startswith("mem") else "file") != kind:
                continue
            mb = _stream_bytes(doc.data)
            if mb is None:
                continue
            reps = _replicas(doc.data) or 1
            total += mb * reps
            if mb > smallest:
                yield Hit(doc.pos("max_bytes"), f"stream {doc.name}: max_bytes {mb:,} is larger "
                          f"than the smallest server's max_{kind}_store ({smallest:,}): each "
                          "replica must fit on one server", "lower max_bytes or raise "
                          f"max_{kind}_store", subject=doc.name)
        capacity = smallest * servers
        if total > capacity:
            yield Hit(docs[0].pos("max_bytes"), f"the streams may hold {total:,.0f} bytes with "
                      f"replicas, more than the {servers} servers' max_{kind}_store "
                      f"({capacity:,}): writes stop with 'insufficient resources' once they fill",
                      "raise max_file_store (natsops sizing) or lower the streams' max_bytes",
                      subject="streams")
