"""``natsops context``: natscli contexts (same files, same format): add, ls, select, rm, show,
validate."""

from typing import TYPE_CHECKING, Annotated

import typer

from natsops.cli.options import DryRun, Force, Json
from natsops.cli.output import examples
from natsops.cli.state import get_state, want_json

if TYPE_CHECKING:
    from natsops.context_admin import Validation

app = typer.Typer(
    help="natscli contexts: add, ls, select, rm, show, validate (natscli's files and format).",
    no_args_is_help=True,
    epilog=examples(
        "natsops context add prod -s nats://a:4222,nats://b:4222 --creds p.creds",
        "natsops context validate prod",
        "natsops context ls --json",
    ),
)

Name = Annotated[str, typer.Argument(help="Context name")]


@app.callback()
def main() -> None:
    """natscli contexts: add, ls, select, rm, show, validate (natscli's files and format)."""


@app.command("add")
def context_add(
    ctx: typer.Context,
    name: Name,
    description: Annotated[str | None, typer.Option("--description", help="Description")] = None,
    js_domain: Annotated[str | None, typer.Option("--js-domain", help="JetStream domain")] = None,
    select: Annotated[bool, typer.Option("--select", help="Select it")] = False,
    force: Annotated[bool, typer.Option("--force", "-f", help="Replace an existing one")] = False,
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Save a context (0600) in natscli's folder from the connection options given.

    As `nats context add`: -s/--server, --creds, --user/--password, --token, --nkey,
    --tlscert/--tlskey/--tlsca, --tlsfirst (before or after the command) are what it saves;
    NATS_* variables are not. An existing context is replaced only with --force.
    """
    from natsops.cli import output
    from natsops.context_admin import add_context, context_values

    state = get_state(ctx)
    values = context_values(state.flags, description=description, js_domain=js_domain)
    path = add_context(name, values, state.env, select=select, replace=force, dry_run=dry_run)
    if want_json(ctx, json_out):
        output.print_json({"name": name, "path": path, "selected": select, "dry_run": dry_run,
                           "fields": sorted(values)})
        return
    verb = "would save" if dry_run else "saved"
    output.success(f"{verb} context {name} ({path}: {', '.join(sorted(values)) or 'defaults'})"
                   + (", selected" if select else ""))


@app.command("ls")
def context_ls(ctx: typer.Context, json_out: Json = False) -> None:
    """List the saved contexts; the selected one is marked."""
    from natsops.cli import output
    from natsops.context_admin import context_entries

    items = context_entries(get_state(ctx).env)
    if want_json(ctx, json_out):
        output.print_json({"contexts": items})
        return
    output.table("contexts", ["", "name", "url", "auth", output.Col("description", wrap=True)],
                 [("*" if c.selected else "", c.name, c.url, c.auth, c.description)
                  for c in items])


@app.command("select")
def context_select(ctx: typer.Context, name: Name, dry_run: DryRun = False,
                   json_out: Json = False) -> None:
    """Select a context (natscli's context.txt; the previous one is remembered)."""
    from natsops.cli import output
    from natsops.context_admin import select_context

    previous = select_context(name, get_state(ctx).env, dry_run=dry_run)
    if want_json(ctx, json_out):
        output.print_json({"selected": name, "previous": previous, "dry_run": dry_run})
        return
    now = f" (selected now: {previous or 'none'})" if dry_run else ""
    output.success(f"{'would select' if dry_run else 'selected'} context {name}{now}")


@app.command("rm")
def context_rm(ctx: typer.Context, name: Name, force: Force = False, dry_run: DryRun = False,
               json_out: Json = False) -> None:
    """Delete a context file (asks unless --force); a selection naming it is cleared."""
    from natsops.cli import output
    from natsops.cli.prompt import confirm
    from natsops.context_admin import check_exists, remove_context

    env = get_state(ctx).env
    check_exists(name, env)
    if not dry_run:
        confirm(f"delete context {name}?", force=force)
        remove_context(name, env)
    if want_json(ctx, json_out):
        output.print_json({"removed": name, "dry_run": dry_run})
        return
    output.success(f"{'would delete' if dry_run else 'deleted'} context {name}")


@app.command("show")
def context_show(ctx: typer.Context, name: Name, json_out: Json = False) -> None:
    """Show a context's fields (passwords, tokens, inline JWTs and seeds masked)."""
    from natsops.cli import output
    from natsops.context_admin import show_context

    doc = show_context(name, get_state(ctx).env)
    if want_json(ctx, json_out):
        output.print_json(doc)
        return
    output.table(f"context {name}", ["field", "value"],
                 [(k, v) for k, v in doc.items() if v not in (None, "", False)])


@app.command("validate")
def context_validate(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(
        help="Context [default: the selected one]", show_default=False)] = None,
    json_out: Json = False,
) -> None:
    """Connect with a context and say what its credentials can do.

    The server and version, the account and user, permissions, expiry, and whether JetStream
    is available (with the account's limits). Exits 3 (unreachable) or 7 (refused) otherwise.
    """
    from natsops.cli import output
    from natsops.cli._run import run
    from natsops.context import resolve_settings
    from natsops.context_admin import validate

    state = get_state(ctx)
    flags = {**state.flags, "context": name} if name else state.flags
    result = run(validate(resolve_settings(flags, state.env)))
    if want_json(ctx, json_out):
        output.print_json(result)
        return
    _print_validation(result)


def _print_validation(v: "Validation") -> None:
    import json

    from natsops.cli import output

    js = v.jetstream or {}
    output.table(f"context {v.context or '(none)'}", ["field", "value"], [
        ("connected to", f"{v.server} (nats-server {v.version}) at {v.url}"),
        ("account", v.account or "-"), ("user", v.user or "-"),
        ("expires", v.expires or "never"),
        ("jetstream", "available" if v.jetstream is not None else "not available"),
        ("jetstream limits", json.dumps(js.get("limits"), sort_keys=True) if js else "-"),
        ("permissions", json.dumps(v.permissions, sort_keys=True) if v.permissions else
         "everything allowed")])
    for note in v.notes:
        output.info(note)
