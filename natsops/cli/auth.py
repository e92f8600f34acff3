"""``natsops auth``: operators, accounts, users, creds, push and verify (the nsc workflow)."""

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from natsops.cli.prompt import confirm
from natsops.cli.state import get_state, want_json
from natsops.errors import UsageError

if TYPE_CHECKING:
    from natsops.auth.claims import AccountLimits, Permissions
    from natsops.auth.ops import Change
    from natsops.auth.store import Store

EPILOG = """\b
Examples (the nsc recipe):
  natsops auth operator add DEMO --sys --account-jwt-server-url nats://localhost:4222
  natsops auth account add APP --js-enable
  natsops auth user add service --account APP
  natsops auth creds generate --account APP --name service -o app-service.creds
  natsops auth render-config > operator.conf     # include it in nats-server.conf
  natsops auth push --all
  natsops auth verify
"""

app = typer.Typer(
    help="Operators, accounts, users, creds; push and verify account JWTs.",
    no_args_is_help=True,
    epilog=EPILOG,
)
operator_app = typer.Typer(help="The operator (the root of trust).", no_args_is_help=True)
account_app = typer.Typer(help="Accounts (one per trust boundary).", no_args_is_help=True)
export_app = typer.Typer(help="Services and streams an account exports.", no_args_is_help=True)
import_app = typer.Typer(help="Services and streams an account imports.", no_args_is_help=True)
user_app = typer.Typer(help="Users of an account.", no_args_is_help=True)
creds_app = typer.Typer(help="Creds files (user JWT + seed, written 0600).", no_args_is_help=True)
app.add_typer(operator_app, name="operator")
app.add_typer(account_app, name="account")
account_app.add_typer(export_app, name="export")
account_app.add_typer(import_app, name="import")
app.add_typer(user_app, name="user")
app.add_typer(creds_app, name="creds")

DryRun = Annotated[bool, typer.Option("--dry-run", help="Show what would change; write nothing")]
Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON")]
Force = Annotated[bool, typer.Option("--force", "-f", help="Do not ask for confirmation")]
AccountOpt = Annotated[str, typer.Option("--account", "-a", help="Account name")]
Subjects = Annotated[list[str] | None, typer.Option(help="Subject (repeatable)")]


