"""``natsops render nack``: recipes as NACK custom resources (kept apart from ``render``'s other
subcommands so the module can be registered in any ``render`` group)."""

from pathlib import Path
from typing import Annotated

import typer

from natsops.cli import options
from natsops.cli.state import want_json


def nack(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(
        help="Recipe files or directories", show_default=False)],
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Folder for the custom resources (created if missing)")],
    force: Annotated[bool, typer.Option(
        "--force", help="Overwrite files that differ (identical ones are always fine)")] = False,
    json_out: options.Json = False,
    dry_run: options.DryRun = False,
) -> None:
    """Write the recipes' streams, consumers and buckets as NACK custom resources.

    One file per resource (jetstream.nats.io/v1beta2 Stream, Consumer, KeyValue,
    ObjectStore), field names as NACK's CRDs; a recipe field NACK has no place for is named
    on stderr. Kinds NACK does not manage (accounts, users) are listed as skipped. A file
    that exists with other content is refused (exit 9, nothing written) unless --force; one
    already holding the same content is fine, so a re-run changes nothing.

    \b
    Examples:
      natsops render nack recipes/estate --out k8s/
      natsops render nack recipes/estate --out k8s/ --dry-run  # lists the files
    """
    from natsops.cli import output
    from natsops.estate.loader import load_resources
    from natsops.estate.nack import nack_json, render_nack, write_nack

    docs, skipped = render_nack(load_resources(files))
    paths = write_nack(docs, out, dry_run=dry_run, force=force)
    if want_json(ctx, json_out):
        output.print_json(nack_json(docs, paths, skipped))
        return
    for d, p in zip(docs, paths, strict=True):
        output.out().print(str(p), markup=False, highlight=False)
        if d.dropped:
            output.error(f"{d.resource.kind} {d.resource.name}: NACK has no field for "
                         f"{', '.join(d.dropped)}: left out")
    for r in skipped:
        output.info(f"skipped {r.kind} {r.name}: NACK has no such resource")
