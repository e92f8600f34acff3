"""Tables never break a token: at 80 columns on a terminal and piped (issue 12, item 4).

The terminal runs are real: ``natsops`` in a pseudo-terminal 80 columns wide (COLUMNS=80).
The piped runs go through Typer's runner, whose stdout is not a terminal.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from typing import Any

import pytest
from typer.testing import CliRunner

from natsops.cli.main import app

pytestmark = pytest.mark.cluster
runner = CliRunner()
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_URL = re.compile(r"(?:nats|nats-route|http)://[^\s,]*")


def in_terminal(args: list[str], columns: int = 80, timeout: float = 60) -> tuple[int, str]:
    """Run natsops in a pseudo-terminal ``columns`` wide: (exit code, what the screen got)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {**os.environ, "COLUMNS": str(columns), "TERM": "xterm", "NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "natsops.cli.main", *args], stdin=slave,
                            stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    text = _ANSI.sub("", b"".join(chunks).decode(errors="replace")).replace("\r\n", "\n")
    return code, text


def piped(args: list[str]) -> tuple[int, str]:
    r = runner.invoke(app, args)
    return r.exit_code, r.stdout


def assert_whole(text: str, urls: set[str], names: list[str], *, width: int | None) -> None:
    """Every URL printed is a whole known URL, every name whole on one line."""
    for u in _URL.findall(text):
        assert u in urls, (u, text)
    for line in text.splitlines():
        for m in re.finditer(r"\S*127\.0\.0\.1\S*", line):
            assert re.fullmatch(r"((nats|nats-route|http)://)?127\.0\.0\.1(:\d{2,5})?,?", m.group()), (line, text)
    tokens = [t.strip(",") for t in text.split()]
    for n in names:
        assert n in text, (n, text)
        # a name broken over two lines leaves a token that is a proper prefix or suffix of it
        broken = [t for t in tokens if t != n and len(t) >= 3 and t not in re.split(r"[ _]", n)
                  and (n.startswith(t) or n.endswith(t))]
        assert not broken, (n, broken, text)
        for line in text.splitlines():  # or a line that ends inside one of its words
            end = line.rstrip()
            cut = [k for k in range(2, len(n)) if end.endswith(n[:k]) and n[k] not in " _"
                   and n[k - 1] not in " _" and (len(end) == k or not end[-k - 1].isalnum())]
            assert not cut, (n, line, text)
    if width is None:
        assert all(ln == ln.rstrip() for ln in text.splitlines()), "trailing spaces when piped"


@pytest.fixture(scope="module")
def stream(nats_cluster: Any) -> Any:
    name = f"TABLES_{os.getpid()}_ORDERS_WITH_A_LONG_NAME"
    r = runner.invoke(app, ["-s", ",".join(nats_cluster.urls), "stream", "add", name,
                            "--subjects", f"{name}.>", "--replicas", "3", "--defaults"])
    assert r.exit_code == 0, r.output
    yield name
    runner.invoke(app, ["-s", ",".join(nats_cluster.urls), "stream", "rm", name, "--force"])


@pytest.mark.parametrize("mode", ["terminal", "piped"])
def test_views_never_break_urls_or_names(nats_cluster: Any, stream: str, mode: str) -> None:
    d = str(nats_cluster.cluster.dir)
    c = nats_cluster.cluster
    status = json.loads(runner.invoke(app, ["cluster", "status", "--dir", d, "--json"]).stdout)
    urls = {n[k] for n in status["nodes"] for k in ("client_url", "monitor_url", "cluster_url")}
    version = json.loads(runner.invoke(app, ["server", "ls", "--dir", d, "--json"]).stdout)[0][
        "version"]
    run = in_terminal if mode == "terminal" else piped
    width = 80 if mode == "terminal" else None
    servers = ["n1", "n2", "n3"]
    seen = {}
    for args, names in (
        (["cluster", "status", "--dir", d], servers),
        (["server", "ls", "--dir", d], [*servers, version]),
        (["-s", ",".join(c.client_urls), "stream", "report"], [stream]),
        (["top", "--once", "--delay", "200ms", "--dir", d], [*servers, "natsops top"]),
        (["doctor", "--dir", d], []),
    ):
        code, text = run(args)
        assert code in (0, 6), (args, text)
        assert_whole(text, urls, names, width=width)
        seen[args[0] if args[0] != "-s" else "stream"] = text
    for u in c.client_urls:  # the essential column stays at 80 columns
        assert u in seen["cluster"]
    if mode == "terminal":
        assert "(q or Ctrl-C quits)" not in seen["top"]
        assert "not shown at 80 columns" in seen["cluster"]  # the footer names what was left out
    else:
        assert all(u in seen["cluster"] for u in urls)  # piped: every column
        assert "not shown" not in seen["cluster"]
    # doctor's fix commands whole on one line
    doc = json.loads(runner.invoke(app, ["doctor", "--dir", d, "--json"]).stdout)
    fixes = [f["fix"] for f in doc["findings"] if f.get("fix")]
    lines = seen["doctor"].splitlines()
    assert fixes  # the session cluster's temporary store_dir has one per server
    for fix in fixes:
        assert any(fix in ln for ln in lines), (fix, seen["doctor"])
