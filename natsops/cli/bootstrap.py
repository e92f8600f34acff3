"""``natsops bootstrap``: a local JetStream cluster in one command, or production configs."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from natsops.cli import options
from natsops.cli.state import get_state, want_json

if TYPE_CHECKING:
    from natsops.bootstrap import BootstrapPlan, BootstrapResult
    from natsops.topology.local import LaunchPlan, LaunchResult

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
    wait: Annotated[str, typer.Option("--wait", help="How long to wait for the cluster to be usable (with --topology: 60s unless given)")] = "30s",
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
        "--store", envvar="NATSOPS_STORE", help="natsops auth store (with --operator or an "
        "operator-mode --topology; yours: never removed) [default: $XDG_DATA_HOME/natsops "
        "or ~/.local/share/natsops]",
        show_default=False)] = None,
    topology: Annotated[Path | None, typer.Option(
        "--topology", help="Start every cluster, gateway and leaf site of this topology file "
        "on 127.0.0.1 (TLS if it asks; auth: operator: runs that operator of --store) "
        "[default dir: ./.natsops/<topology name>]",
        show_default=False)] = None,
) -> None:
    """Start a local JetStream cluster on 127.0.0.1 and wait until it is usable.

    Returns when every node's /healthz is ok, the JetStream meta leader is known and an R3
    stream could be created and removed. Run it again to see the running cluster's state.
    With --render-only --hosts h1,h2,h3 it writes production configs and systemd units instead.
    With --topology FILE it starts a whole topology (a supercluster joined by gateways, leaf
    sites in their own JetStream domains, TLS) on loopback, to try it before deploying it; an
    operator-mode topology runs the operator, accounts and users of your auth store (--store),
    adding APP/app, SYS/sys, an app user per leaf account and the leaf users when missing.

    \b
    Examples:
      natsops bootstrap
      natsops bootstrap --nodes 3 --name C1 --dir ./.natsops/C1 --base-port 4222
      natsops bootstrap --base-port auto --json
      natsops bootstrap --render-only --hosts nats-1,nats-2,nats-3 --out ./configs
      natsops auth operator add DEMO --sys && natsops bootstrap --operator DEMO
      natsops bootstrap --topology topology.yaml --wait 60s
    """
    from natsops.bootstrap import BootstrapOptions, bootstrap, plan
    from natsops.cli import output
    from natsops.cli._run import run
    from natsops.cluster.local import parse_base_port
    from natsops.units import parse_duration

    env, as_json = get_state(ctx).env, want_json(ctx, json_out)
    if topology is not None or render_only or hosts:
        return _not_a_local_cluster(ctx, as_json)
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


def _not_a_local_cluster(ctx: typer.Context, as_json: bool) -> None:
    """--topology (a local topology) or --render-only (production configs)."""
    p = ctx.params  # the values as parsed, before Typer turns paths into Path
    if p["topology"] is not None:
        return _topology(ctx, Path(p["topology"]), p["directory"] and Path(p["directory"]),
                         p["server_bin"], p["wait"], p["write_context"], p["select"],
                         p["dry_run"], as_json,
                         Path(p["auth_store"]) if _given(ctx, "auth_store") else None)
    return _render_only(p["hosts"] if p["render_only"] else None, Path(p["out"]), p["name"],
                        p["store_dir"], p["max_mem"] or "4GB", p["max_file"] or "100GB",
                        p["lame_duck"], p["allow_even"], p["force"], as_json)


_NOT_WITH_TOPOLOGY = ("nodes", "name", "base_port", "allow_even", "max_mem", "max_file",
                      "render_only", "hosts", "out", "store_dir", "lame_duck", "force",
                      "operator")


def _given(ctx: typer.Context, param: str) -> bool:
    """True when this option is on the command line (not a default, not a variable)."""
    return str(getattr(ctx.get_parameter_source(param), "name", "")) == "COMMANDLINE"


def _topology(ctx: typer.Context, path: Path, directory: Path | None, server_bin: str | None,
              wait: str, write_context: bool, select: bool | None, dry_run: bool,
              as_json: bool, store: Path | None) -> None:
    from natsops.cli import output
    from natsops.cli._run import run
    from natsops.errors import UsageError
    from natsops.topology.local import LaunchOptions, launch_file, plan
    from natsops.units import parse_duration

    given = [p.opts[0] for p in ctx.command.params
             if p.name in _NOT_WITH_TOPOLOGY and _given(ctx, p.name)]
    if given:
        raise UsageError(f"{given[0]} does not go with --topology: the topology file says "
                         "what to start")
    if not _given(ctx, "wait"):
        wait = "60s"  # several clusters: a supercluster's meta group takes longer to form
    opts = LaunchOptions(dir=directory, server_bin=server_bin,
                         timeout=parse_duration(wait, what="--wait"),
                         write_contexts=write_context, select_context=select, store=store)
    env = get_state(ctx).env
    if dry_run:
        return _print_topology_plan(plan(path, opts, env), as_json)
    _print_topology(run(launch_file(path, opts, env,
                                    progress=(lambda m: None) if as_json else output.info)),
                    as_json)


def _print_topology_plan(p: "LaunchPlan", as_json: bool) -> None:
    from natsops.cli import output

    if as_json:
        output.print_json(p)
        return
    output.info(f"would {p.action}: topology {p.name} in {p.dir}" + (" with TLS" if p.tls
                                                                      else "")
                + (f", operator {p.operator} of the auth store {p.store}" if p.operator else ""))
    if p.store_changes:
        output.info(f"would add to the auth store: {', '.join(p.store_changes)}")
    output.table(None, ["cluster / leaf site", "kind", "servers", "links", "domain"],
                 [(g["name"], g["kind"], ", ".join(g["nodes"]),
                   f"gateways to {', '.join(g['gateways'])}" if g["gateways"] else
                   f"leaf of {g['hub']}" if g["hub"] else "", g["domain"] or "")
                  for g in p.groups])


def _print_topology(result: "LaunchResult", as_json: bool) -> None:
    from natsops.cli import output
    from natsops.cli.cluster import print_status

    if as_json:
        output.print_json(result)
        return
    st = result.status
    print_status(st)
    servers = sum(len(g.cluster.nodes) for g in st.groups)
    if result.started:
        probed = [g for g, r in result.probes.items() if r]
        output.success(f"topology {st.name} usable in {result.seconds:.2f}s ({servers} servers"
                       + (f"; probe streams in {', '.join(probed)}" if probed else "") + ")")
    else:
        output.success(f"topology {st.name} was already running in {st.dir}; it is usable")
    if result.operator:
        output.info(f"operator {result.operator} of the auth store {result.store} (kept by "
                    "`cluster down --purge`)" + (f"; added to it: {', '.join(result.store_created)}"
                                                 if result.store_created else ""))
    if result.contexts:
        output.info(f"natscli contexts: {', '.join(result.contexts)}")
    for g in (g for g in st.groups if g.hub and g.domain):
        output.info(f"leaf site {g.cluster.name}: users of account {g.account} on {g.hub} reach "
                    f"its JetStream with --js-domain {g.domain} ($JS.{g.domain}.API)")
    output.info(f"stop it with: natsops cluster down --dir {st.dir}")


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
