"""``natsops kv``: Key/Value buckets and their keys."""

from typing import TYPE_CHECKING, Annotated, Any

import typer

from natsops.cli import options
from natsops.cli._bucket import bucket_edit_flags
from natsops.cli._js import print_names, with_options
from natsops.cli._run import call
from natsops.cli.output import examples
from natsops.cli.prompt import confirm
from natsops.cli.state import want_json

if TYPE_CHECKING:
    from natsops.connection import Conn
    from natsops.jetstream.kv import BucketStatus

app = typer.Typer(
    help="Manage Key/Value buckets and keys.",
    no_args_is_help=True,
    epilog=examples(
        "natsops kv add SESSIONS --replicas=3 --ttl=24h",
        "natsops kv edit SESSIONS --replicas 3 --history 5 --dry-run",
        "natsops kv put SESSIONS user.42 '{\"role\":\"admin\"}'",
        "natsops kv get SESSIONS user.42",
        "natsops kv watch SESSIONS user.42"),
)

BucketArg = Annotated[str, typer.Argument(help="Bucket name", show_default=False)]
KeyArg = Annotated[str, typer.Argument(help="Key", show_default=False)]


def _status(st: "BucketStatus", as_json: bool) -> None:
    from natsops.cli import output
    from natsops.cli._js import kv_lines, peers_table, replica_json
    from natsops.units import format_bytes, format_duration

    if as_json:
        output.print_json({"bucket": st.bucket, "values": st.values, "bytes": st.bytes,
                           "history": st.history, "ttl_s": st.ttl_s, "replicas": st.replicas,
                           "storage": st.storage, "allow_direct": st.direct,
                           "compressed": st.compressed, "placement": st.placement,
                           "leader": st.cluster.leader if st.cluster else None,
                           "peers": replica_json(st.cluster), "stream": st.stream.raw})
        return
    output.out().print(f"Bucket {st.bucket} (stream KV_{st.bucket})", markup=False)
    kv_lines([("Values", f"{st.values:,}"), ("Size", format_bytes(st.bytes)),
              ("History", st.history),
              ("TTL", format_duration(st.ttl_s) if st.ttl_s else "unlimited"),
              ("Replicas", st.replicas), ("Storage", st.storage),
              ("Direct Get", st.direct), ("Compressed", st.compressed),
              ("Placement", st.placement)])
    if st.cluster and st.cluster.name:
        peers_table(f"cluster {st.cluster.name}", st.cluster)


@app.command()
def add(
    ctx: typer.Context,
    bucket: BucketArg,
    history: Annotated[int, typer.Option("--history", help="Values kept per key (1-64)")] = 1,
    ttl: Annotated[str | None, typer.Option(
        "--ttl", help="Expire values after, e.g. 24h", show_default=False)] = None,
    replicas: Annotated[int, typer.Option("--replicas", help="Replicas (1-5)")] = 1,
    storage: Annotated[str, typer.Option("--storage", help="file or memory")] = "file",
    max_value_size: Annotated[str | None, typer.Option(
        "--max-value-size", help="Largest value, e.g. 1MB", show_default=False)] = None,
    max_bucket_size: Annotated[str | None, typer.Option(
        "--max-bucket-size", help="Largest bucket, e.g. 1GB", show_default=False)] = None,
    description: Annotated[str | None, typer.Option("--description", show_default=False)] = None,
    cluster: Annotated[str | None, typer.Option(
        "--cluster", help="Place in this cluster", show_default=False)] = None,
    tags: Annotated[list[str] | None, typer.Option(
        "--tags", help="Placement tags (repeat)", show_default=False)] = None,
    compress: Annotated[bool, typer.Option("--compress", help="S2 compression")] = False,
    marker_ttl: Annotated[str | None, typer.Option(
        "--marker-ttl", help="Per-key TTLs; keep delete markers this long", show_default=False)
    ] = None,
    metadata: Annotated[list[str] | None, typer.Option(
        "--metadata", help="key=value (repeat)", show_default=False)] = None,
    json_out: options.Json = False,
) -> None:
    """Create a bucket (placement and direct get as natscli)."""
    from natsops.cli import output
    from natsops.jetstream.kv import BucketOptions, add_bucket

    opts = BucketOptions(history=history, ttl=ttl, replicas=replicas, storage=storage,
                         max_value_size=max_value_size, max_bucket_size=max_bucket_size,
                         description=description, cluster=cluster, tags=tuple(tags or ()),
                         compress=compress, marker_ttl=marker_ttl,
                         metadata=tuple(metadata or ()))
    st = call(ctx, add_bucket, bucket, opts)
    _status(st, want_json(ctx, json_out))
    if not want_json(ctx, json_out):
        output.success(f"bucket {bucket} created")


