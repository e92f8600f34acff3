"""``natsops auth account``: accounts (one per trust boundary) and their limits."""

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from natsops.cli.auth import _common, _edits
from natsops.cli.options import DryRun, Force, Json
from natsops.cli.prompt import confirm

if TYPE_CHECKING:
    from natsops.auth.claims import AccountLimits
    from natsops.auth.edit import AccountExtras

app = typer.Typer(help="Accounts (one per trust boundary).", no_args_is_help=True)

def _limit_options(
    conn: Annotated[
        int | None, typer.Option("--max-conns", help="Max client connections (-1 unlimited)")
    ] = None,
    subs: Annotated[
        int | None, typer.Option("--max-subs", help="Max subscriptions (-1 unlimited)")
    ] = None,
    payload: Annotated[
        str | None, typer.Option("--max-payload", help="Max message payload, e.g. 1MB")
    ] = None,
    data: Annotated[
        str | None, typer.Option("--max-data", help="Max data in flight, e.g. 100MB")
    ] = None,
    leaf: Annotated[
        int | None, typer.Option("--max-leafnodes", help="Max leafnode connections")
    ] = None,
    js_mem: Annotated[
        str | None,
        typer.Option("--js-mem", help="JetStream memory storage, e.g. 1GB (-1 unlimited)"),
    ] = None,
    js_disk: Annotated[
        str | None,
        typer.Option("--js-disk", help="JetStream file storage, e.g. 10GB (-1 unlimited)"),
    ] = None,
    js_streams: Annotated[int | None, typer.Option("--js-streams", help="Max streams")] = None,
    js_consumers: Annotated[
        int | None, typer.Option("--js-consumers", help="Max consumers")
    ] = None,
    imports: Annotated[int | None, typer.Option("--max-imports", help="Max imports (-1)")] = None,
    exports: Annotated[int | None, typer.Option("--max-exports", help="Max exports (-1)")] = None,
    js_max_ack_pending: Annotated[int | None, typer.Option(
        "--js-max-ack-pending", help="Max ack pending per consumer (-1 unlimited)")] = None,
    js_mem_max_stream_bytes: Annotated[str | None, typer.Option(
        "--js-max-mem-stream", help="Max bytes of one memory stream, e.g. 512MB")] = None,
    js_disk_max_stream_bytes: Annotated[str | None, typer.Option(
        "--js-max-disk-stream", help="Max bytes of one file stream, e.g. 1GB")] = None,
) -> None:
    """Signature only: the account-limit options (``AccountLimits`` field names)."""


def with_limits(command: Callable[..., None]) -> Callable[..., None]:
    """Put the limit options where ``command`` has its ``limits`` parameter.

    The command is called with them parsed into one ``AccountLimits`` (sizes such as ``1MB``).
    """
    options = list(inspect.signature(_limit_options).parameters.values())
    sig = inspect.signature(command)
    params = [q for p in sig.parameters.values()
              for q in ([o.replace(kind=p.kind) for o in options] if p.name == "limits" else [p])]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> None:
        from natsops.auth.claims import parse_limits

        limits = parse_limits(**{o.name: kwargs.pop(o.name) for o in options})
        command(limits=limits, **kwargs)

    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper


def _extra_options(
    wildcards: Annotated[bool | None, typer.Option(
        "--wildcard-exports/--no-wildcard-exports", help="Allow exports with wildcards",
        show_default=False)] = None,
    disallow_bearer: Annotated[bool | None, typer.Option(
        "--disallow-bearer/--allow-bearer", help="Refuse users with bearer tokens",
        show_default=False)] = None,
    description: Annotated[str | None, typer.Option(
        "--description", help="Description ('' removes it)")] = None,
    info_url: Annotated[str | None, typer.Option("--info-url", help="Info URL")] = None,
    max_bytes_required: Annotated[bool | None, typer.Option(
        "--js-max-bytes-required/--no-js-max-bytes-required",
        help="Streams must set max bytes", show_default=False)] = None,
    tier: Annotated[str | None, typer.Option(
        "--js-tier", help="Set the JetStream limits of this tier (R1, R3...)")] = None,
    rm_tiers: Annotated[list[str] | None, typer.Option(
        "--rm-js-tier", help="Remove a JetStream tier")] = None,
) -> None:
    """Signature only: the account claims ``natsops.auth.edit.AccountExtras`` sets."""


