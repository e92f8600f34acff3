"""``natsops cluster``: manage the local cluster that ``natsops bootstrap`` started."""

from pathlib import Path
from typing import Annotated

import typer

from natsops.cli.state import want_json

app = typer.Typer(
    help="Manage a local cluster started by `natsops bootstrap`.",
    no_args_is_help=True,
    epilog="\b\nExamples:\n  natsops cluster status\n  natsops cluster restart n2\n"
    "  natsops cluster logs n1 -n 50\n  natsops cluster down --purge",
)

DirOpt = Annotated[Path, typer.Option("--dir", envvar="NATSOPS_CLUSTER_DIR",
                                      help="State directory of the cluster")]
DEFAULT = Path(".natsops/C1")
NodeArg = Annotated[str | None, typer.Argument(help="Node name (n1, n2, ...); default: all",
                                               show_default=False)]


def _load(directory: Path):  # type: ignore[no-untyped-def]
    from natsops.cluster.local import LocalCluster

    return LocalCluster.load(directory)


@app.command()
def status(
    ctx: typer.Context,
    directory: DirOpt = DEFAULT,
    json_out: Annotated[bool, typer.Option("--json", help="Print as JSON")] = False,
) -> None:
    """Show every node: pid, URLs, health, version and meta leader."""
    from natsops.bootstrap import cluster_status
    from natsops.cli import output
    from natsops.cli._run import run
    from natsops.cli.bootstrap import _print_status

    st = run(cluster_status(_load(directory)))
    if want_json(ctx, json_out):
        output.print_json(st)
        return
    _print_status(st)


@app.command()
def start(
    ctx: typer.Context,
    node: NodeArg = None,
    directory: DirOpt = DEFAULT,
    wait: Annotated[str, typer.Option("--wait", help="How long to wait for it to be usable")] = "30s",
) -> None:
    """Start the cluster's stopped nodes (or one node) and wait until usable."""
    from natsops.bootstrap import start_nodes, wait_usable
    from natsops.cli import output
    from natsops.cli._run import run
    from natsops.units import parse_duration

    c = _load(directory)
    if node:
        c.node(node)
    started = start_nodes(c, [node] if node else None)
    try:
        run(wait_usable(c, timeout=parse_duration(wait, what="--wait"), restartable=started,
                        progress=output.info))
    except BaseException:
        c.stop_all(grace=5, only=started)
        raise
    output.success(f"started {', '.join(started)}" if started else "nothing to start: all running")


@app.command()
def stop(
    node: NodeArg = None,
    directory: DirOpt = DEFAULT,
    grace: Annotated[float, typer.Option("--grace", help="Seconds to wait before SIGKILL")] = 10.0,
) -> None:
    """Stop every node (or one node) by pid; the state stays for `start`."""
    from natsops.cli import output

    c = _load(directory)
    stopped = c.stop_all(grace=grace, only=[c.node(node).name] if node else None)
    output.success(f"stopped {', '.join(stopped)}" if stopped else "nothing was running")


@app.command()
def restart(
    node: Annotated[str, typer.Argument(help="Node name (n1, n2, ...)")],
    directory: DirOpt = DEFAULT,
    grace: Annotated[float, typer.Option("--grace", help="Seconds to wait before SIGKILL")] = 10.0,
    wait: Annotated[str, typer.Option("--wait", help="How long to wait for it to be usable")] = "30s",
) -> None:
    """Restart one node and wait until the cluster is usable again."""
    from natsops.bootstrap import start_nodes, wait_usable
    from natsops.cli import output
    from natsops.cli._run import run
    from natsops.units import parse_duration

    c = _load(directory)
    c.node(node)
    timeout = parse_duration(wait, what="--wait")
    c.stop_node(node, grace=grace)
    start_nodes(c, [node])
    run(wait_usable(c, timeout=timeout, restartable=[node], progress=output.info))
    output.success(f"restarted {node}")


@app.command()
def down(
    directory: DirOpt = DEFAULT,
    purge: Annotated[bool, typer.Option("--purge", help="Also delete the directory, its data and the contexts")] = False,
    force: Annotated[bool, typer.Option("--force", "-f", help="Do not ask before --purge")] = False,
    grace: Annotated[float, typer.Option("--grace", help="Seconds to wait before SIGKILL")] = 10.0,
) -> None:
    """Stop every node by pid; with --purge delete all state (asks unless --force)."""
    import os

    from natsops.cli import output
    from natsops.context import config_root

    c = _load(directory)
    if purge:
        from natsops.cli.prompt import confirm

        confirm(f"Delete {c.dir} with all JetStream data of cluster {c.name}?", force=force)
    stopped = c.stop_all(grace=grace)
    output.success(f"stopped {', '.join(stopped)}" if stopped else "nothing was running")
    if purge:
        c.purge()
        ctx_dir = config_root(dict(os.environ)) / "nats" / "context"
        for name in c.contexts:
            (ctx_dir / f"{name}.json").unlink(missing_ok=True)
        output.success(f"removed {c.dir}" + (f" and contexts {', '.join(c.contexts)}"
                                              if c.contexts else ""))


@app.command()
def logs(
    node: Annotated[str, typer.Argument(help="Node name (n1, n2, ...)")],
    directory: DirOpt = DEFAULT,
    lines: Annotated[int, typer.Option("--lines", "-n", help="How many lines from the end")] = 40,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines (Ctrl-C stops)")] = False,
) -> None:
    """Print the end of a node's log file."""
    import sys
    import time

    c = _load(directory)
    path = c.log_path(c.node(node).name)
    from natsops.errors import NotFound

    if not path.is_file():
        raise NotFound(f"no log for {node} yet ({path})")
    with open(path, errors="replace") as fh:
        tail = fh.readlines()[-lines:] if lines > 0 else []
        sys.stdout.writelines(tail)
        sys.stdout.flush()
        while follow:
            line = fh.readline()
            if line:
                sys.stdout.write(line)
                sys.stdout.flush()
            else:
                time.sleep(0.2)
