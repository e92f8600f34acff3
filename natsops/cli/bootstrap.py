"""``natsops bootstrap``: a local JetStream cluster in one command, or production configs."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from natsops.cli import options
from natsops.cli.state import get_state, want_json

if TYPE_CHECKING:
    from natsops.bootstrap import BootstrapPlan, BootstrapResult

app = typer.Typer()


@app.command("bootstrap")
def bootstrap(
    ctx: typer.Context,
    nodes: Annotated[int, typer.Option("--nodes", "-n", help="Number of servers (odd: Raft needs a majority)")] = 3,
    name: Annotated[str, typer.Option("--name", help="Cluster name")] = "C1",
    directory: Annotated[Path | None, typer.Option("--dir", help="State directory [default: ./.natsops/<name>]", show_default=False)] = None,
    base_port: Annotated[str, typer.Option("--base-port", help="Client port of n1 (cluster +2000, monitor +4000), or 'auto'")] = "4222",
    server_bin: Annotated[str | None, typer.Option("--server-bin", envvar="NATSOPS_SERVER_BIN", help="nats-server binary [default: bundled, then PATH]")] = None,
    allow_even: Annotated[bool, typer.Option("--allow-even", help="Allow an even number of nodes")] = False,
    wait: Annotated[str, typer.Option("--wait", help="How long to wait for the cluster to be usable")] = "30s",
    max_mem: Annotated[str | None, typer.Option("--max-mem", help="jetstream.max_memory_store per server [default: 1GB local, 4GB rendered]", show_default=False)] = None,
    max_file: Annotated[str | None, typer.Option("--max-file", help="jetstream.max_file_store per server [default: 64GB local (the guide's 50GB ORDERS stream fits), 100GB rendered]", show_default=False)] = None,
    write_context: Annotated[bool, typer.Option("--context/--no-write-context", help="Write natscli contexts natsops-<name> and natsops-<name>-sys")] = True,
    select: Annotated[bool | None, typer.Option("--select/--no-select", help="Select the new context [default: only if none is selected]", show_default=False)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be started; change nothing")] = False,
    render_only: Annotated[bool, typer.Option("--render-only", help="Only write production configs for --hosts")] = False,
    hosts: Annotated[str | None, typer.Option("--hosts", help="Production hosts, comma separated (with --render-only)")] = None,
    out: Annotated[Path, typer.Option("--out", help="Output folder for --render-only")] = Path("configs"),
    store_dir: Annotated[str, typer.Option("--store-dir", help="JetStream store_dir on the hosts")] = "/var/lib/nats/jetstream",
    lame_duck: Annotated[str, typer.Option("--lame-duck", help="lame_duck_duration on the hosts")] = "2m",
    force: Annotated[bool, typer.Option("--force", help="Overwrite rendered files")] = False,
    json_out: options.Json = False,
    operator: Annotated[str | None, typer.Option(
        "--operator", help="Operator mode: run this operator of the natsops auth store")] = None,
    auth_store: Annotated[Path | None, typer.Option(
        "--store", envvar="NATSOPS_STORE", help="natsops auth store (with --operator)",
        show_default=False)] = None,
) -> None:
    """Start a local JetStream cluster on 127.0.0.1 and wait until it is usable.

    Returns when every node's /healthz is ok, the JetStream meta leader is known and an R3
    stream could be created and removed. Run it again to see the running cluster's state.
    With --render-only --hosts h1,h2,h3 it writes production configs and systemd units instead.

    \b
    Examples:
      natsops bootstrap
      natsops bootstrap --nodes 3 --name C1 --dir ./.natsops/C1 --base-port 4222
      natsops bootstrap --base-port auto --json
      natsops bootstrap --render-only --hosts nats-1,nats-2,nats-3 --out ./configs
      natsops auth operator add DEMO --sys && natsops bootstrap --operator DEMO
    """
    from natsops.bootstrap import BootstrapOptions, bootstrap, plan
    from natsops.cli import output
    from natsops.cli._run import run
    from natsops.cluster.local import parse_base_port
    from natsops.units import parse_duration

    env, as_json = get_state(ctx).env, want_json(ctx, json_out)
    if render_only or hosts:
        return _render_only(hosts if render_only else None, out, name, store_dir,
                            max_mem or "4GB", max_file or "100GB", lame_duck, allow_even, force,
                            as_json)
    opts = BootstrapOptions(
        dir=directory or Path(".natsops") / name, nodes=nodes, name=name,
        base_port=parse_base_port(base_port), server_bin=server_bin, allow_even=allow_even,
        timeout=parse_duration(wait, what="--wait"), max_mem=max_mem or "1GB",
        max_file=max_file or "64GB", write_contexts=write_context, select_context=select,
        operator=operator, store=auth_store)
    if dry_run:
        return _print_plan(plan(opts, env), as_json)
    _print_result(run(bootstrap(opts, env, progress=(lambda m: None) if as_json else output.info)),
                  as_json)


def _render_only(hosts: str | None, out: Path, name: str, store_dir: str, max_mem: str,
                 max_file: str, lame_duck: str, allow_even: bool, force: bool,
                 as_json: bool) -> None:
    from natsops.cli import output
    from natsops.errors import UsageError
    from natsops.render.production import render_production

    if not hosts:
        raise UsageError("--render-only and --hosts go together")
    written = render_production(
        hosts.split(","), out, name=name, store_dir=store_dir, max_mem=max_mem,
        max_file=max_file, lame_duck_duration=lame_duck, allow_even=allow_even, force=force)
    if as_json:
        output.print_json({"hosts": written})
        return
    output.table(f"production configs for cluster {name}", ["host", "config", "systemd unit"],
                 [(w.host, w.config, w.unit) for w in written])
    output.info("configs hold passwords (mode 0600); check them with: nats-server -t -c FILE")


def _print_plan(p: "BootstrapPlan", as_json: bool) -> None:
    from natsops.cli import output

    if as_json:
        output.print_json(p.to_dict())
        return
    output.info(f"would {p.action}: cluster {p.name} in {p.dir} with {p.binary} {p.version}")
    output.table(None, ["node", "client", "cluster", "monitor"],
                 [(n["name"], n.get("client", n.get("client_port")),
                   n.get("cluster", n.get("cluster_port")), n.get("monitor", n.get("http_port")))
                  for n in p.nodes])


def _print_result(result: "BootstrapResult", as_json: bool) -> None:
    from natsops.cli import output
    from natsops.cli.cluster import print_status

    if as_json:
        output.print_json(result)
        return
    print_status(result.status)
    if result.started:
        output.success(f"cluster {result.status.name} usable in {result.seconds:.2f}s "
                       f"({len(result.status.nodes)} nodes, R{result.probe_replicas} probe stream "
                       "created and removed)")
    else:
        output.success(f"cluster {result.status.name} was already running in "
                       f"{result.status.dir}; it is usable")
    if result.contexts:
        output.info(f"natscli contexts: {', '.join(result.contexts)}  "
                    f"(e.g. nats --context {result.contexts[0]} stream ls)")
    output.info(f"stop it with: natsops cluster down --dir {result.status.dir}")
