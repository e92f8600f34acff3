"""``natsops auth`` through Typer's runner: exit codes, JSON, confirmations, no secrets shown."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from natsops.cli.main import app
from natsops.cluster.process import free_port
from tests.cli._helpers import as_terminal


@pytest.fixture
def store_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "store"
    monkeypatch.setenv("NATSOPS_STORE", str(d))
    return d


class Run:
    """Invoke the CLI and keep every output, to check no seed was ever printed."""

    def __init__(self) -> None:
        self.runner = CliRunner()
        self.outputs: list[str] = []

    def __call__(self, *args: str, code: int = 0, input: str | None = None):
        with as_terminal(input is not None):
            result = self.runner.invoke(app, list(args), input=input)
        self.outputs.append(result.stdout + result.stderr)
        assert result.exit_code == code, (args, result.stdout, result.stderr, result.exception)
        return result


@pytest.fixture
def cli() -> Run:
    return Run()


def _recipe(cli: Run) -> None:
    cli("auth", "operator", "add", "DEMO", "--sys", "--account-jwt-server-url",
        "nats://localhost:4222")
    cli("auth", "account", "add", "APP", "--js-enable", "--max-conns", "10")
    cli("auth", "user", "add", "service", "--account", "APP", "--allow-pub", "orders.>",
        "--allow-sub", "orders.>", "--expiry", "30d")


def _seeds(store_dir: Path) -> list[str]:
    return [p.read_text().strip() for p in store_dir.rglob("*.nk")]


def test_recipe_ls_describe_creds(cli: Run, store_dir: Path, tmp_path: Path) -> None:
    _recipe(cli)
    out = tmp_path / "app-service.creds"
    r = cli("auth", "creds", "generate", "--account", "APP", "--name", "service", "-o", str(out))
    assert r.stdout.strip() == str(out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    ls = json.loads(cli("auth", "ls", "--json").stdout)
    names = [(e["kind"], e["name"]) for e in ls["entities"]]
    assert names == [("operator", "DEMO"), ("account", "APP"), ("user", "service"),
                     ("account", "SYS"), ("user", "sys")]
    app_acc = json.loads(cli("auth", "describe", "account", "APP", "--json").stdout)
    assert app_acc["jetstream"] is True
    assert app_acc["claims"]["nats"]["limits"]["conn"] == 10
    user = json.loads(cli("--json", "auth", "describe", "user", "service", "-a", "APP").stdout)
    assert user["claims"]["nats"]["pub"]["allow"] == ["orders.>"]
    assert user["expires"] > user["iat"]
    op = json.loads(cli("auth", "describe", "operator", "--json").stdout)
    assert op["claims"]["nats"]["account_server_url"] == "nats://localhost:4222"
    cli("auth", "describe", "account", "APP")
    cli("auth", "ls")
    conf = cli("auth", "render-config").stdout
    assert "resolver {" in conf
    assert "type: full" in conf
    # no seed in anything printed
    printed = "\n".join(cli.outputs)
    for seed in _seeds(store_dir):
        assert seed not in printed


def test_json_changes_and_dry_run(cli: Run, store_dir: Path) -> None:
    _recipe(cli)
    before = sorted(store_dir.rglob("*"))
    r = cli("auth", "account", "edit", "APP", "--max-subs", "5", "--deny-pub", "x.>",
            "--dry-run", "--json")
    change = json.loads(r.stdout)["changes"][0]
    assert change["dry_run"] is True
    assert change["claims"]["nats"]["limits"]["subs"] == 5
    assert sorted(store_dir.rglob("*")) == before
    cli("auth", "account", "add", "NEW", "--dry-run")
    cli("auth", "user", "add", "u2", "--account", "APP", "--dry-run")
    cli("auth", "account", "export", "add", "svc.>", "--account", "APP", "--dry-run")
    assert sorted(store_dir.rglob("*")) == before


def test_errors_are_one_line_with_exit_codes(cli: Run, store_dir: Path, tmp_path: Path) -> None:
    r = cli("auth", "ls", code=4)
    assert r.stderr.startswith("error: no operator")
    _recipe(cli)
    r = cli("auth", "user", "add", "x", "--account", "NOPE", code=4)
    assert "account 'NOPE'" in r.stderr
    assert "Traceback" not in r.stderr
    r = cli("auth", "account", "add", "APP", code=9)
    assert r.stderr.count("\n") <= 2
    cli("auth", "account", "add", "bad/name", code=2)
    cli("auth", "operator", "add", "OP2", "--strict", code=2)
    cli("auth", "user", "add", "y", "--account", "APP", "--expiry", "soon", code=2)
    bad = tmp_path / "bad.creds"
    bad.write_text("-----BEGIN NATS USER JWT-----\nnot-a-jwt\n------END NATS USER JWT------\n")
    r = cli("auth", "push", "--sys-creds", str(bad), code=2)
    assert "malformed creds" in r.stderr
    port = free_port()
    r = cli("-s", f"nats://127.0.0.1:{port}", "auth", "push", "--all", code=3)
    assert r.stderr.startswith("error: no server answered") and "cannot connect" in r.stderr
    cli("auth", "push", "--all", "--account", "APP", code=2)


def test_destructive_commands_ask(cli: Run, store_dir: Path, tmp_path: Path) -> None:
    _recipe(cli)
    cli("auth", "user", "revoke", "service", "--account", "APP", input="n\n", code=1)
    assert "revocations" not in json.loads(
        cli("auth", "describe", "account", "APP", "--json").stdout)["claims"]["nats"]
    cli("auth", "user", "revoke", "service", "--account", "APP", "--force")
    user = json.loads(cli("auth", "describe", "user", "service", "-a", "APP", "--json").stdout)
    assert user["revoked"] is True
    cli("auth", "account", "rm", "APP", input="n\n", code=1)
    cli("auth", "account", "rm", "APP", "--force")
    cli("auth", "describe", "account", "APP", code=4)

    archive = tmp_path / "auth.tgz"
    r = cli("auth", "backup", str(archive))
    assert "0600" in r.stderr
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    cli("auth", "restore", str(archive), input="n\n", code=1)
    cli("auth", "restore", str(archive), "--force")
    cli("auth", "ls")


def test_exports_imports_and_tokens(cli: Run, store_dir: Path, tmp_path: Path) -> None:
    _recipe(cli)
    cli("auth", "account", "add", "OTHER")
    cli("auth", "account", "export", "add", "svc.time", "--account", "APP")
    cli("auth", "account", "export", "add", "feed.>", "--account", "APP", "--stream", "--private")
    tok = tmp_path / "feed.jwt"
    cli("auth", "account", "export", "token", "feed.>", "--account", "APP", "--to", "OTHER",
        "-o", str(tok))
    cli("auth", "account", "import", "add", "svc.time", "--account", "OTHER", "--from", "APP")
    cli("auth", "account", "import", "add", "feed.>", "--account", "OTHER", "--from", "APP",
        "--stream", "--token", str(tok))
    other = json.loads(cli("auth", "describe", "account", "OTHER", "--json").stdout)
    kinds = [(i["subject"], i["type"], "token" in i) for i in other["claims"]["nats"]["imports"]]
    assert kinds == [("svc.time", "service", False), ("feed.>", "stream", True)]
    cli("auth", "account", "import", "rm", "feed.>", "--account", "OTHER")
    cli("auth", "account", "export", "rm", "nope", "--account", "APP", code=4)


def test_limit_flags_shared_by_account_add_and_edit(cli: Run, store_dir: Path) -> None:
    _recipe(cli)
    r = cli("auth", "account", "add", "LIM", "--max-payload", "1MB", "--js-disk", "10GB",
            "--js-streams", "3", "--dry-run", "--json")
    limits = json.loads(r.stdout)["changes"][0]["claims"]["nats"]["limits"]
    assert (limits["payload"], limits["disk_storage"], limits["streams"]) == (
        1024 * 1024, 10 * 1024**3, 3)
    r = cli("auth", "account", "edit", "APP", "--max-leafnodes", "2", "--max-data", "-1",
            "--json")
    limits = json.loads(r.stdout)["changes"][0]["claims"]["nats"]["limits"]
    assert (limits["leaf"], limits["data"]) == (2, -1)
    r = cli("auth", "account", "edit", "APP", "--js-mem", "lots", code=2)
    assert "--js-mem" in r.stderr
    for command in ("add", "edit"):
        help_text = cli("auth", "account", command, "--help").stdout
        for flag in ("--max-conns", "--max-subs", "--max-payload", "--max-data",
                     "--max-leafnodes", "--js-mem", "--js-disk", "--js-streams",
                     "--js-consumers"):
            assert flag in help_text, (command, flag)


def test_auth_modules_keep_real_annotations() -> None:
    """Typer evaluates string annotations: no module of the package postpones them."""
    import natsops.cli.auth as pkg

    for path in Path(pkg.__file__).parent.glob("*.py"):
        assert "from __future__ import annotations" not in path.read_text(), path


def test_dry_runs_of_creds_generate_and_context_select_write_nothing(
        cli: Run, store_dir: Path, tmp_path: Path) -> None:
    from natsops.context import config_root

    _recipe(cli)
    nats_dir = config_root() / "nats"
    out = tmp_path / "svc.creds"
    gen = ("auth", "creds", "generate", "-a", "APP", "-n", "service")
    r = cli(*gen, "-o", str(out), "--context", "svc", "--select", "--dry-run")
    assert f"would write creds for APP/service to {out} (mode 0600)" in r.stderr, r.stderr
    assert f"would write context svc ({nats_dir / 'context' / 'svc.json'}), selected" in r.stderr
    doc = json.loads(cli(*gen, "-o", str(out), "--context", "svc", "--dry-run", "--json").stdout)
    assert doc["dry_run"] and doc["context"]["name"] == "svc"
    assert [(c["path"], c["dry_run"]) for c in doc["changes"]] == [(str(out), True)]
    r = cli(*gen, "--dry-run")  # the stdout form: the creds are not printed either
    assert r.stdout == "" and "would write creds for APP/service to stdout" in r.stderr
    cli(*gen, "-o", str(tmp_path / "no-such-dir" / "x.creds"), "--dry-run", code=2)
    assert not out.exists() and not nats_dir.exists()
    assert not any(s in o for s in _seeds(store_dir) for o in cli.outputs)

    cli(*gen, "-o", str(out), "--context", "svc")
    cli("context", "add", "other", "-s", "nats://127.0.0.1:4222", "--select")
    r = cli("context", "select", "svc", "--dry-run")
    assert "would select context svc (selected now: other)" in r.stderr, r.stderr
    doc = json.loads(cli("context", "select", "svc", "--dry-run", "--json").stdout)
    assert doc == {"selected": "svc", "previous": "other", "dry_run": True}
    cli("context", "select", "nope", "--dry-run", code=4)
    assert (nats_dir / "context.txt").read_text().strip() == "other"
    assert not (nats_dir / "previous-context.txt").exists()
    cli("context", "select", "svc")
    assert (nats_dir / "context.txt").read_text().strip() == "svc"