def _extras(rm_tiers: list[str] | None = None, **given: "Any") -> "AccountExtras":
    from natsops.auth.edit import AccountExtras

    return AccountExtras(rm_tiers=tuple(rm_tiers or ()), **given)


def _one_name(arg: str | None, opt: str | None) -> str:
    """The account name, given as the argument or as ``--name`` (not two different ones)."""
    from natsops.errors import UsageError

    if arg and opt and arg != opt:
        raise UsageError(f"two account names given: {arg!r} and --name {opt!r}")
    if not (arg or opt):
        raise UsageError("give the account name: natsops auth account add NAME (or -n NAME)")
    return str(arg or opt)


@app.command("add")
@with_limits
def account_add(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Account name (or --name)",
                                               show_default=False)] = None,
    name_opt: Annotated[str | None, typer.Option("--name", "-n", help="Account name (nsc's "
                                                 "form: add account -n TEAM)",
                                                 show_default=False)] = None,
    js_enable: Annotated[
        bool,
        typer.Option("--js-enable", help="Enable JetStream (unlimited unless --js-mem/--js-disk)"),
    ] = False,
    *,
    limits: "AccountLimits",
    signing_key: Annotated[
        bool,
        typer.Option("--signing-key", help="Create an account signing key and sign users with it"),
    ] = False,
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Create an account, signed by the operator (or its signing key)."""
    from natsops.auth import ops

    _common.change(ctx, json_out, ops.add_account, _one_name(name, name_opt), limits=limits, jetstream=js_enable,
                   signing_key=signing_key, dry_run=dry_run)


@app.command("edit")
@with_limits
@_edits.inject(_extra_options, "extras", _extras)
def account_edit(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Account name")],
    js: Annotated[
        bool | None,
        typer.Option(
            "--js-enable/--js-disable", help="Enable or disable JetStream", show_default=False
        ),
    ] = None,
    *,
    limits: "AccountLimits",
    extras: "AccountExtras",
    allow_pub: Annotated[
        list[str] | None,
        typer.Option("--allow-pub", help="Default permission: allow publish (repeatable)"),
    ] = None,
    allow_sub: Annotated[
        list[str] | None, typer.Option("--allow-sub", help="Default permission: allow subscribe")
    ] = None,
    deny_pub: Annotated[
        list[str] | None, typer.Option("--deny-pub", help="Default permission: deny publish")
    ] = None,
    deny_sub: Annotated[
        list[str] | None, typer.Option("--deny-sub", help="Default permission: deny subscribe")
    ] = None,
    rm: Annotated[
        list[str] | None,
        typer.Option("--rm", help="Remove a subject from every default permission list"),
    ] = None,
    add_signing_key: Annotated[
        bool, typer.Option("--add-signing-key", help="Add an account signing key")
    ] = False,
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Change limits, JetStream (flat or per tier), default permissions, flags of an account.

    With --js-tier R3 the JetStream limit options set that tier (streams of 3 replicas)
    instead of the flat limits; tiers and flat limits exclude each other. Prints the claim
    diff; push the account to apply it (natsops auth push --account NAME).
    """
    from natsops.auth.edit import account_extras

    store, op = _common.target(ctx)
    edit = account_extras(store, op, name, limits=limits, jetstream=js, extras=extras,
                          allow=_common.perms(allow_pub, allow_sub, deny_pub, deny_sub),
                          remove=_common.perms(rm, rm, rm, rm), add_signing_key=add_signing_key,
                          dry_run=dry_run)
    _edits.emit_edits(ctx, [edit], json_out)


@app.command("rm")
def account_rm(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Account name")],
    from_servers: Annotated[
        bool,
        typer.Option(
            "--from-servers",
            help="First delete it from the servers' resolvers (needs allow_delete: true)",
        ),
    ] = False,
    force: Force = False,
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Delete an account, its users and their creds from the store (and the servers)."""
    from natsops.auth import ops
    from natsops.auth.push import remove_from_servers
    from natsops.cli import output
    from natsops.cli._run import run

    store, op = _common.target(ctx)
    if not dry_run:
        store.account(op, name)  # NotFound before asking
        settings = _common.sys_settings(ctx, None) if from_servers else None
        where = "the servers and " if settings is not None else ""
        confirm(f"delete account {name} from {where}{store.root} (users and keys too)?", force=force)
        if settings is not None:
            replies = run(remove_from_servers(store, op, settings, name))
            output.success(f"deleted {name} from {len(replies)} server(s)")
    _common.emit_changes(ctx, [ops.remove_account(store, op, name, dry_run=dry_run)], json_out)
