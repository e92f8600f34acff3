"""Doctor archives: everything one doctor run gathered, in one file, replayable offline.

``natsops doctor --archive FILE`` writes a gzip-compressed tar holding:

- ``manifest.json``: the format and its version, natsops' version, when and how the gathering
  was made (transport, servers and their versions, missing servers), the checks that ran;
- ``snapshot.json``: the Snapshot (every server's raw monitoring documents, as sent);
- ``previous.json``: the first gathering of a ``--sample`` run, when there was one;
- ``findings.json``: the findings document, as ``doctor --json`` prints it.

``natsops doctor --from FILE`` runs the checks on the archived Snapshot (and its previous one),
with no server: the same findings as the run that wrote it. ``--since FILE`` gives an archive
as the baseline a new run is compared with (see the ``trends`` check).

An archive never holds a secret: every string is masked (:func:`natsops.secrets.mask_data`:
passwords, tokens, nkey seeds, JWTs, URL passwords) before it is written, and the archive file
is created 0600 (it names servers, accounts and subjects).
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from natsops._version import __version__
from natsops.errors import UsageError
from natsops.files import check_output_file, write_atomic
from natsops.findings import Finding, document
from natsops.monitoring.snapshot import Snapshot
from natsops.secrets import mask_data

__all__ = ["FORMAT", "VERSION", "Archived", "read_archive", "snapshot_document", "write_archive"]

FORMAT = "natsops-doctor-archive"
VERSION = 1
MAX_MEMBER = 512 * 1024 * 1024  # a member larger than this is not an archive natsops wrote
_MEMBERS = ("manifest.json", "snapshot.json", "previous.json", "findings.json")


@dataclass(frozen=True)
class Archived:
    """What an archive holds: the Snapshot (with ``previous`` when sampled) and its manifest."""

    snapshot: Snapshot
    manifest: Mapping[str, Any]
    findings: Mapping[str, Any]
    path: Path


def snapshot_document(snap: Snapshot) -> dict[str, Any]:
    """The Snapshot as archived: JSON-safe, with every secret masked."""
    doc: dict[str, Any] = mask_data(snap.to_dict())
    return doc


def _manifest(snap: Snapshot, checks: Sequence[str], taken: float) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "natsops": __version__,
        "written_at": taken,
        "taken_at": snap.taken_at,
        "transport": snap.transport,
        "servers": [{"name": s.name, "version": s.version, "cluster": s.cluster,
                     "domain": s.domain} for s in snap.servers],
        "missing": list(snap.missing),
        "sampled_seconds": (snap.taken_at - snap.previous.taken_at
                            if snap.previous is not None else 0.0),
        "checks": list(checks),
    }


def write_archive(path: Path, snap: Snapshot, findings: Sequence[Finding],
                  checks: Sequence[str]) -> Path:
    """Write ``snap`` and its findings to ``path`` (atomically, 0600); return the path."""
    check_output_file(path)
    parts: dict[str, Any] = {
        "manifest.json": _manifest(snap, checks, time.time()),
        "snapshot.json": snapshot_document(snap),
        "findings.json": mask_data(document(findings)),
    }
    if snap.previous is not None:
        parts["previous.json"] = snapshot_document(snap.previous)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in _MEMBERS:
            if name not in parts:
                continue
            data = json.dumps(parts[name], indent=1, sort_keys=True, default=str).encode()
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
            tar.addfile(info, io.BytesIO(data))
    write_atomic(path, buf.getvalue(), private=True)
    return path


def _not_archive(path: Path, why: str) -> UsageError:
    return UsageError(f"{path}: not a natsops doctor archive ({why})",
                      hint="write one with `natsops doctor --archive FILE`")


def _members(path: Path) -> dict[str, Any]:
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            return _read_members(tar)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a folder, not an archive file") from None
    except PermissionError:
        raise UsageError(f"{path}: permission denied") from None
    except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
        raise _not_archive(path, f"not a readable gzip tar: {exc}") from None


def _read_members(tar: tarfile.TarFile) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in tar.getmembers():
        if m.name not in _MEMBERS or not m.isfile() or m.size > MAX_MEMBER:
            continue
        fh = tar.extractfile(m)
        if fh is not None:
            out[m.name] = json.loads(fh.read())
    return out


def read_archive(path: Path) -> Archived:
    """The Snapshot an archive holds; a file that is not one is a one-line UsageError."""
    parts = _members(path)
    manifest = parts.get("manifest.json")
    if not isinstance(manifest, Mapping) or manifest.get("format") != FORMAT:
        raise _not_archive(path, "no natsops manifest")
    if manifest.get("version") != VERSION:
        raise UsageError(f"{path}: doctor archive version {manifest.get('version')!r}; this "
                         f"natsops reads version {VERSION}", hint="read it with the natsops "
                         f"that wrote it ({manifest.get('natsops', 'unknown version')})")
    snap_doc = parts.get("snapshot.json")
    if not isinstance(snap_doc, Mapping):
        raise _not_archive(path, "snapshot.json is missing")
    try:
        snap = Snapshot.from_dict(snap_doc)
        prev = parts.get("previous.json")
        if isinstance(prev, Mapping):
            snap = snap.with_previous(Snapshot.from_dict(prev))
    except (TypeError, ValueError) as exc:
        raise _not_archive(path, f"snapshot.json is damaged: {exc}") from None
    findings = parts.get("findings.json")
    return Archived(snapshot=snap, manifest=manifest,
                    findings=findings if isinstance(findings, Mapping) else {}, path=path)