@app.callback()
def auth(
    ctx: typer.Context,
    store: Annotated[
        Path | None,
        typer.Option(
            "--store",
            envvar="NATSOPS_STORE",
            help="Store folder [default: $XDG_DATA_HOME/natsops or ~/.local/share/natsops]",
            show_default=False,
        ),
    ] = None,
    operator: Annotated[
        str | None,
        typer.Option(
            "--operator",
            envvar="NATSOPS_OPERATOR",
            help="Operator [default: the only one in the store]",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Operators, accounts, users, creds; push and verify account JWTs."""
    ctx.meta["natsops.auth.store"] = store
    ctx.meta["natsops.auth.operator"] = operator


def _store(ctx: typer.Context) -> "Store":
    from natsops.auth.store import Store, default_store_root

    root = ctx.meta.get("natsops.auth.store") or default_store_root(get_state(ctx).env)
    return Store(Path(root))


def _op(ctx: typer.Context, store: "Store") -> str:
    return store.resolve_operator(ctx.meta.get("natsops.auth.operator"))




def _change(ctx: typer.Context, json_out: bool, fn: Any, *args: Any, **kw: Any) -> None:
    """Run one store operation ``fn(store, operator, *args, **kw)`` and print its change."""
    store = _store(ctx)
    _emit_changes(ctx, [fn(store, _op(ctx, store), *args, **kw)], json_out)


def _emit_changes(ctx: typer.Context, changes: "list[Change]", as_json: bool) -> None:
    from natsops.cli import output

    if want_json(ctx, as_json):
        output.print_json({"changes": [{k: v for k, v in vars(c).items()} for c in changes]})
        return
    for c in changes:
        verb = (
            f"would {c.action}"
            if c.dry_run
            else {"create": "created", "update": "updated", "delete": "deleted", "write": "wrote"}[
                c.action
            ]
        )
        key = f" {c.public_key}" if c.public_key else ""
        output.success(f"{verb} {c.kind} {c.name}{key}")
        for note in c.notes:
            output.info(f"  {note}")


def _int_or_size(value: str | None, what: str) -> int | None:
    if value is None:
        return None
    from natsops.units import parse_size

    return parse_size(value, what=what)


def _limits(
    conns: int | None,
    subs: int | None,
    payload: str | None,
    data: str | None,
    leafs: int | None,
    js_mem: str | None,
    js_disk: str | None,
    js_streams: int | None,
    js_consumers: int | None,
) -> "AccountLimits":
    from natsops.auth.claims import AccountLimits

    return AccountLimits(
        conn=conns,
        subs=subs,
        payload=_int_or_size(payload, "--max-payload"),
        data=_int_or_size(data, "--max-data"),
        leaf=leafs,
        js_mem=_int_or_size(js_mem, "--js-mem"),
        js_disk=_int_or_size(js_disk, "--js-disk"),
        js_streams=js_streams,
        js_consumers=js_consumers,
    )


def _perms(
    allow_pub: list[str] | None,
    allow_sub: list[str] | None,
    deny_pub: list[str] | None,
    deny_sub: list[str] | None,
    allow_resp: int | None = None,
) -> "Permissions":
    from natsops.auth.claims import Permissions

    return Permissions(
        tuple(allow_pub or ()),
        tuple(deny_pub or ()),
        tuple(allow_sub or ()),
        tuple(deny_sub or ()),
        allow_resp,
    )


# ---- operator --------------------------------------------------------------------------------
@operator_app.command("add")
def operator_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Operator name")],
    sys: Annotated[
        bool,
        typer.Option("--sys/--no-sys", help="Also create the system account SYS and its user sys"),
    ] = True,
    account_jwt_server_url: Annotated[
        str | None,
        typer.Option("--account-jwt-server-url", help="Where push/pull go, e.g. nats://host:4222"),
    ] = None,
    service_url: Annotated[
        list[str] | None, typer.Option("--service-url", help="Server URL for tools (repeatable)")
    ] = None,
    signing_key: Annotated[
        bool,
        typer.Option(
            "--signing-key", help="Create an operator signing key and sign accounts with it"
        ),
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="strict_signing_key_usage (needs --signing-key)")
    ] = False,
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Create an operator (with --sys: the system account and its sys user)."""
    from natsops.auth import ops

    store = _store(ctx)
    changes = ops.add_operator(
        store,
        name,
        sys=sys,
        account_server_url=account_jwt_server_url,
        service_urls=tuple(service_url or ()),
        signing_key=signing_key,
        strict=strict,
        dry_run=dry_run,
    )
    _emit_changes(ctx, changes, json_out)


@operator_app.command("edit")
def operator_edit(
    ctx: typer.Context,
    account_jwt_server_url: Annotated[
        str | None,
        typer.Option("--account-jwt-server-url", help="Where push/pull go, e.g. nats://host:4222"),
    ] = None,
    service_url: Annotated[
        list[str] | None,
        typer.Option("--service-url", help="Server URL for tools (repeatable; replaces the list)"),
    ] = None,
    add_signing_key: Annotated[
        bool, typer.Option("--add-signing-key", help="Add an operator signing key")
    ] = False,
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Change the operator JWT (servers need a restart to see it)."""
    from natsops.auth import ops

    store = _store(ctx)
    change = ops.edit_operator(
        store,
        _op(ctx, store),
        account_server_url=account_jwt_server_url,
        service_urls=tuple(service_url) if service_url else None,
        add_signing_key=add_signing_key,
        dry_run=dry_run,
    )
    _emit_changes(ctx, [change], json_out)


# ---- account ---------------------------------------------------------------------------------
MaxConns = Annotated[
    int | None, typer.Option("--max-conns", help="Max client connections (-1 unlimited)")
]
MaxSubs = Annotated[int | None, typer.Option("--max-subs", help="Max subscriptions (-1 unlimited)")]
MaxPayload = Annotated[
    str | None, typer.Option("--max-payload", help="Max message payload, e.g. 1MB")
]
MaxData = Annotated[str | None, typer.Option("--max-data", help="Max data in flight, e.g. 100MB")]
MaxLeafs = Annotated[int | None, typer.Option("--max-leafnodes", help="Max leafnode connections")]
JsMem = Annotated[
    str | None, typer.Option("--js-mem", help="JetStream memory storage, e.g. 1GB (-1 unlimited)")
]
JsDisk = Annotated[
    str | None, typer.Option("--js-disk", help="JetStream file storage, e.g. 10GB (-1 unlimited)")
]
JsStreams = Annotated[int | None, typer.Option("--js-streams", help="Max streams")]
JsConsumers = Annotated[int | None, typer.Option("--js-consumers", help="Max consumers")]


@account_app.command("add")
def account_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Account name")],
    js_enable: Annotated[
        bool,
        typer.Option("--js-enable", help="Enable JetStream (unlimited unless --js-mem/--js-disk)"),
    ] = False,
    max_conns: MaxConns = None,
    max_subs: MaxSubs = None,
    max_payload: MaxPayload = None,
    max_data: MaxData = None,
    max_leafnodes: MaxLeafs = None,
    js_mem: JsMem = None,
    js_disk: JsDisk = None,
    js_streams: JsStreams = None,
    js_consumers: JsConsumers = None,
    signing_key: Annotated[
        bool,
        typer.Option("--signing-key", help="Create an account signing key and sign users with it"),
    ] = False,
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Create an account, signed by the operator (or its signing key)."""
    from natsops.auth import ops

    store = _store(ctx)
    limits = _limits(
        max_conns,
        max_subs,
        max_payload,
        max_data,
        max_leafnodes,
        js_mem,
        js_disk,
        js_streams,
        js_consumers,
    )
    change = ops.add_account(
        store,
        _op(ctx, store),
        name,
        limits=limits,
        jetstream=js_enable,
        signing_key=signing_key,
        dry_run=dry_run,
    )
    _emit_changes(ctx, [change], json_out)


@account_app.command("edit")
def account_edit(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Account name")],
    js: Annotated[
        bool | None,
        typer.Option(
            "--js-enable/--js-disable", help="Enable or disable JetStream", show_default=False
        ),
    ] = None,
    max_conns: MaxConns = None,
    max_subs: MaxSubs = None,
    max_payload: MaxPayload = None,
    max_data: MaxData = None,
    max_leafnodes: MaxLeafs = None,
    js_mem: JsMem = None,
    js_disk: JsDisk = None,
    js_streams: JsStreams = None,
    js_consumers: JsConsumers = None,
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
    """Change limits, JetStream or default permissions of an account (then push it)."""
    from natsops.auth import ops

    store = _store(ctx)
    limits = _limits(
        max_conns,
        max_subs,
        max_payload,
        max_data,
        max_leafnodes,
        js_mem,
        js_disk,
        js_streams,
        js_consumers,
    )
    change = ops.edit_account(
        store,
        _op(ctx, store),
        name,
        limits=limits,
        jetstream=js,
        allow=_perms(allow_pub, allow_sub, deny_pub, deny_sub),
        remove=_perms(rm, rm, rm, rm),
        add_signing_key=add_signing_key,
        dry_run=dry_run,
    )
    _emit_changes(ctx, [change], json_out)


@account_app.command("rm")
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

    store = _store(ctx)
    op = _op(ctx, store)
    if not dry_run:
        store.account(op, name)  # NotFound before asking
        where = "the servers and " if from_servers else ""
        confirm(f"delete account {name} from {where}{store.root} (users and keys too)?", force=force)
        if from_servers:
            _delete_from_servers(ctx, store, op, name)
    _emit_changes(ctx, [ops.remove_account(store, op, name, dry_run=dry_run)], json_out)


def _delete_from_servers(ctx: typer.Context, store: "Store", op: str, name: str) -> None:
    from natsops.auth.push import delete_accounts
    from natsops.cli import output
    from natsops.cli._run import run
    from natsops.errors import ServerError

    replies = run(delete_accounts(store, op, _push_settings(ctx, None), [name]))
    bad = [r for r in replies if r.status != "accepted"]
    if bad:
        raise ServerError(
            f"{bad[0].server} did not delete {name}: {bad[0].message or bad[0].status}",
            hint="the store was left as it was",
        )
    output.success(f"deleted {name} from {len(replies)} server(s)")


@export_app.command("add")
def export_add(
    ctx: typer.Context,
    subject: Annotated[str, typer.Argument(help="Subject to export, e.g. svc.time")],
    account: AccountOpt,
    stream: Annotated[
        bool, typer.Option("--stream/--service", help="Export a stream (default: a service)")
    ] = False,
    name: Annotated[
        str | None, typer.Option("--name", help="Export name [default: the subject]")
    ] = None,
    private: Annotated[
        bool, typer.Option("--private", help="Importers need an activation token")
    ] = False,
    response_type: Annotated[
        str | None, typer.Option("--response-type", help="Singleton, Stream or Chunked (services)")
    ] = None,
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Export a service or a stream from an account."""
    from natsops.auth import ops

    spec = ops.ExportSpec(subject, "stream" if stream else "service", name, private, response_type)
    _change(ctx, json_out, ops.add_export, account, spec, dry_run=dry_run)


@export_app.command("rm")
def export_rm(
    ctx: typer.Context,
    subject: Annotated[str, typer.Argument(help="Exported subject")],
    account: AccountOpt,
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Stop exporting a subject."""
    from natsops.auth import ops

    _change(ctx, json_out, ops.remove_export, account, subject, dry_run=dry_run)


@export_app.command("token")
def export_token(
    ctx: typer.Context,
    subject: Annotated[str, typer.Argument(help="Exported subject")],
    account: AccountOpt,
    target: Annotated[str, typer.Option("--to", help="Importing account (name or A… key)")],
    output_file: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the token to this file")
    ] = None,
) -> None:
    """Issue an activation token for a private export (a JWT: public, not a secret)."""
    from natsops.auth import ops

    store = _store(ctx)
    token = ops.generate_activation(store, _op(ctx, store), account, subject, target)
    if output_file:
        output_file.write_text(token + "\n")
    else:
        typer.echo(token)


@import_app.command("add")
def import_add(
    ctx: typer.Context,
    subject: Annotated[str, typer.Argument(help="Subject the other account exports")],
    account: AccountOpt,
    source: Annotated[str, typer.Option("--from", help="Exporting account (name or A… key)")],
    stream: Annotated[
        bool, typer.Option("--stream/--service", help="Import a stream (default: a service)")
    ] = False,
    local_subject: Annotated[
        str | None, typer.Option("--local-subject", help="Subject inside this account")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Import name")] = None,
    token: Annotated[
        Path | None, typer.Option("--token", help="Activation token file (private exports)")
    ] = None,
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Import a service or a stream another account exports."""
    from natsops.auth import ops

    store = _store(ctx)
    tok = None
    if token is not None:
        try:
            tok = token.read_text().strip()
        except OSError as exc:
            raise UsageError(f"cannot read token file {token}: {exc.strerror}") from None
    spec = ops.ImportSpec(
        subject, source, "stream" if stream else "service", local_subject, name, tok
    )
    change = ops.add_import(store, _op(ctx, store), account, spec, dry_run=dry_run)
    _emit_changes(ctx, [change], json_out)


@import_app.command("rm")
def import_rm(
    ctx: typer.Context,
    subject: Annotated[str, typer.Argument(help="Imported subject")],
    account: AccountOpt,
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Remove an import."""
    from natsops.auth import ops

    _change(ctx, json_out, ops.remove_import, account, subject, dry_run=dry_run)


# ---- user ------------------------------------------------------------------------------------
@user_app.command("add")
def user_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="User name")],
    account: AccountOpt,
    allow_pub: Annotated[
        list[str] | None, typer.Option("--allow-pub", help="Allow publish (repeatable)")
    ] = None,
    allow_sub: Annotated[
        list[str] | None, typer.Option("--allow-sub", help="Allow subscribe")
    ] = None,
    deny_pub: Annotated[list[str] | None, typer.Option("--deny-pub", help="Deny publish")] = None,
    deny_sub: Annotated[list[str] | None, typer.Option("--deny-sub", help="Deny subscribe")] = None,
    allow_pub_response: Annotated[
        int | None, typer.Option("--allow-pub-response", help="May reply to N messages per request")
    ] = None,
    bearer: Annotated[
        bool, typer.Option("--bearer", help="Bearer token: the server skips the nonce signature")
    ] = False,
    expiry: Annotated[str | None, typer.Option("--expiry", help="Valid for, e.g. 24h, 30d")] = None,
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Create a user and its creds file (0600) in the store."""
    from natsops.auth import ops
    from natsops.units import parse_duration

    store = _store(ctx)
    expires = int(time.time() + parse_duration(expiry, what="--expiry")) if expiry else None
    change = ops.add_user(
        store,
        _op(ctx, store),
        account,
        name,
        permissions=_perms(allow_pub, allow_sub, deny_pub, deny_sub, allow_pub_response),
        bearer=bearer,
        expires=expires,
        dry_run=dry_run,
    )
    _emit_changes(ctx, [change], json_out)


@user_app.command("revoke")
def user_revoke(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="User name")],
    account: AccountOpt,
    force: Force = False,
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Revoke a user in its account JWT (push the account to apply it)."""
    from natsops.auth import ops

    store = _store(ctx)
    op = _op(ctx, store)
    if not dry_run:
        store.user(op, account, name)
        confirm(
            f"revoke user {name} of account {account}? Its connections will be closed "
            "once the account is pushed",
            force=force,
        )
    _emit_changes(ctx, [ops.revoke_user(store, op, account, name, dry_run=dry_run)], json_out)


@user_app.command("rm")
def user_rm(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="User name")],
    account: AccountOpt,
    force: Force = False,
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Delete a user, its seed and creds from the store (revoke it first to lock it out)."""
    from natsops.auth import ops

    store = _store(ctx)
    op = _op(ctx, store)
    if not dry_run:
        store.user(op, account, name)
        confirm(f"delete user {name} and its seed from {store.root}?", force=force)
    _emit_changes(ctx, [ops.remove_user(store, op, account, name, dry_run=dry_run)], json_out)


@creds_app.command("generate")
def creds_generate(
    ctx: typer.Context,
    account: AccountOpt,
    name: Annotated[str, typer.Option("--name", "-n", help="User name")],
    output_file: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Creds file to write (0600) [default: in the store]",
            show_default=False,
        ),
    ] = None,
    json_out: Json = False,
) -> None:
    """Write a user's creds file (0600). The seed is never printed."""
    from natsops.auth import ops

    store = _store(ctx)
    change = ops.generate_creds(store, _op(ctx, store), account, name, output_file)
    if want_json(ctx, json_out):
        _emit_changes(ctx, [change], True)
        return
    from natsops.cli import output

    output.success(f"wrote creds for {account}/{name} to {change.path} (mode 0600)")
    typer.echo(str(change.path))


# ---- read views ------------------------------------------------------------------------------
@app.command("ls")
def ls(ctx: typer.Context, json_out: Json = False) -> None:
    """List the operator, its accounts and users (public keys only)."""
    from natsops.auth.inventory import inventory
    from natsops.cli import output

    store = _store(ctx)
    items = inventory(store, _op(ctx, store))
    if want_json(ctx, json_out):
        output.print_json(
            {
                "store": str(store.root),
                "entities": [{k: v for k, v in vars(i).items() if k != "claims"} for i in items],
            }
        )
        return
    rows = []
    for i in items:
        flags = [
            f
            for f, on in (
                ("system", i.system),
                ("jetstream", i.jetstream),
                ("revoked", i.revoked),
                ("signing keys", i.signing_keys),
            )
            if on
        ]
        rows.append(
            (
                i.kind,
                i.name if i.kind != "user" else f"{i.account}/{i.name}",
                i.public_key,
                time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(i.iat)),
                ", ".join(flags),
            )
        )
    output.table(f"store {store.root}", ["kind", "name", "public key", "issued (UTC)", ""], rows)


@app.command("describe")
def describe(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="operator, account or user")],
    name: Annotated[str | None, typer.Argument(help="Name (not for operator)")] = None,
    account: Annotated[
        str | None, typer.Option("--account", "-a", help="Account of the user")
    ] = None,
    json_out: Json = False,
) -> None:
    """Show decoded claims (public keys only; seeds are never shown)."""
    import json

    from natsops.auth.inventory import describe as do_describe
    from natsops.cli import output

    store = _store(ctx)
    item = do_describe(store, _op(ctx, store), kind, name, account)
    if want_json(ctx, json_out):
        output.print_json(vars(item))
        return
    output.table(
        f"{item.kind} {item.name}",
        ["field", "value"],
        [
            ("public key", item.public_key),
            ("issuer", item.issuer),
            ("issued", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(item.iat))),
            ("jti", item.jti),
            ("signing keys", ", ".join(item.signing_keys) or "-"),
            *((("revoked", "yes"),) if item.revoked else ()),
        ],
    )
    typer.echo(json.dumps(item.claims.get("nats", {}), indent=2, sort_keys=True))


