"""Render a list of findings (doctor, lint, verify, preflights) for people and machines."""

from collections.abc import Sequence

from natsops.errors import ExitCode
from natsops.findings import Finding, Severity, exit_code

_STYLE = {Severity.OK: "green", Severity.INFO: "blue", Severity.WARN: "yellow",
          Severity.FAIL: "bold red"}


def print_findings(findings: Sequence[Finding]) -> None:
    """Worst first; the fix under each finding."""
    from rich.markup import escape

    from natsops.cli.output import out

    for f in sorted(findings, key=lambda f: -f.severity):
        where = f" {f.location}" if f.location else ""
        out().print(f"[{_STYLE[f.severity]}]{f.severity.label.upper():4}[/] {escape(f.id)}"
                    f"{escape(where)}: {escape(f.message)}")
        if f.fix:
            out().print(f"     fix: {escape(f.fix)}")


def exit_for(findings: Sequence[Finding], strict: bool = False) -> int:
    code = exit_code(findings, strict=strict)
    return int(code) if code != ExitCode.OK else 0
