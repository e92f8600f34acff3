"""Render a list of findings for a human: grouped by severity, the fix under each one."""

from collections.abc import Mapping, Sequence
from typing import Any

_MARK = {"fail": ("[bold red]✗ FAIL[/]", "FAIL"), "warn": ("[yellow]! WARN[/]", "WARN"),
         "info": ("[cyan]i INFO[/]", "INFO"), "ok": ("[green]✓ OK[/]", "OK")}


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        items = [_short(v) for v in value[:4]]
        return "[" + ", ".join(items) + (f", +{len(value) - 4}" if len(value) > 4 else "") + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}={_short(v)}" for k, v in list(value.items())[:6]) + "}"
    return str(value)


def evidence_line(evidence: Mapping[str, Any], limit: int = 8) -> str:
    parts = [f"{k}={_short(v)}" for k, v in evidence.items() if v not in (None, "", [], {})]
    return ", ".join(parts[:limit]) + (" ..." if len(parts) > limit else "")


def print_findings(findings: Sequence[Any], *, min_severity: int = 1) -> None:
    """Findings grouped by severity, worst first; each with its evidence and its fix."""
    from rich.markup import escape

    from natsops.cli.output import out

    con = out()
    shown = [f for f in findings if int(f.severity) >= min_severity]
    for sev in ("fail", "warn", "info", "ok"):
        group = [f for f in shown if f.severity.label == sev]
        if not group:
            continue
        mark, label = _MARK[sev]
        con.print(f"[bold]{label} ({len(group)})[/]")
        for f in group:
            con.print(f"  {mark} [dim]{escape(f.id)}[/] {escape(f.message)}")
            if f.evidence:
                con.print(f"      [dim]evidence:[/] {escape(evidence_line(f.evidence))}")
            if f.fix:
                con.print(f"      [dim]fix:[/] {escape(f.fix)}")
        con.print()
