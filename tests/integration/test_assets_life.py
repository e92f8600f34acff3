"""Assets over their life (issue 19): buckets edited in place, an account restored in one go.

Real servers only: the session's 3-node cluster for replica changes, a clean single server as
the account that is backed up, and a fresh 3-node cluster (one node tagged) to restore into.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js.api import ConsumerConfig, StreamConfig, StreamSource

from natsops.backup import plan_restore_all, restore_all
from natsops.cluster.local import LocalCluster
from natsops.cluster.process import ServerProcess
from natsops.connection import connect
from natsops.context import Settings
from natsops.errors import Conflict, ExitCode
from natsops.faults import cleanup_notes
from natsops.jetstream.kv import BucketOptions, add_bucket
from natsops.jetstream.objects import ObjectBucketOptions, add_object_bucket
from natsops.jetstream.streams import stream_names
from tests.cli._helpers import natsops, one_line_error
from tests.conftest import start_test_cluster

BIG = bytes(range(256)) * 1200  # 307,200 bytes: three 128 KiB chunks


def _servers(urls: str | list[str]) -> list[str]:
    return [urls] if isinstance(urls, str) else list(urls)


async def _stream(urls: str | list[str], name: str) -> dict[str, Any]:
    nc = await nats.connect(servers=_servers(urls))
    try:
        reply = await nc.request(f"$JS.API.STREAM.INFO.{name}", b"", timeout=5)
        return dict(json.loads(reply.data))
    finally:
        await nc.close()


def _all_current(info: dict[str, Any], replicas: int) -> bool:
    cl = info.get("cluster") or {}
    peers = cl.get("replicas") or []
    return bool(cl.get("leader")) and len(peers) == replicas - 1 and all(
        p.get("current") and not p.get("offline") for p in peers)


# ---- kv edit / object edit --------------------------------------------------------------


def test_kv_edit_scales_r1_to_r3_and_returns_with_every_replica_current(nats_cluster, unique, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    urls, bucket = nats_cluster.urls, unique("CFG")

    async def seed() -> None:
        async with connect(nats_cluster.settings) as conn:
            await add_bucket(conn, bucket, BucketOptions(history=4))
            kv = await conn.js.key_value(bucket)
            for i in range(3):
                await kv.put("a.b", f"v{i}".encode())
            await kv.put("other", b"x")

    asyncio.run(seed())
    dry = natsops(urls, "kv", "edit", bucket, "--replicas", "3", "--history", "6", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "num_replicas: 1 -> 3" in dry.stdout and "max_msgs_per_subject: 4 -> 6" in dry.stdout
    assert asyncio.run(_stream(urls, f"KV_{bucket}"))["config"]["num_replicas"] == 1

    r = natsops(urls, "kv", "edit", bucket, "--replicas", "3", "--history", "6", "--force",
                "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["applied"] is True
    # read once, right after the command returned: it waited for the new replicas
    info = asyncio.run(_stream(urls, f"KV_{bucket}"))
    assert info["config"]["num_replicas"] == 3 and info["config"]["max_msgs_per_subject"] == 6
    assert _all_current(info, 3), info["cluster"]

    async def values() -> tuple[list[bytes], bytes, list[str]]:
        nc = await nats.connect(servers=urls)
        try:
            kv = await nc.jetstream().key_value(bucket)
            hist = [data for _, _, data in await _history(nc.jetstream(), bucket, "a.b")]
            return hist, bytes((await kv.get("other")).value or b""), sorted(await kv.keys())
        finally:
            await nc.close()

    assert asyncio.run(values()) == ([b"v0", b"v1", b"v2"], b"x", ["a.b", "other"])

    # kv restore: the bucket comes back under its name, as R3, readable as a bucket
    archive = tmp_path / "kv.tar"
    assert natsops(urls, "kv", "backup", bucket, str(archive)).exit_code == 0
    err = one_line_error(natsops(urls, "object", "restore", str(archive)), ExitCode.USAGE)
    assert f"holds stream KV_{bucket}, not an object store" in err
    err = one_line_error(natsops(urls, "kv", "restore", str(archive)), ExitCode.CONFLICT)
    assert "already exists" in err
    assert natsops(urls, "kv", "rm", bucket, "--force").exit_code == 0
    r = natsops(urls, "kv", "restore", str(archive), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["replicas"] == 3
    assert asyncio.run(values()) == ([b"v0", b"v1", b"v2"], b"x", ["a.b", "other"])

    # and back down: returns once the removed replicas are gone
    assert natsops(urls, "kv", "edit", bucket, "--replicas", "1", "--force").exit_code == 0
    info = asyncio.run(_stream(urls, f"KV_{bucket}"))
    assert info["config"]["num_replicas"] == 1 and not info["cluster"].get("replicas")


def test_object_edit_changes_description_and_size_objects_still_read(nats_cluster, unique) -> None:  # type: ignore[no-untyped-def]
    urls, bucket = nats_cluster.urls, unique("FILES")

    async def seed() -> None:
        async with connect(nats_cluster.settings) as conn:
            await add_object_bucket(conn, bucket, ObjectBucketOptions(description="old"))
            await (await conn.js.object_store(bucket)).put("big.bin", BIG)

    asyncio.run(seed())
    r = natsops(urls, "object", "edit", bucket, "--description", "firmware images",
                "--max-bucket-size", "10MB", "--force")
    assert r.exit_code == 0, r.output
    assert 'description: "old" -> "firmware images"' in r.stdout
    cfg = asyncio.run(_stream(urls, f"OBJ_{bucket}"))["config"]
    assert cfg["description"] == "firmware images" and cfg["max_bytes"] == 10 * 1024 * 1024

    async def read() -> tuple[bytes, str]:
        nc = await nats.connect(servers=urls)
        try:
            res = await (await nc.jetstream().object_store(bucket)).get("big.bin")
            return bytes(res.data or b""), str(res.info.digest)
        finally:
            await nc.close()

    data, digest = asyncio.run(read())
    assert data == BIG and digest.endswith("=")

    # what the server cannot do is refused with the reason, before anything is sent
    err = one_line_error(natsops(urls, "object", "edit", bucket, "--storage", "memory",
                                 "--force"), ExitCode.USAGE)
    assert "cannot change the storage" in err and "from file to memory" in err
    err = one_line_error(natsops(urls, "object", "edit", bucket, "--max-bucket-size", "100KB",
                                 "--force"), ExitCode.USAGE)
    assert "would delete data" in err
    after = asyncio.run(_stream(urls, f"OBJ_{bucket}"))
    assert after["config"]["storage"] == "file" and after["state"]["bytes"] > len(BIG)


# ---- restore --all ------------------------------------------------------------------------


@contextlib.contextmanager
def _single_server(server_bin: Path, d: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess.start(server_bin, ["-js", "-sd", str(d / "js"), "-a", "127.0.0.1",
                                            "-p", "-1", "-m", "-1", "-n", "natsops-src"],
                               log_file=d / "nats-server.log")
    try:
        yield proc.wait_ready(15)
    finally:
        proc.stop(grace=5)


@pytest.fixture(scope="module")
def tagged_cluster(server_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A fresh 3-node cluster FRESH whose node n3 alone carries the tag az:c."""
    cluster = start_test_cluster(tmp_path_factory.mktemp("fresh"), server_bin, name="FRESH",
                                 tags={"n3": ["az:c"]})
    try:
        yield cluster
    finally:
        cluster.stop_all(grace=5)


