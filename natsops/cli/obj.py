"""``natsops object``: object store buckets, and large files in and out of them."""

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from natsops.cli import options
from natsops.cli._bucket import bucket_edit_flags
from natsops.cli._js import with_options
from natsops.cli._run import call
from natsops.cli.output import examples
from natsops.cli.prompt import confirm
from natsops.cli.state import want_json

if TYPE_CHECKING:
    from collections.abc import Sequence

    from natsops.jetstream.objects import ObjectBucketStatus, ObjectEntry

app = typer.Typer(
    help="Manage object store buckets and objects.",
    no_args_is_help=True,
    epilog=examples(
        "natsops object add FIRMWARE --replicas=3",
        "natsops object edit FIRMWARE --max-bucket-size 20GB --dry-run",
        "natsops object put FIRMWARE ./build/firmware-v1.bin",
        "natsops object get FIRMWARE firmware-v1.bin",
        "natsops object info FIRMWARE"),
)

BucketArg = Annotated[str, typer.Argument(help="Bucket name", show_default=False)]
ProgressOpt = Annotated[bool, typer.Option(
    "--progress/--no-progress", help="Progress bar on stderr (bytes, rate, ETA)")]


def _bucket(st: "ObjectBucketStatus", as_json: bool) -> None:
    from natsops.cli import output
    from natsops.cli._js import kv_lines, peers_table, replica_json
    from natsops.units import format_bytes, format_duration

    if as_json:
        output.print_json({"bucket": st.bucket, "bytes": st.objects_bytes,
                           "ttl_s": st.ttl_s, "replicas": st.replicas, "storage": st.storage,
                           "sealed": st.sealed, "compressed": st.compressed,
                           "placement": st.placement,
                           "leader": st.cluster.leader if st.cluster else None,
                           "peers": replica_json(st.cluster), "stream": st.stream.raw})
        return
    output.out().print(f"Object store {st.bucket} (stream OBJ_{st.bucket})", markup=False)
    kv_lines([("Size", format_bytes(st.objects_bytes)),
              ("TTL", format_duration(st.ttl_s) if st.ttl_s else "unlimited"),
              ("Replicas", st.replicas), ("Storage", st.storage), ("Sealed", st.sealed),
              ("Compressed", st.compressed), ("Placement", st.placement)])
    if st.cluster and st.cluster.name:
        peers_table(f"cluster {st.cluster.name}", st.cluster)


def _entry(e: "ObjectEntry", as_json: bool) -> None:
    from natsops.cli import output
    from natsops.cli._js import kv_lines
    from natsops.units import format_bytes

    if as_json:
        output.print_json(e)
        return
    output.out().print(f"Object {e.bucket} > {e.name}", markup=False)
    kv_lines([("Size", f"{format_bytes(e.size)} ({e.size:,} B)"), ("Chunks", e.chunks),
              ("Digest", e.digest), ("Modified", e.mtime), ("Description", e.description)])


@app.command()
def add(
    ctx: typer.Context,
    bucket: BucketArg,
    ttl: Annotated[str | None, typer.Option(
        "--ttl", help="Expire objects after, e.g. 30d", show_default=False)] = None,
    replicas: Annotated[int, typer.Option("--replicas", help="Replicas (1-5)")] = 1,
    storage: Annotated[str, typer.Option("--storage", help="file or memory")] = "file",
    max_bucket_size: Annotated[str | None, typer.Option(
        "--max-bucket-size", help="Largest bucket, e.g. 10GB", show_default=False)] = None,
    description: Annotated[str | None, typer.Option("--description", show_default=False)] = None,
    cluster: Annotated[str | None, typer.Option(
        "--cluster", help="Place in this cluster", show_default=False)] = None,
    tags: Annotated[list[str] | None, typer.Option(
        "--tags", help="Placement tags (repeat)", show_default=False)] = None,
    compress: Annotated[bool, typer.Option("--compress", help="S2 compression")] = False,
    metadata: Annotated[list[str] | None, typer.Option(
        "--metadata", help="key=value (repeat)", show_default=False)] = None,
    json_out: options.Json = False,
) -> None:
    """Create an object store bucket."""
    from natsops.cli import output
    from natsops.jetstream.objects import ObjectBucketOptions, add_object_bucket

    opts = ObjectBucketOptions(ttl=ttl, replicas=replicas, storage=storage,
                               max_bucket_size=max_bucket_size, description=description,
                               cluster=cluster, tags=tuple(tags or ()), compress=compress,
                               metadata=tuple(metadata or ()))
    st = call(ctx, add_object_bucket, bucket, opts)
    _bucket(st, want_json(ctx, json_out))
    if not want_json(ctx, json_out):
        output.success(f"object store {bucket} created")


