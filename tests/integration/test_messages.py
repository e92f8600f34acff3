"""``pub``, ``sub``, ``req``, ``reply`` against a real server."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from natsops.cli.main import app
from tests.integration._procs import Background

runner = CliRunner()


@pytest.fixture
def bg(tmp_path: Path) -> Iterator[list[Background]]:
    procs: list[Background] = []
    yield procs
    for p in procs:
        p.stop()


def start(bg: list[Background], tmp: Path, *args: str) -> Background:
    p = Background(tmp, *args)
    bg.append(p)
    return p


def test_pub_sub_headers_count_binary_json(nats_server: Any, unique: Any, tmp_path: Path,
                                           bg: list[Background]) -> None:
    subj = f"t.{unique('S')}"
    sub = start(bg, tmp_path, "-s", nats_server.url, "sub", subj, "--count", "3", "--json")
    sub.wait_for("subscribed to")
    res = runner.invoke(app, ["-s", nats_server.url, "pub", subj, "m {{Count}}", "--count", "2",
                              "-H", "trace:abc", "-H", "k: v"])
    assert res.exit_code == 0, res.output
    assert "published 2 message(s)" in res.stderr + res.stdout
    res = runner.invoke(app, ["-s", nats_server.url, "pub", subj], input=b"\x00\xff\x1b[2J")
    assert res.exit_code == 0, res.output
    rc, out, err = sub.finish()
    assert rc == 0, err
    msgs = [json.loads(line) for line in out.splitlines()]
    assert [m["data"] for m in msgs[:2]] == ["m 1", "m 2"]
    assert msgs[0]["headers"] == {"trace": "abc", "k": "v"}
    assert msgs[2]["encoding"] == "base64"
    assert base64.b64decode(msgs[2]["data"]) == b"\x00\xff\x1b[2J"


def test_sub_text_shows_binary_safely(nats_server: Any, unique: Any, tmp_path: Path,
                                      bg: list[Background]) -> None:
    subj = f"t.{unique('B')}"
    sub = start(bg, tmp_path, "-s", nats_server.url, "sub", subj, "--count", "1", "--headers")
    sub.wait_for("subscribed to")
    res = runner.invoke(app, ["-s", nats_server.url, "pub", subj, "-H", "a:b"],
                        input=b"\x00\xff\x1b[2J")
    assert res.exit_code == 0, res.output
    rc, out, _ = sub.finish()
    assert rc == 0
    assert f'[#1] Received on "{subj}" (6 bytes)' in out
    assert "a: b" in out
    assert "\\x00\\xff\\x1b[2J" in out
    assert "\x1b" not in out


def test_req_reply_round_trip(nats_server: Any, unique: Any, tmp_path: Path,
                              bg: list[Background]) -> None:
    subj = f"svc.{unique('R')}"
    rep = start(bg, tmp_path, "-s", nats_server.url, "reply", subj, "pong {{Count}}",
                "--count", "1", "--json")
    rep.wait_for("subscribed to")
    res = runner.invoke(app, ["-s", nats_server.url, "req", subj, "ping", "-H", "x:1", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["data"] == "pong 1"
    rc, out, err = rep.finish()
    assert rc == 0, err
    got = json.loads(out)
    assert (got["data"], got["headers"]) == ("ping", {"x": "1"})
    assert got["reply"].startswith("_INBOX.")


def test_pub_js_prints_the_ack(nats_server: Any, unique: Any) -> None:
    import nats

    name = unique("PUBJS")

    async def add() -> None:
        nc = await nats.connect(nats_server.url)
        await nc.jetstream().add_stream(name=name, subjects=[f"{name}.>"])
        await nc.close()

    asyncio.run(add())
    res = runner.invoke(app, ["-s", nats_server.url, "pub", f"{name}.a", "x", "--count", "2",
                              "--js", "--json"])
    assert res.exit_code == 0, res.output
    acks = json.loads(res.stdout)
    assert [(a["stream"], a["seq"]) for a in acks] == [(name, 1), (name, 2)]
    res = runner.invoke(app, ["-s", nats_server.url, "pub", f"{name}.b", "y", "--js"])
    assert f"stored in {name} at sequence 3" in res.stdout + res.stderr


@pytest.mark.parametrize(("args", "code", "text"), [
    (["pub", "a..b", "x"], 2, "invalid subject"),
    (["pub", "a.*", "x"], 2, "invalid subject (no wildcards)"),
    (["pub", "a", "x", "-H", "novalue"], 2, "invalid header"),
    (["pub", "a", "x", "--count", "0"], 2, "--count must be at least 1"),
    (["pub", "nostream.here", "x", "--js"], 4, "no stream listens on nostream.here"),
    (["req", "nobody.home", "x"], 4, "no responders on nobody.home"),
    (["sub", "a.>.b"], 2, "invalid subject"),
])
def test_bad_input(nats_server: Any, args: list[str], code: int, text: str) -> None:
    res = runner.invoke(app, ["-s", nats_server.url, *args])
    assert res.exit_code == code, res.output
    lines = res.stderr.strip().splitlines()
    assert lines[0].startswith("error:") and text in lines[0], res.stderr
    assert "Traceback" not in res.output
