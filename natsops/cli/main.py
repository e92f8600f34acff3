"""Root of the ``natsops`` CLI: global options, error handling, command groups.

Heavy libraries (nats, httpx, jinja2, rich, yaml) are imported inside the commands that need
them, so ``natsops --help`` and ``natsops --version`` start fast.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from natsops._version import __version__
from natsops.cli.state import State
from natsops.errors import ExitCode, NatsopsError


class Group(TyperGroup):
    """Maps natsops errors to one line on stderr and their exit code, once, for every command."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except NatsopsError as exc:
            from natsops.cli.output import error

            error(str(exc), exc.hint)
            raise typer.Exit(int(exc.exit_code)) from None
        except KeyboardInterrupt:
            from natsops.cli.output import error

            error("interrupted")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except Exception as exc:
            if type(exc).__module__.startswith(("typer", "click")):
                raise
            state = ctx.find_root().obj
            if isinstance(state, State) and state.debug:
                raise
            from natsops.cli.output import error

            error(f"internal error: {type(exc).__name__}: {exc}",
                  "this is a natsops bug; rerun with --debug for the traceback and report it")
            raise typer.Exit(int(ExitCode.ERROR)) from None


app = typer.Typer(
    cls=Group,
    name="natsops",
    help="Operations toolkit for NATS Server and JetStream.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Settings: flag > NATS_* env > natscli context (--context / NATS_CONTEXT / "
    "selected) > defaults. Global options go before the command: natsops -s URL stream ls.",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"natsops {__version__}")
        raise typer.Exit()


def _setup_logging(verbose: int) -> None:
    if verbose <= 0:
        return
    from rich.logging import RichHandler

    from natsops.cli.output import err

    handler = RichHandler(console=err(), show_time=False, show_path=verbose > 1)
    root = logging.getLogger("natsops")
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose > 1 else logging.INFO)


@app.callback()
def root(
    ctx: typer.Context,
    server: Annotated[str | None, typer.Option("--server", "-s", help="NATS server URL(s), comma separated [env: NATS_URL]", show_default=False)] = None,
    context: Annotated[str | None, typer.Option("--context", help="natscli context name or .json file [env: NATS_CONTEXT]")] = None,
    no_context: Annotated[bool, typer.Option("--no-context", help="Ignore natscli contexts")] = False,
    creds: Annotated[str | None, typer.Option("--creds", help="User credentials file (JWT + seed) [env: NATS_CREDS]")] = None,
    user: Annotated[str | None, typer.Option("--user", help="Username, or a token when no password is given [env: NATS_USER]")] = None,
    password: Annotated[str | None, typer.Option("--password", help="Password [env: NATS_PASSWORD]")] = None,
    token: Annotated[str | None, typer.Option("--token", help="Auth token [env: NATS_TOKEN]")] = None,
    nkey: Annotated[str | None, typer.Option("--nkey", help="NKey seed file [env: NATS_NKEY]")] = None,
    tlscert: Annotated[str | None, typer.Option("--tlscert", help="TLS client certificate [env: NATS_CERT]")] = None,
    tlskey: Annotated[str | None, typer.Option("--tlskey", help="TLS client key [env: NATS_KEY]")] = None,
    tlsca: Annotated[str | None, typer.Option("--tlsca", help="TLS CA bundle [env: NATS_CA]")] = None,
    tlsfirst: Annotated[bool, typer.Option("--tlsfirst", help="TLS handshake before the server INFO")] = False,
    timeout: Annotated[str | None, typer.Option("--timeout", help="Request timeout, e.g. 5s [env: NATS_TIMEOUT]")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print results as one JSON document")] = False,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="Log progress to stderr (-vv: debug)")] = 0,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of internal errors")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit")] = False,
) -> None:
    """Operations toolkit for NATS Server and JetStream."""
    ctx.obj = State(
        flags={"server": server, "context": context, "creds": creds, "user": user,
               "password": password, "token": token, "nkey": nkey, "tlscert": tlscert,
               "tlskey": tlskey, "tlsca": tlsca, "tlsfirst": tlsfirst, "timeout": timeout},
        json=json_out, verbose=verbose, debug=debug, no_context=no_context,
    )
    _setup_logging(verbose)


def _register() -> None:
    from natsops.cli import bootstrap, cluster, consumer, kv, obj, stream

    app.command("bootstrap")(bootstrap.bootstrap)
    app.add_typer(cluster.app, name="cluster")
    app.add_typer(stream.app, name="stream")
    app.add_typer(consumer.app, name="consumer")
    app.add_typer(kv.app, name="kv")
    app.add_typer(obj.app, name="object")


_register()


def main() -> None:
    """Console-script entry point."""
    try:
        app(prog_name="natsops")
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        sys.exit(int(ExitCode.INTERRUPTED))


if __name__ == "__main__":
    main()
