"""The first hour with natsops (issue 12): what a new user types reads well and works."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from natsops.cli.main import app
from tests.cli._helpers import natsops, ok_json, one_line_error

runner = CliRunner()


# ---- stream: empty listings, human diffs, yes/no ------------------------------------------


def test_empty_stream_ls_and_report_say_no_streams(nats_server, unique) -> None:  # type: ignore[no-untyped-def]
    subject = f"{unique('nobody').lower()}.>"
    for cmd in ("ls", "report"):
        r = natsops(nats_server.url, "stream", cmd, "--subject", subject)
        assert r.exit_code == 0, r.output
        assert r.stdout == "", r.stdout
        assert "no streams" in r.stderr


def test_edit_dry_run_diff_in_units_and_booleans_yes_no(nats_server, unique) -> None:  # type: ignore[no-untyped-def]
    url, name = nats_server.url, unique("HUMAN")
    r = natsops(url, "stream", "add", name, "--subjects", f"{name}.>", "--max-age", "1d",
                "--max-bytes", "1GB", "--defaults")
    assert r.exit_code == 0, r.output
    assert "Allow Direct: yes" in r.stdout and "True" not in r.stdout
    r = natsops(url, "stream", "edit", name, "--max-age", "2h", "--max-bytes", "512MB",
                "--dry-run")
    assert r.exit_code == 0, r.output
    assert "max_age: 1d -> 2h" in r.stdout, r.stdout
    assert "max_bytes: 1 GiB -> 512 MiB" in r.stdout, r.stdout
    assert "86400000000000" not in r.stdout
    edit = ok_json(url, "stream", "edit", name, "--max-age", "2h", "--dry-run")
    assert {c["field"]: c["new"] for c in edit["changes"]}["max_age"] == 7200 * 10**9
    assert natsops(url, "stream", "rm", name, "-f").exit_code == 0


def test_verbose_logs_progress_never_secrets(nats_server) -> None:  # type: ignore[no-untyped-def]
    r = runner.invoke(app, ["stream", "ls", "-s", nats_server.url, "-v", "--user", "bob",
                            "--password", "s3cr3t-pw", "--names"])
    assert "connecting to " + nats_server.url in r.stderr, r.stderr
    assert "s3cr3t-pw" not in r.stderr + r.stdout
    assert "DEBUG" not in r.stderr
    r = runner.invoke(app, ["-vv", "-s", nats_server.url, "stream", "ls", "--names"])
    assert r.exit_code == 0
    assert "connected to" in r.stderr and "DEBUG" in r.stderr, r.stderr
    quiet = runner.invoke(app, ["-s", nats_server.url, "stream", "ls", "--names"])
    assert "connecting" not in quiet.stderr


# ---- auth creds generate: nsc's `> file`, -o safety; account add -n ------------------------


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "store"
    monkeypatch.setenv("NATSOPS_STORE", str(d))
    for args in (["auth", "operator", "add", "DEMO", "--sys"],
                 ["auth", "account", "add", "APP", "--js-enable"],
                 ["auth", "user", "add", "service", "--account", "APP"]):
        r = runner.invoke(app, args)
        assert r.exit_code == 0, (args, r.output)
    return d


def test_account_add_accepts_nsc_name_flag(store: Path) -> None:
    r = runner.invoke(app, ["auth", "account", "add", "-n", "TEAM"])
    assert r.exit_code == 0, r.output
    ls = json.loads(runner.invoke(app, ["auth", "ls", "--json"]).stdout)
    assert ("account", "TEAM") in [(e["kind"], e["name"]) for e in ls["entities"]]
    r = runner.invoke(app, ["auth", "account", "add", "A1", "-n", "A2"])
    assert one_line_error(r, 2).startswith("error: two account names given")
    r = runner.invoke(app, ["auth", "account", "add"])
    assert "account name" in one_line_error(r, 2)


def test_creds_to_stdout_when_piped(store: Path) -> None:
    r = runner.invoke(app, ["auth", "creds", "generate", "-a", "APP", "-n", "service"])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("-----BEGIN NATS USER JWT-----"), r.stdout[:80]
    assert "BEGIN USER NKEY SEED" in r.stdout


def test_creds_refused_on_a_terminal(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # stdout is a terminal (rich's switch)
    r = runner.invoke(app, ["auth", "creds", "generate", "-a", "APP", "-n", "service"])
    assert "terminal" in one_line_error(r, 2)
    assert "> service.creds" in r.stderr and "SEED" not in r.stdout + r.stderr


def test_creds_output_file_asks_and_needs_its_directory(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "app.creds"
    out.write_text("old")
    r = runner.invoke(app, ["auth", "creds", "generate", "-a", "APP", "-n", "service", "-o",
                            str(out)])
    assert "--force" in one_line_error(r, 2) + r.stderr
    assert out.read_text() == "old"
    r = runner.invoke(app, ["auth", "creds", "generate", "-a", "APP", "-n", "service", "-o",
                            str(out), "--force"])
    assert r.exit_code == 0, r.output
    assert "NATS USER JWT" in out.read_text()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    missing = tmp_path / "no" / "such"
    r = runner.invoke(app, ["auth", "creds", "generate", "-a", "APP", "-n", "service", "-o",
                            str(missing / "app.creds")])
    assert f"directory {missing} does not exist" in one_line_error(r, 2)
    assert not (tmp_path / "no").exists()
    r = runner.invoke(app, ["auth", "creds", "generate", "-a", "APP", "-n", "service", "--json"])
    assert "-o" in one_line_error(r, 2)


# ---- server info and top over the shared cluster ---------------------------------------------


def test_server_info_names_the_missing_monitor_url(nats_cluster) -> None:  # type: ignore[no-untyped-def]
    n1 = nats_cluster.monitor_urls[0]
    r = runner.invoke(app, ["server", "info", "n2", "--monitor", n1])
    line = one_line_error(r, 4)
    assert "server 'n2'" in line and "no monitor URL given" in line and n1 in line
    assert "did not answer" not in line


def test_top_names_its_connection_and_once_has_no_quit_hint(nats_cluster) -> None:  # type: ignore[no-untyped-def]
    d = str(nats_cluster.cluster.dir)
    r = runner.invoke(app, ["top", "--once", "--delay", "200ms", "--dir", d, "--json"])
    assert r.exit_code == 0, r.output
    frame = json.loads(r.stdout.splitlines()[-1])
    assert "natsops top" in [c["name"] for c in frame["connections"]]
    assert "natsops doctor" not in [c["name"] for c in frame["connections"]]
    r = runner.invoke(app, ["top", "--once", "--delay", "200ms", "--dir", d])
    assert r.exit_code == 0 and "natsops top" in r.stdout
    assert "quits" not in r.stdout
