"""``--timeout`` / ``NATS_TIMEOUT`` is the deadline of every gathering command, not only doctor's
(a frozen HTTP monitor: a socket that accepts and never answers)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from natsops.cli.main import app

runner = CliRunner()


@pytest.fixture(scope="module")
def frozen() -> Iterator[str]:
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(32)
        yield f"http://127.0.0.1:{silent.getsockname()[1]}"


@pytest.mark.parametrize("args", [
    ("server", "ls"), ("server", "info"), ("server", "report", "connections"), ("top", "--once"),
])
def test_gathering_commands_wait_the_given_timeout(frozen: str, args: tuple[str, ...]) -> None:
    r = runner.invoke(app, [*args, "--monitor", frozen, "--timeout", "300ms", "--json"])
    assert r.exit_code == 3, r.output
    assert "within 0.3s" in r.stderr, r.stderr


def test_nats_timeout_env_is_the_gathering_deadline(frozen: str) -> None:
    r = runner.invoke(app, ["server", "ls", "--monitor", frozen], env={"NATS_TIMEOUT": "400ms"})
    assert r.exit_code == 3, r.output
    assert "within 0.4s" in r.stderr, r.stderr



@pytest.mark.parametrize(("flags", "env", "want"), [
    ({"timeout": "750ms"}, {}, 0.75), ({}, {"NATS_TIMEOUT": "2s"}, 2.0), ({}, {}, None)])
def test_only_an_explicit_timeout_is_the_gathering_deadline(
        tmp_path: Path, flags: dict[str, str], env: dict[str, str], want: float | None) -> None:
    """$SYS gatherings that are no Snapshot (report accounts, account info NAME) read the same
    setting as the Snapshot ones."""
    from natsops.access import explicit_timeout, system_access
    from natsops.context import resolve_settings

    settings = resolve_settings(flags, {"HOME": str(tmp_path), **env})
    assert explicit_timeout(settings) == want
    assert system_access(settings, {}, search=tmp_path).gather_timeout == want
