"""``server ls/info/report jetstream`` and ``top`` against the shared cluster."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from natsops.cli.main import app

pytestmark = pytest.mark.cluster
runner = CliRunner()


def invoke(*args: str) -> Any:
    res = runner.invoke(app, list(args))
    assert res.exit_code == 0, res.output
    return res


def test_server_ls_over_sys_and_http(nats_cluster: Any) -> None:
    d = str(nats_cluster.cluster.dir)
    rows = json.loads(invoke("server", "ls", "--dir", d, "--json").stdout)
    assert [r["name"] for r in rows] == ["n1", "n2", "n3"]
    assert all(r["answered"] and r["jetstream"] and r["version"] for r in rows)
    assert all(r["rtt_ms"] is not None and r["routes"] > 0 for r in rows)
    mons = [a for u in nats_cluster.monitor_urls for a in ("--monitor", u)]
    rows = json.loads(invoke("server", "ls", *mons, "--json").stdout)
    assert [r["name"] for r in rows] == ["n1", "n2", "n3"]
    text = invoke("server", "ls", "--dir", d).stdout
    assert "NAME" in text
    assert "n2" in text


def test_server_info_one_server(nats_cluster: Any) -> None:
    d = str(nats_cluster.cluster.dir)
    info = json.loads(invoke("server", "info", "n2", "--dir", d, "--json").stdout)
    assert info["server"]["name"] == "n2"
    assert info["server"]["config_digest"].startswith("sha256:")
    assert info["jetstream"]["meta_cluster_size"] == 3
    res = runner.invoke(app, ["server", "info", "nope", "--dir", d])
    assert res.exit_code == 4
    assert "server 'nope' did not answer" in res.stderr


def test_server_report_jetstream(nats_cluster: Any) -> None:
    d = str(nats_cluster.cluster.dir)
    rep = json.loads(invoke("server", "report", "jetstream", "--dir", d, "--json").stdout)
    assert {r["server"] for r in rep["rows"]} == {"n1", "n2", "n3"}
    assert sum(r["meta_leader"] for r in rep["rows"]) == 1
    assert rep["meta_leader"] in {"n1", "n2", "n3"}
    assert rep["cluster_size"] == 3
    assert len(rep["peers"]) == 3
    assert all(p["online"] for p in rep["peers"])
    assert "Meta group" in invoke("server", "report", "jetstream", "--dir", d).stdout


def test_top_once_json_has_rates(nats_cluster: Any) -> None:
    d = str(nats_cluster.cluster.dir)
    res = invoke("top", "--once", "--json", "--delay", "0.2s", "--dir", d, "--sort", "subs")
    frames = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(frames) == 1
    frame = frames[0]
    assert {s["server"] for s in frame["servers"]} == {"n1", "n2", "n3"}
    assert all(s["in_msgs_rate"] is not None for s in frame["servers"])
    ours = [c for c in frame["connections"] if c["account"] == "SYS"]
    assert ours
    assert ours[0]["out_msgs_rate"] is not None
    text = invoke("top", "--once", "--delay", "0.2s", "--dir", d).stdout
    assert "connections, sorted by pending" in text


def test_top_rejects_bad_sort(nats_cluster: Any) -> None:
    res = runner.invoke(app, ["top", "--once", "--sort", "bogus",
                              "--dir", str(nats_cluster.cluster.dir)])
    assert res.exit_code == 2


def test_top_live_quits_on_q(nats_cluster: Any) -> None:
    """In a terminal (a pty), the live view refreshes until 'q' is pressed, then exits 0."""
    import fcntl
    import os
    import pty
    import select
    import struct
    import subprocess
    import sys
    import termios
    import time
    from pathlib import Path

    natsops = Path(sys.executable).parent / "natsops"
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 250, 0, 0))
    proc = subprocess.Popen([str(natsops), "top", "--dir", str(nats_cluster.cluster.dir),
                             "--delay", "0.2s"], stdin=slave, stdout=slave, stderr=slave,
                            close_fds=True, env={**os.environ, "COLUMNS": "250", "TERM": "xterm"})
    os.close(slave)
    try:
        seen = b""
        deadline = time.monotonic() + 15
        while seen.count(b"sorted by pending") < 2 and time.monotonic() < deadline:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    seen += os.read(master, 65536)
                except OSError:  # the slave side closed: the process is gone
                    break
        assert seen.count(b"sorted by pending") >= 2, seen[-2000:]  # refreshed at least once
        os.write(master, b"q")
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        os.close(master)