@app.command("render-config")
def render_config(
    ctx: typer.Context,
    resolver: Annotated[str, typer.Option("--resolver", help="full, cache or memory")] = "full",
    directory: Annotated[
        str, typer.Option("--dir", help="Resolver folder on the server")
    ] = "./jwt",
    interval: Annotated[str, typer.Option("--interval", help="Full resolver sync interval")] = "2m",
    preload_all: Annotated[
        bool, typer.Option("--preload-all", help="Preload every account, not just SYS")
    ] = False,
    operator_path: Annotated[
        str | None,
        typer.Option(
            "--operator-path", help="Reference this operator JWT file instead of inlining the JWT"
        ),
    ] = None,
    output_file: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file")
    ] = None,
) -> None:
    """Print the operator, system_account, resolver and resolver_preload config blocks."""
    from natsops.auth.config import ResolverOptions
    from natsops.auth.config import render_config as do_render

    store = _store(ctx)
    text = do_render(
        store,
        _op(ctx, store),
        ResolverOptions(
            type=resolver.lower(),
            dir=directory,
            interval=interval,
            preload_all=preload_all,
            operator_path=operator_path,
        ),
    )
    if output_file:
        output_file.write_text(text)
    else:
        typer.echo(text, nl=False)


# ---- push / pull / verify --------------------------------------------------------------------
Wait = Annotated[str, typer.Option("--wait", help="How long to wait for server replies")]
Expect = Annotated[int | None, typer.Option("--expect", help="Number of servers that must answer")]