async def _seed_account(url: str, names: dict[str, str]) -> None:
    """Streams (one with a durable consumer part-way), a mirror of one, a stream sourcing it,
    a KV bucket with history, an object store with a multi-chunk object; returns once the
    mirror and the source caught up."""
    orders, mirror, agg = names["orders"], names["mirror"], names["agg"]
    async with connect(Settings(servers=(url,), timeout=5.0)) as conn:
        js = conn.js
        await js.add_stream(StreamConfig(name=orders, subjects=[f"{orders.lower()}.>"]))
        for i in range(40):
            await js.publish(f"{orders.lower()}.{'eu' if i % 2 else 'us'}", f"o{i}".encode(),
                             headers={"X-N": str(i)})
        await js.delete_msg(orders, 7)
        await js.add_consumer(orders, ConsumerConfig(durable_name="WORK", ack_policy="explicit"))
        psub = await js.pull_subscribe(f"{orders.lower()}.>", durable="WORK", stream=orders)
        for m in await psub.fetch(6, timeout=5):
            await m.ack()
        await js.add_stream(StreamConfig(name=names["plain"], subjects=[names["plain"]]))
        await js.publish(names["plain"], b"solo")
        await js.add_stream(StreamConfig(name=mirror, mirror=StreamSource(name=orders)))
        await js.add_stream(StreamConfig(name=agg, subjects=[f"{agg.lower()}.own"],
                                         sources=[StreamSource(name=orders)]))
        await js.publish(f"{agg.lower()}.own", b"own")
        await add_bucket(conn, names["kv"], BucketOptions(history=5))
        kv = await js.key_value(names["kv"])
        for i in range(4):
            await kv.put("cfg.level", f"L{i}".encode())
        await kv.put("cfg.gone", b"bye")
        await kv.delete("cfg.gone")
        await add_object_bucket(conn, names["obj"], ObjectBucketOptions())
        obs = await js.object_store(names["obj"])
        await obs.put("big.bin", BIG)
        await obs.put("small.txt", b"hello")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            m, a = (await js.stream_info(mirror)).state, (await js.stream_info(agg)).state
            if m.messages == 39 and a.messages == 40:
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the mirror and the source did not catch up")


