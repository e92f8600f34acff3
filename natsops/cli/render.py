"""``natsops render``: a topology file to server configs, units, Helm values, Prometheus files;
recipes as files for other tools (``render nack``)."""

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from natsops.cli import options
from natsops.cli._render_nack import nack
from natsops.cli.state import get_state, want_json


class _DefaultToTopology(TyperGroup):
    """``natsops render TOPOLOGY`` runs ``render topology TOPOLOGY``; subcommands still work."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["topology", *args]
        return list(super().parse_args(ctx, args))


app = typer.Typer(cls=_DefaultToTopology, no_args_is_help=True,
                  help="Render a topology file (server configs, systemd units, Helm values, "
                  "Prometheus files), or recipes for other tools (nack: Kubernetes NACK "
                  "resources).")
app.command("nack")(nack)

Topology = Annotated[Path, typer.Argument(metavar="TOPOLOGY", help="Topology file (YAML; see recipes/topologies/)",
                                          show_default=False)]
Out = Annotated[Path, typer.Option("--out", "-o", help="Output folder")]


@app.command("topology")
def topology(
    ctx: typer.Context,
    file: Topology,
    out: Out = Path("configs"),
    tls: Annotated[str | None, typer.Option(
        "--tls", help="generate: a CA and per-server certificates for every listener "
        "(else the topology's tls: section)", show_default=False)] = None,
    store: Annotated[Path | None, typer.Option(
        "--store", envvar="NATSOPS_STORE", help="natsops auth store (operator: topologies)",
        show_default=False)] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Overwrite files that differ (identical ones are always fine)")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List the files; write nothing")]
    = False,
    json_out: options.Json = False,
) -> None:
    """Write every node's config, secrets include and systemd unit, Helm values per cluster
    and a README of what to run where (natsops render TOPOLOGY --out DIR).

    Certificates the topology gives (tls: ca, certs) are checked first: each must cover its
    node's host, be in date, match its key and chain to the CA (errors name file:line).

    Configs hold bcrypt hashes only (0600); generated passwords go to
    DIR/natsops-secrets.json (0600) and are kept when you render again. Check the result
    with `natsops lint DIR` and, in a node's folder, `nats-server -t -c nats-server.conf`.

    \b
    Examples:
      natsops render recipes/topologies/supercluster.yaml --out ./configs
      natsops render hub-leaf.yaml --out ./configs --tls generate --dry-run
      natsops render prometheus supercluster.yaml --out ./prometheus
    """
    from natsops.errors import UsageError
    from natsops.topology.render import render_topology

    if tls not in (None, "generate"):
        raise UsageError(f"--tls takes 'generate', not {tls!r}")
    result = render_topology(file, out, get_state(ctx).env, tls_generate=tls == "generate",
                             dry_run=dry_run, force=force, store=store)
    _print_render(result, want_json(ctx, json_out))


@app.command("prometheus")
def prometheus(
    ctx: typer.Context,
    file: Topology,
    out: Out = Path("prometheus"),
    exporter_port: Annotated[int, typer.Option(
        "--exporter-port", help="prometheus-nats-exporter port (+1 per extra server on a "
        "host)")] = 7777,
    doctor: Annotated[str, typer.Option(
        "--doctor", help="HOST:PORT of `natsops doctor --serve`, scraped too")]
    = "localhost:9119",
    force: Annotated[bool, typer.Option(
        "--force", help="Overwrite files that differ (identical ones are always fine)")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List the files; write nothing")]
    = False,
    json_out: options.Json = False,
) -> None:
    """Write prometheus-nats-exporter command lines per server, a Prometheus scrape config
    (exporters and natsops doctor --serve) and alerting rules (server down, unhealthy, slow
    consumers, lost routes and leaf connections, and one rule per doctor check).

    \b
    Examples:
      natsops render prometheus supercluster.yaml --out ./prometheus
      natsops render prometheus hub-leaf.yaml --doctor ops-1:9119 --dry-run --json
    """
    from natsops.cli import output
    from natsops.topology.prometheus import render_prometheus

    r = render_prometheus(file, out, get_state(ctx).env, exporter_port=exporter_port,
                          doctor_target=doctor, dry_run=dry_run, force=force)
    if want_json(ctx, json_out):
        return output.print_json({"out": r.out, "files": r.files, "dry_run": r.dry_run,
                                  "exporters": [{"server": e.server, "host": e.host,
                                                 "port": e.port, "command": e.command_line}
                                                for e in r.exporters]})
    output.table(None, ["server", "host", output.Col("exporter command", wrap=True)],
                 [(e.server, e.host, e.command_line) for e in r.exporters])
    output.info(("would write: " if r.dry_run else "wrote: ") + ", ".join(r.files))


def _print_render(result: Any, as_json: bool) -> None:
    from natsops.cli import output
    from natsops.topology.render import result_json

    if as_json:
        return output.print_json(result_json(result))
    for w in result.warnings:
        output.info(f"warning: {w}")
    rows = [(f.path, f.kind, "0600" if f.private else "0644") for f in result.files]
    output.table(("would write" if result.dry_run else "wrote") + f" in {result.out}",
                 ["file", "kind", "mode"], rows)
    if not result.dry_run:
        output.info(f"check: natsops lint {result.out}; what to run where: "
                    f"{Path(result.out) / 'README.md'}")