@app.command()
@with_options(bucket_edit_flags)
def edit(ctx: typer.Context, bucket: BucketArg, **kw: Any) -> None:
    """Change an object store's replicas, TTL, size limit, description or placement (shows the
    diff; waits until new replicas are current). The storage type cannot change."""
    from natsops.cli._bucket import edit_bucket
    from natsops.jetstream.objects import plan_object_edit

    edit_bucket(ctx, f"object store {bucket}", plan_object_edit, bucket, kw)


@app.command()
def put(
    ctx: typer.Context,
    bucket: BucketArg,
    file: Annotated[Path, typer.Argument(help="File to upload", show_default=False)],
    name: Annotated[str | None, typer.Option(
        "--name", help="Object name [default: the file's name]", show_default=False)] = None,
    description: Annotated[str | None, typer.Option("--description", show_default=False)] = None,
    chunk_size: Annotated[str, typer.Option("--chunk-size", help="Chunk size")] = "128KiB",
    progress: ProgressOpt = True,
    stall_timeout: options.StallTimeout = "10s",
    json_out: options.Json = False,
) -> None:
    """Upload a file in chunks (never loaded whole into memory); an unfinished upload's chunks
    are purged again."""
    from natsops.cli import output
    from natsops.jetstream.objects import put_object
    from natsops.units import format_bytes, parse_duration, parse_size

    size = parse_size(chunk_size, what="--chunk-size")
    stall = parse_duration(stall_timeout, what="--stall-timeout")
    with output.ByteProgress(f"put {file.name}", progress and not want_json(ctx, json_out)) as bar:
        e = call(ctx, put_object, bucket, file, name=name, description=description,
                 chunk_size=size, progress=bar, stall_timeout=stall)
    if want_json(ctx, json_out):
        output.print_json(e)
        return
    output.success(f"stored {bucket} > {e.name}: {format_bytes(e.size)} in {e.chunks} chunks, "
                   f"{e.digest}")


@app.command()
def get(
    ctx: typer.Context,
    bucket: BucketArg,
    name: Annotated[str, typer.Argument(help="Object name", show_default=False)],
    out: Annotated[str | None, typer.Option(
        "--output", "-O", help="File or directory to write, '-' for stdout [default: ./<name>]",
        show_default=False)] = None,
    force: Annotated[bool, typer.Option(
        "--force", "-f", help="Overwrite an existing file")] = False,
    progress: ProgressOpt = True,
    stall_timeout: options.StallTimeout = "10s",
    json_out: options.Json = False,
) -> None:
    """Download an object; the digest is checked before the file appears under its name."""
    from natsops.cli import output
    from natsops.jetstream.objects import get_object
    from natsops.units import format_bytes, parse_duration

    to_stdout = out == "-"
    dest = sys.stdout.buffer if to_stdout else Path(out or Path(name).name)
    stall = parse_duration(stall_timeout, what="--stall-timeout")
    show = progress and not want_json(ctx, json_out) and not to_stdout
    with output.ByteProgress(f"get {name}", show) as bar:
        got = call(ctx, get_object, bucket, name, dest, overwrite=force, progress=bar,
                   stall_timeout=stall)
    if want_json(ctx, json_out) and not to_stdout:
        output.print_json({**output.jsonable(got.entry), "file": got.path})
    elif got.path:
        output.success(f"wrote {got.path}: {format_bytes(got.entry.size)}, digest verified")


