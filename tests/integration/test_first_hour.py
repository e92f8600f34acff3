"""A new user's first hour on real servers: the README, system access, contexts, the cwd.

The README test runs the quick start and the "First five minutes" commands exactly as the README
prints them (parsed from README.md), in subprocesses through the venv's `natsops` entry point,
on a fresh home with no `~/.local/share` and no natscli config.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from natsops.cli.main import app
from natsops.cluster.local import LocalCluster
from natsops.context import config_root, selected_context

runner = CliRunner()
NATSOPS = str(Path(sys.executable).parent / "natsops")
REPO = Path(__file__).resolve().parents[2]


def _section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def _sh_blocks(section: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", section, flags=re.S)


def readme_commands() -> list[list[str]]:
    """The quick start's natsops commands (no venv, no pip install), then the first five
    minutes', one per line, comments removed."""
    text = (REPO / "README.md").read_text()
    quick = _sh_blocks(_section(text, "Quick start"))[0]
    cmds = [shlex.split(part) for part in quick.strip().split("&&")
            if "natsops" in part and "pip install" not in part]
    for block in _sh_blocks(_section(text, "First five minutes")):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words:
                cmds.append(words)
    return cmds


def _fresh_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NATS_", "NATSOPS_", "XDG_"))}
    env.update(HOME=str(home), NO_COLOR="1", COLUMNS="120")
    return env


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    """An empty folder; every cluster started below it is stopped by pid afterwards."""
    work = tmp_path / "work"
    work.mkdir()
    yield work
    for state in work.glob("**/cluster.json"):
        LocalCluster.load(state.parent).stop_all(grace=5)


def test_readme_quick_start_then_first_five_minutes(tmp_path: Path, workdir: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = _fresh_env(home)
    cmds = readme_commands()
    assert cmds[0][-1] == "bootstrap" and ["natsops", "doctor"] in cmds, cmds
    assert cmds[-1][:3] == ["natsops", "cluster", "down"]
    for words in cmds:
        assert words[0].endswith("natsops"), words
        argv = [NATSOPS, *words[1:]]
        if words[1:] == ["bootstrap"]:
            argv += ["--base-port", "auto"]  # 4222 may be taken on a shared machine
        p = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True,
                           timeout=120, check=False)
        assert p.returncode == 0, (words, p.stdout[-2000:], p.stderr[-2000:])
    assert not (home / ".local" / "share").exists() or (home / ".local" / "share").is_dir()
    assert LocalCluster.load(workdir / ".natsops" / "C1").running_nodes() == []


def _run(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


def _bootstrap(directory: Path, *extra: str) -> dict[str, object]:
    code, out, err = _run("bootstrap", "--base-port", "auto", "--dir", str(directory), "--json",
                          *extra)
    assert code == 0, err
    doc: dict[str, object] = json.loads(out)
    return doc


def test_system_access_is_found_after_bootstrap(workdir: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(workdir)
    _bootstrap(Path(".natsops/C1"))
    assert selected_context() == "natsops-C1"  # the APP account: not a system user
    for args in (["doctor"], ["server", "ls"], ["top", "--once", "-d", "0.2s"],
                 ["--no-context", "doctor", "--json"],  # the cluster in ./.natsops/C1
                 ["--context", "natsops-C1", "server", "report", "jetstream"]):
        code, out, err = _run(*args)
        assert code == 0, (args, out, err)
    code, out, _ = _run("doctor", "--json")
    doc = json.loads(out)
    assert doc["servers"] == ["n1", "n2", "n3"] and doc["missing"] == []
    # sizing --from-cluster reaches the cluster too (an idle one needs the rate given)
    code, _, err = _run("sizing", "--from-cluster", "--window", "0.3s", "--msgs-per-sec", "10",
                        "--retention", "1d")
    assert code == 0, err

    # with the -sys context gone, the cluster that owns natsops-C1 still gives its sys user
    ctx_dir = config_root() / "nats" / "context"
    (ctx_dir / "natsops-C1-sys.json").unlink()
    monkeypatch.chdir(workdir.parent)
    code, _, err = _run("doctor")
    assert code == 0, err
    # a context of the user's own (no owner), nothing beside it, no local cluster here: the
    # error names what was tried
    doc = json.loads((ctx_dir / "natsops-C1.json").read_text())
    (ctx_dir / "natsops-C1.json").write_text(json.dumps({**doc, "description": "my app"}))
    code, _, err = _run("doctor")
    assert code == 7, err
    [line] = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert "context natsops-C1: not a system-account user" in line
    assert "no context natsops-C1-sys" in line and "no local cluster in .natsops/*" in line


def test_contexts_belong_to_their_cluster(tmp_path: Path, workdir: Path) -> None:
    first, second = workdir / "a" / "C1", workdir / "b" / "C1"
    _bootstrap(first)
    ctx_dir = config_root() / "nats" / "context"
    before = (ctx_dir / "natsops-C1.json").read_text()
    assert str(first.resolve()) in json.loads(before)["description"]

    # the same name in another directory: refused before anything starts, contexts untouched
    code, _, err = _run("bootstrap", "--base-port", "auto", "--dir", str(second))
    assert code == 9, err
    [line] = [ln for ln in err.splitlines() if ln.strip()]
    assert line.startswith("error: context natsops-C1") and str(first.resolve()) in line
    assert "--name" in line
    assert not LocalCluster.exists(second)
    assert (ctx_dir / "natsops-C1.json").read_text() == before

    # a cluster elsewhere that claims the same names (as an older natsops recorded them) only
    # purges its own contexts
    _bootstrap(second, "--no-write-context")
    other = LocalCluster.load(second)
    other.contexts = ("natsops-C1", "natsops-C1-sys")
    other.save()
    code, _, err = _run("cluster", "down", "--purge", "--force", "--dir", str(second))
    assert code == 0, err
    assert (ctx_dir / "natsops-C1.json").read_text() == before
    code, _, err = _run("stream", "ls", "--json")
    assert code == 0, err

    # purging the owner removes them and clears natscli's selection
    assert selected_context() == "natsops-C1"
    code, _, err = _run("cluster", "down", "--purge", "--force", "--dir", str(first))
    assert code == 0, err
    assert not (ctx_dir / "natsops-C1.json").exists()
    assert selected_context() is None


def test_suite_passes_beside_a_running_local_cluster(workdir: Path) -> None:
    """The README's quick start leaves ./.natsops/C1 running; tests must not care."""
    home = workdir / "home"
    home.mkdir()
    p = subprocess.run([NATSOPS, "bootstrap", "--base-port", "auto"], cwd=workdir,
                       env=_fresh_env(home), capture_output=True, text=True, timeout=120,
                       check=False)
    assert p.returncode == 0, p.stderr
    assert LocalCluster.load(workdir / ".natsops" / "C1").running_nodes()
    tests = [str(REPO / "tests" / "cli" / "test_basics.py"),
             str(REPO / "tests" / "cli" / "test_first_hour.py")]
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "--rootdir", str(REPO), *tests], cwd=workdir,
                       env={**os.environ, "HOME": str(home)}, capture_output=True, text=True,
                       timeout=300, check=False)
    assert p.returncode == 0, p.stdout[-3000:]
