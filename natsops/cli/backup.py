"""``natsops stream backup|restore`` (added to the stream group) and the kv/object shortcuts."""

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from natsops.cli import options
from natsops.cli.state import get_state, want_json

if TYPE_CHECKING:
    from natsops.backup import AccountRestorePlan, BackupOptions, RestoreResult, RestoreStep

StallOpt = Annotated[str, typer.Option("--stall-timeout", help="Give up when no data moves for this long")]
Replace = Annotated[bool, typer.Option("--force", "-f", help="Replace an existing archive")]


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
    force: Replace = False,
    no_progress: options.NoProgress = False,
    json_out: options.Json = False,
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
    from natsops.backup import BackupOptions, backup_job
    from natsops.units import parse_duration

    as_json = want_json(ctx, json_out)
    job = backup_job(stream, file, all_dir=all_dir, verify=verify, restore_test=restore_test)
    if job.action == "verify":
        stall = parse_duration(stall_timeout, what="--stall-timeout")
        _verify(ctx, job.path, job.restore_test, stall, no_progress, as_json)
        return
    opts = BackupOptions.parse(chunk_size=chunk_size, stall_timeout=stall_timeout,
                               consumers=not no_consumers, force=force)
    if job.action == "all":
        _backup_all(ctx, job.path, opts, as_json)
    else:
        run_backup(ctx, job.stream, job.path, opts, no_progress, as_json)


def run_backup(ctx: typer.Context, stream: str, file: Path, opts: "BackupOptions",
               no_progress: bool, as_json: bool) -> None:
    from natsops.backup import backup_stream
    from natsops.cli import output
    from natsops.cli._run import call

    with output.ByteProgress(f"backup {stream}", not no_progress and not as_json) as bar:
        res = call(ctx, backup_stream, stream, file, opts, progress=bar)
    if as_json:
        output.print_json(res.manifest)
        return
    m = res.manifest
    output.success(f"backed up {m.stream} to {res.path}: {m.messages} messages "
                   f"(seq {m.first_seq}..{m.last_seq}), {m.consumer_count} consumers, "
                   f"{m.snapshot_bytes} bytes in {res.seconds:.2f}s ({res.mb_per_s:.0f} MB/s), "
                   f"sha256 {m.snapshot_sha256}")


def _backup_all(ctx: typer.Context, directory: Path, opts: "BackupOptions", as_json: bool) -> None:
    from natsops.backup import backup_all
    from natsops.cli import output
    from natsops.cli._run import call

    results = call(ctx, backup_all, directory, opts)
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
    from natsops.backup import verify_archive
    from natsops.cli import output
    from natsops.cli._run import run
    from natsops.cli.findings import emit
    from natsops.findings import Severity

    settings = get_state(ctx).settings if restore_test else None
    shown = restore_test and not no_progress and not as_json
    with output.ByteProgress(f"restore test {path.name}", shown) as bar:
        checked = run(verify_archive(path, restore_with=settings, stall_timeout=stall,
                                     progress=bar))
    emit(checked.findings, fmt="json" if as_json else "human", min_severity=Severity.OK,
         extra={"manifest": checked.manifest.to_json()})


RestoreReplicas = Annotated[int | None, typer.Option("--replicas", help="Replicas after the restore [default: as backed up]", show_default=False)]
RestoreMaxBytes = Annotated[str | None, typer.Option("--max-bytes", help="max_bytes of each restored stream (e.g. 1GB, -1 for none) [default: as backed up]; each replica reserves it", show_default=False)]
RestoreCluster = Annotated[str | None, typer.Option("--cluster", help="Place the restored stream(s) in this cluster (replaces the backed-up placement)", show_default=False)]
RestoreTags = Annotated[list[str] | None, typer.Option("--tag", "--tags", help="Place on servers with this tag (repeat; replaces the backed-up placement)", show_default=False)]


