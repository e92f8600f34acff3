"""natsops.backup without a server: arguments, options, the archive format, offline checks."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from natsops.backup import (
    ARCHIVE_FORMAT,
    BackupOptions,
    Manifest,
    backup_job,
    open_backup,
    parse_subjects,
    verify_backup,
)
from natsops.backup.archive import S2_MAGIC, TarWriter, snapshot_digest
from natsops.backup.restore import _compare, _older_than, _plan_config
from natsops.errors import ServerError, UsageError
from natsops.files import atomic_write
from natsops.findings import Severity
from natsops.jetstream.scale import replicated as _replicated

CONFIG = {"name": "ORDERS", "subjects": ["orders.>"], "num_replicas": 3, "storage": "file",
          "max_bytes": 1 << 30}
STATE = {"messages": 5, "bytes": 500, "first_seq": 1, "last_seq": 6, "num_deleted": 1,
         "consumer_count": 1}
SNAPSHOT = S2_MAGIC + bytes(range(256)) * 40


def make_archive(path: Path, snapshot: bytes = SNAPSHOT, *, config: dict[str, Any] | None = None,
                 sha256_of: bytes | None = None, **manifest: Any) -> Path:
    """An archive written the way backup_stream writes it (streamed member, patched header);
    ``sha256_of`` puts another content's checksum in the manifest (a damaged archive)."""
    import hashlib

    config = config or CONFIG
    digest = hashlib.sha256(snapshot if sha256_of is None else sha256_of).hexdigest()
    m = Manifest.from_stream(config, STATE, snapshot_bytes=len(snapshot),
                             snapshot_sha256=digest, created="now")
    doc = {**m.to_json(), **manifest}
    with atomic_write(path, private=True) as fh:
        tar = TarWriter(fh)
        tar.add_bytes("backup.json", json.dumps({"config": config, "state": STATE}).encode())
        pos = tar.begin_stream("stream.tar.s2")
        fh.write(snapshot)
        tar.end_stream("stream.tar.s2", pos, len(snapshot))
        tar.add_bytes("manifest.json", json.dumps(doc).encode())
        tar.close()
    return path


def test_backup_job_reads_the_arguments() -> None:
    assert backup_job("S", Path("f")).action == "stream"
    assert backup_job(None, None, all_dir=Path("d")).path == Path("d")
    v = backup_job("a.tar", None, verify=True, restore_test=True)
    assert (v.action, v.path, v.restore_test) == ("verify", Path("a.tar"), True)
    assert backup_job(None, Path("b.tar"), verify=True).path == Path("b.tar")
    for args, kw in ((("S", None), {}), (("A", Path("B")), {"verify": True}),
                     ((None, None), {"verify": True}),
                     (("S", Path("f")), {"restore_test": True}),
                     (("S", None), {"all_dir": Path("d")})):
        with pytest.raises(UsageError):
            backup_job(*args, **kw)  # type: ignore[arg-type]


def test_backup_options_are_checked() -> None:
    o = BackupOptions.parse(chunk_size="64KiB", stall_timeout="2s", consumers=False)
    assert (o.chunk_size, o.stall_timeout, o.consumers, o.force) == (65536, 2.0, False, False)
    with pytest.raises(UsageError, match="chunk-size"):
        BackupOptions.parse(chunk_size="10")
    with pytest.raises(UsageError, match="above zero"):
        BackupOptions(stall_timeout=0)


def test_parse_subjects() -> None:
    assert parse_subjects(None) is None and parse_subjects(" , ") is None
    assert parse_subjects("a.>, b.*") == ["a.>", "b.*"]


def test_archive_round_trip_and_verify(tmp_path: Path) -> None:
    src = open_backup(make_archive(tmp_path / "a.tar"))
    assert src.kind == "natsops" and src.manifest.format == ARCHIVE_FORMAT
    assert (src.manifest.stream, src.manifest.replicas, src.snapshot_size) == \
        ("ORDERS", 3, len(SNAPSHOT))
    assert b"".join(src.read_chunks(1000)) == SNAPSHOT
    d = snapshot_digest(src)
    assert d.framed and d.sha256 == src.manifest.snapshot_sha256
    with tarfile.open(src.path) as tf:  # a plain tar any tool can list
        assert [m.name for m in tf] == ["backup.json", "stream.tar.s2", "manifest.json"]
    _, findings = verify_backup(src.path)
    assert [(f.id, f.severity) for f in findings] == [("backup/ok", Severity.OK)]


def test_verify_finds_damage(tmp_path: Path) -> None:
    good = make_archive(tmp_path / "good.tar")
    data = bytearray(good.read_bytes())
    data[open_backup(good).snapshot_offset + 100] ^= 0xFF
    bad = tmp_path / "bad.tar"
    bad.write_bytes(bytes(data))
    ids = {f.id for f in verify_backup(bad)[1] if f.severity == Severity.FAIL}
    assert ids == {"backup/checksum"}
    raw = make_archive(tmp_path / "raw.tar", snapshot=b"not s2 at all", messages=7)
    ids = {f.id for f in verify_backup(raw)[1] if f.severity == Severity.FAIL}
    assert ids == {"backup/format", "backup/state"}
    with pytest.raises(UsageError, match="unsupported backup format"):
        open_backup(make_archive(tmp_path / "v2.tar", format="natsops-stream-backup/2"))


def test_natscli_folder_has_no_checksum(tmp_path: Path) -> None:
    (tmp_path / "backup.json").write_text(json.dumps({"config": CONFIG, "state": STATE}))
    (tmp_path / "stream.tar.s2").write_bytes(SNAPSHOT)
    src, findings = verify_backup(tmp_path)
    assert src.kind == "natscli" and src.manifest.snapshot_sha256 is None
    assert {f.id for f in findings} == {"backup/no-checksum", "backup/ok"}
    (tmp_path / "stream.tar.s2").unlink()
    with pytest.raises(UsageError, match="not a natscli backup"):
        open_backup(tmp_path)


def test_restore_plan_is_r1_then_scaled(tmp_path: Path) -> None:
    src = open_backup(make_archive(tmp_path / "a.tar"))
    config, replicas = _plan_config(src, "COPY", None, ["copy.>"], {"max_bytes": -1})
    assert (config["name"], config["subjects"], config["num_replicas"], replicas) == \
        ("COPY", ["copy.>"], 1, 3)
    assert config["max_bytes"] == -1 and src.config["max_bytes"] == 1 << 30
    assert _plan_config(src, None, 1, None, None)[0]["subjects"] == ["orders.>"]
    for name, reps in (("A.B", None), ("OK", 6)):
        with pytest.raises(UsageError):
            _plan_config(src, name, reps, None, None)


def test_restore_checks() -> None:
    m = Manifest.from_stream(CONFIG, STATE, snapshot_bytes=1, snapshot_sha256=None, created="")
    _compare(m, dict(STATE), "X")
    with pytest.raises(ServerError, match="messages 5 in the backup vs 4 restored"):
        _compare(m, {**STATE, "messages": 4}, "X")
    assert _older_than("2.10.26", (2, 15)) and not _older_than("2.15.0", (2, 15))
    assert not _older_than("", (2, 15))
    peers = [{"name": "n2", "current": True}, {"name": "n3", "current": False}]
    assert _replicated({"cluster": {"leader": "n1", "replicas": peers}}, 3)[0] is False
    peers[1]["current"] = True
    assert _replicated({"cluster": {"leader": "n1", "replicas": peers}}, 3) == \
        (True, "leader 'n1', replicas n2:current, n3:current")