async def _account_state(urls: list[str], names: dict[str, str]) -> dict[str, Any]:
    """What an independent nats-py client sees: every message with headers, KV histories,
    object bytes and digests."""
    nc = await nats.connect(servers=urls)
    js = nc.jetstream()
    out: dict[str, Any] = {}
    try:
        for key in ("orders", "plain", "mirror", "agg"):
            name = names[key]
            st = (await js.stream_info(name)).state
            msgs = []
            for seq in range(st.first_seq, st.last_seq + 1):
                try:
                    m = await js.get_msg(name, seq)
                except nats.js.errors.NotFoundError:
                    continue
                msgs.append((m.seq, m.subject, m.data, sorted((m.headers or {}).items())))
            out[key] = (st.messages, st.bytes, st.first_seq, st.last_seq, msgs)
        ci = await js.consumer_info(names["orders"], "WORK")
        out["consumer"] = (ci.delivered.stream_seq, ci.ack_floor.stream_seq, ci.num_pending,
                           ci.num_ack_pending)
        kv = await js.key_value(names["kv"])
        out["kv"] = {k: await _history(js, names["kv"], k) for k in ("cfg.level", "cfg.gone")}
        out["kv_keys"] = await _keys(kv)
        obs = await js.object_store(names["obj"])
        objs = {}
        for name in ("big.bin", "small.txt"):
            res = await obs.get(name)
            objs[name] = (hashlib.sha256(res.data or b"").hexdigest(), res.info.digest,
                          res.info.size, res.info.chunks)
        out["obj"] = objs
    finally:
        await nc.close()
    return out


async def _history(js: Any, bucket: str, key: str) -> list[tuple[int, str, bytes]]:
    """Every stored revision of ``key`` (sequence, KV-Operation, value), read with plain
    message gets by subject: nats-py's ``history()`` can miss them all (nats.py #842)."""
    out, seq = [], 1
    while True:
        try:
            m = await js.get_msg(f"KV_{bucket}", seq=seq, subject=f"$KV.{bucket}.{key}",
                                 next=True)
        except nats.js.errors.NotFoundError:
            return out
        out.append((m.seq, str((m.headers or {}).get("KV-Operation", "PUT")), m.data or b""))
        seq = m.seq + 1