def restore(
    ctx: typer.Context,
    source: Annotated[Path | None, typer.Argument(help="A natsops archive, or a natscli backup folder", show_default=False)] = None,
    all_dir: Annotated[Path | None, typer.Option("--all", help="Restore every stream `stream backup --all` wrote into this folder (origins before their mirrors and sources)", show_default=False)] = None,
    name: Annotated[str | None, typer.Option("--name", help="Restore under this stream name")] = None,
    replicas: RestoreReplicas = None,
    subjects: Annotated[str | None, typer.Option("--subjects", help="Comma-separated subjects for the restored stream (when the originals are taken)", show_default=False)] = None,
    cluster: RestoreCluster = None,
    tags: RestoreTags = None,
    stall_timeout: StallOpt = "10s",
    wait: Annotated[str, typer.Option("--wait", help="How long to wait for the replicas to catch up")] = "60s",
    max_bytes: RestoreMaxBytes = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="With --all: print the restore order and check names and subjects; restore nothing")] = False,
    skip_existing: Annotated[bool, typer.Option("--skip-existing", help="With --all: leave streams that exist as they are and restore the others (finishes a restore that failed part-way)")] = False,
    no_progress: options.NoProgress = False,
    json_out: options.Json = False,
) -> None:
    """Restore a stream from a backup, or a whole account with --all; refuses names and subjects in use.

    It checks the archive first, restores as R1, compares message count, bytes and first/last
    sequence with the manifest, then scales to the target replicas. On any failure the
    half-restored stream is deleted. The stream keeps the backed-up max_bytes, which each
    replica reserves on its server: --max-bytes sets another (a copy next to the original).
    --all restores every archive of the folder in dependency order (KV and object buckets
    keep their KV_/OBJ_ streams and work as buckets); a failure part-way names the streams
    restored before it (they stay) and never touches a stream that existed.

    \b
    Examples:
      natsops stream restore ./orders.tgz
      natsops stream restore orders.tgz --name COPY --subjects "copy.orders.>"
      natsops stream restore ./natscli-backup-dir --replicas 3
      natsops stream restore orders.tgz --name CP --subjects "c.>" --max-bytes 5GB
      natsops stream restore --all ./backups --dry-run
      natsops stream restore --all ./backups --cluster east --tag ssd --replicas 3
    """
    from natsops.units import parse_duration

    stall = parse_duration(stall_timeout, what="--stall-timeout")
    ready = parse_duration(wait, what="--wait")
    as_json, shown = want_json(ctx, json_out), not no_progress and not want_json(ctx, json_out)
    if all_dir is not None or source is None:
        plan = _account_plan(source, all_dir, name, subjects, replicas, max_bytes, cluster, tags,
                             skip_existing)
        _restore_all(ctx, plan, dry_run, stall, ready, shown, as_json)
        return
    _restore_one(ctx, source, name=name, replicas=replicas, subjects=subjects, cluster=cluster,
                 tags=tags, max_bytes=max_bytes, dry_run=dry_run, stall=stall, ready=ready,
                 shown=shown, as_json=as_json, skip_existing=skip_existing)


def _restore_one(ctx: typer.Context, source: Path, *, name: str | None, replicas: int | None,
                 subjects: str | None, cluster: str | None, tags: list[str] | None,
                 max_bytes: str | None, dry_run: bool, stall: float, ready: float, shown: bool,
                 as_json: bool, skip_existing: bool = False) -> None:
    from natsops.backup import open_backup, parse_subjects, restore_overrides, restore_stream
    from natsops.cli import output
    from natsops.cli._run import call
    from natsops.errors import UsageError

    if dry_run or skip_existing:
        raise UsageError(f"{'--dry-run' if dry_run else '--skip-existing'} goes with --all (a "
                         "single restore checks everything before it creates the stream)")
    src = open_backup(source)  # a missing or unreadable backup fails before any connection
    overrides = restore_overrides(src, max_bytes, cluster, tags)
    with output.ByteProgress(f"restore {source.name}", shown) as bar:
        res = call(ctx, restore_stream, source, name=name, replicas=replicas,
                   subjects=parse_subjects(subjects), overrides=overrides, stall_timeout=stall,
                   ready_timeout=ready, progress=bar)
    _print_restored(res, as_json)


def _account_plan(source: Path | None, all_dir: Path | None, name: str | None,
                  subjects: str | None, replicas: int | None, max_bytes: str | None,
                  cluster: str | None, tags: list[str] | None,
                  skip_existing: bool) -> "AccountRestorePlan":
    from natsops.backup import plan_restore_all
    from natsops.errors import UsageError

    if all_dir is None:
        raise UsageError("usage: natsops stream restore FILE (or --all DIR)")
    if source is not None or name or subjects:
        raise UsageError("--all takes a folder; no archive, --name or --subjects with it")
    return plan_restore_all(all_dir, replicas=replicas, max_bytes=max_bytes, cluster=cluster,
                            tags=tags, skip_existing=skip_existing)


