"""``natsops stream backup|restore`` (added to the stream group) and the kv/object shortcuts."""

from pathlib import Path
from typing import Annotated, Any

import typer

from natsops.cli.state import get_state, want_json
from natsops.errors import UsageError

NoProgress = Annotated[bool, typer.Option("--no-progress", help="No progress bar on stderr")]
StallOpt = Annotated[str, typer.Option("--stall-timeout", help="Give up when no data moves for this long")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the manifest/result as JSON")]


def backup(
    ctx: typer.Context,
    stream: Annotated[str | None, typer.Argument(help="Stream to back up", show_default=False)] = None,
    file: Annotated[Path | None, typer.Argument(help="Archive to write (e.g. ./orders.tgz)", show_default=False)] = None,
    all_dir: Annotated[Path | None, typer.Option("--all", help="Back up every stream of the account (KV and object buckets too) into this folder", show_default=False)] = None,
    verify: Annotated[bool, typer.Option("--verify", help="Check an archive without a server: natsops stream backup --verify FILE")] = False,
    restore_test: Annotated[bool, typer.Option("--restore-test", help="With --verify: restore under a temporary name, compare, remove it")] = False,
    no_consumers: Annotated[bool, typer.Option("--no-consumers", help="Leave consumers out of the backup")] = False,
    chunk_size: Annotated[str, typer.Option("--chunk-size", help="Snapshot chunk size")] = "128KiB",
    stall_timeout: StallOpt = "10s",
    force: Annotated[bool, typer.Option("--force", "-f", help="Replace an existing archive")] = False,
    no_progress: NoProgress = False,
    json_out: JsonOpt = False,
) -> None:
    """Back up a stream into one archive file (config, state, snapshot, manifest with SHA-256).

    The archive is written under a temporary name and renamed only when complete and checked,
    so a failed or interrupted backup never leaves a file that looks valid.

    \b
    Examples:
      natsops stream backup ORDERS ./orders.tgz
      natsops stream backup --all ./backups
      natsops stream backup --verify ./orders.tgz
      natsops stream backup --verify --restore-test ./orders.tgz
    """
    from natsops.units import parse_duration, parse_size

    as_json = want_json(ctx, json_out)
    if verify:
        target = file or (Path(stream) if stream else None)
        if target is None or (stream and file):
            raise UsageError("--verify takes one archive: natsops stream backup --verify FILE")
        _verify(ctx, target, restore_test, parse_duration(stall_timeout, what="--stall-timeout"),
                no_progress, as_json)
        return
    if restore_test:
        raise UsageError("--restore-test goes with --verify")
    opts = {"consumers": not no_consumers, "chunk_size": parse_size(chunk_size, what="--chunk-size"),
            "stall_timeout": parse_duration(stall_timeout, what="--stall-timeout"), "force": force}
    if not 1024 <= opts["chunk_size"] <= 1024 * 1024:
        raise UsageError("--chunk-size must be between 1KiB and 1MiB")
    if all_dir is not None:
        if stream or file:
            raise UsageError("--all takes a folder and no stream name")
        _backup_all(ctx, all_dir, opts, no_progress, as_json)
        return
    if not stream or not file:
        raise UsageError("usage: natsops stream backup STREAM FILE (or --all DIR, --verify FILE)")
    run_backup(ctx, stream, file, opts, no_progress, as_json)


def run_backup(ctx: typer.Context, stream: str, file: Path, opts: dict[str, Any],
               no_progress: bool, as_json: bool) -> None:
    from natsops.backup import backup_stream
    from natsops.cli import output
    from natsops.cli._run import run
    from natsops.connection import connect

    async def go() -> Any:
        async with connect(get_state(ctx).settings) as conn:
            with output.ByteProgress(f"backup {stream}", not no_progress and not as_json) as bar:
                return await backup_stream(conn, stream, file, progress=bar, **opts)

    res = run(go())
    if as_json:
        output.print_json(res.manifest)
        return
    m = res.manifest
    output.success(f"backed up {m.stream} to {res.path}: {m.messages} messages "
                   f"(seq {m.first_seq}..{m.last_seq}), {m.consumer_count} consumers, "
                   f"{m.snapshot_bytes} bytes in {res.seconds:.2f}s ({res.mb_per_s:.0f} MB/s), "
                   f"sha256 {m.snapshot_sha256}")


def _backup_all(ctx: typer.Context, directory: Path, opts: dict[str, Any], no_progress: bool,
                as_json: bool) -> None:
    from natsops.backup import backup_all
    from natsops.cli import output
    from natsops.cli._run import run
    from natsops.connection import connect

    async def go() -> Any:
        async with connect(get_state(ctx).settings) as conn:
            return await backup_all(conn, directory, **opts)

    results = run(go())
    if as_json:
        output.print_json({"backups": [{"path": r.path, "manifest": r.manifest} for r in results]})
        return
    output.table(f"backups in {directory}", ["stream", "archive", "messages", "bytes", "seconds"],
                 [(r.manifest.stream, r.path, r.manifest.messages, r.manifest.snapshot_bytes,
                   f"{r.seconds:.2f}") for r in results])
    if not results:
        output.info("the account has no streams")


def _verify(ctx: typer.Context, path: Path, restore_test: bool, stall: float, no_progress: bool,
            as_json: bool) -> None:
    from natsops.backup import verify_backup
    from natsops.cli.findings import emit
    from natsops.cli.output import jsonable
    from natsops.findings import Severity

    src, findings = verify_backup(path)
    if restore_test and not any(f.severity >= Severity.FAIL for f in findings):
        findings.append(_restore_test(ctx, path, src.manifest.stream, stall, no_progress, as_json))
    emit(findings, fmt="json" if as_json else "human", min_severity=Severity.OK,
         extra={"manifest": jsonable(src.manifest)})


def _restore_test(ctx: typer.Context, path: Path, stream: str, stall: float, no_progress: bool,
                  as_json: bool) -> Any:
    import secrets

    from natsops.backup import _delete_stream, restore_stream
    from natsops.cli import output
    from natsops.cli._run import run
    from natsops.connection import connect
    from natsops.errors import NatsopsError
    from natsops.findings import Finding

    tag = secrets.token_hex(4).upper()
    temp = f"{stream}_RESTORE_TEST_{tag}"

    async def go() -> Any:
        async with connect(get_state(ctx).settings) as conn:
            with output.ByteProgress(f"restore test {temp}", not no_progress and not as_json) as bar:
                # R1, own subjects, no max_bytes: the copy reserves no room next to the
                # original and overlaps none of its subjects. A failed restore removes itself.
                res = await restore_stream(conn, path, name=temp, replicas=1,
                                           subjects=[f"natsops.restore-test.{tag}.>"],
                                           overrides={"max_bytes": -1},
                                           stall_timeout=stall, progress=bar)
            try:
                await _delete_stream(conn, temp)
            except NatsopsError as exc:
                raise NatsopsError(f"the test copy {temp} matched but could not be deleted: "
                                   f"{exc}", hint=f"natsops stream rm {temp} --force") from None
            return res

    try:
        res = run(go())
    except NatsopsError as exc:
        return Finding.fail("backup/restore-test", str(path), f"restore test failed: {exc}")
    return Finding.ok("backup/restore-test", str(path),
                      f"restored as {temp} ({res.messages} messages, seq {res.first_seq}.."
                      f"{res.last_seq}, {res.consumer_count} consumers), matched, removed",
                      evidence={"seconds": round(res.seconds, 3)})


def restore(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(help="A natsops archive, or a natscli backup folder")],
    name: Annotated[str | None, typer.Option("--name", help="Restore under this stream name")] = None,
    replicas: Annotated[int | None, typer.Option("--replicas", help="Replicas after the restore [default: as backed up]", show_default=False)] = None,
    subjects: Annotated[str | None, typer.Option("--subjects", help="Comma-separated subjects for the restored stream (when the originals are taken)", show_default=False)] = None,
    stall_timeout: StallOpt = "10s",
    wait: Annotated[str, typer.Option("--wait", help="How long to wait for the replicas to catch up")] = "60s",
    no_progress: NoProgress = False,
    json_out: JsonOpt = False,
) -> None:
    """Restore a stream from a backup; refuses names and subjects in use.

    It checks the archive first, restores as R1, compares message count, bytes and first/last
    sequence with the manifest, then scales to the target replicas. On any failure the
    half-restored stream is deleted.

    \b
    Examples:
      natsops stream restore ./orders.tgz
      natsops stream restore ./orders.tgz --name ORDERS_COPY --subjects "copy.orders.>"
      natsops stream restore ./natscli-backup-dir --replicas 3
    """
    from natsops.backup import open_backup, restore_stream
    from natsops.cli import output
    from natsops.cli._run import run
    from natsops.connection import connect
    from natsops.units import parse_duration

    as_json = want_json(ctx, json_out)
    open_backup(source)  # a missing or unreadable backup fails before any connection
    subj = [s.strip() for s in subjects.split(",") if s.strip()] if subjects else None
    stall = parse_duration(stall_timeout, what="--stall-timeout")
    ready = parse_duration(wait, what="--wait")

    async def go() -> Any:
        async with connect(get_state(ctx).settings) as conn:
            with output.ByteProgress(f"restore {source.name}", not no_progress and not as_json) as bar:
                return await restore_stream(conn, source, name=name, replicas=replicas,
                                            subjects=subj, stall_timeout=stall,
                                            ready_timeout=ready, progress=bar)

    res = run(go())
    if as_json:
        output.print_json(res)
        return
    output.success(f"restored {res.stream} (R{res.replicas}) from {res.source}: {res.messages} "
                   f"messages, seq {res.first_seq}..{res.last_seq}, {res.consumer_count} "
                   f"consumers, matching the backup, in {res.seconds:.2f}s")


