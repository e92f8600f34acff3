"""``natsops check``: per-asset checks with thresholds (natscli ``server check``) for Nagios,
CI and Prometheus. Exit codes are Nagios': 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (asset missing,
server unreachable); with ``--format prometheus`` the status is in the metrics and the exit is 0.
"""

from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from natsops.cli.output import examples
from natsops.cli.state import get_state

if TYPE_CHECKING:
    from natsops.check.model import CheckResult

app = typer.Typer(
    help="Per-asset checks with thresholds: Nagios (default), JSON, Prometheus or human output.",
    no_args_is_help=True,
    epilog=examples(
        "natsops check stream ORDERS --peer-expect 3 --msgs-warn 10 --msgs-crit 1",
        "natsops check consumer ORDERS PROC --unprocessed-warn 1000 --unprocessed-crit 10000",
        "natsops check meta --expect 3 --lag-crit 200 --seen-crit 5s --context C1-sys",
        "natsops check kv CONFIG --key leader --values-crit 1 --values-warn 5",
        "natsops check credential app.creds --valid-for 7d --require-expiry",
        "natsops check connection --rtt-warn 100ms --rtt-crit 500ms --format prometheus"),
)

FORMATS = ("nagios", "json", "prometheus", "human")
Format = Annotated[str, typer.Option(
    "--format", help="nagios (one status line), json, prometheus (text exposition) or human")]
JsonOut = Annotated[bool, typer.Option("--json", "-j", help="Same as --format json")]
Namespace = Annotated[str, typer.Option("--namespace", help="Prometheus metric prefix")]
Num = str | None


def _finish(ctx: typer.Context, r: "CheckResult", fmt: str, as_json: bool,
            namespace: str) -> None:
    from natsops.check.model import nagios_code
    from natsops.check.render import json_document, nagios_line, prometheus_text
    from natsops.cli import output
    from natsops.cli.findings import check_format, print_findings
    from natsops.findings import Severity

    fmt = "json" if as_json or get_state(ctx).json else check_format(fmt, FORMATS)
    if fmt == "nagios":
        typer.echo(nagios_line(r))
    elif fmt == "json":
        output.print_json(json_document(r))
    elif fmt == "prometheus":
        typer.echo(prometheus_text(r, namespace), nl=False)
        raise typer.Exit(0)
    else:
        print_findings(r.findings, min_severity=Severity.OK)
        output.info(nagios_line(r))
    raise typer.Exit(nagios_code(r))


def _run_coro(coro: "Coroutine[Any, Any, CheckResult]") -> "CheckResult":
    from natsops.cli._run import run

    return run(coro)


@app.command("stream")
def stream(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Stream name")],
    peer_expect: Annotated[int | None, typer.Option(
        "--peer-expect", help="Leader + replicas must be exactly N", show_default=False)] = None,
    peer_lag_crit: Annotated[Num, typer.Option(
        "--peer-lag-crit", help="Critical when a replica is more than N operations behind")] = None,
    peer_seen_crit: Annotated[Num, typer.Option(
        "--peer-seen-crit", help="Critical when a replica was not seen for longer than DUR")] = None,
    lag_warn: Annotated[Num, typer.Option(
        "--lag-warn", help="Mirror/source lag (messages) at or above N warns")] = None,
    lag_crit: Annotated[Num, typer.Option("--lag-crit", help="... is critical")] = None,
    seen_warn: Annotated[Num, typer.Option(
        "--seen-warn", help="Mirror/source not seen for DUR or longer warns")] = None,
    seen_crit: Annotated[Num, typer.Option("--seen-crit", help="... is critical")] = None,
    min_sources: Annotated[int | None, typer.Option(
        "--min-sources", help="Critical with fewer sources", show_default=False)] = None,
    max_sources: Annotated[int | None, typer.Option(
        "--max-sources", help="Critical with more sources", show_default=False)] = None,
    msgs_warn: Annotated[Num, typer.Option(
        "--msgs-warn", help="N or fewer messages warns")] = None,
    msgs_crit: Annotated[Num, typer.Option("--msgs-crit", help="... is critical")] = None,
    subjects_warn: Annotated[Num, typer.Option(
        "--subjects-warn", help="N or more subjects warns (N or fewer when crit < warn)")] = None,
    subjects_crit: Annotated[Num, typer.Option("--subjects-crit", help="... is critical")] = None,
    fmt: Format = "nagios", as_json: JsonOut = False, namespace: Namespace = "natsops_check",
) -> None:
    """Check a stream: replicas, mirror/source lag, message and subject counts."""
    from natsops.check.gather import check_stream, stream_thresholds

    t = stream_thresholds(peer_expect, peer_lag_crit, peer_seen_crit, (lag_warn, lag_crit),
                          (seen_warn, seen_crit), min_sources, max_sources,
                          (msgs_warn, msgs_crit), (subjects_warn, subjects_crit))
    r = _run_coro(check_stream(get_state(ctx).settings, name, t))
    _finish(ctx, r, fmt, as_json, namespace)


