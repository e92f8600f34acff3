"""The root command: version, help, lazy imports, error contract."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from natsops import __version__
from natsops.cli.main import COMMANDS, app

runner = CliRunner()


def test_version() -> None:
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0
    assert r.stdout.strip() == f"natsops {__version__}"


def test_help_lists_every_group_without_loading_them() -> None:
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0
    for name in COMMANDS:
        assert name in r.stdout
    assert "NATS_URL" in r.stdout


def test_every_group_loads_and_has_help() -> None:
    for name in COMMANDS:
        r = runner.invoke(app, [name, "--help"])
        assert r.exit_code == 0, (name, r.output)
        assert "Usage: natsops" in r.stdout
        assert "--install-completion" not in r.stdout


def test_start_up_imports_no_heavy_library() -> None:
    code = (
        "import sys, runpy\n"
        "for argv in (['natsops', '--version'], ['natsops', '--help'], "
        "['natsops', 'bootstrap', '--help']):\n"
        "    sys.argv = argv\n"
        "    try:\n"
        "        runpy.run_module('natsops.cli.main', run_name='__main__')\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(sorted(m for m in ('nats', 'httpx', 'jinja2', 'yaml', 'pydantic', 'rich.console')"
        " if m in sys.modules), file=sys.stderr)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert p.stderr.strip().splitlines()[-1] == "[]"


def test_unknown_command_is_usage_error() -> None:
    r = runner.invoke(app, ["frobnicate"])
    assert r.exit_code == 2


def test_even_nodes_refused_with_one_line() -> None:
    r = runner.invoke(app, ["bootstrap", "--nodes", "4", "--base-port", "auto"])
    assert r.exit_code == 2
    assert r.stderr.startswith("error: --nodes 4 is even")
    assert "Traceback" not in r.output


def test_render_only_needs_hosts() -> None:
    r = runner.invoke(app, ["bootstrap", "--render-only"])
    assert r.exit_code == 2
    assert "--render-only and --hosts go together" in r.stderr


def test_bad_base_port_and_wait() -> None:
    r = runner.invoke(app, ["bootstrap", "--base-port", "lots"])
    assert r.exit_code == 2 and "--base-port" in r.stderr
    r = runner.invoke(app, ["bootstrap", "--base-port", "auto", "--wait", "forever"])
    assert r.exit_code == 2 and "--wait" in r.stderr


def test_missing_cluster_is_not_found(tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = runner.invoke(app, ["cluster", "status", "--dir", str(tmp_path / "none")])
    assert r.exit_code == 4
    assert "no natsops cluster" in r.stderr


def test_missing_server_binary_is_not_found(tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = runner.invoke(app, ["bootstrap", "--base-port", "auto", "--dir", str(tmp_path / "c"),
                            "--server-bin", str(tmp_path / "nope")])
    assert r.exit_code == 4
    assert "not found" in r.stderr
    assert not (tmp_path / "c").exists()


def test_render_only_writes_configs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "configs"
    r = runner.invoke(app, ["--json", "bootstrap", "--render-only", "--hosts", "a,b,c",
                            "--out", str(out)])
    assert r.exit_code == 0, r.output
    import json

    doc = json.loads(r.stdout)
    assert [h["host"] for h in doc["hosts"]] == ["a", "b", "c"]
    assert (out / "b" / "nats-server.service").is_file()


def test_command_modules_keep_real_annotations() -> None:
    """Typer eval()s postponed (string) annotations of every parameter on every run: a command
    module with `from __future__ import annotations` costs ~10 ms of start-up per invocation."""
    import importlib.util
    from pathlib import Path

    for name, (module, _) in COMMANDS.items():
        spec = importlib.util.find_spec(module.partition(":")[0])
        assert spec is not None and spec.origin is not None
        src = Path(spec.origin).read_text()
        assert "from __future__ import annotations" not in src, (name, module)


def test_confirm_without_a_terminal_names_force(tmp_path) -> None:
    """A destructive command with no terminal to answer fails with exit 2 and names --force."""
    from typer.testing import CliRunner

    from natsops.cli.main import app

    store = tmp_path / "store"
    r = CliRunner().invoke(app, ["auth", "--store", str(store), "operator", "add", "DEMO",
                                 "--sys"])
    assert r.exit_code == 0, r.stderr
    r = CliRunner().invoke(app, ["auth", "--store", str(store), "account", "add", "APP"])
    assert r.exit_code == 0, r.stderr
    r = CliRunner().invoke(app, ["auth", "--store", str(store), "account", "rm", "APP"])
    assert r.exit_code == 2, (r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "not a terminal" in lines[0], r.stderr
    assert "--force" in r.stderr
    r = CliRunner().invoke(app, ["auth", "--store", str(store), "ls", "--json"])
    assert "APP" in r.stdout  # nothing was deleted
