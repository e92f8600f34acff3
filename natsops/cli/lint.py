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
    fmt: Annotated[str, typer.Option("--format", help="human (or text), json or sarif")] = "human",
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
    files too), stream recipes / StreamConfig JSON or YAML, estate recipes (`kind:`
    documents of `natsops plan`), and values files of the official Helm chart; the type is detected from the content. Each finding has a rule id, severity,
    file:line:col, message and fix. Silence one with a comment `# natsops:disable=RULE` on
    the line (or the line before), or `# natsops:disable-file=RULE`.

    Certificate files named by tls blocks are read (relative to the config's folder):
    expiry, key, chain to ca_file, and across a set whether each certificate covers the host
    peers dial. Route/gateway/leaf URLs are matched to listeners by address (names resolved
    with a 1s timeout).

    Every file is linted even when another fails: a file that does not parse is a FAIL
    finding at its file:line:col (conf/parse-error, file/parse-error), one that cannot be read
    is file/unreadable. Source lines and messages show secrets as "•••".

    Exit codes: 0 clean (or only warnings/info), 6 on any FAIL finding, parse errors included
    (or WARN with --strict), 2 for bad flags or when no file at all can be read.

    \b
    Examples:
      natsops lint /etc/nats/nats-server.conf
      natsops lint configs/ --strict   # every *.conf below it, as one cluster
      natsops lint streams/orders.json values.yaml --format sarif > lint.sarif
      natsops lint --digest nats-server.conf
    """
    from natsops.cli.findings import check_format, count_line, emit
    from natsops.conf import RULES, lint_paths
    from natsops.findings import Severity

    if list_rules:
        return _list_rules(want_json(ctx, json_out), RULES)
    if not files:
        raise UsageError("give at least one file to lint (natsops lint FILE...)")
    fmt = "sarif" if sarif else ("json" if want_json(ctx, json_out) else fmt)
    fmt = check_format("human" if fmt == "text" else fmt, ("human", "json", "sarif"))
    report = lint_paths(files, disable=disable or (), min_severity=Severity.parse(min_severity))
    if digest:
        return _print_digests(report.digests, fmt != "human")
    emit(report.findings, fmt=fmt, strict=strict, min_severity=Severity.OK, show_source=True,
         nagios_name="LINT", extra={"files": report.files, "digests": report.digests},
         sarif_rules={r.id: r.title for r in RULES.values()},
         summary=f"{count_line(report.findings)} in {len(report.files) or len(files)} file(s)")


def _list_rules(as_json: bool, rules: Any) -> None:
    from natsops.cli import output

    rows = [(r.id, r.severity.label, r.scope, r.title) for r in rules.values()]
    if as_json:
        keys = ("id", "severity", "scope", "title")
        output.print_json([dict(zip(keys, r, strict=True)) for r in rows])
    else:
        output.table(None, ["rule", "severity", "scope", output.Col("title", wrap=True)], rows)


def _print_digests(digests: dict[str, str], as_json: bool) -> None:
    from natsops.cli import output

    if as_json:
        output.print_json(digests)
        return
    for file, d in digests.items():
        typer.echo(f"{d}  {file}")
