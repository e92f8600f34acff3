"""The one way the CLI shows findings (doctor, lint, backup verify, auth push/verify).

``print_findings`` is the human view; ``emit`` prints a list of findings in the format the user
asked for (human, json, nagios, sarif) and exits with the code ``natsops.findings`` decides.
"""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import typer

from natsops.errors import ExitCode, UsageError
from natsops.findings import Finding, Severity, counts, document, exit_code, nagios, to_sarif
from natsops.secrets import mask_line

_MARK = {Severity.FAIL: "[bold red]✗ FAIL[/]", Severity.WARN: "[yellow]! WARN[/]",
         Severity.INFO: "[cyan]i INFO[/]", Severity.OK: "[green]✓ OK[/]"}
FORMATS = ("human", "json", "nagios", "sarif")


def _short(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        items = [_short(v) for v in value[:4]]
        return "[" + ", ".join(items) + (f", +{len(value) - 4}" if len(value) > 4 else "") + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}={_short(v)}" for k, v in list(value.items())[:6]) + "}"
    return str(value)


def evidence_line(evidence: Mapping[str, Any], limit: int = 8) -> str:
    """``key=value, ...`` of the evidence that has a value; long lists and maps shortened."""
    parts = [f"{k}={_short(v)}" for k, v in evidence.items() if v not in (None, "", [], {})]
    return ", ".join(parts[:limit]) + (" ..." if len(parts) > limit else "")


class _Sources:
    """Source lines of the files findings point at, read once each, secrets masked."""

    def __init__(self) -> None:
        self._lines: dict[str, list[str]] = {}

    def line(self, file: str, number: int) -> str | None:
        if file not in self._lines:
            try:
                self._lines[file] = Path(file).read_text(errors="replace").splitlines()
            except OSError:
                self._lines[file] = []
        lines = self._lines[file]
        return mask_line(lines[number - 1].rstrip()) if 0 < number <= len(lines) else None


def print_findings(findings: Sequence[Finding], *, min_severity: Severity = Severity.INFO,
                   show_source: bool = False) -> None:
    """Findings grouped by severity, worst first: id, location, message, evidence, fix.

    ``show_source`` prints the source line a located finding points at (lint).
    """
    from rich.markup import escape

    from natsops.cli.output import out

    con, sources = out(), _Sources()
    shown = [f for f in findings if f.severity >= min_severity]
    for sev in sorted(Severity, reverse=True):
        group = [f for f in shown if f.severity == sev]
        if not group:
            continue
        con.print(f"[bold]{sev.label.upper()} ({len(group)})[/]")
        for f in group:
            where = f" {f.location}" if f.location else ""
            con.print(f"  {_MARK[sev]} [dim]{escape(f.id)}{escape(where)}[/] {escape(f.message)}")
            src = (sources.line(f.location.file, f.location.line)
                   if show_source and f.location and f.location.line else None)
            if src is not None and f.location is not None:
                con.print(f"      {f.location.line:>4} | {escape(src)}", highlight=False)
            if f.evidence:
                con.print(f"      [dim]evidence:[/] {escape(evidence_line(f.evidence))}")
            if f.fix:  # a command to copy: never wrapped, whatever the width
                con.print(f"      [dim]fix:[/] {escape(f.fix)}", soft_wrap=True)
        con.print()


def check_format(fmt: str, allowed: Sequence[str] = FORMATS) -> str:
    """``fmt`` if the command supports it; UsageError (exit 2) otherwise."""
    if fmt not in allowed:
        raise UsageError(f"unknown --format {fmt!r}: use {', '.join(allowed)}")
    return fmt


def emit(findings: Sequence[Finding], *, fmt: str = "human", strict: bool = False,
         extra: Mapping[str, Any] | None = None, summary: str | None = None,
         healthy: str | None = None, min_severity: Severity = Severity.INFO,
         show_source: bool = False, nagios_name: str = "NATSOPS",
         perfdata: Mapping[str, float | int] | None = None,
         sarif_rules: Mapping[str, str] | None = None) -> None:
    """Print ``findings`` as ``fmt`` and exit with the code the findings decide.

    json: ``natsops.findings.document`` with ``extra`` keys; nagios: one status line and the
    plugin's exit code; sarif: a SARIF 2.1.0 log; human: ``print_findings``, then ``summary``
    (stderr) and ``healthy`` when nothing is at WARN or above. Returns only when the code is 0.
    """
    from natsops.cli import output

    if fmt == "nagios":
        ncode, line = nagios(nagios_name, findings, strict=strict, perfdata=perfdata)
        typer.echo(line)
        raise typer.Exit(ncode)
    if fmt == "json":
        output.print_json(document(findings, strict=strict, **dict(extra or {})))
    elif fmt == "sarif":
        from natsops._version import __version__

        output.print_json(to_sarif(findings, tool=f"natsops {nagios_name.lower()}",
                                   version=__version__, rules=sarif_rules))
    else:
        print_findings(findings, min_severity=min_severity, show_source=show_source)
        if summary:
            output.info(summary)
        n = counts(findings)
        if healthy and not n["fail"] and not n["warn"]:
            output.success(healthy)
    code = exit_code(findings, strict=strict)
    if code != ExitCode.OK:
        raise typer.Exit(int(code))


def count_line(findings: Sequence[Finding], *, zeros: bool = False) -> str:
    """``2 fail, 1 warn`` (only what is there, or ``no findings``); with ``zeros``
    ``2 fail, 0 warn, 0 info``."""
    n = counts(findings)
    return ", ".join(f"{v} {k}" for k, v in n.items()
                     if (v or zeros) and k != "ok") or "no findings"

