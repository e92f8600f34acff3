"""``natsops lab``: a multi-host NATS deployment on one machine (network namespaces), with faults."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from natsops.cli import options
from natsops.cli.output import examples
from natsops.cli.state import get_state, want_json

if TYPE_CHECKING:
    from natsops.lab import LabPlan, LabStatus

app = typer.Typer(
    help="A NATS cluster (or a whole topology: gateways, leaf sites) whose servers each run in "
         "their own network namespace, with partitions, kills and freezes on command (needs "
         "root or CAP_NET_ADMIN). natsops "
         "reaches the lab from its client namespace: `natsops lab exec -- natsops doctor`.",
    no_args_is_help=True,
    epilog=examples("natsops lab up --nodes 3", "natsops lab up --topology topology.yaml",
                    "natsops lab exec -- natsops doctor --transport http",
                    "natsops lab partition n1", "natsops lab heal",
                    "natsops lab isolate n1 --from n2", "natsops lab freeze n3",
                    "natsops lab status", "natsops lab down --purge --force"),
)

DirOpt = Annotated[Path, typer.Option("--dir", envvar="NATSOPS_LAB_DIR",
                                      help="State directory of the lab")]
# not under ./.natsops: doctor, upgrade and server look there for "the one local cluster"
DEFAULT = Path(".natsops-lab")
Node = Annotated[str, typer.Argument(help="Node name (n1, n2, ...; a topology's server names)")]


def _show(st: "LabStatus", json_out: bool) -> None:
    from natsops.cli import output

    if json_out:
        output.print_json(st)
        return
    rows = [(n.name, n.group, n.address, n.netns, n.pid or "", n.process, n.healthz or "",
             ", ".join(n.cut_from)) for n in st.nodes]
    Col = output.Col
    output.table(f"lab {'topology ' if st.topology else ''}{st.name} ({st.dir}); client "
                 f"namespace {st.client_netns} ({st.client_address})"
                 f"{'' if st.network_up else '; network DOWN'}",
                 [Col("node"), Col("cluster", 2), Col("address"), Col("namespace", 2),
                  Col("pid", 1, right=True), Col("process"), Col("healthz", wrap=True),
                  Col("cut from")], rows)


def _show_plan(p: "LabPlan", json_out: bool) -> None:
    from natsops.cli import output

    if json_out:
        return output.print_json(p)
    output.info(f"would {p.action}{' for topology ' + p.topology if p.topology else ''} in "
                f"{p.dir}: namespaces {', '.join(p.namespaces)}; client {p.client_address}; "
                f"route pings every {p.route_ping_interval} (max {p.route_ping_max})")
    output.table(None, ["node", "cluster", "address", "namespace"],
                 [(n["name"], n["group"], n["address"], n["netns"]) for n in p.nodes])


@app.command()
def up(
    ctx: typer.Context, directory: DirOpt = DEFAULT,
    nodes: Annotated[int | None, typer.Option("--nodes", help="How many servers (odd, at most 9) [default: 3]", show_default=False)] = None,
    topology: Annotated[Path | None, typer.Option("--topology", help="Run this topology file instead (clusters, gateways, leaf sites, TLS): one namespace per server", show_default=False)] = None,
    name: Annotated[str | None, typer.Option("--name", help="Cluster name (contexts natsops-NAME and natsops-NAME-sys) [default: lab]", show_default=False)] = None,
    server_bin: Annotated[str | None, typer.Option("--server-bin", envvar="NATSOPS_SERVER_BIN", help="nats-server binary [default: bundled, then PATH]")] = None,
    wait: Annotated[str, typer.Option("--wait", help="How long to wait for it to be usable")] = "60s",
    dry_run: options.DryRun = False, json_out: options.Json = False,
) -> None:
    """Start a lab: one server per namespace on a bridge in a namespace, JetStream, system
    account, short route pings; contexts written as bootstrap does. --topology FILE runs a
    whole topology instead (its own server names; namespaces and addresses numbered across
    it in file order; short pings on routes, gateways and leafnodes). Again on a lab that
    is down: brings it back."""
    from natsops.cli import output
    from natsops.cli._run import run
    from natsops.lab import LabOptions, plan
    from natsops.lab import up as lab_up
    from natsops.units import parse_duration

    opts = LabOptions(dir=directory, nodes=nodes, name=name, server_bin=server_bin,
                      timeout=parse_duration(wait, what="--wait"), topology=topology)
    if dry_run:
        return _show_plan(plan(opts, get_state(ctx).env), want_json(ctx, json_out))
    _show(run(lab_up(opts, get_state(ctx).env, progress=output.info)), want_json(ctx, json_out))


@app.command()
def status(ctx: typer.Context, directory: DirOpt = DEFAULT, json_out: options.Json = False) -> None:
    """Each node's address, namespace, process state (running, frozen, stopped), /healthz and
    the nodes it is cut from."""
    from natsops.cli._run import run
    from natsops.lab import status as lab_status

    _show(run(lab_status(directory)), want_json(ctx, json_out))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def exec(ctx: typer.Context, directory: DirOpt = DEFAULT) -> None:
    """Run a command in the lab's client namespace, with NATSOPS_CLUSTER_DIR set to the lab:
    `natsops lab exec -- natsops doctor --transport http` (HTTP: every server's monitor, both
    sides of a partition)."""
    import os

    from natsops.lab import exec_argv

    argv, env = exec_argv(directory, ctx.args, get_state(ctx).env)
    os.execve(argv[0], argv, env)


@app.command()
def partition(
    nodes: Annotated[list[str], typer.Argument(help="The nodes (or a topology's clusters) to cut off from the others")],
    directory: DirOpt = DEFAULT, dry_run: options.DryRun = False,
) -> None:
    """Cut these nodes off from every other node (the client namespace still reaches all). In
    a topology lab a cluster or leaf site name stands for all its servers: `lab partition
    east` cuts east's gateways to every other cluster."""
    from natsops.cli import output
    from natsops.lab import partition as cut

    cuts = cut(directory, nodes, dry_run=dry_run)
    output.success(f"{'would cut' if dry_run else 'cut'} off {', '.join(nodes)}; cuts then: "
                   + ", ".join(f"{a}-{b}" for a, b in cuts))


