"""The flags ``kv edit`` and ``object edit`` share."""

from typing import Annotated

import typer


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
