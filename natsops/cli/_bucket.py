"""What ``kv edit`` and ``object edit`` share: their flags and the plan-confirm-apply step."""

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from natsops.jetstream.streams import StreamEdit


def bucket_edit_flags(
    replicas: Annotated[int | None, typer.Option(
        "--replicas", help="Replicas (1-5); waits until the new ones are current",
        show_default=False)] = None,
    ttl: Annotated[str | None, typer.Option(
        "--ttl", help="Expire after, e.g. 24h (-1: never)", show_default=False)] = None,
    max_bucket_size: Annotated[str | None, typer.Option(
        "--max-bucket-size", help="Largest bucket, e.g. 1GB (-1: unlimited)",
        show_default=False)] = None,
    description: Annotated[str | None, typer.Option("--description", show_default=False)] = None,
    cluster: Annotated[str | None, typer.Option(
        "--cluster", help="Move to this cluster", show_default=False)] = None,
    tags: Annotated[list[str] | None, typer.Option(
        "--tags", "--tag", help="Placement tags (repeat; replaces the current ones)",
        show_default=False)] = None,
    compress: Annotated[bool | None, typer.Option(
        "--compress/--no-compress", help="S2 compression (new data)", show_default=False)] = None,
    storage: Annotated[str | None, typer.Option(
        "--storage", help="Refused unless unchanged: the server cannot change it",
        show_default=False)] = None,
    metadata: Annotated[list[str] | None, typer.Option(
        "--metadata", help="key=value (repeat; added to the current ones)",
        show_default=False)] = None,
) -> None:
    """Signature holder for the flags kv edit and object edit share."""


def finish_edit(ctx: typer.Context, what: str, plan: "StreamEdit", *, dry_run: bool,
                force: bool, as_json: bool, wait: str) -> None:
    """Show the diff; unless a dry run, ask, apply and wait for changed replicas."""
    from natsops.cli._js import edit_result, print_changes
    from natsops.cli._run import call
    from natsops.cli.prompt import confirm
    from natsops.jetstream.scale import apply_edit_and_wait
    from natsops.units import parse_duration

    ready = parse_duration(wait, what="--wait")
    print_changes(plan.changes, as_json=as_json)
    apply = bool(plan.changes) and not dry_run
    if apply:
        confirm(f"Really edit {what}?", force=force)
        call(ctx, apply_edit_and_wait, plan, ready_timeout=ready)
    edit_result(what, plan.changes, plan.config, applied=apply, dry_run=dry_run,
                as_json=as_json)
