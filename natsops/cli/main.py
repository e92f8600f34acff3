"""Root of the ``natsops`` CLI: global options, error handling, command groups.

Heavy libraries (nats, httpx, jinja2, rich, yaml) are imported inside the commands that need
them, so ``natsops --help`` and ``natsops --version`` start fast.
"""

# No `from __future__ import annotations` in Typer modules: Typer eval()s string annotations
# of every parameter on every run (tests/cli/test_basics.py checks it).
import contextlib
import sys
from collections.abc import Iterator
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from natsops._version import __version__
from natsops.cli.state import State
from natsops.errors import ExitCode, NatsopsError

# Command groups, loaded only when used: (module, short help for `natsops --help`). Each module
# exposes a Typer `app` (or the one named after a colon: "natsops.cli.msg:pub_app"); start-up
# cost does not grow with the number of commands.
COMMANDS: dict[str, tuple[str, str]] = {
    "bootstrap": ("natsops.cli.bootstrap", "Start a local JetStream cluster, or render production configs."),
    "cluster": ("natsops.cli.cluster", "Manage the local cluster started by `natsops bootstrap`."),
    "stream": ("natsops.cli.stream",
               "Streams: add, edit, info, ls, rm, purge, report, view, get, subjects, rmm, "
               "find, state, backup, restore, cluster."),
    "consumer": ("natsops.cli.consumer", "Consumers: add, edit, info, ls, rm, next, report, find."),
    "kv": ("natsops.cli.kv", "Key/Value buckets: add, put, get, del, history, watch, ls."),
    "object": ("natsops.cli.obj", "Object stores: add, put, get, info, ls, rm, seal."),
    "lint": ("natsops.cli.lint", "Check nats-server configs, stream recipes and Helm values."),
    "sizing": ("natsops.cli.sizing", "Size a JetStream cluster: disk, memory, CPU, network."),
    "auth": ("natsops.cli.auth", "Operators, accounts, users and creds (what nsc does), push and verify."),
    "bench": ("natsops.cli.bench", "Measure throughput and latency: core pub/sub, request/reply, JetStream."),
    "doctor": ("natsops.cli.doctor", "Find what is wrong with a deployment, explain it, print the fix."),
    "server": ("natsops.cli.server", "Servers: ls, info, watch, report (jetstream, connections, health...), raft, request kick, config reload."),
    "account": ("natsops.cli.account", "The live account: limits, usage, JetStream, JWT."),
    "top": ("natsops.cli.top", "Live view of connections, like nats-top."),
    "upgrade": ("natsops.cli.upgrade", "Rolling upgrade or restart, gated, with a canary."),
    "pub": ("natsops.cli.msg:pub_app", "Publish messages (core NATS or JetStream, with headers)."),
    "sub": ("natsops.cli.msg:sub_app", "Print the messages on a subject."),
    "req": ("natsops.cli.msg:req_app", "Send a request, print the reply."),
    "reply": ("natsops.cli.msg:reply_app", "Answer requests on a subject."),
    "events": ("natsops.cli.events", "Follow JetStream advisories and server events as they happen."),
    "plan": ("natsops.cli.estate:plan_app", "Show what apply would change in the JetStream estate."),
    "apply": ("natsops.cli.estate:apply_app", "Make streams, consumers and buckets match recipe files."),
    "export": ("natsops.cli.estate:export_app", "Write live streams, consumers and buckets as recipes."),
    "check": ("natsops.cli.check", "Per-asset checks with thresholds for Nagios, CI and Prometheus."),
    "lab": ("natsops.cli.lab", "A cluster in network namespaces: partitions, kills and freezes on command."),
    "render": ("natsops.cli.render", "Render a topology (server configs, systemd units, Helm values, Prometheus) or recipes for other tools (nack)."),
    "context": ("natsops.cli.context", "natscli contexts: add, ls, select, rm, show, validate."),
}


_loaded: dict[str, Any] = {}


