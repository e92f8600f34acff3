"""One finding model for every check: doctor checks, lint rules, preflights, plan warnings.

A check yields :class:`Finding` objects; :func:`exit_code` turns the worst severity into the
process exit code, and the CLI renders a list of findings as a table, JSON, Nagios or SARIF.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from natsops.errors import ExitCode

__all__ = ["Finding", "Location", "Severity", "counts", "document", "exit_code", "nagios",
           "to_json", "to_prometheus", "to_sarif", "worst"]


class Severity(IntEnum):
    """How bad a finding is; ordered so that ``max()`` gives the worst."""

    OK = 0
    INFO = 1
    WARN = 2
    FAIL = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            from natsops.errors import UsageError

            raise UsageError(f"unknown severity {text!r}: use ok, info, warn or fail") from None


@dataclass(frozen=True)
class Location:
    """Where a finding points: a file position (lint) or nothing."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line:
            col = f":{self.column}" if self.column else ""
            return f"{self.file}:{self.line}{col}"
        return self.file

    def to_json(self) -> dict[str, Any]:
        """``{"file", "line", "column"}``; line and column are null when unknown."""
        return {"file": self.file, "line": self.line or None, "column": self.column or None}


@dataclass(frozen=True)
class Finding:
    """One result of one check.

    ``id`` names the check or rule (``JS003``, ``conf/ping-interval-unquoted``); ``subject`` is
    what it is about (a server, a stream, a config key); ``evidence`` holds the numbers and
    names that prove it; ``fix`` is the exact command or config change.
    """

    id: str
    severity: Severity
    subject: str
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    fix: str | None = None
    title: str | None = None
    location: Location | None = None

    @classmethod
    def ok(cls, id: str, subject: str, message: str, **kw: Any) -> Finding:
        return cls(id, Severity.OK, subject, message, **kw)

    @classmethod
    def info(cls, id: str, subject: str, message: str, **kw: Any) -> Finding:
        return cls(id, Severity.INFO, subject, message, **kw)

    @classmethod
    def warn(cls, id: str, subject: str, message: str, **kw: Any) -> Finding:
        return cls(id, Severity.WARN, subject, message, **kw)

    @classmethod
    def fail(cls, id: str, subject: str, message: str, **kw: Any) -> Finding:
        return cls(id, Severity.FAIL, subject, message, **kw)


def worst(findings: Iterable[Finding]) -> Severity:
    """The highest severity among ``findings`` (OK for none)."""
    return max((f.severity for f in findings), default=Severity.OK)


def exit_code(findings: Iterable[Finding], *, strict: bool = False) -> ExitCode:
    """FAILED (6) when any finding is FAIL (or WARN with ``strict``), else OK."""
    w = worst(findings)
    if w >= Severity.FAIL or (strict and w >= Severity.WARN):
        return ExitCode.FAILED
    return ExitCode.OK


def to_sarif(findings: Iterable[Finding], *, tool: str, version: str,
             rules: Mapping[str, str] | None = None, uri_base: str | None = None) -> dict[str, Any]:
    """A SARIF 2.1.0 log (one run) for code-scanning UIs; ``rules`` maps id -> title."""
    levels = {Severity.FAIL: "error", Severity.WARN: "warning", Severity.INFO: "note",
              Severity.OK: "none"}
    items = list(findings)
    ids = sorted({f.id for f in items} | set(rules or {}))
    results = []
    for f in items:
        text = f.message + (f" Fix: {f.fix}" if f.fix else "")
        res: dict[str, Any] = {"ruleId": f.id, "ruleIndex": ids.index(f.id),
                               "level": levels[f.severity], "message": {"text": text}}
        if f.location is not None:
            region: dict[str, int] = {}
            if f.location.line:
                region["startLine"] = f.location.line
                if f.location.column:
                    region["startColumn"] = f.location.column
            phys: dict[str, Any] = {"artifactLocation": {"uri": f.location.file}}
            if uri_base:
                phys["artifactLocation"]["uriBaseId"] = uri_base
            if region:
                phys["region"] = region
            res["locations"] = [{"physicalLocation": phys}]
        results.append(res)
    driver = {"name": tool, "version": version,
              "rules": [{"id": i, "name": i.replace("/", "-"),
                         "shortDescription": {"text": (rules or {}).get(i, i)}} for i in ids]}
    return {"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
            "runs": [{"tool": {"driver": driver}, "results": results}]}


def _prom_name(text: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in text)