_AUTH_FIELDS = ("creds", "user", "password", "token", "nkey", "user_jwt", "user_seed")


def _push_settings(ctx: typer.Context, sys_creds: Path | None) -> Any:
    """Connection settings for the system user.

    Credentials count only when given on purpose (flags, env, --context/NATS_CONTEXT): the
    natscli context that is merely selected is usually an application user, so its
    credentials are dropped (its URL is kept) and a system user is minted from the store.
    """
    state = get_state(ctx)
    settings = state.settings
    explicit_context = state.flags.get("context") or state.env.get("NATS_CONTEXT")
    from_selected = [
        k for k in _AUTH_FIELDS if str(settings.sources.get(k, "")).startswith("context:")
    ]
    if from_selected and not explicit_context:
        settings = settings.with_(**dict.fromkeys(_AUTH_FIELDS))
    if sys_creds is not None:
        settings = settings.with_(
            creds=str(sys_creds), user=None, token=None, nkey=None, user_jwt=None
        )
    if settings.creds:
        from natsops.auth.creds import parse_creds

        try:
            text = Path(settings.creds).read_text()
        except OSError as exc:
            raise UsageError(f"cannot read creds file {settings.creds}: {exc.strerror}") from None
        parse_creds(text, source=settings.creds)  # malformed creds: one clear line
    return settings


