"""What ``kv edit`` and ``object edit`` share: their flags and running the edit."""

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from natsops.cli import options

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
    dry_run: options.DryRun = False,
    force: options.Force = False,
    wait: options.ReadyWait = "60s",
    json_out: options.Json = False,
) -> None:
    """Signature holder for the flags kv edit and object edit share."""


def edit_bucket(ctx: typer.Context, what: str,
                plan: "Callable[..., Awaitable[StreamEdit]]", bucket: str,
                values: dict[str, Any], **kv_only: Any) -> None:
    """Plan the edit from the shared flags (``values``) and ``kv_only`` ones, then finish it
    as ``stream edit`` does."""
    from natsops.cli._js import finish_edit
    from natsops.cli._run import call
    from natsops.cli.state import want_json
    from natsops.jetstream._buckets import BucketEditFlags, check_edit_flags
    from natsops.jetstream.streams import tuple_values

    v = dict(values)
    dry_run, force, wait, json_out = (v.pop(k) for k in ("dry_run", "force", "wait", "json_out"))
    flags = BucketEditFlags(**kv_only, **tuple_values(v))
    check_edit_flags(flags, bucket)  # before connecting
    edit = call(ctx, plan, bucket, flags)
    finish_edit(ctx, what, edit, dry_run=dry_run, force=force,
                as_json=want_json(ctx, json_out), wait=wait)