async def _keys(kv: Any) -> list[str]:
    """nats-py's ``keys()``; its watcher can report "no keys" on a loaded machine when the
    history reads of the same bucket just worked: asked again until a deadline."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return sorted(await kv.keys())
        except nats.js.errors.NoKeysError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


def test_restore_all_rebuilds_an_account_on_a_fresh_tagged_cluster(server_bin, tagged_cluster, unique, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    names = {"orders": unique("ORD"), "plain": unique("PLAIN"), "mirror": unique("MIR"),
             "agg": unique("AGG"), "kv": unique("cfg"), "obj": unique("blobs")}
    streams = {**{k: names[k] for k in ("orders", "plain", "mirror", "agg")},
               "kv": f"KV_{names['kv']}", "obj": f"OBJ_{names['obj']}"}
    backup_dir, target = tmp_path / "backup", tagged_cluster.client_urls
    with _single_server(server_bin, tmp_path / "src") as src:
        asyncio.run(_seed_account(src.client_url, names))
        before = asyncio.run(_account_state([src.client_url], names))
        r = natsops(src.client_url, "stream", "backup", "--all", str(backup_dir))
        assert r.exit_code == 0, r.output
    assert before["obj"]["big.bin"][3] == 3 and len(before["kv"]["cfg.level"]) == 4
    assert before["consumer"] == (6, 6, 33, 0)

    placed = ["--cluster", "FRESH", "--tag", "az:c"]
    dry = natsops(target, "stream", "restore", "--all", str(backup_dir), *placed, "--dry-run",
                  "--json")
    assert dry.exit_code == 0, dry.output
    order = [s["stream"] for s in json.loads(dry.stdout)["order"]]
    assert sorted(order) == sorted(streams.values())
    assert order.index(names["orders"]) < min(order.index(names["mirror"]),
                                              order.index(names["agg"]))
    kinds = {s["stream"]: s["kind"] for s in json.loads(dry.stdout)["order"]}
    assert kinds[streams["kv"]] == "kv" and kinds[streams["obj"]] == "object"
    assert kinds[names["mirror"]] == "mirror" and kinds[names["agg"]] == "sourced"
    r = natsops(target, "stream", "ls", "--all", "--names", "--json")
    assert json.loads(r.stdout) == []  # the dry run wrote nothing

    r = natsops(target, "stream", "restore", "--all", str(backup_dir), *placed, "--json",
                "--max-bytes", "64MB")
    assert r.exit_code == 0, r.output
    assert [x["stream"] for x in json.loads(r.stdout)["restored"]] == order
    after = asyncio.run(_account_state(target, names))
    assert after == before
    for name in streams.values():
        info = asyncio.run(_stream(target, name))
        assert info["config"]["placement"] == {"cluster": "FRESH", "tags": ["az:c"]}, name
        assert info["config"]["max_bytes"] == 64 * 1024 * 1024, name
        assert info["cluster"]["leader"] == "n3", name  # only n3 has the tag

    # a single restore takes the same placement flags
    copy = unique("ORDCOPY")
    r = natsops(target, "stream", "restore", str(backup_dir / f"{names['orders']}.tar"),
                "--name", copy, "--subjects", f"{copy.lower()}.>", *placed)
    assert r.exit_code == 0, r.output
    info = asyncio.run(_stream(target, copy))
    assert info["config"]["placement"] == {"cluster": "FRESH", "tags": ["az:c"]}
    assert info["cluster"]["leader"] == "n3" and info["state"]["messages"] == 39

    # again: every name is taken, so nothing is restored and nothing existing is touched
    err = one_line_error(natsops(target, "stream", "restore", "--all", str(backup_dir)),
                         ExitCode.CONFLICT)
    assert "already exist" in err and names["orders"] in err
    assert asyncio.run(_account_state(target, names)) == before


async def test_restore_all_failing_part_way_names_what_was_restored_and_keeps_existing(server_bin, nats_server, unique, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a, b, c = unique("AAA"), unique("BBB"), unique("CCC")  # restored in this (name) order
    with _single_server(server_bin, tmp_path / "src") as src:
        async with connect(Settings(servers=(src.client_url,), timeout=5.0)) as conn:
            for n in (a, b, c):
                await conn.js.add_stream(StreamConfig(name=n, subjects=[n.lower()]))
                await conn.js.publish(n.lower(), n.encode())
            from natsops.backup import backup_all

            await backup_all(conn, tmp_path / "bk")
    plan = plan_restore_all(tmp_path / "bk")
    assert [s.stream for s in plan.steps] == [a, b, c]

    async def squat() -> None:
        async with connect(nats_server.settings) as other:
            await other.js.add_stream(StreamConfig(name=b, subjects=[f"other.{b.lower()}"]))

    def on_step(step: Any) -> None:
        # someone creates B's name after the checks passed, just before B's turn (another
        # client: its own thread and loop, done before this returns)
        if step.stream == b:
            t = threading.Thread(target=lambda: asyncio.run(squat()))
            t.start()
            t.join()

    async with connect(nats_server.settings) as conn:
        with pytest.raises(Conflict) as exc:
            await restore_all(conn, plan, on_step=on_step)
        msg = str(exc.value)
        assert f"stream {b} already exists" in msg
        assert f"restored before this (complete, checked, kept): {a}" in msg
        assert f"not restored: {b}, {c}" in msg
        si = await conn.js.stream_info(b)  # the squatter's stream was left alone
        assert si.config.subjects == [f"other.{b.lower()}"] and si.state.messages == 0
        assert (await conn.js.stream_info(a)).state.messages == 1
        with pytest.raises(nats.js.errors.NotFoundError):
            await conn.js.stream_info(c)
        # finishing it: what exists is left as it is, the rest is restored
        done = await restore_all(conn, plan_restore_all(tmp_path / "bk", skip_existing=True))
        assert done.skipped == (a, b) and [r.stream for r in done.restored] == [c]
        assert (await conn.js.stream_info(c)).state.messages == 1
        assert (await conn.js.stream_info(b)).state.messages == 0
        for n in (a, b, c):
            await conn.js.delete_stream(n)

        # Ctrl-C / SIGTERM (a cancellation) part-way: the same account of what is where
        def cancel_at_b(step: Any) -> None:
            if step.stream == b:
                task = asyncio.current_task()
                assert task is not None
                task.cancel()

        with pytest.raises(asyncio.CancelledError) as cancelled:
            await restore_all(conn, plan, on_step=cancel_at_b)
        assert cleanup_notes(cancelled.value) == [
            f"restored before this (complete, checked, kept): {a}; not restored: {b}, {c} "
            "(re-run with --skip-existing to restore those)"]
        assert [n for n in await stream_names(conn) if n in (a, b, c)] == [a]
        await conn.js.delete_stream(a)



def test_restore_all_lets_a_mirror_catch_up_with_an_origin_backed_up_later(server_bin, nats_cluster, unique, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    origin, mirror = unique("ORIG"), unique("COPY")

    async def seed(url: str) -> None:
        async with connect(Settings(servers=(url,), timeout=5.0)) as conn:
            await conn.js.add_stream(StreamConfig(name=origin, subjects=[origin.lower()]))
            await conn.js.add_stream(StreamConfig(name=mirror, mirror=StreamSource(name=origin)))
            for i in range(5):
                await conn.js.publish(origin.lower(), str(i).encode())
            deadline = time.monotonic() + 30
            while (await conn.js.stream_info(mirror)).state.messages < 5:
                assert time.monotonic() < deadline, "the mirror did not catch up"
                await asyncio.sleep(0.05)
            from natsops.backup import backup_stream

            await backup_stream(conn, mirror, tmp_path / "bk" / f"{mirror}.tar")
            for i in range(5, 25):  # the origin moves on before its own backup
                await conn.js.publish(origin.lower(), str(i).encode())
            await backup_stream(conn, origin, tmp_path / "bk" / f"{origin}.tar")

    (tmp_path / "bk").mkdir()
    with _single_server(server_bin, tmp_path / "src") as src:
        asyncio.run(seed(src.client_url))
    # R3: while the mirror's replicas catch up it copies the origin's newer messages
    r = natsops(nats_cluster.urls, "stream", "restore", "--all", str(tmp_path / "bk"),
                "--replicas", "3")
    assert r.exit_code == 0, r.output
    assert r.output.index(f"restored {origin}") < r.output.index(f"restored {mirror}")

    async def caught_up() -> int:
        async with connect(nats_cluster.settings) as conn:
            # a mirror retries its origin on a back-off: on a loaded machine this takes a while
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                n = (await conn.js.stream_info(mirror)).state.messages
                if n == 25:
                    break
                await asyncio.sleep(0.05)
            diag = (await _stream(nats_cluster.urls, mirror)).get("mirror"), \
                (await _stream(nats_cluster.urls, mirror)).get("cluster")
            for name in (origin, mirror):
                await conn.js.delete_stream(name)
            return n, diag

    n, diag = asyncio.run(caught_up())
    assert n == 25, diag
