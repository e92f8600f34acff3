"""Run the natsops CLI in-process against a real server and decode its output."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

from typer.testing import CliRunner, Result

from natsops.cli.main import app

runner = CliRunner()


def natsops(url: str | list[str], *args: str, input: str | None = None) -> Result:
    """Run ``natsops -s URL ARGS``; with ``input`` stdin is a terminal the answers are typed at."""
    server = url if isinstance(url, str) else ",".join(url)
    with as_terminal(input is not None):
        return runner.invoke(app, ["-s", server, *args], input=input)


@contextlib.contextmanager
def as_terminal(on: bool = True) -> Iterator[None]:
    """Make the CLI see stdin as a terminal (CliRunner's stdin is not one), so it prompts."""
    from natsops.cli import prompt

    saved = prompt.interactive
    if on:
        prompt.interactive = lambda: True
    try:
        yield
    finally:
        prompt.interactive = saved


def ok_json(url: str | list[str], *args: str) -> Any:
    r = natsops(url, *args, "--json")
    assert r.exit_code == 0, (r.stdout, r.stderr)
    return json.loads(r.stdout)


def one_line_error(r: Result, code: int) -> str:
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    return lines[0]