@app.command("consumer")
def consumer(
    ctx: typer.Context,
    stream: Annotated[str, typer.Argument(help="Stream name")],
    name: Annotated[str, typer.Argument(help="Consumer name")],
    outstanding_ack_warn: Annotated[Num, typer.Option(
        "--outstanding-ack-warn", help="Acks pending at or above N warns")] = None,
    outstanding_ack_crit: Annotated[Num, typer.Option(
        "--outstanding-ack-crit", help="... is critical")] = None,
    waiting_warn: Annotated[Num, typer.Option(
        "--waiting-warn", help="Waiting pull requests at or above N warns")] = None,
    waiting_crit: Annotated[Num, typer.Option("--waiting-crit", help="... is critical")] = None,
    unprocessed_warn: Annotated[Num, typer.Option(
        "--unprocessed-warn", help="Messages not yet delivered at or above N warns")] = None,
    unprocessed_crit: Annotated[Num, typer.Option(
        "--unprocessed-crit", help="... is critical")] = None,
    redelivery_warn: Annotated[Num, typer.Option(
        "--redelivery-warn", help="Redelivered messages at or above N warns")] = None,
    redelivery_crit: Annotated[Num, typer.Option(
        "--redelivery-crit", help="... is critical")] = None,
    last_delivery_warn: Annotated[Num, typer.Option(
        "--last-delivery-warn", help="Last delivery DUR or longer ago warns")] = None,
    last_delivery_crit: Annotated[Num, typer.Option(
        "--last-delivery-crit", help="... is critical (never delivered: critical)")] = None,
    last_ack_warn: Annotated[Num, typer.Option(
        "--last-ack-warn", help="Last ack DUR or longer ago warns")] = None,
    last_ack_crit: Annotated[Num, typer.Option(
        "--last-ack-crit", help="... is critical (never acked: critical)")] = None,
    fmt: Format = "nagios", as_json: JsonOut = False, namespace: Namespace = "natsops_check",
) -> None:
    """Check a consumer: ack backlog, waiting pulls, backlog, redeliveries, activity."""
    from natsops.check.gather import check_consumer, consumer_thresholds

    t = consumer_thresholds((outstanding_ack_warn, outstanding_ack_crit),
                            (waiting_warn, waiting_crit), (unprocessed_warn, unprocessed_crit),
                            (redelivery_warn, redelivery_crit),
                            (last_delivery_warn, last_delivery_crit),
                            (last_ack_warn, last_ack_crit))
    r = _run_coro(check_consumer(get_state(ctx).settings, stream, name, t))
    _finish(ctx, r, fmt, as_json, namespace)


@app.command("meta")
def meta(
    ctx: typer.Context,
    expect: Annotated[int | None, typer.Option(
        "--expect", help="The meta group must have N peers", show_default=False)] = None,
    lag_warn: Annotated[Num, typer.Option(
        "--lag-warn", help="Warn when a peer is more than N operations behind")] = None,
    lag_crit: Annotated[Num, typer.Option("--lag-crit", help="... is critical")] = None,
    seen_warn: Annotated[Num, typer.Option(
        "--seen-warn", help="Warn when a peer was not seen for longer than DUR")] = None,
    seen_crit: Annotated[Num, typer.Option("--seen-crit", help="... is critical")] = None,
    directory: Annotated[Path | None, typer.Option(
        "--dir", envvar="NATSOPS_CLUSTER_DIR", help="A local cluster's directory (its sys user)")
    ] = None,
    fmt: Format = "nagios", as_json: JsonOut = False, namespace: Namespace = "natsops_check",
) -> None:
    """Check the JetStream meta group (system account): leader, size, lagging peers."""
    from natsops.check.gather import check_meta, meta_thresholds
    from natsops.cli._snapshot import settings_for

    t = meta_thresholds(expect, (lag_warn, lag_crit), (seen_warn, seen_crit))
    r = _run_coro(check_meta(settings_for(ctx, directory), t))
    _finish(ctx, r, fmt, as_json, namespace)


