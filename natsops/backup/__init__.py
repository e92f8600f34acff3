"""Stream backup and restore over the JetStream snapshot/restore API.

- :mod:`~natsops.backup.archive` -- the archive format (one tar: ``backup.json``,
  ``stream.tar.s2``, ``manifest.json``), its streaming writer, the reader (natsops archives and
  natscli backup folders) and the snapshot checksum
- :mod:`~natsops.backup.snapshot` -- take backups (one stream, or every stream of the account);
  archives are renamed into place only when complete
- :mod:`~natsops.backup.restore` -- restore as R1 under a free name and subjects, compare with
  the manifest, scale and wait for the replicas; a failed restore deletes what it created
- :mod:`~natsops.backup.restore_all` -- restore an account's backup folder in dependency order
  (origins before mirrors and sources, buckets as buckets), placement and limits for every stream
- :mod:`~natsops.backup.verify` -- offline checks as findings, and the restore test (restore
  under a temporary name, compare, remove)

Example::

    from natsops.backup import backup_stream, verify_archive

    async with connect(settings) as conn:
        result = await backup_stream(conn, "ORDERS", Path("orders.tar"))
    checked = await verify_archive(Path("orders.tar"), restore_with=settings)
"""

from __future__ import annotations

from natsops.backup.archive import ARCHIVE_FORMAT, BackupSource, Manifest, open_backup
from natsops.backup.restore import (
    RestoreResult,
    max_bytes_override,
    parse_subjects,
    restore_stream,
)
from natsops.backup.restore_all import (
    AccountRestore,
    AccountRestorePlan,
    RestoreStep,
    bucket_backup,
    check_restore_all,
    placement_override,
    plan_restore_all,
    restore_all,
    restore_overrides,
)
from natsops.backup.snapshot import (
    BackupJob,
    BackupOptions,
    BackupResult,
    backup_all,
    backup_job,
    backup_stream,
)
from natsops.backup.verify import Verification, restore_test, verify_archive, verify_backup

__all__ = [
    "ARCHIVE_FORMAT",
    "AccountRestore",
    "AccountRestorePlan",
    "BackupJob",
    "BackupOptions",
    "BackupResult",
    "BackupSource",
    "Manifest",
    "RestoreResult",
    "RestoreStep",
    "Verification",
    "backup_all",
    "backup_job",
    "backup_stream",
    "bucket_backup",
    "check_restore_all",
    "max_bytes_override",
    "open_backup",
    "parse_subjects",
    "placement_override",
    "plan_restore_all",
    "restore_all",
    "restore_overrides",
    "restore_stream",
    "restore_test",
    "verify_archive",
    "verify_backup",
]