def _prom_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def to_prometheus(findings: Iterable[Finding], *, name: str, asset: str,
                  perfdata: Mapping[str, float] | None = None, namespace: str = "natsops_check",
                  status_code: int | None = None) -> str:
    """Prometheus text exposition: one gauge per perf item and a status gauge.

    ``<namespace>_<name>_<perf>{name="<name>",asset="<asset>"} value`` for every perf item, and
    ``<namespace>_<name>_status_code{...,status="OK|WARNING|CRITICAL|UNKNOWN"}`` whose value is
    the Nagios code (``status_code`` when given, else the findings' worst severity).
    """
    items = list(findings)
    if status_code is None:
        w = worst(items)
        status_code = (NAGIOS_CRITICAL if w >= Severity.FAIL else
                       NAGIOS_WARNING if w >= Severity.WARN else NAGIOS_OK)
    label = ("OK", "WARNING", "CRITICAL", "UNKNOWN")[status_code]
    prefix = f"{_prom_name(namespace)}_{_prom_name(name)}"
    labels = f'name="{_prom_label(name)}",asset="{_prom_label(asset)}"'
    lines: list[str] = []
    for key, value in [*(perfdata or {}).items(), ("status_code", status_code)]:
        metric = f"{prefix}_{_prom_name(key)}"
        extra = f',status="{label}"' if key == "status_code" else ""
        lines += [f"# TYPE {metric} gauge", f"{metric}{{{labels}{extra}}} {float(value):g}"]
    return "\n".join(lines) + "\n"


NAGIOS_OK, NAGIOS_WARNING, NAGIOS_CRITICAL, NAGIOS_UNKNOWN = 0, 1, 2, 3


def nagios(name: str, findings: Iterable[Finding], *, strict: bool = False,
           perfdata: Mapping[str, float | int] | None = None) -> tuple[int, str]:
    """One Nagios plugin status line and its exit code (0 OK, 1 WARNING, 2 CRITICAL).

    ``strict`` turns a WARN into CRITICAL, as it turns it into a failure elsewhere.
    """
    items = list(findings)
    w = worst(items)
    if w >= Severity.FAIL or (strict and w >= Severity.WARN):
        code, label = NAGIOS_CRITICAL, "CRITICAL"
    elif w >= Severity.WARN:
        code, label = NAGIOS_WARNING, "WARNING"
    else:
        code, label = NAGIOS_OK, "OK"
    counts = {s: sum(1 for f in items if f.severity == s) for s in (Severity.FAIL, Severity.WARN)}
    bad = [f for f in items if f.severity >= Severity.WARN]
    text = f"{name} {label}: {counts[Severity.FAIL]} fail, {counts[Severity.WARN]} warn"
    if bad:
        text += " - " + "; ".join(f"[{f.id}] {f.message}" for f in bad[:3])
        if len(bad) > 3:
            text += f"; and {len(bad) - 3} more"
    perf = {"fail": counts[Severity.FAIL], "warn": counts[Severity.WARN], **(perfdata or {})}
    text = text.replace("|", "/") + " | " + " ".join(f"{k}={v:g}" if isinstance(v, float)
                                                     else f"{k}={v}" for k, v in perf.items())
    return code, text


def to_json(f: Finding) -> dict[str, Any]:
    """A finding as a JSON object; the same keys for every command that reports findings."""
    return {
        "id": f.id,
        "severity": f.severity.label,
        "title": f.title,
        "subject": f.subject,
        "message": f.message,
        "evidence": _plain(dict(f.evidence)),
        "fix": f.fix,
        "location": f.location.to_json() if f.location else None,
    }


def counts(findings: Iterable[Finding]) -> dict[str, int]:
    """How many findings of each severity: ``{"fail": n, "warn": n, "info": n, "ok": n}``."""
    out = {s.label: 0 for s in sorted(Severity, reverse=True)}
    for f in findings:
        out[f.severity.label] += 1
    return out


def document(findings: Iterable[Finding], *, strict: bool = False,
             **extra: Any) -> dict[str, Any]:
    """The one JSON document of every command that reports findings.

    ``{"status", "exit_code", "counts", "findings": [...]}`` plus the command's own ``extra`` keys
    (doctor: servers and transport; lint: files and digests; backup verify: the manifest).
    ``status`` is the worst severity's label; ``exit_code`` is what the command exits with.
    """
    items = list(findings)
    clash = {"status", "exit_code", "counts", "findings"} & set(extra)
    if clash:
        raise ValueError(f"extra keys clash with the findings document: {sorted(clash)}")
    return {"status": worst(items).label, "exit_code": int(exit_code(items, strict=strict)),
            "counts": counts(items), "findings": [to_json(f) for f in items], **extra}


def _plain(value: Any) -> Any:
    """Evidence as JSON values: tuples become lists, enums their value, the rest unchanged."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if isinstance(value, IntEnum):
        return int(value)
    return value