def load_command(name: str) -> Any:
    """Import a command group's module and build its click command (once per process)."""
    if name not in _loaded:
        import importlib

        from typer.main import get_command

        path, _, attr = COMMANDS[name][0].partition(":")  # "module" or "module:typer_app"
        module = importlib.import_module(path)
        cmd = get_command(getattr(module, attr or "app"))
        cmd.name = name
        _plain_help(cmd)
        _loaded[name] = cmd
    return _loaded[name]


def _plain_help(cmd: Any) -> None:
    # plain click help everywhere: fast (rich help imports markdown_it), greppable, pipe-friendly
    if hasattr(cmd, "rich_markup_mode"):
        cmd.rich_markup_mode = None
    cmd.params = [p for p in cmd.params if p.name not in ("install_completion", "show_completion")]
    for sub in getattr(cmd, "commands", {}).values():
        if not sub.short_help and sub.help:
            # the whole first paragraph, wrapped by the help formatter: never cut mid-sentence
            sub.short_help = " ".join(sub.help.split("\n\n")[0].replace("\b", "").split())
        _plain_help(sub)


# ---- global options anywhere (natscli: `nats stream ls --context X`) -------------------------
# The root's options may also follow the command: they are lifted out of the command's arguments
# before parsing. A command's own option of the same name wins (`bootstrap --context`, `auth
# account import add --token`); everything after `--` stays where it is; option values are
# never mistaken for options.
NOT_LIFTED = ("--version",)


def _arity(cmd: Any) -> dict[str, int]:
    """Option string -> how many values it takes (0 for flags and counters)."""
    out: dict[str, int] = {}
    for p in cmd.params:
        if getattr(p, "param_type_name", "") != "option":
            continue
        n = 0 if (p.is_flag or p.count) else max(1, p.nargs)
        for o in (*p.opts, *p.secondary_opts):
            out[o] = n
    return out


def _global_tokens(arg: str, glob: dict[str, int], local: dict[str, int]) -> int:
    """How many tokens a global option starting at ``arg`` spans (0: not a global option)."""
    name, eq, _ = arg.partition("=")
    if name in local:
        return 0
    if name in glob:
        return 1 if eq or not glob[name] else 1 + glob[name]
    if arg.startswith("--") or len(arg) < 3:
        return 0
    short = arg[:2]  # -sURL (attached value), -vv (a counter repeated)
    if short in local or short not in glob:
        return 0
    if glob[short]:
        return 1
    return 1 if set(arg[1:]) == {arg[1]} else 0


def lift_global_options(root: Any, ctx: Any, args: list[str]) -> list[str]:
    """``args`` with the root's options that follow the command moved before it."""
    glob = {o: n for o, n in _arity(root).items() if o not in NOT_LIFTED}
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] not in ("-", "--"):
        i += max(1, _global_tokens(args[i], glob, {}))
    if i >= len(args) or args[i] == "--":
        return args
    current = root.get_command(ctx, args[i])
    if current is None:
        return args
    lifted: list[str] = []
    kept: list[str] = []
    j = i + 1
    while j < len(args):
        a = args[j]
        if a == "--":
            kept.extend(args[j:])
            break
        if a.startswith("-") and a != "-":
            local = _arity(current)
            n = _global_tokens(a, glob, local)
            if n:
                lifted.extend(args[j:j + n])
            else:
                n = 1 + (local.get(a, 0) if "=" not in a else 0)
                kept.extend(args[j:j + n])
            j += n
            continue
        sub = getattr(current, "commands", {}).get(a)
        if sub is not None:
            current = sub
        kept.append(a)
        j += 1
    return [*args[:i], *lifted, args[i], *kept]


