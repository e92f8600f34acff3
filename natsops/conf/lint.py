"""Run the lint rules over files: nats-server configs, stream recipes and Helm chart values.

The file type comes from the content (and the extension as a tie-breaker): YAML/JSON with a
chart ``config:`` section is Helm values, YAML/JSON with ``subjects``/``retention``/``streams``
is a stream recipe, everything else is a nats-server config (JSON objects are valid configs).

Findings can be silenced per line with a comment ``# natsops:disable=RULE[,RULE]`` on the same
line or the line before, per file with ``# natsops:disable-file=RULE``, and per run with
``disable=``. A rule id ending in ``*`` matches a prefix (``conf/*``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from natsops.conf import rules_conf, rules_data, rules_set  # noqa: F401 - registers the rules
from natsops.conf.parser import Config, parse_text
from natsops.conf.registry import RULES, Hit, Rule
from natsops.conf.rules_data import Doc
from natsops.errors import UsageError
from natsops.findings import Finding, Location, Severity

__all__ = ["LintReport", "detect_kind", "lint_paths", "lint_texts"]

_DISABLE = re.compile(r"natsops:disable(-file)?=([\w/*,.-]+)")
_CHART_CONFIG_KEYS = {"cluster", "jetstream", "nats", "monitor", "merge", "patch"}
_CHART_TOP_KEYS = {"statefulSet", "podTemplate", "container", "natsBox", "reloader"}
_STREAM_KEYS = {"subjects", "retention", "storage", "num_replicas", "max_age", "max_msgs",
                "max_bytes", "discard", "duplicate_window"}


@dataclass(frozen=True)
class LintReport:
    """Findings of one lint run in file and line order, plus what was read."""

    findings: list[Finding]
    files: dict[str, str] = field(default_factory=dict)  # file -> kind
    digests: dict[str, str] = field(default_factory=dict)  # conf file -> sha256 digest


def _load_data(text: str, file: str) -> Any:
    if file.endswith(".json") or text.lstrip().startswith(("{", "[")):
        try:
            return json.loads(text)
        except ValueError:
            if file.endswith(".json"):
                raise
    if file.endswith((".yaml", ".yml")):
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else file
            raise UsageError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    return None


def detect_kind(file: str, text: str) -> tuple[str, Any]:
    """("conf" | "stream" | "helm", loaded data or None) for one file."""
    try:
        data = _load_data(text, file)
    except ValueError as exc:
        raise UsageError(f"{file}: invalid JSON: {exc}") from None
    if isinstance(data, Mapping):
        cfg = data.get("config")
        chart_config = isinstance(cfg, Mapping) and bool(_CHART_CONFIG_KEYS & set(cfg))
        if chart_config or _CHART_TOP_KEYS & set(data):
            return "helm", data
        if _STREAM_KEYS & set(data) or isinstance(data.get("streams"), (list, Mapping)):
            return "stream", data
    if isinstance(data, list) and data and all(isinstance(d, Mapping) for d in data):
        return "stream", data
    if data is not None and file.endswith((".yaml", ".yml")):
        raise UsageError(f"{file}: YAML that is neither a stream recipe nor Helm chart values")
    return "conf", None


def _streams(data: Any) -> list[tuple[str, Mapping[str, Any]]]:
    if isinstance(data, list):
        return [("", d) for d in data if isinstance(d, Mapping)]
    if isinstance(data, Mapping):
        inner = data.get("streams")
        if isinstance(inner, list):
            return [("", d) for d in inner if isinstance(d, Mapping)]
        if isinstance(inner, Mapping):
            return [(str(k), v) for k, v in inner.items() if isinstance(v, Mapping)]
        if "config" in data and isinstance(data["config"], Mapping):  # StreamInfo JSON
            return [("", data["config"])]
        return [("", data)]
    return []


def _entry_line(text: str, name: object) -> int:
    """The 0-based line where a stream named ``name`` is declared (0 when not found)."""
    if not isinstance(name, str) or not name:
        return 0
    pat = re.compile(r"""(name["']?\s*:\s*["']?|^\s*["']?)""" + re.escape(name)
                     + r"""["']?\s*[:,}]?\s*$""")
    for i, line in enumerate(text.splitlines()):
        if pat.search(line):
            return i
    return 0


