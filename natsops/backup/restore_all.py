"""Restore an account's backup (what ``stream backup --all DIR`` wrote) in one command.

The plan is read from the folder alone: one archive per stream (``<stream>.tar``, natscli backup
folders too), ordered so that a mirror or a stream sourcing others comes after its origins; KV
(``KV_``) and object store (``OBJ_``) streams keep their names and configs, so the buckets work
afterwards as buckets. Placement (``--cluster``/``--tag``), ``--max-bytes`` and ``--replicas``
apply to every stream. Before anything is restored every target is checked: a name or subject
already in use refuses the whole restore (nothing existing is touched), unless asked to skip the
streams that exist (to finish a restore that failed part-way). Each stream is restored
by :func:`~natsops.backup.restore.restore_stream` (checked against its manifest; a failed one is
deleted again); a failure part-way names the streams restored before it, which stay complete.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from natsops.backup.archive import BackupSource, Progress, no_progress, open_backup
from natsops.backup.restore import RestoreResult, max_bytes_override, restore_stream
from natsops.backup.verify import verify_backup
from natsops.errors import Conflict, NatsopsError, ServerError, UsageError
from natsops.faults import note_cleanup
from natsops.findings import Severity
from natsops.jetstream.streams import list_stream_names, split_list

if TYPE_CHECKING:
    from natsops.connection import Conn

__all__ = ["AccountRestore", "AccountRestorePlan", "RestoreStep", "bucket_backup",
           "check_restore_all",
           "placement_override", "plan_restore_all", "restore_all", "restore_overrides"]


def bucket_backup(path: Path, prefix: str, what: str) -> BackupSource:
    """Open an archive for ``kv restore`` / ``object restore``: it must hold a ``prefix``
    (``KV_``/``OBJ_``) stream; the bucket comes back under its own name (its subjects carry it)."""
    src = open_backup(path)
    name = str(src.config["name"])
    if not name.startswith(prefix):
        raise UsageError(f"{path} holds stream {name}, not {what}; nothing was restored",
                         hint="restore it with `natsops stream restore`")
    return src


def placement_override(cluster: str | None, tags: Sequence[str] | None) -> dict[str, Any]:
    """``--cluster``/``--tag`` as a StreamConfig override: the placement becomes exactly what
    is given (the backed-up one names servers of the old deployment); {} when neither is."""
    tag_list = split_list(list(tags or ()))
    placement = {k: v for k, v in (("cluster", cluster), ("tags", tag_list)) if v}
    return {"placement": placement} if placement else {}


def restore_overrides(src: BackupSource, max_bytes: str | None, cluster: str | None,
                      tags: Sequence[str] | None) -> dict[str, Any]:
    """Every StreamConfig override of one restore (checked against its manifest)."""
    return {**max_bytes_override(max_bytes, src.manifest), **placement_override(cluster, tags)}


@dataclass(frozen=True)
class RestoreStep:
    """One stream of the account restore, with what it depends on."""

    stream: str
    kind: str  # stream, mirror, sourced, kv, object
    path: Path
    origins: tuple[str, ...]  # streams it mirrors or sources (restored before it when backed up)
    subjects: tuple[str, ...]
    messages: int
    bytes: int
    replicas: int  # after the restore
    overrides: Mapping[str, Any] = field(default_factory=dict)

    @property
    def bucket(self) -> str | None:
        """The KV bucket or object store name, for those kinds."""
        return self.stream.split("_", 1)[1] if self.kind in ("kv", "object") else None


@dataclass(frozen=True)
class AccountRestorePlan:
    directory: Path
    steps: tuple[RestoreStep, ...]
    skip_existing: bool = False  # leave streams that exist alone instead of refusing


@dataclass(frozen=True)
class AccountRestore:
    """What ``restore --all`` did: every stream restored, in order."""

    directory: str
    restored: tuple[RestoreResult, ...]
    skipped: tuple[str, ...]  # existed already (--skip-existing): left as they were
    seconds: float


def _kind(cfg: Mapping[str, Any]) -> str:
    name = str(cfg.get("name", ""))
    if cfg.get("mirror"):
        return "mirror"
    if cfg.get("sources"):
        return "sourced"
    if name.startswith("KV_"):
        return "kv"
    if name.startswith("OBJ_"):
        return "object"
    return "stream"


def _origins(cfg: Mapping[str, Any]) -> tuple[str, ...]:
    links = ([cfg["mirror"]] if cfg.get("mirror") else []) + list(cfg.get("sources") or [])
    # an origin in another account or domain (external) is not restored here
    return tuple(sorted({str(s.get("name")) for s in links
                         if s.get("name") and not s.get("external")}))


def _archives(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise UsageError(f"--all {directory}: not a folder (give the folder `natsops stream "
                         "backup --all` wrote)")
    found = sorted(p for p in directory.iterdir() if not p.name.startswith(".") and (
        (p.is_file() and p.suffix in (".tar", ".tgz")) or (p / "backup.json").is_file()))
    if not found:
        raise UsageError(f"no backups in {directory} (expected <stream>.tar archives)")
    return found


def dependency_order(origins: Mapping[str, Sequence[str]]) -> list[str]:
    """Stream names with every origin (that is itself in ``origins``) before the streams that
    mirror or source it; ties by name. Streams in a cycle (sources can loop) come last, by name:
    the server accepts a source that does not exist yet."""
    left = {n: {o for o in deps if o in origins and o != n} for n, deps in origins.items()}
    order: list[str] = []
    while left:
        ready = sorted(n for n, deps in left.items() if not deps)
        if not ready:
            order.extend(sorted(left))
            break
        for n in ready:
            order.append(n)
            del left[n]
        for deps in left.values():
            deps.difference_update(ready)
    return order


def plan_restore_all(directory: Path, *, replicas: int | None = None,
                     max_bytes: str | None = None, cluster: str | None = None,
                     tags: Sequence[str] | None = None,
                     skip_existing: bool = False) -> AccountRestorePlan:
    """Read and check every backup in ``directory`` (no server needed); order the restores.

    UsageError before anything is restored for an unreadable or damaged archive (size, SHA-256
    and format checked as ``stream backup --verify`` does), two archives of one stream, or a
    ``max_bytes`` some backup does not fit in.
    """
    if replicas is not None and not 1 <= replicas <= 5:
        raise UsageError("--replicas must be between 1 and 5")
    sources: dict[str, BackupSource] = {}
    for path in _archives(Path(directory)):
        src, findings = verify_backup(path)
        bad = [f for f in findings if f.severity >= Severity.FAIL]
        if bad:
            raise UsageError(f"{path}: {bad[0].message}; nothing was restored",
                             hint=bad[0].fix or "take a new backup of that stream")
        name = str(src.config["name"])
        if name in sources:
            raise UsageError(f"{sources[name].path} and {path} both hold stream {name}; "
                             "keep one of them")
        sources[name] = src
    steps = []
    for name in dependency_order({n: _origins(s.config) for n, s in sources.items()}):
        src = sources[name]
        steps.append(RestoreStep(
            stream=name, kind=_kind(src.config), path=src.path, origins=_origins(src.config),
            subjects=tuple(src.config.get("subjects") or ()), messages=src.manifest.messages,
            bytes=src.manifest.bytes,
            replicas=replicas or int(src.config.get("num_replicas", 1) or 1),
            overrides=restore_overrides(src, max_bytes, cluster, tags)))
    return AccountRestorePlan(directory=Path(directory), steps=tuple(steps),
                              skip_existing=skip_existing)


async def check_restore_all(conn: Conn, plan: AccountRestorePlan) -> tuple[str, ...]:
    """Refuse the whole restore when a stream name or subject is in use (Conflict naming all
    of them); read-only. With ``plan.skip_existing`` streams that exist are not refused but
    returned: they will be skipped."""
    existing = set(await list_stream_names(conn))
    taken = tuple(s.stream for s in plan.steps if s.stream in existing)
    if taken and not plan.skip_existing:
        raise Conflict(f"stream(s) {', '.join(taken)} already exist; nothing was restored",
                       hint="remove them, or leave them as they are and restore the rest with "
                            "--skip-existing (e.g. after a restore --all failed part-way)")
    for step in plan.steps:
        for subj in step.subjects if step.stream not in taken else ():
            users = await list_stream_names(conn, subj)
            if users:
                raise Conflict(f"subject {subj} of {step.stream} is used by stream "
                               f"{users[0]}; nothing was restored",
                               hint="delete that stream, or restore that archive alone with "
                                    "--subjects")
    return taken


async def _check_bucket(conn: Conn, step: RestoreStep) -> None:
    """Open a restored bucket the way clients do (nats-py's KV / object store API)."""
    try:
        if step.kind == "kv":
            await conn.js.key_value(str(step.bucket))
        else:
            await conn.js.object_store(str(step.bucket))
    except Exception as exc:
        raise ServerError(f"{step.stream} was restored but does not open as a "
                          f"{'KV bucket' if step.kind == 'kv' else 'object store'}: "
                          f"{exc or type(exc).__name__}") from None


async def restore_all(
    conn: Conn,
    plan: AccountRestorePlan,
    *,
    stall_timeout: float = 10.0,
    ready_timeout: float = 60.0,
    on_step: Callable[[RestoreStep], None] | None = None,
    progress: Progress = no_progress,
) -> AccountRestore:
    """Restore every stream of ``plan`` in its order (after :func:`check_restore_all`).

    On a failure the stream being restored is deleted again (by ``restore_stream``), the ones
    before it stay (each complete and checked), and the error names both lists.
    """
    t0 = time.monotonic()
    skipped = await check_restore_all(conn, plan)
    done: list[RestoreResult] = []
    for i, step in enumerate(plan.steps):
        if step.stream in skipped:
            continue
        if on_step is not None:
            on_step(step)
        try:
            res = await restore_stream(conn, step.path, replicas=step.replicas,
                                       overrides=step.overrides, stall_timeout=stall_timeout,
                                       ready_timeout=ready_timeout, progress=progress)
            done.append(res)
            if step.kind in ("kv", "object"):
                await _check_bucket(conn, step)
        except (NatsopsError, asyncio.CancelledError, KeyboardInterrupt) as exc:
            left = [s.stream for s in plan.steps[i:] if s.stream not in
                    {r.stream for r in done} | set(skipped)]
            kept = ", ".join(r.stream for r in done) or "none"
            note_cleanup(exc, f"restored before this (complete, checked, kept): {kept}; "
                              f"not restored: {', '.join(left)} (re-run with --skip-existing "
                              "to restore those)")
            raise
    return AccountRestore(directory=str(plan.directory), restored=tuple(done),
                          skipped=skipped, seconds=time.monotonic() - t0)