@app.command("push")
def push(
    ctx: typer.Context,
    all_accounts: Annotated[
        bool, typer.Option("--all", "-A", help="Push every account (default)")
    ] = False,
    account: Annotated[
        list[str] | None,
        typer.Option("--account", "-a", help="Push only this account (repeatable)"),
    ] = None,
    sys_creds: Annotated[
        Path | None,
        typer.Option(
            "--sys-creds",
            help="System user creds [default: a temporary user minted from the store]",
        ),
    ] = None,
    wait: Wait = "2s",
    expect: Expect = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Push even if a server holds a newer JWT or does not trust the signer"
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only find the servers and run the pre-push checks")
    ] = False,
    json_out: Json = False,
) -> None:
    """Push account JWTs to every server's resolver, then verify each server holds them."""
    from natsops.auth.push import push as do_push
    from natsops.cli._run import run
    from natsops.units import parse_duration

    if all_accounts and account:
        raise UsageError("--all and --account exclude each other")
    store = _store(ctx)
    report = run(
        do_push(
            store,
            _op(ctx, store),
            _push_settings(ctx, sys_creds),
            account,
            timeout=parse_duration(wait, what="--wait"),
            force=force,
            expect=expect,
            dry_run=dry_run,
        )
    )
    _emit_push(ctx, report, json_out)