class Group(TyperGroup):
    """Root group: lazy command loading, and natsops errors mapped to one line and an exit code."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *COMMANDS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in COMMANDS:
            return load_command(cmd_name)
        return super().get_command(ctx, cmd_name)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        with _usage_errors():
            if not ctx.resilient_parsing:
                args = lift_global_options(self, ctx, args)
            return list(super().parse_args(ctx, args))

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = [(name, help_) for name, (_, help_) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: Any) -> Any:
        try:
            with _usage_errors():
                return super().invoke(ctx)
        except NatsopsError as exc:
            from natsops.cli.output import error

            error(str(exc), exc.hint)
            raise typer.Exit(int(exc.exit_code)) from None
        except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM, SIGHUP: see natsops.cli.signals
            from natsops.cli.output import error
            from natsops.cli.signals import exit_code_of, stop_message

            error(stop_message(exc))
            raise typer.Exit(exit_code_of(exc)) from None
        except Exception as exc:
            if type(exc).__module__.startswith(("typer", "click")):
                raise
            state = ctx.find_root().obj
            if isinstance(state, State) and state.debug:
                raise
            from natsops.cli.output import error

            if isinstance(exc, OSError) and exc.filename:  # a path the user named: bad input
                from natsops.files import os_error

                error(str(os_error(exc, "file", verb="use")))
                raise typer.Exit(int(ExitCode.USAGE)) from None

            error(f"internal error: {type(exc).__name__}: {exc}",
                  "this is a natsops bug; rerun with --debug for the traceback and report it")
            raise typer.Exit(int(ExitCode.ERROR)) from None


@contextlib.contextmanager
def _usage_errors() -> Iterator[None]:
    """Click's usage errors as natsops prints errors: one ``error:`` line, a hint, exit 2."""
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

    try:
        yield
    except NoArgsIsHelpError:
        raise  # a group without its command: click prints the group's help (exit 2)
    except ClickException as exc:
        from natsops.cli.output import error

        where = getattr(getattr(exc, "ctx", None), "command_path", None)
        hint = f"see '{where} --help'" if isinstance(exc, UsageError) and where else None
        error(exc.format_message().replace("\n", " "), hint)
        raise typer.Exit(exc.exit_code) from None


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
    "selected) > defaults. Global options go before or after the command, as with natscli: "
    "natsops -s URL stream ls, natsops stream ls --context X. A command's own option of the "
    "same name wins (bootstrap --context, auth creds generate --context: the context to "
    "write; auth account import add --token). context add saves the connection options given.",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"natsops {__version__}")
        raise typer.Exit()


def _setup_logging(verbose: int) -> None:
    """-v: progress (INFO) on stderr, -vv: DEBUG. One handler, replaced on every invocation
    (in-process runs, such as the tests', must not pile up handlers bound to old streams)."""
    if verbose <= 0 and "logging" not in sys.modules:
        return  # nothing installed a handler; keep start-up free of the logging import
    import logging

    root = logging.getLogger("natsops")
    for h in [h for h in root.handlers if getattr(h, "_natsops_cli", False)]:
        root.removeHandler(h)
    if verbose <= 0:
        root.setLevel(logging.NOTSET)
        return
    from rich.logging import RichHandler

    from natsops.cli.output import err

    handler = RichHandler(console=err(), show_time=False, show_path=verbose > 1)
    handler._natsops_cli = True  # type: ignore[attr-defined]
    from natsops.secrets import MaskingFilter

    handler.addFilter(MaskingFilter())  # a URL or error text may carry a password
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
    timeout: Annotated[str | None, typer.Option("--timeout", help="Request timeout, e.g. 5s; also how long doctor, server views and top wait for servers to answer [env: NATS_TIMEOUT]")] = None,
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


def main() -> None:
    """Console-script entry point: SIGTERM/SIGHUP clean up like Ctrl-C (natsops.cli.signals)."""
    from natsops.cli.signals import exit_code_of, install, stop_message

    install()
    try:
        app(prog_name="natsops")
    except KeyboardInterrupt as exc:
        sys.stderr.write(f"error: {stop_message(exc)}\n")
        sys.exit(exit_code_of(exc))


if __name__ == "__main__":
    main()
