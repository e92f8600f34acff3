"""Back up and restore the whole store (seeds included) as a tar.gz written 0600."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from natsops.auth.store import Store
from natsops.context import write_private
from natsops.errors import Conflict, NotFound, UsageError
from natsops.files import mkdir_private

__all__ = ["ArchiveResult", "backup_store", "restore_store"]


@dataclass(frozen=True)
class ArchiveResult:
    path: Path
    files: int
    seeds: int
    operators: tuple[str, ...]


def backup_store(store: Store, path: Path, *, force: bool = False) -> ArchiveResult:
    """Write every file of the store into ``path`` (tar.gz, mode 0600: it holds seeds)."""
    if not store.operators():
        raise NotFound(f"nothing to back up: no operator in {store.root}")
    if path.exists() and not force:
        raise Conflict(f"{path} exists (use --force to overwrite)")
    buf = io.BytesIO()
    files = seeds = 0
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for f in sorted(store.root.rglob("*")):
            if f.is_file():
                info = tarfile.TarInfo(f.relative_to(store.root).as_posix())
                data = f.read_bytes()
                info.size, info.mode, info.mtime = len(data), 0o600, int(f.stat().st_mtime)
                tar.addfile(info, io.BytesIO(data))
                files += 1
                seeds += f.suffix == ".nk"
    write_private(path, buf.getvalue())
    return ArchiveResult(path, files, seeds, tuple(store.operators()))


def _safe_members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    out = []
    for m in tar.getmembers():
        p = PurePosixPath(m.name)
        if p.is_absolute() or ".." in p.parts:
            raise UsageError(f"archive member {m.name!r} escapes the store")
        if m.isfile():
            out.append(m)
        elif not m.isdir():
            raise UsageError(f"archive member {m.name!r} is not a regular file")
    return out


def _extract(path: Path, dest_root: Path) -> None:
    try:
        with tarfile.open(path, "r:gz") as tar:
            members = _safe_members(tar)
            if not any(m.name.startswith("stores/") for m in members):
                raise UsageError(f"{path} is not a natsops auth backup (no stores/ folder)")
            for m in members:
                src = tar.extractfile(m)
                if src is None:
                    continue
                dest = dest_root / m.name
                dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                write_private(dest, src.read())
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise UsageError(f"{path} is not a natsops auth backup: {exc}") from None


def restore_store(store: Store, path: Path, *, force: bool = False) -> ArchiveResult:
    """Replace the store with the archive's content (refused over a store unless ``force``)."""
    if not path.is_file():
        raise NotFound(f"backup file not found: {path}")
    if store.operators() and not force:
        raise Conflict(f"{store.root} already holds operators {', '.join(store.operators())}",
                       hint="use --force to replace them")
    mkdir_private(store.root.parent)
    tmp = Path(tempfile.mkdtemp(prefix=".restore-", dir=store.root.parent))
    try:
        _extract(path, tmp)
        os.chmod(tmp, 0o700)
        if store.root.exists():
            shutil.rmtree(store.root)
        os.replace(tmp, store.root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    restored = Store(store.root)
    files = [f for f in store.root.rglob("*") if f.is_file()]
    return ArchiveResult(path, len(files), sum(f.suffix == ".nk" for f in files),
                         tuple(restored.operators()))
