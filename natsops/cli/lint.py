"""``natsops lint``: check nats-server configs, stream recipes and Helm values before deploying."""

from pathlib import Path
from typing import Annotated, Any

import typer

from natsops.cli.state import want_json
from natsops.errors import UsageError

app = typer.Typer()


@app.command("lint")
def lint(
    ctx: typer.Context,
    files: Annotated[list[Path] | None, typer.Argument(
        help="Config files (nats-server .conf, stream JSON/YAML, Helm values)",
        show_default=False)] = None,
    json_out: Annotated[bool, typer.Option(
        "--json", help="Print the findings as one JSON document")] = False,
    sarif: Annotated[bool, typer.Option(
        "--sarif", help="Print SARIF 2.1.0 (same as --format sarif)")] = False,
    fmt: Annotated[str, typer.Option("--format", help="text, json or sarif")] = "text",
    strict: Annotated[bool, typer.Option("--strict", help="Exit 6 on warnings too")] = False,
    min_severity: Annotated[str, typer.Option(
        "--min-severity", help="Hide findings below: info, warn, fail")] = "info",
    disable: Annotated[list[str] | None, typer.Option(
        "--disable",
        help="Skip a rule id (repeatable; conf/* for a prefix)",
        show_default=False)] = None,
    digest: Annotated[bool, typer.Option(
        "--digest", help="Print each config's digest as nats-server -t does (sha256:...)")] = False,
    list_rules: Annotated[bool, typer.Option(
        "--list-rules", help="List the rule ids and exit")] = False,
) -> None:
    """Find the config mistakes nats-server -t accepts (and the ones it rejects).

    Reads nats-server configs (several files = one cluster or supercluster, checked across
    files too), stream recipes / StreamConfig JSON or YAML, and values files of the official
    Helm chart; the type is detected from the content. Each finding has a rule id, severity,
    file:line:col, message and fix. Silence one with a comment `# natsops:disable=RULE` on
    the line (or the line before), or `# natsops:disable-file=RULE`.

    Exit codes: 0 clean (or only warnings/info), 6 on any FAIL finding (or WARN with
    --strict), 2 when a file cannot be read or parsed (printed as file:line:col: message).

    \b
    Examples:
      natsops lint /etc/nats/nats-server.conf
      natsops lint configs/ --strict   # every *.conf below it, as one cluster
      natsops lint streams/orders.json values.yaml --format sarif > lint.sarif
      natsops lint --digest nats-server.conf
    """
    from natsops.cli import output
    from natsops.conf import RULES, lint_paths
    from natsops.findings import Severity, exit_code

    if list_rules:
        _list_rules(want_json(ctx, json_out), RULES)
        return
    if not files:
        raise UsageError("give at least one file to lint (natsops lint FILE...)")
    fmt = "sarif" if sarif else ("json" if want_json(ctx, json_out) else fmt)
    if fmt not in ("text", "json", "sarif"):
        raise UsageError(f"--format must be text, json or sarif, not {fmt!r}")
    report = lint_paths(files, disable=disable or (), min_severity=Severity.parse(min_severity))
    if digest:
        _print_digests(report.digests, fmt != "text")
        return
    if fmt == "json":
        output.print_json({"files": report.files, "digests": report.digests,
                           "findings": report.findings,
                           "exit_code": int(exit_code(report.findings, strict=strict))})
    elif fmt == "sarif":
        from natsops._version import __version__
        from natsops.findings import to_sarif

        output.print_json(to_sarif(report.findings, tool="natsops lint", version=__version__,
                                   rules={r.id: r.title for r in RULES.values()}))
    else:
        _print_text(report, files)
    raise typer.Exit(int(exit_code(report.findings, strict=strict)))


def _list_rules(as_json: bool, rules: Any) -> None:
    from natsops.cli import output

    rows = [(r.id, r.severity.label, r.scope, r.title) for r in rules.values()]
    if as_json:
        keys = ("id", "severity", "scope", "title")
        output.print_json([dict(zip(keys, r, strict=True)) for r in rows])
    else:
        output.table(None, ["rule", "severity", "scope", "title"], rows)


def _print_digests(digests: dict[str, str], as_json: bool) -> None:
    from natsops.cli import output

    if as_json:
        output.print_json(digests)
        return
    for file, d in digests.items():
        typer.echo(f"{d}  {file}")


def _print_text(report: Any, files: list[Path]) -> None:
    from natsops.cli import output

    by_file: dict[str, list[Any]] = {}
    for f in report.findings:
        by_file.setdefault(f.location.file if f.location else "", []).append(f)
    lines_cache: dict[str, list[str]] = {}
    for file, items in by_file.items():
        typer.echo(file)
        for f in items:
            loc = f"{f.location.line}:{f.location.column}" if f.location and f.location.line \
                else "-"
            typer.echo(f"  {loc:<7} {f.severity.name:<4}  {f.id}  {f.message}")
            src = _source_line(lines_cache, file, f.location.line if f.location else 0)
            if src is not None:
                typer.echo(f"  {'':7}       {f.location.line:>4} | {src}")
            if f.fix:
                typer.echo(f"  {'':7}       fix: {f.fix}")
        typer.echo("")
    counts = {s: sum(1 for f in report.findings if f.severity.name == s)
              for s in ("FAIL", "WARN", "INFO")}
    summary = ", ".join(f"{n} {s.lower()}" for s, n in counts.items() if n) or "no findings"
    output.info(f"{summary} in {len(report.files) or len(files)} file(s)")


def _source_line(cache: dict[str, list[str]], file: str, line: int) -> str | None:
    if not line:
        return None
    if file not in cache:
        try:
            cache[file] = Path(file).read_text(errors="replace").splitlines()
        except OSError:
            cache[file] = []
    lines = cache[file]
    return lines[line - 1].rstrip() if 0 < line <= len(lines) else None