def _restore_all(ctx: typer.Context, plan: "AccountRestorePlan", dry_run: bool, stall: float,
                 ready: float, shown: bool, as_json: bool) -> None:
    from natsops.backup import check_restore_all, restore_all
    from natsops.cli import output
    from natsops.cli._run import call

    if dry_run:
        _print_plan(plan, call(ctx, check_restore_all, plan), as_json)
        return

    def step(s: "RestoreStep") -> None:
        if not as_json:
            output.info(f"restoring {s.stream} ({s.kind}, {s.messages} messages)")

    with output.ByteProgress(f"restore --all {plan.directory.name}", shown) as bar:
        res = call(ctx, restore_all, plan, stall_timeout=stall, ready_timeout=ready,
                   on_step=step, progress=bar)
    if as_json:
        output.print_json(res)
        return
    for r in res.restored:
        _print_restored(r, False)
    if res.skipped:
        output.info(f"left as they were (--skip-existing): {', '.join(res.skipped)}")
    output.success(f"restored {len(res.restored)} streams from {res.directory} in "
                   f"{res.seconds:.2f}s")


def _print_plan(plan: "AccountRestorePlan", skipped: tuple[str, ...], as_json: bool) -> None:
    from natsops.cli import output
    from natsops.cli.stream import _placement

    if as_json:
        output.print_json({"dry_run": True, "directory": plan.directory, "order": plan.steps,
                           "skipped": skipped})
        return
    output.table(f"restore order for {plan.directory} (dry run: nothing restored)",
                 ["#", "stream", "kind", "after", "messages", "replicas", "placement"],
                 [(i, s.stream + (" (exists: skipped)" if s.stream in skipped else ""), s.kind,
                   ", ".join(s.origins), s.messages, s.replicas,
                   _placement(s.overrides.get("placement")) or "as backed up")
                  for i, s in enumerate(plan.steps, 1)])


def _print_restored(res: "RestoreResult", as_json: bool) -> None:
    from natsops.cli import output

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


def _bucket_backup(prefix: str, what: str) -> Callable[..., None]:
    def bucket_backup(
        ctx: typer.Context,
        bucket: Annotated[str, typer.Argument(help="Bucket name")],
        file: Annotated[Path, typer.Argument(help="Archive to write")],
        stall_timeout: StallOpt = "10s",
        force: Replace = False,
        no_progress: options.NoProgress = False,
        json_out: options.Json = False,
    ) -> None:
        from natsops.backup import BackupOptions

        opts = BackupOptions.parse(stall_timeout=stall_timeout, force=force)
        run_backup(ctx, f"{prefix}{bucket}", file, opts, no_progress, want_json(ctx, json_out))

    bucket_backup.__doc__ = (
        f"Back up {what} (its {prefix}<name> stream) into one archive; restore it with "
        f"`natsops {'kv' if prefix == 'KV_' else 'object'} restore FILE`.")
    return bucket_backup


def _bucket_restore(prefix: str, what: str) -> Callable[..., None]:
    def bucket_restore(
        ctx: typer.Context,
        file: Annotated[Path, typer.Argument(help="Archive written by backup", show_default=False)],
        replicas: RestoreReplicas = None,
        cluster: RestoreCluster = None,
        tags: RestoreTags = None,
        max_bytes: RestoreMaxBytes = None,
        stall_timeout: StallOpt = "10s",
        wait: Annotated[str, typer.Option("--wait", help="How long to wait for the replicas to catch up")] = "60s",
        no_progress: options.NoProgress = False,
        json_out: options.Json = False,
    ) -> None:
        from natsops.backup import bucket_backup
        from natsops.units import parse_duration

        bucket_backup(file, prefix, what)
        as_json = want_json(ctx, json_out)
        _restore_one(ctx, file, name=None, replicas=replicas, subjects=None, cluster=cluster,
                     tags=tags, max_bytes=max_bytes, dry_run=False,
                     stall=parse_duration(stall_timeout, what="--stall-timeout"),
                     ready=parse_duration(wait, what="--wait"),
                     shown=not no_progress and not as_json, as_json=as_json)

    bucket_restore.__doc__ = (
        f"Restore {what} from its backup under its own name (refused when it exists), checked "
        "against the manifest; --cluster/--tag place it, --replicas/--max-bytes resize it.")
    return bucket_restore


def register_bucket(app: typer.Typer, prefix: str, what: str) -> None:
    """Add ``backup`` and ``restore`` to the kv (``KV_``) or object (``OBJ_``) group."""
    app.command("backup")(_bucket_backup(prefix, what))
    app.command("restore")(_bucket_restore(prefix, what))
