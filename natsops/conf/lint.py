"""Run the lint rules over files: nats-server configs, stream recipes and Helm chart values.

The file type comes from the content (and the extension as a tie-breaker): YAML/JSON with a
chart ``config:`` section is Helm values, YAML/JSON with ``subjects``/``retention``/``streams``
is a stream recipe, YAML with top-level ``kind:`` documents is an estate recipe (``natsops
plan``: its Stream and Consumer specs get the stream/consumer rules), everything else is a
nats-server config (JSON objects are valid configs).

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

from natsops.conf import (  # noqa: F401 - registers the rules
    rules_conf,
    rules_data,
    rules_set,
    rules_tls,
)
from natsops.conf.parser import Config, ConfSyntaxError, Pos, parse_text
from natsops.conf.registry import RULES, Hit, Rule, rule
from natsops.conf.rules_data import Doc
from natsops.errors import UsageError
from natsops.findings import Finding, Location, Severity
from natsops.secrets import mask_data, mask_text

__all__ = ["LintReport", "detect_kind", "lint_paths", "lint_texts"]

_DISABLE = re.compile(r"natsops:disable(-file)?=([\w/*,.-]+)")
_CHART_CONFIG_KEYS = {"cluster", "jetstream", "nats", "monitor", "merge", "patch"}
_CHART_TOP_KEYS = {"statefulSet", "podTemplate", "container", "natsBox", "reloader"}
_CONSUMER_KEYS = {"durable_name", "ack_policy", "deliver_policy", "filter_subject",
                  "filter_subjects", "max_deliver", "ack_wait", "replay_policy",
                  "max_ack_pending", "deliver_subject"}
_ESTATE_DOC = re.compile(r"^kind:[ \t]*[A-Za-z]", re.MULTILINE)
_STREAM_KEYS = {"subjects", "retention", "storage", "num_replicas", "max_age", "max_msgs",
                "max_bytes", "discard", "duplicate_window"}



def _not_a_rule(*_: object) -> Iterable[Hit]:
    return ()  # reported by the loader, not by a check over parsed content


rule("conf/parse-error", Severity.FAIL, "nats-server config syntax the server rejects",
     scope="file")(_not_a_rule)
rule("file/parse-error", Severity.FAIL, "JSON/YAML that does not parse or is of no known kind",
     scope="file")(_not_a_rule)
rule("estate/invalid", Severity.FAIL, "An estate recipe document `natsops plan` rejects",
     scope="file")(_not_a_rule)
rule("file/unreadable", Severity.FAIL, "A file that cannot be read", scope="file")(_not_a_rule)

@dataclass(frozen=True)
class LintReport:
    """Findings of one lint run in file and line order, plus what was read."""

    findings: list[Finding]
    files: dict[str, str] = field(default_factory=dict)  # file -> kind
    digests: dict[str, str] = field(default_factory=dict)  # conf file -> sha256 digest


class _Unparsable(Exception):
    """A file that cannot be read as its type: becomes a FAIL finding at ``pos``."""

    def __init__(self, rule_id: str, pos: Pos, message: str, fix: str) -> None:
        super().__init__(message)
        self.rule_id, self.pos, self.message, self.fix = rule_id, pos, message, fix


def _load_data(text: str, file: str) -> Any:
    if file.endswith(".json") or text.lstrip().startswith(("{", "[")):
        try:
            return json.loads(text)
        except ValueError as exc:
            if file.endswith(".json"):
                line, col = getattr(exc, "lineno", 1), getattr(exc, "colno", 1)
                raise _Unparsable("file/parse-error", Pos(file, line, col),
                                  f"invalid JSON: {getattr(exc, 'msg', exc)}",
                                  "fix the JSON syntax") from None
    if file.endswith((".yaml", ".yml")):
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            pos = Pos(file, mark.line + 1, mark.column + 1) if mark else Pos(file, 1, 1)
            raise _Unparsable("file/parse-error", pos,
                              f"invalid YAML: {getattr(exc, 'problem', None) or exc}",
                              "fix the YAML syntax") from None
    return None


def _is_stream_config(data: Mapping[str, Any]) -> bool:
    return bool(_STREAM_KEYS & set(data))


def detect_kind(file: str, text: str) -> tuple[str, Any]:
    """("conf" | "stream" | "consumer" | "helm", loaded data or None) for one file.

    A StreamInfo document (``stream info --json``: ``config`` + ``state``) is a stream recipe
    whose config is its ``config``. Raises ``_Unparsable`` for JSON/YAML that does not parse or
    is of no known kind.
    """
    if file.endswith((".yaml", ".yml")) and _ESTATE_DOC.search(text):
        return "estate", None
    data = _load_data(text, file)
    if isinstance(data, Mapping):
        cfg = data.get("config")
        chart_config = isinstance(cfg, Mapping) and bool(_CHART_CONFIG_KEYS & set(cfg))
        if chart_config or _CHART_TOP_KEYS & set(data):
            return "helm", data
        if _is_stream_config(data) or isinstance(data.get("streams"), (list, Mapping)) or (
                isinstance(cfg, Mapping) and _is_stream_config(cfg)):
            return "stream", data
        if _CONSUMER_KEYS & set(data) or (isinstance(cfg, Mapping) and _CONSUMER_KEYS & set(cfg)):
            return "consumer", data
    if isinstance(data, list) and data and all(isinstance(d, Mapping) for d in data):
        return "stream", data
    if data is not None and file.endswith((".yaml", ".yml")):
        raise _Unparsable("file/parse-error", Pos(file, 1, 1), "YAML that is neither a stream "
                          "recipe (StreamConfig/StreamInfo) nor Helm chart values",
                          "lint nats-server configs, stream recipes or chart values; "
                          "--disable file/parse-error to skip this file")
    return "conf", None


def _info_config(d: Mapping[str, Any]) -> Mapping[str, Any]:
    """A StreamInfo's ``config``; a StreamConfig as it is."""
    cfg = d.get("config")
    return cfg if isinstance(cfg, Mapping) and not _is_stream_config(d) else d


