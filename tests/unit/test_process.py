from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from natsops.cluster.process import (
    find_server_binary,
    free_port,
    is_running,
    pid_matches,
    port_is_free,
    server_version,
    stop_pid,
)
from natsops.errors import NotFound


def test_bundled_server_is_found_and_reports_a_version() -> None:
    exe = find_server_binary(env={"PATH": ""})
    assert exe.name == "nats-server"
    major, minor, *_ = server_version(exe).split(".")
    assert (int(major), int(minor)) >= (2, 10)


def test_explicit_binary_wins_and_must_exist(tmp_path: Path) -> None:
    fake = tmp_path / "nats-server"
    fake.write_text("#!/bin/sh\necho 'nats-server: v2.11.0'\n")
    fake.chmod(0o755)
    assert find_server_binary(fake, env={}) == fake.resolve()
    assert find_server_binary(None, env={"NATSOPS_SERVER_BIN": str(fake)}) == fake.resolve()
    assert server_version(fake) == "2.11.0"
    with pytest.raises(NotFound, match="--server-bin"):
        find_server_binary(tmp_path / "missing", env={})
    with pytest.raises(NotFound, match="NATSOPS_SERVER_BIN"):
        find_server_binary(None, env={"NATSOPS_SERVER_BIN": str(tmp_path / "missing")})


def test_port_checks() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert not port_is_free(port)
    p = free_port()
    assert 0 < p < 65536


def test_pid_checks_never_match_foreign_processes() -> None:
    assert is_running(os.getpid())
    assert not pid_matches(os.getpid())  # a python process is not a nats-server
    assert not is_running(0)


def test_stop_pid_terminates_and_reaps() -> None:
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert stop_pid(p.pid, grace=5)
        assert not is_running(p.pid)
        assert not stop_pid(p.pid, grace=1)
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()


def test_write_private_mode(tmp_path: Path) -> None:
    from natsops.context import write_private

    f = tmp_path / "d" / "secret.txt"
    write_private(f, "x")
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert f.read_text() == "x"