@app.command()
@with_options(bucket_edit_flags)
def edit(
    ctx: typer.Context,
    bucket: BucketArg,
    history: Annotated[int | None, typer.Option(
        "--history", help="Values kept per key (1-64)", show_default=False)] = None,
    max_value_size: Annotated[str | None, typer.Option(
        "--max-value-size", help="Largest value, e.g. 1MB (-1: unlimited)",
        show_default=False)] = None,
    **kw: Any,
) -> None:
    """Change a bucket's replicas, history, TTL, sizes, description or placement (shows the
    diff; waits until new replicas are current). The storage type cannot change."""
    from natsops.cli._bucket import edit_bucket
    from natsops.jetstream.kv import plan_kv_edit

    edit_bucket(ctx, f"bucket {bucket}", plan_kv_edit, bucket, kw, history=history,
                max_value_size=max_value_size)


@app.command()
def info(ctx: typer.Context, bucket: BucketArg, json_out: options.Json = False) -> None:
    """Show a bucket's size, settings and replicas."""
    from natsops.jetstream.kv import bucket_status

    _status(call(ctx, bucket_status, bucket), want_json(ctx, json_out))


@app.command("ls")
def ls(
    ctx: typer.Context,
    bucket: Annotated[str | None, typer.Argument(
        help="List this bucket's keys instead of buckets", show_default=False)] = None,
    json_out: options.Json = False,
) -> None:
    """List buckets, or the keys of one bucket (`--json`: an array of names)."""
    from natsops.cli import output
    from natsops.jetstream.kv import list_buckets, list_keys
    from natsops.units import format_bytes, format_duration

    as_json = want_json(ctx, json_out)
    if bucket:
        print_names(call(ctx, list_keys, bucket), as_json)
        return
    buckets = call(ctx, list_buckets)
    if as_json:
        output.print_json([b.bucket for b in buckets])
        return
    output.table(f"Key/Value buckets ({len(buckets)})",
                 ["bucket", "values", "size", "history", "ttl", "replicas"],
                 [(b.bucket, f"{b.values:,}", format_bytes(b.bytes), b.history,
                   format_duration(b.ttl_s) if b.ttl_s else "", b.replicas) for b in buckets])


@app.command()
def rm(ctx: typer.Context, bucket: BucketArg, force: options.Force = False) -> None:
    """Delete a bucket and all its values (asks unless --force)."""
    from natsops.cli import output
    from natsops.jetstream.kv import delete_bucket

    confirm(f"Really delete bucket {bucket} and all its values?", force=force)
    call(ctx, delete_bucket, bucket)
    output.success(f"bucket {bucket} deleted")


@app.command()
def put(
    ctx: typer.Context,
    bucket: BucketArg,
    key: KeyArg,
    value: Annotated[str | None, typer.Argument(
        help="Value (read from stdin when left out)", show_default=False)] = None,
    json_out: options.Json = False,
) -> None:
    """Store a value under a key."""
    import sys

    from natsops.cli import output
    from natsops.jetstream.kv import put_key

    data = value.encode() if value is not None else sys.stdin.buffer.read()
    rev = call(ctx, put_key, bucket, key, data)
    if want_json(ctx, json_out):
        output.print_json({"bucket": bucket, "key": key, "revision": rev})
    else:
        output.out().print(value if value is not None else f"{len(data)} bytes", markup=False,
                           highlight=False)


@app.command()
def get(
    ctx: typer.Context,
    bucket: BucketArg,
    key: KeyArg,
    revision: Annotated[int | None, typer.Option(
        "--revision", help="A specific revision", show_default=False)] = None,
    raw: Annotated[bool, typer.Option("--raw", help="Print only the value's bytes")] = False,
    json_out: options.Json = False,
) -> None:
    """Print a key's value (latest, or --revision).

    A value that is not UTF-8 text is written as its bytes when stdout is a file or a pipe; on
    a terminal it is refused (exit 2): use --raw, or --json (base64).
    """
    from natsops.cli import output
    from natsops.jetstream.kv import get_key

    e = call(ctx, get_key, bucket, key, revision)
    if want_json(ctx, json_out):
        output.print_json(e.jsonable())
        return
    if not raw:
        output.info(f"{bucket} > {key} revision {e.revision}"
                    + (f" created {e.created}" if e.created else ""))
    _write_value(e.value, f"{bucket} > {key}", raw=raw)