@app.command("kv")
def kv(
    ctx: typer.Context,
    bucket: Annotated[str, typer.Argument(help="Bucket name")],
    key: Annotated[str | None, typer.Option(
        "--key", help="This key must hold a value (not deleted or purged)")] = None,
    values_warn: Annotated[Num, typer.Option(
        "--values-warn", help="N or more values warns (N or fewer when crit < warn)")] = None,
    values_crit: Annotated[Num, typer.Option("--values-crit", help="... is critical")] = None,
    fmt: Format = "nagios", as_json: JsonOut = False, namespace: Namespace = "natsops_check",
) -> None:
    """Check a Key/Value bucket: it exists, a key holds a value, the number of values."""
    from natsops.check.gather import check_kv
    from natsops.check.model import parse_threshold

    t = parse_threshold(values_warn, values_crit, inverting=True, what="values")
    r = _run_coro(check_kv(get_state(ctx).settings, bucket, t, key))
    _finish(ctx, r, fmt, as_json, namespace)


@app.command("credential")
def credential(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A creds file or a file holding a user JWT")],
    valid_for: Annotated[Num, typer.Option(
        "--valid-for", help="Critical when the JWT expires within DUR (e.g. 7d)")] = None,
    valid_warn: Annotated[Num, typer.Option(
        "--valid-warn", help="Warn when the JWT expires within DUR")] = None,
    require_expiry: Annotated[bool, typer.Option(
        "--require-expiry", help="A JWT that never expires is critical")] = False,
    fmt: Format = "nagios", as_json: JsonOut = False, namespace: Namespace = "natsops_check",
) -> None:
    """Check a credential's JWT expiry, offline (the file is read, nothing is sent)."""
    from natsops.check.evaluate import CredentialThresholds
    from natsops.check.gather import check_credential
    from natsops.check.model import parse_threshold

    t = parse_threshold(valid_warn, valid_for, duration=True,
                        flags=("--valid-warn", "--valid-for"))
    r = check_credential(file, CredentialThresholds(t, require_expiry))
    _finish(ctx, r, fmt, as_json, namespace)


@app.command("connection")
def connection(
    ctx: typer.Context,
    connect_warn: Annotated[str, typer.Option(
        "--connect-warn", help="Connecting taking DUR or longer warns")] = "500ms",
    connect_crit: Annotated[str, typer.Option("--connect-crit", help="... is critical")] = "1s",
    rtt_warn: Annotated[str, typer.Option(
        "--rtt-warn", help="PING round trip of DUR or longer warns")] = "500ms",
    rtt_crit: Annotated[str, typer.Option("--rtt-crit", help="... is critical")] = "1s",
    req_warn: Annotated[str, typer.Option(
        "--req-warn", help="Publish-and-receive on an inbox taking DUR or longer warns")] = "500ms",
    req_crit: Annotated[str, typer.Option("--req-crit", help="... is critical")] = "1s",
    fmt: Format = "nagios", as_json: JsonOut = False, namespace: Namespace = "natsops_check",
) -> None:
    """Check connecting to the server: connect time, RTT and a round trip."""
    from natsops.check.gather import check_connection
    from natsops.check.model import parse_threshold as pt

    r = _run_coro(check_connection(
        get_state(ctx).settings, pt(connect_warn, connect_crit, duration=True, what="connect"),
        pt(rtt_warn, rtt_crit, duration=True, what="rtt"),
        pt(req_warn, req_crit, duration=True, what="req")))
    _finish(ctx, r, fmt, as_json, namespace)
