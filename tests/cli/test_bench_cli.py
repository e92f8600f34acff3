"""`natsops bench` start-up and help, without a server."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from natsops.cli.main import app

runner = CliRunner()


def test_bench_help_imports_no_heavy_library() -> None:
    code = (
        "import sys, runpy\n"
        "sys.argv = ['natsops', 'bench', '--help']\n"
        "try:\n"
        "    runpy.run_module('natsops.cli.main', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('nats', 'httpx', 'jinja2', 'yaml', 'asyncio', 'multiprocessing')"
        " if m in sys.modules), file=sys.stderr)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert p.stderr.strip().splitlines()[-1] == "[]"
    assert "--pub" in p.stdout and "--consume" in p.stdout


def test_bench_help_lists_the_modes() -> None:
    r = runner.invoke(app, ["bench", "--help"])
    assert r.exit_code == 0
    for flag in ("--request", "--js", "--kv", "--consume", "--duration", "--csv", "--no-progress"):
        assert flag in r.stdout