@app.command()
def isolate(
    node: Node,
    other: Annotated[str, typer.Option("--from", help="The node (or a topology's cluster) to cut it from")],
    directory: DirOpt = DEFAULT, dry_run: options.DryRun = False,
) -> None:
    """Drop all traffic between two nodes (both still reach the others); a topology's cluster
    or leaf site name stands for all its servers."""
    from natsops.cli import output
    from natsops.lab import partition as cut

    cut(directory, [node], isolate_from=other, dry_run=dry_run)
    output.success(f"{'would cut' if dry_run else 'cut'} {node} from {other}")


@app.command()
def heal(directory: DirOpt = DEFAULT, dry_run: options.DryRun = False) -> None:
    """Remove every cut."""
    from natsops.cli import output
    from natsops.lab import heal as lab_heal

    was = lab_heal(directory, dry_run=dry_run)
    output.success(f"{'would heal' if dry_run else 'healed'} "
                   + ", ".join(f"{a}-{b}" for a, b in was) if was else "no cut is in force")


def _signal(what: str, node: str, directory: Path, dry_run: bool) -> None:
    from natsops.cli import output
    from natsops.lab import fault

    pid = fault(directory, what, node, dry_run=dry_run)
    output.success(f"{'would ' if dry_run else ''}{what} {node} (pid {pid})")


@app.command()
def kill(node: Node, directory: DirOpt = DEFAULT, dry_run: options.DryRun = False) -> None:
    """SIGKILL a node's server (a crash); `lab restart` starts it again."""
    _signal("kill", node, directory, dry_run)


@app.command()
def freeze(node: Node, directory: DirOpt = DEFAULT, dry_run: options.DryRun = False) -> None:
    """SIGSTOP a node's server (a long GC pause or a frozen VM)."""
    _signal("freeze", node, directory, dry_run)


@app.command()
def thaw(node: Node, directory: DirOpt = DEFAULT, dry_run: options.DryRun = False) -> None:
    """SIGCONT a frozen node's server."""
    _signal("thaw", node, directory, dry_run)


@app.command()
def restart(node: Node, directory: DirOpt = DEFAULT,
            wait: Annotated[str, typer.Option("--wait", help="How long to wait for it to start")] = "30s",
            dry_run: options.DryRun = False) -> None:
    """Stop a node by pid (running, frozen or killed) and start it again in its namespace."""
    from natsops.cli import output
    from natsops.cli._run import run
    from natsops.lab import restart as lab_restart
    from natsops.units import parse_duration

    pid = run(lab_restart(directory, node, timeout=parse_duration(wait, what="--wait"),
                          dry_run=dry_run))
    output.success(f"would restart {node} (pid {pid or 'none'})" if dry_run else
                   f"restarted {node} (pid {pid})")


@app.command()
def down(
    ctx: typer.Context, directory: DirOpt = DEFAULT,
    purge: Annotated[bool, typer.Option("--purge", help="Also delete the directory, its data and the contexts")] = False,
    force: options.Force = False,
    grace: Annotated[float, typer.Option("--grace", help="Seconds to wait before SIGKILL")] = 10.0,
    dry_run: options.DryRun = False, json_out: options.Json = False,
) -> None:
    """Stop every server by pid and delete every namespace and link of the lab (also after a
    crash of natsops); with --purge the directory and contexts too (asks unless --force)."""
    from natsops.cli import output
    from natsops.cli._run import run
    from natsops.cli.prompt import confirm
    from natsops.lab import down as lab_down
    from natsops.lab import load

    if purge and not dry_run:
        load(directory)  # no lab: say so rather than ask
        confirm(f"Delete the lab in {directory} with all its data?", force=force)
    res = run(lab_down(directory, grace=grace, purge=purge, env=get_state(ctx).env,
                       dry_run=dry_run))
    if want_json(ctx, json_out):
        output.print_json(res)
    else:
        output.success(f"{'would stop' if dry_run else 'stopped'} "
                       f"{', '.join(res.stopped) or 'no server'}; "
                       f"{'would delete' if dry_run else 'deleted'} {len(res.namespaces)} "
                       f"namespaces and {len(res.links)} links"
                       + (f"; ended pids {', '.join(map(str, res.ended))}" if res.ended else ""))