@app.command()
def info(
    ctx: typer.Context,
    bucket: BucketArg,
    name: Annotated[str | None, typer.Argument(
        help="An object (default: the bucket)", show_default=False)] = None,
    json_out: options.Json = False,
) -> None:
    """Show a bucket, or one object's size, chunks and digest."""
    from natsops.jetstream.objects import object_bucket_status, object_info

    if name:
        _entry(call(ctx, object_info, bucket, name), want_json(ctx, json_out))
    else:
        _bucket(call(ctx, object_bucket_status, bucket), want_json(ctx, json_out))


@app.command("ls")
def ls(
    ctx: typer.Context,
    bucket: Annotated[str | None, typer.Argument(
        help="List this bucket's objects instead of buckets", show_default=False)] = None,
    json_out: options.Json = False,
) -> None:
    """List object store buckets, or the objects in one."""
    from natsops.jetstream.objects import list_object_buckets, list_objects

    if bucket:
        _objects(bucket, call(ctx, list_objects, bucket), want_json(ctx, json_out))
    else:
        _buckets(call(ctx, list_object_buckets), want_json(ctx, json_out))


def _objects(bucket: str, objs: "Sequence[ObjectEntry]", as_json: bool) -> None:
    from natsops.cli import output
    from natsops.units import format_bytes

    if as_json:
        output.print_json(objs)
        return
    output.table(f"Objects in {bucket} ({len(objs)})", ["name", "size", "chunks", "modified"],
                 [(o.name, format_bytes(o.size), o.chunks, o.mtime) for o in objs])


def _buckets(buckets: "Sequence[ObjectBucketStatus]", as_json: bool) -> None:
    from natsops.cli import output
    from natsops.units import format_bytes

    if as_json:
        output.print_json([b.bucket for b in buckets])
        return
    output.table(f"Object stores ({len(buckets)})", ["bucket", "size", "replicas", "sealed"],
                 [(b.bucket, format_bytes(b.objects_bytes), b.replicas, b.sealed)
                  for b in buckets])


@app.command()
def rm(
    ctx: typer.Context,
    bucket: BucketArg,
    name: Annotated[str | None, typer.Argument(
        help="Object to delete (default: the whole bucket)", show_default=False)] = None,
    force: options.Force = False,
) -> None:
    """Delete an object, or a whole bucket (asks unless --force)."""
    from natsops.cli import output
    from natsops.jetstream.objects import delete_object, delete_object_bucket

    if name:
        confirm(f"Really delete object {bucket} > {name}?", force=force)
        call(ctx, delete_object, bucket, name)
        output.success(f"deleted {bucket} > {name}")
    else:
        confirm(f"Really delete object store {bucket} and all its objects?", force=force)
        call(ctx, delete_object_bucket, bucket)
        output.success(f"object store {bucket} deleted")


@app.command()
def seal(ctx: typer.Context, bucket: BucketArg, force: options.Force = False,
         json_out: options.Json = False) -> None:
    """Make a bucket read-only for good (asks unless --force)."""
    from natsops.cli import output
    from natsops.jetstream.objects import seal_object_bucket

    confirm(f"Really seal object store {bucket}? This cannot be undone.", force=force)
    st = call(ctx, seal_object_bucket, bucket)
    if want_json(ctx, json_out):
        _bucket(st, True)
        return
    output.success(f"object store {bucket} sealed")


def _add_backup_command() -> None:
    from natsops.cli import backup

    backup.register_bucket(app, "OBJ_", "an object store")


_add_backup_command()
