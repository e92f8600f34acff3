"""Global options where natscli users type them: before or after the command (issue 12)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from natsops.cli import main
from natsops.cli.main import COMMANDS, app, lift_global_options, load_command

runner = CliRunner()


def _lift(*args: str) -> list[str]:
    root = get_command(app)
    ctx = root.make_context("natsops", ["--help"], resilient_parsing=True)
    return lift_global_options(root, ctx, list(args))


def test_global_options_after_the_command_are_lifted() -> None:
    assert _lift("stream", "ls", "--context", "X", "-s", "nats://h:4222") == [
        "--context", "X", "-s", "nats://h:4222", "stream", "ls"]
    assert _lift("stream", "ls", "--server=nats://h", "-snats://i", "-vv", "--tlsfirst") == [
        "--server=nats://h", "-snats://i", "-vv", "--tlsfirst", "stream", "ls"]
    # a group between: `stream cluster step-down X --creds f`
    assert _lift("stream", "cluster", "step-down", "S", "--creds", "a.creds") == [
        "--creds", "a.creds", "stream", "cluster", "step-down", "S"]


def test_values_and_double_dash_are_never_lifted() -> None:
    # the value of a command's own option that looks like a global option stays its value
    assert _lift("stream", "add", "S", "--description", "--context", "--defaults") == [
        "stream", "add", "S", "--description", "--context", "--defaults"]
    # after `--` everything is an argument
    assert _lift("kv", "put", "B", "k", "--", "--user") == ["kv", "put", "B", "k", "--", "--user"]
    # a global option's value that looks like a command name is not a command
    assert _lift("--context", "stream", "server", "ls") == ["--context", "stream", "server", "ls"]


def test_a_commands_own_option_of_the_same_name_wins() -> None:
    # bootstrap --context is bootstrap's (write natscli contexts), import add --token is the
    # import's activation token, a local --json is the command's
    assert _lift("bootstrap", "--context") == ["bootstrap", "--context"]
    args = ["auth", "account", "import", "add", "--token", "T", "--user", "u"]
    assert _lift(*args) == ["--user", "u", *args[:-2]]
    assert _lift("stream", "ls", "--json") == ["stream", "ls", "--json"]
    assert _lift("sizing", "--json") == ["sizing", "--json"]


def _collisions() -> dict[str, list[str]]:
    """Every command path that declares an option string the root also declares."""
    root = get_command(app)
    glob = {o for p in root.params for o in (*p.opts, *p.secondary_opts)}
    found: dict[str, list[str]] = {}

    def walk(cmd: Any, path: str) -> None:
        for p in cmd.params:
            for o in (*p.opts, *p.secondary_opts):
                if o in glob:
                    found.setdefault(o, []).append(path)
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, f"{path} {name}")

    for name in COMMANDS:
        walk(load_command(name), name)
    return found


def test_collisions_are_known_and_mean_the_same_or_are_documented() -> None:
    found = _collisions()
    # --json: the command's own JSON switch (the same meaning); the others are documented in
    # `natsops --help` and stay the command's own
    assert set(found) <= {"--json", "--context", "--token"}, found
    assert found.get("--context") == ["bootstrap", "auth creds generate"]  # a context to write
    assert found.get("--token") == ["auth account import add"]
    r = runner.invoke(app, ["--help"])
    text = " ".join(r.stdout.split())
    assert "before or after the command" in text
    assert "bootstrap --context" in text and "import add --token" in text
    assert "auth creds generate --context" in text


def test_stream_ls_with_context_and_server_after_the_command(nats_server, unique, tmp_path,
                                                             monkeypatch) -> None:  # type: ignore[no-untyped-def]
    name = unique("GLOB")
    ctx_dir = tmp_path / "home" / ".config" / "nats" / "context"
    ctx_dir.mkdir(parents=True)
    (ctx_dir / "local.json").write_text(json.dumps({"url": nats_server.url}))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    r = runner.invoke(app, ["stream", "add", name, "--subjects", f"{name}.>", "--defaults",
                            "-s", nats_server.url])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["stream", "ls", "--context", "local", "--names"])
    assert r.exit_code == 0, r.output
    assert name in r.stdout.split()
    r = runner.invoke(app, ["stream", "ls", "-s", nats_server.url, "--json"])
    assert r.exit_code == 0 and name in json.loads(r.stdout)
    r = runner.invoke(app, ["stream", "rm", name, "--force", f"--server={nats_server.url}"])
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("args", [["stream", "ls", "--bogus"], ["--bogus"],
                                  ["stream", "ls", "--timeout"], ["server", "info", "a", "b"]])
def test_usage_errors_are_one_error_line_and_exit_2(args: list[str]) -> None:
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert lines[0].startswith("error: "), r.stderr
    assert "Error:" not in r.stderr and "Usage:" not in r.stderr
    assert len(lines) <= 2 and (len(lines) == 1 or lines[1].startswith("hint: see 'natsops"))


def _groups() -> list[list[str]]:
    """Every command path that is a group (``stream``, ``stream cluster``, ``server raft``...)."""
    out: list[list[str]] = []

    def walk(cmd: Any, path: list[str]) -> None:
        if hasattr(cmd, "commands"):
            out.append(path)
            for n, sub in cmd.commands.items():
                walk(sub, [*path, n])

    for name in COMMANDS:
        walk(load_command(name), [name])
    return out


def test_group_help_examples_one_per_line_and_summaries_whole() -> None:
    for path in [[n] for n in COMMANDS] + _groups():
        name = " ".join(path)
        r = runner.invoke(app, [*path, "--help"])
        assert r.exit_code == 0, name
        assert " | natsops" not in r.stdout, name
        if "Commands:" in r.stdout:
            listing = r.stdout.split("Commands:")[1].split("Examples:")[0]
            assert "..." not in listing, (name, listing)
        if "Examples:" in r.stdout:
            block = r.stdout.split("Examples:")[1].strip("\n").split("\n\n")[0].splitlines()
            # one command per line (continuations indented deeper), never joined by " | "
            assert block and all(ln.strip().startswith("natsops") or ln.startswith("      ")
                                 for ln in block), (name, block)
    for cmd in (["doctor"], ["top"], ["stream", "add"]):
        r = runner.invoke(app, [*cmd, "--help"])
        assert "Examples:\n    natsops " + " ".join(cmd) in r.stdout, cmd


def test_load_command_is_built_once() -> None:
    assert load_command("stream") is load_command("stream")
    assert main._loaded["stream"] is load_command("stream")