def register(stream_app: typer.Typer) -> None:
    """Add ``backup`` and ``restore`` to the stream group."""
    stream_app.command("backup")(backup)
    stream_app.command("restore")(restore)


def _bucket_backup(prefix: str, what: str) -> Any:
    def bucket_backup(
        ctx: typer.Context,
        bucket: Annotated[str, typer.Argument(help="Bucket name")],
        file: Annotated[Path, typer.Argument(help="Archive to write")],
        stall_timeout: StallOpt = "10s",
        force: Annotated[bool, typer.Option("--force", "-f", help="Replace an existing archive")] = False,
        no_progress: NoProgress = False,
        json_out: JsonOpt = False,
    ) -> None:
        from natsops.units import parse_duration

        opts = {"consumers": True, "chunk_size": 128 * 1024, "force": force,
                "stall_timeout": parse_duration(stall_timeout, what="--stall-timeout")}
        run_backup(ctx, f"{prefix}{bucket}", file, opts, no_progress, want_json(ctx, json_out))

    bucket_backup.__doc__ = (
        f"Back up {what} (its {prefix}<name> stream) into one archive; restore it with "
        "`natsops stream restore FILE`.")
    return bucket_backup


def register_bucket(app: typer.Typer, prefix: str, what: str) -> None:
    """Add ``backup`` to the kv (``KV_``) or object (``OBJ_``) group."""
    app.command("backup")(_bucket_backup(prefix, what))