def _emit_push(ctx: typer.Context, report: Any, json_out: bool) -> None:
    from natsops.cli import output
    from natsops.findings import exit_code

    findings = list(report.verification.findings) if report.verification else []
    failed = [r for p in report.pushes for r in p.replies if not (r.ok or r.status == "would push")]
    if want_json(ctx, json_out):
        output.print_json(report)
    else:
        rows = [
            (p.account, r.server, r.status, r.message) for p in report.pushes for r in p.replies
        ]
        output.table("push", ["account", "server", "result", "message"], rows)
        _print_findings(findings, quiet_ok=True)
        for f in report.refused:
            output.error(f"{f.subject}: {f.message}", f.fix)
    code = int(exit_code(findings))
    if report.refused and not code:  # --dry-run: the push would be refused
        code = 6
    if failed and not code:  # a server rejected the JWT or did not answer
        from natsops.cli import output as out

        out.error(f"{len(failed)} server replies were not 'accepted'")
        code = 6
    if code:
        raise typer.Exit(code)


def _print_findings(findings: list[Any], quiet_ok: bool = False) -> None:
    from natsops.cli import output

    rows = [
        (f.severity.label, f.subject, f.message, f.fix or "")
        for f in findings
        if not (quiet_ok and f.severity.label == "ok")
    ]
    if rows:
        output.table("verify", ["status", "account@server", "finding", "fix"], rows)
    elif findings:
        output.success(f"every server holds the current JWT ({len(findings)} checks)")