def _streams(data: Any) -> list[tuple[str, Mapping[str, Any]]]:
    if isinstance(data, list):
        return [("", _info_config(d)) for d in data if isinstance(d, Mapping)]
    if isinstance(data, Mapping):
        inner = data.get("streams")
        if isinstance(inner, list):
            return [("", _info_config(d)) for d in inner if isinstance(d, Mapping)]
        if isinstance(inner, Mapping):
            return [(str(k), _info_config(v)) for k, v in inner.items()
                    if isinstance(v, Mapping)]
        return [("", _info_config(data))]
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
    # messages quote values and URLs: secrets in them never reach any output format
    return Finding(id=r.id, severity=h.severity or r.severity,
                   subject=mask_text(h.subject or (pos.file if pos else "")),
                   message=mask_text(h.message), evidence=mask_data(h.evidence or {}),
                   fix=mask_text(h.fix) if h.fix else None, title=r.title, location=loc)


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
        try:
            kind, data = detect_kind(file, text)
            kinds[file] = kind
            if kind == "conf":
                cfg = parse_text(text, file, env=env)
        except _Unparsable as exc:
            kinds[file] = "unparsable"
            hits.append((RULES[exc.rule_id], Hit(exc.pos, exc.message, exc.fix, subject=file)))
            continue
        except ConfSyntaxError as exc:
            kinds[file] = "unparsable"
            hits.append((RULES["conf/parse-error"], Hit(
                exc.pos, exc.detail, "nats-server -t -c FILE rejects it too; fix the syntax "
                "(the other files were linted)", subject=file)))
            continue
        if kind == "conf":
            confs.append(cfg)
            digests[file] = cfg.digest()
            hits += [(r, h) for r in _scope("conf") for h in r.check(cfg)]
        elif kind == "stream":
            for label, sc in _streams(data):
                doc = Doc(file, sc, text, label, _entry_line(text, label or sc.get("name")))
                stream_docs.append(doc)
                hits += [(r, h) for r in _scope("stream") for h in r.check(doc)]
        elif kind == "consumer":
            doc = Doc(file, _info_config(data), text)
            hits += [(r, h) for r in _scope("consumer") for h in r.check(doc)]
        elif kind == "estate":
            for scope, doc in _estate_docs(file, text, hits):
                stream_docs += [doc] if scope == "stream" else []
                hits += [(r, h) for r in _scope(scope) for h in r.check(doc)]
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


def _estate_docs(file: str, text: str,
                 hits: list[tuple[Rule, Hit]]) -> list[tuple[str, Doc]]:
    """The Stream and Consumer specs of an estate recipe as rule documents; a document the
    estate loader rejects becomes an ``estate/invalid`` hit at its line."""
    from natsops.estate.kinds import handler
    from natsops.estate.loader import load_text
    from natsops.estate.model import RecipeError

    out: list[tuple[str, Doc]] = []
    try:
        docs = load_text(text, file)
    except RecipeError as exc:
        hits.append((RULES["estate/invalid"], Hit(Pos(file, exc.line, 1), exc.detail,
                                                  exc.hint or "fix the recipe", subject=file)))
        return out
    for d in docs:
        try:
            res = handler(d.kind, doc=d).load(d)
        except RecipeError as exc:
            hits.append((RULES["estate/invalid"], Hit(Pos(file, exc.line, 1), exc.detail,
                                                      "fix the recipe", subject=file)))
            continue
        scope = {"Stream": "stream", "Consumer": "consumer"}.get(res.kind)
        if scope:
            name = res.name.split("/")[-1]
            out.append((scope, Doc(file, {"name": name, **res.spec}, text, res.name,
                                   d.line - 1)))
    return out


def _scope(scope: str) -> list[Rule]:
    return [r for r in RULES.values() if r.scope == scope]


def lint_paths(paths: Sequence[str | Path], *, disable: Sequence[str] = (),
               min_severity: Severity = Severity.INFO,
               env: Mapping[str, str] | None = None) -> LintReport:
    """Read and lint files (a directory means its ``*.conf`` files, recursively).

    A file that cannot be read or parsed is a FAIL finding (``file/unreadable``,
    ``conf/parse-error``, ``file/parse-error``) and every other file is still linted; only when
    no file at all can be read is it a UsageError (exit 2).
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
    unreadable: list[Finding] = []
    for p in files:
        name = str(p)
        try:
            sources[name] = Path(p).read_bytes().decode("utf-8", "surrogateescape")
        except OSError as exc:
            why = f"cannot read: {exc.strerror or exc}"
            unreadable.append(Finding.fail("file/unreadable", name, why, title=RULES[
                "file/unreadable"].title, location=Location(name), fix="check the path and "
                "its permissions (the other files were linted)"))
    if not sources:  # nothing at all to lint: a usage error, as before
        first = f"{unreadable[0].subject}: {unreadable[0].message}"
        raise UsageError(first if len(unreadable) == 1 else f"no file could be read ({first}; "
                         f"and {len(unreadable) - 1} more)")
    report = lint_texts(sources, disable=disable, min_severity=min_severity, env=env)
    kept = [f for f in unreadable if not _matches(f.id, disable)]
    return LintReport(kept + report.findings, {**{f.subject: "unreadable" for f in kept},
                                               **report.files}, report.digests)
