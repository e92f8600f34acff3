"""``natsops bootstrap``: a local JetStream cluster in one command, or production configs."""

from pathlib import Path
from typing import Annotated, Any

import typer

from natsops.cli.state import get_state, want_json
from natsops.errors import UsageError

app = typer.Typer()


def _base_port(value: str) -> int | None:
    if value == "auto":
        return None
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"--base-port must be a port number or 'auto', not {value!r}") from None


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
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
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
    from natsops.cli import output
    from natsops.cli._run import run
    from natsops.units import parse_duration

    state = get_state(ctx)
    as_json = want_json(ctx, json_out)
    if render_only or hosts:
        if not (render_only and hosts):
            raise UsageError("--render-only and --hosts go together")
        from natsops.bootstrap import render_production

        written = render_production(
            hosts.split(","), out, name=name, store_dir=store_dir, max_mem=max_mem or "4GB",
            max_file=max_file or "100GB", lame_duck_duration=lame_duck, allow_even=allow_even,
            force=force)
        if as_json:
            output.print_json({"hosts": written})
            return
        output.table(f"production configs for cluster {name}", ["host", "config", "systemd unit"],
                     [(w.host, w.config, w.unit) for w in written])
        output.info("configs hold passwords (mode 0600); check them with: nats-server -t -c FILE")
        return

    from natsops.bootstrap import BootstrapOptions
    from natsops.bootstrap import bootstrap as do_bootstrap

    opts = BootstrapOptions(
        dir=directory or Path(".natsops") / name, nodes=nodes, name=name,
        base_port=_base_port(base_port), server_bin=server_bin, allow_even=allow_even,
        timeout=parse_duration(wait, what="--wait"), max_mem=max_mem or "1GB",
        max_file=max_file or "64GB", write_contexts=write_context, select_context=select)
    if dry_run:
        _dry_run(opts, state.env, as_json)
        return
    progress = (lambda m: None) if as_json else output.info
    if operator:
        from natsops.auth.localdev import bootstrap_operator
        from natsops.auth.store import Store, default_store_root

        store = Store(auth_store or default_store_root(state.env))
        result = run(bootstrap_operator(opts, store, store.resolve_operator(operator), state.env,
                                        progress=progress))
    else:
        result = run(do_bootstrap(opts, state.env, progress=progress))
    if as_json:
        output.print_json(result)
        return
    _print_status(result.status)
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


def _dry_run(opts: Any, env: dict[str, str], as_json: bool) -> None:
    from natsops.bootstrap import validate_node_count
    from natsops.cli import output
    from natsops.cluster.local import LocalCluster, plan_nodes
    from natsops.cluster.process import find_server_binary, server_version

    if LocalCluster.exists(opts.dir):
        c = LocalCluster.load(opts.dir)
        plan = {"action": "report or restart existing cluster", **c.describe(),
                "running": c.running_nodes()}
    else:
        validate_node_count(opts.nodes, opts.allow_even)
        exe = find_server_binary(opts.server_bin, env)
        specs = plan_nodes(opts.nodes, opts.base_port)
        plan = {"action": "create and start", "name": opts.name, "dir": str(opts.dir),
                "binary": str(exe), "version": server_version(exe),
                "nodes": [{"name": s.name, **s.ports()} for s in specs]}
    if as_json:
        output.print_json(plan)
        return
    output.info(f"would {plan['action']}: cluster {plan['name']} in {plan['dir']} "
                f"with {plan['binary']} {plan['version']}")
    output.table(None, ["node", "client", "cluster", "monitor"],
                 [(n["name"], n.get("client", n.get("client_port")),
                   n.get("cluster", n.get("cluster_port")), n.get("monitor", n.get("http_port")))
                  for n in plan["nodes"]])


def _print_status(status: Any) -> None:
    from natsops.cli import output

    rows = []
    for n in status.nodes:
        state = "healthy" if n.healthy else ("stopped" if not n.running else
                                             f"unhealthy: {n.health_error}")
        rows.append((n.name, n.client_url, n.monitor_url, n.cluster_url, n.version or "",
                     n.meta_leader or "", n.pid or "", state))
    output.table(f"cluster {status.name} ({status.dir})",
                 ["name", "client URL", "monitor URL", "cluster URL", "version", "meta leader",
                  "pid", "state"], rows)
