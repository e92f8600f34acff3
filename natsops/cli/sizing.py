"""``natsops sizing``: per-server disk, memory, CPU and network for a JetStream workload."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from natsops.cli.options import ClusterDir, Json, Monitor, Transport
from natsops.cli.state import want_json

if TYPE_CHECKING:
    from natsops.sizing import Observed
    from natsops.sizing_request import SizingReport

app = typer.Typer()


@app.command("sizing")
def sizing(
    ctx: typer.Context,
    msgs_per_sec: Annotated[float | None, typer.Option(
        "--msgs-per-sec", help="Messages per second published, cluster-wide [default: 1000]",
        show_default=False)] = None,
    msg_size: Annotated[str | None, typer.Option(
        "--msg-size", help="Average payload size, e.g. 512, 1KB, 64KiB (K = KB = 1024) "
        "[default: 1KB]", show_default=False)] = None,
    retention: Annotated[str | None, typer.Option(
        "--retention", help="Max age kept, e.g. 7d, 72h", show_default=False)] = None,
    max_bytes: Annotated[str | None, typer.Option(
        "--max-bytes",
        help="Total data kept (before replication), e.g. 500GB",
        show_default=False)] = None,
    replicas: Annotated[int | None, typer.Option(
        "--replicas", "-r", help="Stream replicas (R1/R3/R5) [default: 3]",
        show_default=False)] = None,
    streams: Annotated[int | None, typer.Option(
        "--streams", help="Number of streams sharing the traffic [default: 1]",
        show_default=False)] = None,
    consumers: Annotated[int | None, typer.Option(
        "--consumers", help="Durable consumers in total [default: 1]", show_default=False)] = None,
    connections: Annotated[int | None, typer.Option(
        "--connections", help="Client connections, cluster-wide [default: 100]",
        show_default=False)] = None,
    fan_out: Annotated[float | None, typer.Option(
        "--fan-out", help="Deliveries per published message [default: 1]",
        show_default=False)] = None,
    nodes: Annotated[str, typer.Option(
        "--nodes", help="Servers, or 'auto' (smallest odd count >= 3 and >= replicas)")] = "auto",
    gateways: Annotated[int, typer.Option(
        "--gateways", help="Remote clusters every message crosses to")] = 0,
    memory_fraction: Annotated[float, typer.Option(
        "--memory-fraction", help="Share of the data in memory streams (0-1)")] = 0.0,
    show_cost: Annotated[bool, typer.Option(
        "--cost", help="Add a monthly cost estimate and the managed-service break-even")] = False,
    prices: Annotated[Path | None, typer.Option(
        "--prices",
        help="YAML price table overriding the example prices (keys of natsops.sizing.Prices)",
        show_default=False)] = None,
    from_cluster: Annotated[bool, typer.Option(
        "--from-cluster", help="Measure the workload of a running deployment (two gatherings "
        "--window apart); flags given explicitly override what is measured")] = False,
    window: Annotated[str | None, typer.Option(
        "--window", help="With --from-cluster: time between the two gatherings [default: 10s]",
        show_default=False)] = None,
    monitor: Monitor = None,
    directory: ClusterDir = None,
    transport: Transport = "auto",
    json_out: Json = False,
) -> None:
    """Size a JetStream cluster before you buy it: disk, memory, CPU, network per server.

    Per server, for N nodes, R replicas and S streams: stored bytes = payload + 34 B record
    overhead (measured); logical data = min(rate x stored bytes x retention, max-bytes);
    data per server = ceil(S x R / N) x logical / S; max_file_store = data x 1.25; disk =
    max_file_store / 0.8; memory = max(8 GiB, 2 x (512 MiB + connections x 64 KiB +
    max_memory_store + 10 s of replicated ingest)); vCPU = max(4, 2 x (replica writes /
    100k + deliveries / 1M)); network = ingress + replication x (R-1) + fan-out + gateway
    egress, over N. The figures follow the operations guide's Sizing table (4-8 vCPU, 8 GB
    baseline, odd node counts) and measured baselines; every step is printed.

    \b
    Examples:
      natsops sizing --msgs-per-sec 10000 --msg-size 1KB --retention 7d --streams 10
      natsops sizing --msgs-per-sec 500 --msg-size 256 --max-bytes 50GB --replicas 3 --json
      natsops sizing --msgs-per-sec 200 --msg-size 512 --retention 24h --cost --prices p.yaml
      natsops --context natsops-C1-sys sizing --from-cluster --window 30s
      natsops sizing --from-cluster --dir .natsops/C1 --retention 30d
    """
    from natsops.cli import output
    from natsops.sizing_request import Given, load_prices, sizing_report

    given = Given.parse(
        msgs_per_sec=msgs_per_sec, msg_size=msg_size, retention=retention, max_bytes=max_bytes,
        replicas=replicas, streams=streams, consumers=consumers, connections=connections,
        fan_out=fan_out, nodes=nodes, gateways=gateways, memory_fraction=memory_fraction)
    price_table = load_prices(prices) if show_cost or prices else None
    seen = _measure(ctx, from_cluster, window=window, monitor=monitor, directory=directory,
                    transport=transport)
    report = sizing_report(given, seen, price_table)
    if want_json(ctx, json_out):
        output.print_json(report)
        return
    if seen is not None:
        _print_observed(seen)
    _print(report)


def _measure(ctx: typer.Context, from_cluster: bool, *, window: str | None,
             monitor: list[str] | None, directory: Path | None,
             transport: str) -> "Observed | None":
    """With --from-cluster, what the deployment shows; its flags without it are refused."""
    from natsops.cli._run import run
    from natsops.cli._snapshot import settings_for
    from natsops.errors import UsageError
    from natsops.sizing_request import measure

    given = [flag for flag, on in (("--window", window is not None), ("--monitor", bool(monitor)),
                                   ("--transport", transport != "auto")) if on]
    if not from_cluster:
        if given:
            raise UsageError(f"{given[0]} needs --from-cluster (it says how to measure a "
                             "running deployment)",
                             hint=f"add --from-cluster, or drop {', '.join(given)}")
        return None
    return run(measure(settings_for(ctx, directory), window or "10s",
                       monitors=tuple(monitor or ()), cluster_dir=directory,
                       transport=transport))


def _print_observed(o: "Observed") -> None:
    from natsops.cli import output
    from natsops.units import format_bytes, format_duration

    output.table(f"measured over {o.seconds:.1f}s on {o.servers} servers", ["what", "value"], [
        ("stored messages/s", f"{o.msgs_per_sec:,.1f}"),
        ("payload size", format_bytes(o.msg_size) if o.msg_size else "-"),
        ("streams / consumers", f"{o.streams} / {o.consumers}"),
        ("connections", str(o.connections)), ("replicas (busiest)", f"R{o.replicas}"),
        ("fan-out", f"{o.fan_out:g}"),
        ("retention (longest max_age)",
         format_duration(o.retention_seconds) if o.retention_seconds else "-"),
        ("max_bytes (all streams)", format_bytes(o.max_bytes) if o.max_bytes else "-"),
        ("stored now", format_bytes(o.stored_bytes))])
    for note in o.notes:
        output.info(f"note: {note}")


def _fmt(value: float, unit: str) -> str:
    from natsops.units import format_bytes

    if unit == "B":
        return format_bytes(value)
    if unit == "B/s":
        return f"{format_bytes(value)}/s ({value * 8 / 1e6:,.1f} Mbit/s)"
    if unit == "vCPU":
        return f"{value:,.2f} vCPU" if value != int(value) else f"{int(value)} vCPU"
    return f"{value:g} {unit}"


def _print(report: "SizingReport") -> None:
    from natsops.cli import output
    from natsops.units import format_bytes

    r, money = report.result, report.cost
    output.table("reasoning", ["step", "value", "formula"],
                 [(s.name, _fmt(s.value, s.unit), s.formula) for s in r.steps])
    output.table(f"per server ({r.nodes} nodes, R{r.replicas})", ["resource", "recommendation"], [
        ("nodes", f"{r.nodes}"), ("disk (NVMe)", format_bytes(r.disk_per_server)),
        ("memory", format_bytes(r.memory_per_server)), ("vCPU", str(r.vcpu_per_server)),
        ("network", f"{r.nic_gbit} GbE"), ("config", report.jetstream_config)])
    if money is not None:
        rows = [("compute", f"${money.compute:,.0f}", money.lines["compute"]),
                ("storage", f"${money.storage:,.0f}", money.lines["storage"]),
                ("network egress", f"${money.network:,.0f}", money.lines["network"]),
                ("self-hosted total", f"${money.self_hosted:,.0f}", ""),
                ("managed service", f"${money.managed:,.0f}", money.lines["managed"])]
        output.table("monthly cost (example prices: override with --prices)",
                     ["item", "USD/month", "how"], rows)
        if money.break_even_msgs_per_sec is not None:
            output.info(f"break-even: self-hosting is cheaper above "
                        f"{money.break_even_msgs_per_sec:,.0f} msg/s with this workload shape")
        else:
            output.info("no break-even in 0.001-1e9 msg/s: "
                        + ("the managed service" if money.managed_is_cheaper else "self-hosting")
                        + " is cheaper at every rate for this shape")
    for note in r.notes:
        output.info(f"note: {note}")
    output.info("assumptions: " + "; ".join(r.assumptions.values()))
