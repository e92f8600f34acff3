"""A check result as natscli renders it: a Nagios line, a JSON document, Prometheus text."""

from __future__ import annotations

from typing import Any

from natsops.check.model import CheckResult, Perf, by_severity, nagios_code, status_label
from natsops.findings import Severity, document, to_prometheus

__all__ = ["json_document", "nagios_line", "perf_map", "prometheus_text"]


def _level(v: float | None, unit: str) -> str:
    if v is None:
        return ""
    return f"{v:.4f}" if unit == "s" else f"{v:g}"


def _perf(p: Perf) -> str:
    name = f"'{p.name}'" if " " in p.name else p.name
    value = f"{p.value:.4f}" if p.unit == "s" else f"{p.value:g}"
    text = f"{name}={value}{p.unit}"
    if p.warn is not None or p.crit is not None:
        text += f";{_level(p.warn, p.unit)}"
    if p.crit is not None:
        text += f";{_level(p.crit, p.unit)}"
    return text


def nagios_line(r: CheckResult) -> str:
    """``<STATUS> <name> Crit:.. Warn:.. OK:.. | perf`` (natscli's shape)."""
    parts = [status_label(r), r.name]
    if r.unknown is not None:
        parts.append(r.unknown)
    parts += [f"Crit:{m}" for m in by_severity(r.findings, Severity.FAIL)]
    parts += [f"Warn:{m}" for m in by_severity(r.findings, Severity.WARN)]
    parts += [f"OK:{m}" for m in by_severity(r.findings, Severity.OK)]
    line = " ".join(parts).replace("|", "/")
    if r.perf:
        line += " | " + " ".join(_perf(p) for p in r.perf)
    return line


def perf_map(r: CheckResult) -> dict[str, float]:
    """Perf items by name; a name measured more than once (per source) keeps the worst."""
    out: dict[str, float] = {}
    for p in r.perf:
        out[p.name] = max(out.get(p.name, p.value), p.value)
    return out


def json_document(r: CheckResult) -> dict[str, Any]:
    """The findings document plus natscli's ``check_suite``/``check_name``/``perf_data``;
    ``status`` and ``exit_code`` are the Nagios ones."""
    doc = document(r.findings, check_suite=r.suite, check_name=r.name,
                   perf_data=[{"name": p.name, "value": p.value, "warning": p.warn,
                               "critical": p.crit, "unit": p.unit} for p in r.perf],
                   output=r.unknown)
    doc["status"], doc["exit_code"] = status_label(r), nagios_code(r)
    return doc


def prometheus_text(r: CheckResult, namespace: str = "natsops_check") -> str:
    return to_prometheus(r.findings, name=r.suite, asset=r.name, perfdata=perf_map(r),
                         namespace=namespace, status_code=nagios_code(r))