def _disabled(text: str) -> tuple[dict[int, set[str]], set[str]]:
    per_line: dict[int, set[str]] = {}
    whole: set[str] = set()
    for i, line in enumerate(text.splitlines(), start=1):
        for m in _DISABLE.finditer(line):
            ids = {x for x in m.group(2).split(",") if x}
            if m.group(1):
                whole |= ids
            else:
                per_line.setdefault(i, set()).update(ids)
                per_line.setdefault(i + 1, set()).update(ids)
    return per_line, whole


def _matches(rule_id: str, patterns: Iterable[str]) -> bool:
    return any(rule_id == p or (p.endswith("*") and rule_id.startswith(p[:-1]))
               for p in patterns)


def _finding(r: Rule, h: Hit) -> Finding:
    pos = h.pos
    loc = Location(pos.file, pos.line, pos.col) if pos else None
    return Finding(id=r.id, severity=h.severity or r.severity, subject=h.subject or
                   (pos.file if pos else ""), message=h.message, evidence=h.evidence or {},
                   fix=h.fix, title=r.title, location=loc)


def lint_texts(sources: Mapping[str, str], *, disable: Sequence[str] = (),
               min_severity: Severity = Severity.INFO,
               env: Mapping[str, str] | None = None) -> LintReport:
    """Lint file contents given as {file name: text}; names anchor includes and positions."""
    unknown = [d for d in disable if not d.endswith("*") and d not in RULES]
    if unknown:
        raise UsageError(f"unknown rule id {unknown[0]!r}: see natsops lint --list-rules")
    hits: list[tuple[Rule, Hit]] = []
    kinds: dict[str, str] = {}
    digests: dict[str, str] = {}
    confs: list[Config] = []
    stream_docs: list[Doc] = []
    for file, text in sources.items():
        kind, data = detect_kind(file, text)
        kinds[file] = kind
        if kind == "conf":
            cfg = parse_text(text, file, env=env)
            confs.append(cfg)
            digests[file] = cfg.digest()
            hits += [(r, h) for r in _scope("conf") for h in r.check(cfg)]
        elif kind == "stream":
            for label, sc in _streams(data):
                doc = Doc(file, sc, text, label, _entry_line(text, label or sc.get("name")))
                stream_docs.append(doc)
                hits += [(r, h) for r in _scope("stream") for h in r.check(doc)]
        else:
            doc = Doc(file, data, text)
            hits += [(r, h) for r in _scope("helm") for h in r.check(doc)]
    if len(confs) > 1:
        hits += [(r, h) for r in _scope("set") for h in r.check(confs)]
    if confs and stream_docs:
        hits += [(r, h) for r in _scope("fit") for h in r.check(confs, stream_docs)]
    disabled = {f: _disabled(t) for f, t in sources.items()}
    findings: list[Finding] = []
    for r, h in hits:
        f = _finding(r, h)
        if f.severity < min_severity or _matches(r.id, disable):
            continue
        if f.location is not None and f.location.file in disabled:
            per_line, whole = disabled[f.location.file]
            if _matches(r.id, whole) or _matches(r.id, per_line.get(f.location.line, ())):
                continue
        findings.append(f)
    findings.sort(key=lambda f: (f.location.file if f.location else "",
                                 f.location.line if f.location else 0,
                                 f.location.column if f.location else 0, -f.severity, f.id))
    return LintReport(findings, kinds, digests)


def _scope(scope: str) -> list[Rule]:
    return [r for r in RULES.values() if r.scope == scope]


def lint_paths(paths: Sequence[str | Path], *, disable: Sequence[str] = (),
               min_severity: Severity = Severity.INFO,
               env: Mapping[str, str] | None = None) -> LintReport:
    """Read and lint files (a directory means its ``*.conf`` files, recursively).

    An unreadable or unparseable file raises UsageError (exit 2).
    """
    if not paths:
        raise UsageError("give at least one file to lint")
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(p.rglob("*.conf"))
            if not found:
                raise UsageError(f"{p}: no *.conf files in this directory")
            files += found
        else:
            files.append(p)
    sources: dict[str, str] = {}
    for p in files:
        name = str(p)
        try:
            sources[name] = Path(p).read_bytes().decode("utf-8", "surrogateescape")
        except OSError as exc:
            raise UsageError(f"{name}: cannot read: {exc.strerror or exc}") from None
    return lint_texts(sources, disable=disable, min_severity=min_severity, env=env)
