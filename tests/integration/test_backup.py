"""Stream backup and restore against real servers: nothing lost, nothing left behind."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import signal
import tarfile
from pathlib import Path
from typing import Any

import pytest
from nats.js.api import ConsumerConfig, StreamConfig
from nats.js.errors import NotFoundError as NatsNotFound

from natsops.backup import BackupOptions, backup_stream, open_backup, restore_stream, verify_backup
from natsops.cluster.process import ServerProcess
from natsops.connection import connect
from natsops.context import Settings
from natsops.errors import Conflict, NotFound, ServerError, Timeout, Unreachable, UsageError
from natsops.findings import Severity


async def fill(js: Any, name: str, subjects: list[str], count: int = 60, size: int = 64,
               replicas: int = 1) -> None:
    await js.add_stream(StreamConfig(name=name, subjects=[f"{name.lower()}.>"],
                                     num_replicas=replicas))
    for i in range(count):
        subj = f"{name.lower()}.{subjects[i % len(subjects)]}"
        await js.publish(subj, f"{i:04d}".encode() * (size // 4), headers={"X-Seq": str(i)})
    # deleted messages in the middle
    for seq in (s for s in (10, 11, 30) if s <= count):
        await js.delete_msg(name, seq)
    await js.add_consumer(name, ConsumerConfig(durable_name="WORK", ack_policy="explicit",
                                               filter_subject=f"{name.lower()}.created.>"))
    sub = await js.pull_subscribe(f"{name.lower()}.created.>", durable="WORK", stream=name)
    for m in await sub.fetch(5, timeout=5):
        await m.ack()


async def messages(js: Any, name: str) -> list[tuple[int, str, dict[str, str] | None, bytes]]:
    info = await js.stream_info(name)
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        try:
            m = await js.get_msg(name, seq)
        except Exception:  # deleted sequence
            continue
        hdrs = {k: v for k, v in (m.headers or {}).items() if not k.startswith("Nats-")}
        out.append((m.seq, m.subject, hdrs or None, m.data))
    return out


async def consumer_state(js: Any, stream: str, name: str) -> tuple[int, int, int, int]:
    ci = await js.consumer_info(stream, name)
    return (ci.delivered.stream_seq, ci.ack_floor.stream_seq, ci.num_pending, ci.num_ack_pending)


async def test_backup_and_restore_under_another_name(nats_server, unique, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    name = unique("ORD")
    archive = tmp_path / "orders.tgz"
    async with connect(nats_server.settings) as conn:
        await fill(conn.js, name, ["created.eu", "created.us", "shipped.eu"])
        before = await messages(conn.js, name)
        cons_before = await consumer_state(conn.js, name, "WORK")
        seen: list[int] = []
        res = await backup_stream(conn, name, archive, progress=lambda d, t: seen.append(d))
        assert archive.is_file() and archive.stat().st_mode & 0o077 == 0
        assert res.manifest.messages == len(before) == 57
        assert res.manifest.num_deleted == 3 and res.manifest.consumer_count == 1
        assert seen and seen[-1] == res.manifest.snapshot_bytes
        assert not list(tmp_path.glob(".*"))  # no temp file left beside the archive

        _, findings = verify_backup(archive)
        assert [f.severity for f in findings] == [Severity.OK]
        # the archive is a plain tar with a natscli-compatible backup.json
        with tarfile.open(archive) as tf:
            assert {m.name for m in tf.getmembers()} == {"backup.json", "stream.tar.s2",
                                                         "manifest.json"}

        # the original still owns the subjects and the name
        with pytest.raises(Conflict, match="already exists"):
            await restore_stream(conn, archive)
        with pytest.raises(Conflict, match="is used by stream"):
            await restore_stream(conn, archive, name=f"{name}_COPY")

        copy = f"{name}_COPY"
        r = await restore_stream(conn, archive, name=copy, subjects=[f"{copy.lower()}.>"])
        assert (r.stream, r.messages, r.first_seq, r.last_seq) == (copy, 57, 1, 60)
        assert await messages(conn.js, copy) == before
        assert await consumer_state(conn.js, copy, "WORK") == cons_before
        await conn.js.delete_stream(copy)
        await conn.js.delete_stream(name)


async def test_r3_stream_restored_to_r3(nats_cluster, unique, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    name = unique("R3B")
    archive = tmp_path / "r3.tar"
    async with connect(nats_cluster.settings) as conn:
        await fill(conn.js, name, ["created.a", "other.b"], count=40, replicas=3)
        before = await messages(conn.js, name)
        cons_before = await consumer_state(conn.js, name, "WORK")
        res = await backup_stream(conn, name, archive)
        assert res.manifest.replicas == 3
        await conn.js.delete_stream(name)
        r = await restore_stream(conn, archive)
        assert r.replicas == 3
        info = await conn.js.stream_info(name)
        assert info.config.num_replicas == 3
        assert info.cluster is not None and len(info.cluster.replicas or []) == 2
        assert all(p.current for p in info.cluster.replicas or [])
        assert await messages(conn.js, name) == before
        assert await consumer_state(conn.js, name, "WORK") == cons_before
        await conn.js.delete_stream(name)


async def test_damaged_archives_restore_nothing(nats_server, unique, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    name = unique("DMG")
    good = tmp_path / "good.tar"
    async with connect(nats_server.settings) as conn:
        await fill(conn.js, name, ["created.x"], count=20)
        await backup_stream(conn, name, good)
        await conn.js.delete_stream(name)

        # a flipped byte in the snapshot: verify fails, restore refuses before touching anything
        src = open_backup(good)
        bad = tmp_path / "flipped.tar"
        data = bytearray(good.read_bytes())
        data[src.snapshot_offset + src.snapshot_size // 2] ^= 0xFF
        bad.write_bytes(bytes(data))
        _, findings = verify_backup(bad)
        assert any(f.id == "backup/checksum" and f.severity == Severity.FAIL for f in findings)
        with pytest.raises(UsageError, match="SHA-256"):
            await restore_stream(conn, bad)
        with pytest.raises(NatsNotFound):
            await conn.js.stream_info(name)

        # garbage that passes the checksum: the server fails the restore, natsops cleans up
        garbage = tmp_path / "garbage.tar"
        write_archive_with_snapshot(good, garbage, b"\xff\x06\x00\x00S2sTwO" + b"\x13" * 5000)
        assert all(f.severity < Severity.FAIL for f in verify_backup(garbage)[1])
        with pytest.raises(ServerError, match=r"restore failed.*(was deleted|no stream was created)"):
            await restore_stream(conn, garbage)
        with pytest.raises(NatsNotFound):
            await conn.js.stream_info(name)

    for junk in (b"", b"not a tar at all" * 100):
        p = tmp_path / "junk.tar"
        p.write_bytes(junk)
        with pytest.raises(UsageError):
            verify_backup(p)


def write_archive_with_snapshot(good: Path, out: Path, snapshot: bytes) -> None:
    with tarfile.open(good) as tf:
        meta = tf.extractfile("backup.json").read()  # type: ignore[union-attr]
        manifest = json.loads(tf.extractfile("manifest.json").read())  # type: ignore[union-attr]
    manifest["snapshot_bytes"] = len(snapshot)
    manifest["snapshot_sha256"] = hashlib.sha256(snapshot).hexdigest()
    with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as tf:
        for name, data in (("backup.json", meta), ("stream.tar.s2", snapshot),
                           ("manifest.json", json.dumps(manifest).encode())):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))


async def test_natscli_backup_directory_restores(nats_server, unique, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    name = unique("CLI")
    archive = tmp_path / "a.tar"
    async with connect(nats_server.settings) as conn:
        await fill(conn.js, name, ["created.x"], count=15)
        await backup_stream(conn, name, archive)
        await conn.js.delete_stream(name)
        d = tmp_path / "natscli"
        d.mkdir()
        with tarfile.open(archive) as tf:
            for m in ("backup.json", "stream.tar.s2"):
                (d / m).write_bytes(tf.extractfile(m).read())  # type: ignore[union-attr]
        r = await restore_stream(conn, d)
        assert r.messages == 13  # 15 published, 2 deleted
        await conn.js.delete_stream(name)


@pytest.fixture
def own_server(server_bin: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    proc = ServerProcess.start(server_bin, ["-js", "-sd", str(tmp_path / "js"), "-a", "127.0.0.1",
                                            "-p", "-1", "-m", "-1"], log_file=tmp_path / "log")
    try:
        yield proc.wait_ready(15)
    finally:
        proc.stop(grace=5)


async def big_stream(js: Any, name: str) -> None:
    await js.add_stream(StreamConfig(name=name, subjects=[f"{name}.>"]))
    # 16 KiB of random bytes each: the S2 snapshot stays ~10 MB, thousands of 4 KiB chunks, so
    # the kill at the first chunk always lands mid-transfer (repeated bytes compress to a few
    # chunks that can all arrive before the first one is written)
    acks = [await js.publish_async(f"{name}.x", os.urandom(16384)) for _ in range(600)]
    await asyncio.gather(*acks)


@pytest.mark.parametrize("how", ["connection", "server"])
async def test_killed_mid_backup_leaves_no_archive(own_server: ServerProcess, tmp_path: Path,
                                                   how: str) -> None:
    settings = Settings(servers=(own_server.client_url,), timeout=3.0)
    archive = tmp_path / "big.tar"
    async with connect(settings) as conn:
        await big_stream(conn.js, "BIG")
        killed = False

        def kill(done: int, total: int | None) -> None:
            nonlocal killed
            if killed:
                return
            killed = True
            if how == "server":
                own_server.signal(signal.SIGKILL)
            else:
                asyncio.get_running_loop().create_task(conn.nc.close())

        with pytest.raises((Unreachable, Timeout)):
            await backup_stream(conn, "BIG", archive, BackupOptions(
                chunk_size=4096, window_size=8192, stall_timeout=3), progress=kill)
    assert killed
    assert not archive.exists()
    assert list(tmp_path.glob(".big.tar.*")) == []


async def test_backup_refuses_to_overwrite_and_missing_stream(nats_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async with connect(nats_server.settings) as conn:
        with pytest.raises(NotFound):
            await backup_stream(conn, "NO_SUCH_STREAM", tmp_path / "x.tar")
        assert not (tmp_path / "x.tar").exists()
        (tmp_path / "exists.tar").write_text("keep me")
        with pytest.raises(Conflict):
            await backup_stream(conn, "NO_SUCH_STREAM", tmp_path / "exists.tar")
        assert (tmp_path / "exists.tar").read_text() == "keep me"
