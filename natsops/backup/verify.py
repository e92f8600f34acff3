"""Check backups: offline (manifest, sizes, format, SHA-256) and by a test restore.

The restore test restores the archive under a temporary name (R1, subjects of its own, no
``max_bytes`` reservation), lets :func:`~natsops.backup.restore.restore_stream` compare it with
the manifest, and deletes it again.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from natsops.backup.archive import (
    BackupSource,
    Manifest,
    Progress,
    no_progress,
    open_backup,
    snapshot_digest,
)
from natsops.errors import NatsopsError
from natsops.findings import Finding, Severity, worst

if TYPE_CHECKING:
    from natsops.backup.restore import RestoreResult
    from natsops.connection import Conn
    from natsops.context import Settings

__all__ = ["Verification", "restore_test", "verify_archive", "verify_backup"]


def verify_backup(path: Path) -> tuple[BackupSource, list[Finding]]:
    """Check an archive without a server: manifest, sizes, snapshot format and SHA-256."""
    src = open_backup(path)
    subject = str(path)
    findings: list[Finding] = []
    m = src.manifest
    d = snapshot_digest(src)
    if d.size != m.snapshot_bytes:
        findings.append(Finding.fail("backup/size", subject, f"snapshot is {d.size} bytes, the "
                                     f"manifest says {m.snapshot_bytes}",
                                     evidence={"actual": d.size, "manifest": m.snapshot_bytes}))
    if m.snapshot_sha256 is None:
        findings.append(Finding.info("backup/no-checksum", subject,
                                     "natscli backup: no checksum to verify"))
    elif d.sha256 != m.snapshot_sha256:
        findings.append(Finding.fail(
            "backup/checksum", subject, "snapshot SHA-256 does not match the manifest",
            evidence={"actual": d.sha256, "manifest": m.snapshot_sha256},
            fix="the archive is damaged: take a new backup"))
    if d.size and not d.framed:
        findings.append(Finding.fail("backup/format", subject,
                                     "snapshot does not start with an S2/snappy stream header",
                                     evidence={"first_bytes": d.head.hex()}))
    if m.messages and not d.size:
        findings.append(Finding.fail("backup/empty", subject,
                                     f"manifest lists {m.messages} messages but the snapshot "
                                     "is empty"))
    if str(src.config.get("name")) != m.stream:
        findings.append(Finding.fail("backup/name", subject, "backup.json and manifest name "
                                     "different streams",
                                     evidence={"config": src.config.get("name"),
                                               "manifest": m.stream}))
    if int(src.state.get("messages", -1)) != m.messages:
        findings.append(Finding.fail("backup/state", subject, "backup.json state and manifest "
                                     "disagree on the message count"))
    if worst(findings) < Severity.WARN:
        findings.append(Finding.ok(
            "backup/ok", subject,
            f"{m.stream}: {m.messages} messages, seq {m.first_seq}..{m.last_seq}, "
            f"{m.snapshot_bytes} snapshot bytes" + (", checksum ok" if m.snapshot_sha256 else ""),
            evidence=m.to_json()))
    return src, findings


async def restore_test(conn: Conn, path: Path, *, stall_timeout: float = 10.0,
                       progress: Progress = no_progress) -> RestoreResult:
    """Restore ``path`` under a temporary name, compare it with the manifest, delete it.

    Returns the restore's result (``stream`` is the temporary name). The copy is R1, listens on
    ``natsops.restore-test.<tag>.>`` and has no ``max_bytes``: it reserves no room next to the
    original and overlaps none of its subjects. A failed restore removes its copy itself.
    """
    from natsops.backup.restore import restore_stream  # restore checks archives with this module
    from natsops.jetstream.streams import delete_stream

    tag = secrets.token_hex(4).upper()
    temp = f"{open_backup(path).manifest.stream}_RESTORE_TEST_{tag}"
    res = await restore_stream(conn, path, name=temp, replicas=1,
                               subjects=[f"natsops.restore-test.{tag}.>"],
                               overrides={"max_bytes": -1}, stall_timeout=stall_timeout,
                               progress=progress)
    try:
        await delete_stream(conn, temp)
    except NatsopsError as exc:
        raise NatsopsError(f"the test copy {temp} matched but could not be deleted: {exc}",
                           hint=f"natsops stream rm {temp} --force") from None
    return res


@dataclass(frozen=True)
class Verification:
    """What checking one archive found."""

    source: BackupSource
    findings: tuple[Finding, ...]

    @property
    def manifest(self) -> Manifest:
        return self.source.manifest


async def verify_archive(path: Path, *, restore_with: Settings | None = None,
                         stall_timeout: float = 10.0,
                         progress: Progress = no_progress) -> Verification:
    """Check ``path`` offline; with ``restore_with``, also restore-test it on that server.

    The restore test runs only when the offline checks found no FAIL. Its outcome, a connection
    failure included, is one more finding (``backup/restore-test``).
    """
    src, findings = await asyncio.to_thread(verify_backup, Path(path))
    if restore_with is not None and worst(findings) < Severity.FAIL:
        findings.append(await _restore_test_finding(restore_with, Path(path), stall_timeout,
                                                    progress))
    return Verification(source=src, findings=tuple(findings))


async def _restore_test_finding(settings: Settings, path: Path, stall_timeout: float,
                                progress: Progress) -> Finding:
    from natsops.connection import connect

    try:
        async with connect(settings) as conn:
            res = await restore_test(conn, path, stall_timeout=stall_timeout, progress=progress)
    except NatsopsError as exc:
        return Finding.fail("backup/restore-test", str(path), f"restore test failed: {exc}")
    return Finding.ok("backup/restore-test", str(path),
                      f"restored as {res.stream} ({res.messages} messages, seq {res.first_seq}.."
                      f"{res.last_seq}, {res.consumer_count} consumers), matched, removed",
                      evidence={"seconds": round(res.seconds, 3)})
