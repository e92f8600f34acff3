"""`natsops object` against real servers: the guide's recipe, verified atomic gets."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from pathlib import Path
from typing import Any

import nats

from tests.cli._helpers import natsops, ok_json, one_line_error


async def _obj_stream(urls: Any, bucket: str) -> Any:
    nc = await nats.connect(urls)
    try:
        return await nc.jetstream().stream_info(f"OBJ_{bucket}")
    finally:
        await nc.close()


def test_guide_object_recipe_on_cluster(nats_cluster, unique, tmp_path: Path,
                                        monkeypatch) -> None:
    urls, b = nats_cluster.urls, unique("FIRMWARE")
    assert natsops(urls, "object", "add", b, "--replicas=3").exit_code == 0
    si = asyncio.run(_obj_stream(urls, b))
    assert si.config.num_replicas == 3
    assert si.config.allow_direct is True

    build = tmp_path / "build"
    build.mkdir()
    src = build / "firmware-v1.bin"
    src.write_bytes(os.urandom(1_500_000))
    monkeypatch.chdir(tmp_path)
    r = natsops(urls, "object", "put", b, "./build/firmware-v1.bin")
    assert r.exit_code == 0, r.stderr
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.chdir(out)
    r = natsops(urls, "object", "get", b, "firmware-v1.bin")
    assert r.exit_code == 0, r.stderr
    assert (out / "firmware-v1.bin").read_bytes() == src.read_bytes()
    assert sorted(p.name for p in out.iterdir()) == ["firmware-v1.bin"]

    info = ok_json(urls, "object", "info", b)
    assert info["replicas"] == 3
    assert len(info["peers"]) == 3
    o = ok_json(urls, "object", "info", b, "firmware-v1.bin")
    assert o["size"] == 1_500_000
    assert o["digest"].startswith("SHA-256=")
    assert natsops(urls, "object", "rm", b, "-f").exit_code == 0


def test_get_refuses_overwrite_and_checks_digest(nats_server, unique, tmp_path: Path) -> None:
    url, b = nats_server.url, unique("OB")
    assert natsops(url, "object", "add", b).exit_code == 0
    src = tmp_path / "data.bin"
    src.write_bytes(os.urandom(300_000))
    assert natsops(url, "object", "put", b, str(src), "--name", "d",
                   "--chunk-size", "64KiB").exit_code == 0
    dest = tmp_path / "copy.bin"
    dest.write_bytes(b"keep me")
    one_line_error(natsops(url, "object", "get", b, "d", "-O", str(dest)), 9)
    assert natsops(url, "object", "get", b, "d", "-O", str(dest), "--force").exit_code == 0
    assert dest.read_bytes() == src.read_bytes()
    assert ok_json(url, "object", "ls", b)[0]["chunks"] == 5

    # corrupt the metadata's digest: the get must fail and leave the old file untouched
    async def corrupt() -> None:
        nc = await nats.connect(url)
        js = nc.jetstream()
        subj = f"$O.{b}.M.{base64.urlsafe_b64encode(b'd').decode()}"
        msg = await js.get_last_msg(f"OBJ_{b}", subj)
        meta = json.loads(msg.data)
        meta["digest"] = "SHA-256=" + base64.urlsafe_b64encode(b"\0" * 32).decode()
        await js.publish(subj, json.dumps(meta).encode(), headers={"Nats-Rollup": "sub"})
        await nc.close()

    asyncio.run(corrupt())
    dest.write_bytes(b"old contents")
    line = one_line_error(natsops(url, "object", "get", b, "d", "-O", str(dest), "-f"), 10)
    assert "digest" in line
    assert dest.read_bytes() == b"old contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.bin", "data.bin"]

    assert natsops(url, "object", "rm", b, "d", "-f").exit_code == 0
    assert ok_json(url, "object", "ls", b) == []
    assert natsops(url, "object", "seal", b, "-f").exit_code == 0
    assert ok_json(url, "object", "info", b)["sealed"] is True
    assert natsops(url, "object", "rm", b, "-f").exit_code == 0


def test_object_errors(nats_server, tmp_path: Path) -> None:
    url = nats_server.url
    assert "not found" in one_line_error(natsops(url, "object", "info", "NOPE_O"), 4)
    one_line_error(natsops(url, "object", "put", "NOPE_O", str(tmp_path / "missing")), 2)
    assert "--replicas" in one_line_error(natsops(url, "object", "add", "B", "--replicas", "9"), 2)
