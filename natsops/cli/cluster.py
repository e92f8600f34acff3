"""``natsops cluster``: manage the local cluster that ``natsops bootstrap`` started."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from natsops.cli import options
from natsops.cli.output import examples
from natsops.cli.state import get_state, want_json

if TYPE_CHECKING:
    from natsops.cluster.deployment_status import TopologyStatus
    from natsops.cluster.status import ClusterStatus
    from natsops.cluster.target import Local

app = typer.Typer(
    help="Manage a local cluster (or topology) started by `natsops bootstrap`.",
    no_args_is_help=True,
    epilog=examples("natsops cluster status", "natsops cluster restart n2",
                    "natsops cluster logs n1 -n 50", "natsops cluster down --purge",
                    "natsops cluster status --dir .natsops/demo   # a topology: every cluster"),
)

DirOpt = Annotated[Path | None, typer.Option(
    "--dir", envvar="NATSOPS_CLUSTER_DIR", show_default=False,
    help="State directory of the cluster or topology (default: .natsops/C1, or the only "
         "cluster or topology in ./.natsops)")]
DEFAULT = None
NodeArg = Annotated[str | None, typer.Argument(help="Node name (n1, n2, ...); default: all",
                                               show_default=False)]
Grace = Annotated[float, typer.Option("--grace", help="Seconds to wait before SIGKILL")]
Wait = Annotated[str, typer.Option("--wait", help="How long to wait for it to be usable")]


def _load(directory: Path | None) -> "Local":
    from natsops.cluster.target import default_local_dir, load_local

    return load_local(directory if directory is not None else default_local_dir())


def print_status(status: "ClusterStatus | TopologyStatus", title: str | None = None) -> None:
    """The human view of a cluster's nodes, or of every cluster and leaf site of a topology
    (also printed by `natsops bootstrap`)."""
    from natsops.cli import output
    from natsops.cluster.status import ClusterStatus

    if not isinstance(status, ClusterStatus):
        return _print_topology(status)
    rows = []
    for n in status.nodes:
        state = "healthy" if n.healthy else ("stopped" if not n.running else
                                             f"unhealthy: {n.health_error}")
        rows.append((n.name, n.client_url, n.monitor_url, n.cluster_url, n.version or "",
                     n.meta_leader or "", n.pid or "", state))
    Col = output.Col
    output.table(title or f"cluster {status.name} ({status.dir})",
                 [Col("name"), Col("client URL"), Col("monitor URL", 1), Col("cluster URL", 3),
                  Col("version", 2), Col("meta leader", 4), Col("pid", 5, right=True),
                  Col("state", wrap=True)], rows)


def _print_topology(status: "TopologyStatus") -> None:
    from natsops.cli import output

    for g in status.groups:
        links = (f"gateways to {', '.join(g.gateways)}" if g.gateways else
                 f"leaf site of {g.hub}, bound to account {g.account}" if g.hub else "")
        domain = f"JetStream domain {g.domain}" if g.domain else ""
        about = "; ".join(x for x in (links, domain) if x)
        print_status(g.cluster, f"{g.kind} {g.cluster.name}" + (f": {about}" if about else ""))
    if status.links_down:
        output.table("links down", ["server or cluster", "problem"],
                     sorted(status.links_down.items()))
    output.info(f"topology {status.name} in {status.dir}" + (" (TLS)" if status.tls else "")
                + (f"; operator {status.operator} of the auth store {status.store}"
                   if status.operator else ""))


@app.command()
def status(ctx: typer.Context, directory: DirOpt = DEFAULT, json_out: options.Json = False) -> None:
    """Show every node: pid, URLs, health, version and meta leader (of a topology: every
    cluster and leaf site, and the gateway and leafnode links that are down)."""
    from natsops.cli import output
    from natsops.cli._run import run
    from natsops.cli._snapshot import gather_timeout
    from natsops.cluster.target import status_local

    st = run(status_local(_load(directory), timeout=gather_timeout(ctx, 2.0)))
    if want_json(ctx, json_out):
        output.print_json(st)
    else:
        print_status(st)


@app.command()
def start(node: NodeArg = None, directory: DirOpt = DEFAULT, wait: Wait = "30s") -> None:
    """Start the cluster's stopped nodes (or one node) and wait until usable."""
    from natsops.cli import output
    from natsops.cli._run import run
    from natsops.cluster.target import start_local
    from natsops.units import parse_duration

    started = run(start_local(_load(directory), [node] if node else None,
                              timeout=parse_duration(wait, what="--wait"), progress=output.info))
    output.success(f"started {', '.join(started)}" if started
                   else "nothing to start: all running")


@app.command()
def stop(node: NodeArg = None, directory: DirOpt = DEFAULT, grace: Grace = 10.0) -> None:
    """Stop every node (or one node) by pid; the state stays for `start`."""
    from natsops.cli import output

    c = _load(directory)
    stopped = c.stop_all(grace=grace, only=[c.node(node).name] if node else None)
    output.success(f"stopped {', '.join(stopped)}" if stopped else "nothing was running")


@app.command()
def restart(
    node: Annotated[str, typer.Argument(help="Node name (n1, n2, ...)")],
    directory: DirOpt = DEFAULT,
    grace: Grace = 10.0,
    wait: Wait = "30s",
) -> None:
    """Restart one node and wait until the cluster is usable again."""
    from natsops.cli import output
    from natsops.cli._run import run
    from natsops.cluster.target import restart_local
    from natsops.units import parse_duration

    run(restart_local(_load(directory), node, grace=grace,
                      timeout=parse_duration(wait, what="--wait"), progress=output.info))
    output.success(f"restarted {node}")


@app.command()
def down(
    ctx: typer.Context,
    directory: DirOpt = DEFAULT,
    purge: Annotated[bool, typer.Option("--purge", help="Also delete the directory, its data and the contexts (never an auth store)")] = False,
    force: options.Force = False,
    grace: Grace = 10.0,
) -> None:
    """Stop every node by pid (of a topology: every server of every cluster and leaf site);
    with --purge delete all state and the contexts (asks unless --force)."""
    from natsops.cli import output
    from natsops.cli.prompt import confirm
    from natsops.cluster.target import purge_local

    c = _load(directory)
    if purge:
        what = "topology" if hasattr(c, "groups") else "cluster"
        confirm(f"Delete {c.dir} with all JetStream data of {what} {c.name}?", force=force)
    stopped = c.stop_all(grace=grace)
    output.success(f"stopped {', '.join(stopped)}" if stopped else "nothing was running")
    if purge:
        removed = purge_local(c, get_state(ctx).env)
        output.success(f"removed {c.dir}" + (f" and contexts {', '.join(removed)}"
                                              if removed else ""))
        if store := getattr(c, "store", None):  # an operator-mode topology: the user's store
            output.info(f"kept the auth store {store}")


@app.command()
def logs(
    node: Annotated[str, typer.Argument(help="Node name (n1, n2, ...)")],
    directory: DirOpt = DEFAULT,
    lines: Annotated[int, typer.Option("--lines", "-n", help="How many lines from the end")] = 40,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines (Ctrl-C stops)")] = False,
) -> None:
    """Print the end of a node's log file."""
    import sys

    for line in _load(directory).log_lines(node, lines, follow=follow):
        sys.stdout.write(line)
        sys.stdout.flush()
