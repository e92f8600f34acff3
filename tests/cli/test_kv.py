"""`natsops kv` against real servers: the guide's recipe, watch across clients, errors."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import nats

from tests.cli._helpers import natsops, ok_json, one_line_error


async def _nats_py_kv_stream(urls: Any, bucket: str) -> Any:
    nc = await nats.connect(urls)
    try:
        return await nc.jetstream().stream_info(f"KV_{bucket}")
    finally:
        await nc.close()


def test_guide_kv_recipe_on_cluster(nats_cluster, unique) -> None:
    urls, b = nats_cluster.urls, unique("SESSIONS")
    assert natsops(urls, "kv", "add", b, "--replicas=3", "--ttl=24h").exit_code == 0
    si = asyncio.run(_nats_py_kv_stream(urls, b))
    assert si.config.num_replicas == 3
    assert si.config.max_age == 24 * 3600
    assert si.config.allow_direct is True  # nats-py's create_key_value would leave it off
    assert si.config.subjects == [f"$KV.{b}.>"]
    assert len(si.cluster.replicas) == 2

    r = natsops(urls, "kv", "put", b, "user.42", '{"role":"admin"}')
    assert r.exit_code == 0, r.stderr
    r = natsops(urls, "kv", "get", b, "user.42")
    assert r.exit_code == 0
    assert r.stdout.strip() == '{"role":"admin"}'
    e = ok_json(urls, "kv", "get", b, "user.42")
    assert e["value"] == '{"role":"admin"}'
    assert e["revision"] == 1
    info = ok_json(urls, "kv", "info", b)
    assert info["replicas"] == 3
    assert info["allow_direct"] is True
    assert len(info["peers"]) == 3
    assert natsops(urls, "kv", "rm", b, "-f").exit_code == 0


def test_placement_and_history(nats_server, unique) -> None:
    url, b = nats_server.url, unique("KVP")
    # nats-py's create_key_value drops placement silently; natsops keeps it
    st = ok_json(url, "kv", "add", b, "--history", "5", "--tags", "az:1",
                 "--max-value-size", "1KB")
    assert st["placement"] == {"tags": ["az:1"]}
    assert st["history"] == 5
    assert st["stream"]["config"]["max_msg_size"] == 1024
    for v in ("a", "b", "c"):
        assert natsops(url, "kv", "put", b, "k", v).exit_code == 0
    hist = ok_json(url, "kv", "history", b, "k")
    assert [h["value"] for h in hist] == ["a", "b", "c"]
    assert ok_json(url, "kv", "get", b, "k", "--revision", "2")["value"] == "b"
    assert ok_json(url, "kv", "ls", b) == ["k"]
    assert b in ok_json(url, "kv", "ls")
    assert natsops(url, "kv", "del", b, "k", "-f").exit_code == 0
    one_line_error(natsops(url, "kv", "get", b, "k"), 4)
    hist = ok_json(url, "kv", "history", b, "k")
    assert [(h["revision"], h["operation"]) for h in hist] == [
        (1, "PUT"), (2, "PUT"), (3, "PUT"), (4, "DEL")]
    assert all(h["created"] and h["created"].endswith("+00:00") for h in hist)
    assert natsops(url, "kv", "purge", b, "k", "-f").exit_code == 0
    assert [h["operation"] for h in ok_json(url, "kv", "history", b, "k")] == ["PURGE"]
    assert "not found" in one_line_error(natsops(url, "kv", "history", b, "never"), 4)
    assert ok_json(url, "kv", "ls", b) == []
    assert natsops(url, "kv", "rm", b, "-f").exit_code == 0


def test_kv_errors(nats_server) -> None:
    url = nats_server.url
    assert "not found" in one_line_error(natsops(url, "kv", "info", "NOPE_B"), 4)
    assert "not found" in one_line_error(natsops(url, "kv", "get", "NOPE_B", "k"), 4)
    assert "--history" in one_line_error(natsops(url, "kv", "add", "B", "--history", "65"), 2)
    assert "--ttl" in one_line_error(natsops(url, "kv", "add", "B", "--ttl", "tomorrow"), 2)
    assert "bucket name" in one_line_error(natsops(url, "kv", "add", "a.b"), 2)
    assert "invalid key" in one_line_error(natsops(url, "kv", "put", "B", "bad key", "v"), 2)


def test_watch_shows_update_from_another_client(nats_server, unique) -> None:
    url, b = nats_server.url, unique("W")
    assert natsops(url, "kv", "add", b).exit_code == 0
    assert natsops(url, "kv", "put", b, "user.42", "v1").exit_code == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "natsops.cli.main", "-s", url, "kv", "watch", b, "user.42",
         "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())
        assert first["value"] == "v1"

        async def other_client() -> None:
            nc = await nats.connect(url)
            kv = await nc.jetstream().key_value(b)
            await kv.put("user.42", b'{"role":"admin"}')
            await nc.close()

        asyncio.run(other_client())
        second = json.loads(proc.stdout.readline())
        assert second["value"] == '{"role":"admin"}'
        assert second["revision"] == 2
        proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.returncode == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        natsops(url, "kv", "rm", b, "-f")


def test_get_uses_direct_get(nats_server, unique) -> None:
    """Buckets are created with allow_direct, so reads go to $JS.API.DIRECT.GET (any replica)."""
    url, b = nats_server.url, unique("DG")
    assert natsops(url, "kv", "add", b).exit_code == 0
    assert natsops(url, "kv", "put", b, "k", "v").exit_code == 0

    async def observe() -> list[str]:
        nc = await nats.connect(url)
        seen: list[str] = []

        async def cb(msg: Any) -> None:
            seen.append(msg.subject)

        await nc.subscribe("$JS.API.DIRECT.GET.>", cb=cb)
        await nc.flush()
        r = await asyncio.to_thread(natsops, url, "kv", "get", b, "k")
        assert r.exit_code == 0
        await nc.flush()
        await nc.close()
        return seen

    assert f"$JS.API.DIRECT.GET.KV_{b}.$KV.{b}.k" in asyncio.run(observe())
    natsops(url, "kv", "rm", b, "-f")


def test_get_of_binary_value_never_replaces_bytes(nats_server, unique, monkeypatch) -> None:
    """Not UTF-8: the bytes as they are when piped, refused on a terminal; never U+FFFD."""
    url, b = nats_server.url, unique("BIN")
    assert natsops(url, "kv", "add", b).exit_code == 0
    blob = bytes(range(256)) * 3

    async def put() -> None:
        nc = await nats.connect(url)
        try:
            await (await nc.jetstream().key_value(b)).put("blob", blob)
        finally:
            await nc.close()

    asyncio.run(put())
    r = natsops(url, "kv", "get", b, "blob")
    assert r.exit_code == 0, r.stderr
    assert r.stdout_bytes == blob
    r = natsops(url, "kv", "get", b, "blob", "--raw")
    assert r.stdout_bytes == blob
    assert json.loads(natsops(url, "kv", "get", b, "blob", "--json").stdout)["value_b64"]

    from natsops.cli import kv as kv_cli

    monkeypatch.setattr(kv_cli, "_stdout_is_terminal", lambda: True)
    r = natsops(url, "kv", "get", b, "blob")
    assert "768 bytes of binary data" in one_line_error(r, 2)
    assert "--raw" in r.stderr
    assert r.stdout_bytes == b""
    assert natsops(url, "kv", "get", b, "blob", "--raw").stdout_bytes == blob
    natsops(url, "kv", "rm", b, "-f")