@app.command("verify")
def verify(
    ctx: typer.Context,
    account: Annotated[
        list[str] | None, typer.Option("--account", "-a", help="Only this account (repeatable)")
    ] = None,
    sys_creds: Annotated[
        Path | None,
        typer.Option("--sys-creds", help="System user creds [default: a temporary user]"),
    ] = None,
    wait: Wait = "2s",
    expect: Expect = None,
    no_load: Annotated[
        bool,
        typer.Option("--no-load", help="Do not make servers load accounts that no client uses yet"),
    ] = False,
    json_out: Json = False,
) -> None:
    """Check that every server holds the store's JWT of each account; name the stale ones."""
    from natsops.auth.push import verify as do_verify
    from natsops.cli import output
    from natsops.cli._run import run
    from natsops.findings import exit_code
    from natsops.units import parse_duration

    store = _store(ctx)
    report = run(
        do_verify(
            store,
            _op(ctx, store),
            _push_settings(ctx, sys_creds),
            account,
            timeout=parse_duration(wait, what="--wait"),
            load=not no_load,
            expect=expect,
        )
    )
    if want_json(ctx, json_out):
        output.print_json(report)
    else:
        _print_findings(list(report.findings))
    code = exit_code(report.findings)
    if code:
        raise typer.Exit(int(code))


@app.command("pull")
def pull(
    ctx: typer.Context,
    sys_creds: Annotated[
        Path | None,
        typer.Option("--sys-creds", help="System user creds [default: a temporary user]"),
    ] = None,
    wait: Wait = "2s",
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Fetch the account JWTs the servers hold; update older copies in the store."""
    from natsops.auth.push import pull as do_pull
    from natsops.cli import output
    from natsops.cli._run import run
    from natsops.units import parse_duration

    store = _store(ctx)
    results = run(
        do_pull(
            store,
            _op(ctx, store),
            _push_settings(ctx, sys_creds),
            timeout=parse_duration(wait, what="--wait"),
            dry_run=dry_run,
        )
    )
    if want_json(ctx, json_out):
        output.print_json({"accounts": results, "dry_run": dry_run})
        return
    output.table(
        "pull" + (" (dry run)" if dry_run else ""),
        ["account", "public key", "result"],
        [(r.account, r.public_key, r.action) for r in results],
    )


# ---- backup / restore ------------------------------------------------------------------------
@app.command("backup")
def backup(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Archive to write (.tar.gz)")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite the file")] = False,
    json_out: Json = False,
) -> None:
    """Archive the whole store, seeds included (written 0600: keep it secret)."""
    from natsops.auth.archive import backup_store
    from natsops.cli import output

    result = backup_store(_store(ctx), file, force=force)
    if want_json(ctx, json_out):
        output.print_json(result)
        return
    output.success(
        f"wrote {result.path}: {result.files} files, {result.seeds} seeds "
        f"(operators {', '.join(result.operators)})"
    )
    output.info("the archive holds seeds: it was written with mode 0600; store it like a secret")


@app.command("restore")
def restore(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Archive from auth backup")],
    force: Force = False,
    json_out: Json = False,
) -> None:
    """Replace the store with a backup (asks before replacing an existing store)."""
    from natsops.auth.archive import restore_store
    from natsops.cli import output

    store = _store(ctx)
    if store.operators():
        confirm(
            f"replace the store {store.root} (operators {', '.join(store.operators())})?", force=force
        )
    result = restore_store(store, file, force=True)
    if want_json(ctx, json_out):
        output.print_json(result)
        return
    output.success(
        f"restored {result.files} files into {store.root} (operators {', '.join(result.operators)})"
    )
