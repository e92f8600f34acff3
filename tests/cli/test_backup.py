"""`natsops stream backup|restore`, `kv backup`, `object backup` through the CLI, real server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats

from natsops.backup import open_backup
from tests.cli._helpers import natsops, ok_json, one_line_error


async def _make_stream(url: str, name: str, count: int = 25) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(name=name, subjects=[f"{name}.>"])
        for i in range(count):
            await js.publish(f"{name}.e{i % 3}", f"m{i}".encode(), headers={"N": str(i)})
    finally:
        await nc.close()


def _streams(url: str) -> set[str]:
    doc = ok_json(url, "stream", "ls")
    return {s if isinstance(s, str) else s["name"] for s in doc}


def test_backup_verify_restore(nats_server, unique, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = nats_server.url
    name = unique("BK")
    asyncio.run(_make_stream(url, name))
    archive = tmp_path / "orders.tgz"

    doc = ok_json(url, "stream", "backup", name, str(archive), "--no-progress")
    assert doc["stream"] == name and doc["messages"] == 25 and doc["snapshot_sha256"]
    assert archive.is_file()

    # an existing archive is kept unless --force; a missing stream writes nothing
    one_line_error(natsops(url, "stream", "backup", name, str(archive)), 9)
    one_line_error(natsops(url, "stream", "backup", "NOPE_STREAM", str(tmp_path / "n.tgz")), 4)
    assert not (tmp_path / "n.tgz").exists()

    # verify needs no server; --restore-test leaves nothing behind
    r = natsops("nats://127.0.0.1:1", "stream", "backup", "--verify", str(archive))
    assert r.exit_code == 0, r.output
    assert "OK" in r.stdout and "checksum ok" in r.stdout
    before = _streams(url)
    v = ok_json(url, "stream", "backup", "--verify", "--restore-test", str(archive),
                "--no-progress")
    assert {f["id"] for f in v["findings"]} == {"backup/ok", "backup/restore-test"}
    assert _streams(url) == before
    # a restore test that cannot reach a server is a failed check (exit 6), not a crash
    r = natsops("nats://127.0.0.1:1", "stream", "backup", "--verify", "--restore-test",
                str(archive), "--no-progress")
    assert r.exit_code == 6 and "backup/restore-test" in r.stdout, r.output

    # damaged: FAIL (exit 6); not an archive at all: usage error (exit 2)
    src = open_backup(archive)
    data = bytearray(archive.read_bytes())
    data[src.snapshot_offset + 3] ^= 0x55
    bad = tmp_path / "bad.tgz"
    bad.write_bytes(bytes(data))
    r = natsops(url, "stream", "backup", "--verify", str(bad))
    assert r.exit_code == 6 and "backup/checksum" in r.stdout
    junk = tmp_path / "junk.tgz"
    junk.write_text("hello")
    one_line_error(natsops(url, "stream", "backup", "--verify", str(junk)), 2)

    # restore: the name is taken -> 9 and nothing changes; under a new name -> every message
    one_line_error(natsops(url, "stream", "restore", str(archive)), 9)
    copy = f"{name}_C"
    res = ok_json(url, "stream", "restore", str(archive), "--name", copy, "--subjects",
                  f"{copy}.>", "--no-progress")
    assert (res["stream"], res["messages"], res["last_seq"]) == (copy, 25, 25)
    assert ok_json(url, "stream", "info", copy)["state"]["messages"] == 25
    assert natsops(url, "stream", "rm", copy, "--force").exit_code == 0
    assert natsops(url, "stream", "rm", name, "--force").exit_code == 0


def test_backup_usage_errors(tmp_path: Path) -> None:
    url = "nats://127.0.0.1:1"
    one_line_error(natsops(url, "stream", "backup", "ONLYNAME"), 2)
    one_line_error(natsops(url, "stream", "backup", "--restore-test", "X", str(tmp_path / "f")), 2)
    one_line_error(natsops(url, "stream", "backup", "--verify", "A", "B"), 2)
    one_line_error(natsops(url, "stream", "backup", "--all", str(tmp_path), "X"), 2)
    one_line_error(natsops(url, "stream", "backup", "S", "f", "--chunk-size", "10"), 2)
    one_line_error(natsops(url, "stream", "restore", str(tmp_path / "missing.tgz")), 4)


def test_backup_all_and_kv_object_shortcuts(nats_server, unique, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = nats_server.url
    bucket = unique("cfg")
    assert natsops(url, "kv", "add", bucket).exit_code == 0
    assert natsops(url, "kv", "put", bucket, "a", "1").exit_code == 0
    store = unique("fw")
    assert natsops(url, "object", "add", store).exit_code == 0
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"x" * 100_000)
    assert natsops(url, "object", "put", store, str(blob)).exit_code == 0

    out = tmp_path / "all"
    doc = ok_json(url, "stream", "backup", "--all", str(out), "--no-progress")
    names = {b["manifest"]["stream"] for b in doc["backups"]}
    assert {f"KV_{bucket}", f"OBJ_{store}"} <= names
    assert {p.name for p in out.iterdir()} >= {f"KV_{bucket}.tar", f"OBJ_{store}.tar"}

    kvfile = tmp_path / "kv.tar"
    m = ok_json(url, "kv", "backup", bucket, str(kvfile), "--no-progress")
    assert m["stream"] == f"KV_{bucket}"
    objfile = tmp_path / "obj.tar"
    assert ok_json(url, "object", "backup", store, str(objfile), "--no-progress")["stream"] == \
        f"OBJ_{store}"

    # the bucket comes back from its archive
    assert natsops(url, "kv", "rm", bucket, "--force").exit_code == 0
    assert natsops(url, "stream", "restore", str(kvfile), "--no-progress").exit_code == 0
    got = natsops(url, "kv", "get", bucket, "a", "--raw")
    assert got.exit_code == 0 and got.stdout.strip() == "1", got.output
    assert natsops(url, "kv", "rm", bucket, "--force").exit_code == 0
    assert natsops(url, "object", "rm", store, "--force").exit_code == 0