def _stdout_is_terminal() -> bool:
    import sys

    return sys.stdout.isatty()


def _write_value(value: bytes, what: str, *, raw: bool) -> None:
    """The value as text; bytes that are not UTF-8 are never replaced: written as they are."""
    import sys

    from natsops.cli import output
    from natsops.errors import UsageError

    try:
        text = value.decode()
    except UnicodeDecodeError:
        if not raw and _stdout_is_terminal():
            raise UsageError(f"the value of {what} is {len(value):,} bytes of binary data "
                             "(not UTF-8 text): not printed on a terminal",
                             hint="--raw writes the bytes (e.g. --raw > FILE); --json gives "
                                  "them as base64") from None
        text = None
    if raw or text is None:
        sys.stdout.buffer.write(value)
        sys.stdout.flush()
    else:
        output.out().print(text, markup=False, highlight=False)


@app.command("del")
def del_(ctx: typer.Context, bucket: BucketArg, key: KeyArg, force: options.Force = False) -> None:
    """Delete a key (a delete marker; history stays) (asks unless --force)."""
    from natsops.cli import output
    from natsops.jetstream.kv import delete_key

    confirm(f"Really delete key {bucket} > {key}?", force=force)
    call(ctx, delete_key, bucket, key)
    output.success(f"deleted {bucket} > {key}")


@app.command()
def purge(ctx: typer.Context, bucket: BucketArg, key: KeyArg, force: options.Force = False) -> None:
    """Remove a key and all its history (asks unless --force)."""
    from natsops.cli import output
    from natsops.jetstream.kv import purge_key

    confirm(f"Really purge key {bucket} > {key} and its history?", force=force)
    call(ctx, purge_key, bucket, key)
    output.success(f"purged {bucket} > {key}")


@app.command()
def history(ctx: typer.Context, bucket: BucketArg, key: KeyArg, json_out: options.Json = False) -> None:
    """Show every kept revision of a key."""
    from natsops.cli import output
    from natsops.jetstream.kv import key_history

    entries = call(ctx, key_history, bucket, key)
    if want_json(ctx, json_out):
        output.print_json([e.jsonable() for e in entries])
        return
    output.table(f"History of {bucket} > {key}", ["revision", "operation", "created",
                                                      output.Col("value", wrap=True)],
                 [(e.revision, e.operation, e.created, e.value.decode(errors="replace")[:60])
                  for e in entries])


@app.command()
def watch(
    ctx: typer.Context,
    bucket: BucketArg,
    key: Annotated[str, typer.Argument(help="Key or pattern (e.g. user.*)")] = ">",
    history: Annotated[bool, typer.Option(
        "--history", help="Start with every kept revision")] = False,
    deletes: Annotated[bool, typer.Option(
        "--deletes/--no-deletes", help="Show deletes and purges")] = True,
    stall_timeout: options.StallTimeout = "10s",
    json_out: options.Json = False,
) -> None:
    """Print the current value(s) and then every update until Ctrl-C (`--json`: one line each).

    Ends (exit 4) when the bucket is deleted, and (exit 3) when its server is lost."""
    import json
    import sys

    from natsops.jetstream.kv import watch as kv_watch
    from natsops.units import parse_duration

    as_json = want_json(ctx, json_out)
    stall = parse_duration(stall_timeout, what="--stall-timeout")

    async def go(conn: "Conn") -> None:
        async for e in kv_watch(conn, bucket, key, history=history, deletes=deletes,
                                stall_timeout=stall):
            if as_json:
                line = json.dumps(e.jsonable(), sort_keys=True)
            else:
                value = "" if e.operation != "PUT" else e.value.decode(errors="replace")
                line = f"[{e.created}] {e.operation} {bucket} > {e.key}: {value}"
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    call(ctx, go)


def _add_backup_command() -> None:
    from natsops.cli import backup

    backup.register_bucket(app, "KV_", "a KV bucket")


_add_backup_command()
