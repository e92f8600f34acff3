"""``natsops render``: recipes and topologies as files for other tools."""

import typer

from natsops.cli._render_nack import nack

app = typer.Typer(help="Render recipes for other tools.", no_args_is_help=True)


@app.callback()
def main() -> None:
    """Render recipes for other tools: nack (Kubernetes NACK custom resources)."""


app.command("nack")(nack)
