"""Secrets never reach the terminal: errors, hints, -vv logs, bootstrap output."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from natsops.cli.main import app

runner = CliRunner()


def test_error_and_log_lines_mask_a_url_password(tmp_path: Path) -> None:
    for extra in ([], ["-vv"]):
        r = runner.invoke(app, ["--no-context", "-s", "nats://app:S3cr3t-PW@127.0.0.1:1",
                                "--timeout", "1s", *extra, "stream", "ls"])
        assert r.exit_code == 3, r.output
        assert "S3cr3t-PW" not in r.output
        assert "nats://app:•••@127.0.0.1:1" in r.stderr


def test_bootstrap_dry_run_and_render_only_print_no_password(tmp_path: Path) -> None:
    out = tmp_path / "configs"
    r = runner.invoke(app, ["bootstrap", "--render-only", "--hosts", "a,b,c", "--out", str(out)])
    assert r.exit_code == 0, r.output
    secrets = set()
    for conf in out.glob("*/nats-server.conf"):
        secrets |= set(re.findall(r'password:\s*"([^"]+)"', conf.read_text()))
    assert secrets
    dry = runner.invoke(app, ["bootstrap", "--dry-run", "--dir", str(tmp_path / "c"), "--json"])
    for text in (r.output, dry.output):
        assert not any(s in text for s in secrets)


def test_auth_lifecycle_and_context_commands_print_no_seed(tmp_path: Path) -> None:
    """Every new auth/context command, human and --json: no seed, no password in the output."""
    store = str(tmp_path / "store")
    creds = tmp_path / "store/keys/creds/OP/APP/alice.creds"

    def run(*args: str, code: int = 0) -> str:
        r = runner.invoke(app, list(args))
        assert r.exit_code == code, (args, r.stdout, r.stderr)
        return r.stdout + r.stderr

    def auth(*args: str, code: int = 0) -> str:
        return run("auth", "--store", store, *args, code=code)

    auth("operator", "add", "OP", "--sys")
    auth("account", "add", "APP", "--signing-key")
    auth("user", "add", "alice", "-a", "APP", "--expiry", "2h")
    printed = []
    for j in ([], ["--json"]):
        printed += [
            auth("expirations", "--within", "1d", *j, code=6),
            auth("describe", "jwt", str(creds), *j),
            auth("keys", "ls", *j),
            auth("revocations", "add", "-a", "APP", "--name", "alice", "--force", *j),
            auth("revocations", "ls", *j),
            auth("revocations", "rm", "-a", "APP", "--name", "alice", *j),
            auth("operator", "edit", "--require-signing-keys", "--add-signing-key", *j),
            auth("operator", "edit", "--require-signing-keys", "--resign", "--no-push",
                 "--yes", *j),
            auth("account", "rotate-signing-key", "APP", "--no-push", "--force", *j),
            auth("keys", "prune", "--yes", *j),
            auth("user", "info", "alice", "-a", "APP", *j),
            auth("creds", "generate", "-a", "APP", "-n", "alice", "--context", "alice",
                 "--force", *j),
            run("context", "add", "pw", "--user", "bob", "--password", "S3cret-pw", "--force",
                *j),
            run("context", "show", "pw", *j),
            run("context", "show", "alice", *j),
            run("context", "ls", *j),
        ]
    r = runner.invoke(app, ["auth", "--store", store, "describe", "jwt", "-"],
                      input=creds.read_text())
    assert r.exit_code == 0, r.stderr
    printed.append(r.stdout + r.stderr)
    text = "\n".join(printed)
    seeds = [p.read_text().strip() for p in (tmp_path / "store").rglob("*.nk")]
    assert len(seeds) >= 8
    assert not [s for s in seeds if s in text]
    assert "S3cret-pw" not in text
    assert not re.search(r"\bS[OAU][A-Z2-7]{56}\b", text)
def test_auth_edit_commands_print_no_seed_or_jwt(tmp_path: Path) -> None:
    """user edit/info, account edit, mappings and roles (human, --json, -vv, --dry-run)."""
    from natsops.auth.store import Store

    store = tmp_path / "store"
    outputs = []

    def run(*args: str, both: bool = False) -> None:
        """Mutations once (alternately human and --json); reads both ways."""
        for extra in ([[], ["--json"]] if both else [["--json"] if len(outputs) % 2 else []]):
            r = runner.invoke(app, ["-vv", "auth", "--store", str(store), *args, *extra])
            assert r.exit_code == 0, (args, r.output)
            outputs.append(r.output)

    run("operator", "add", "DEMO", "--sys")
    run("account", "add", "APP", "--js-enable")
    run("account", "signing-key", "add", "APP", "--role", "reader", "--allow-sub", "r.>")
    run("account", "signing-key", "ls", "APP", both=True)
    for n in ("1", "2"):
        run("user", "add", f"svc{n}", "--account", "APP", "--allow-pub", "a.>")
        run("user", "add", f"ro{n}", "--account", "APP", "--role", "reader")
    run("user", "edit", "svc1", "--account", "APP", "--allow-pubsub", "b.>", "--dry-run",
        both=True)
    run("user", "edit", "svc1", "--account", "APP", "--allow-pubsub", "b.>",
        "--revoke-previous")
    run("user", "info", "svc1", "--account", "APP", both=True)
    run("account", "edit", "APP", "--js-disable", "--js-tier", "R3", "--js-disk", "1GB")
    run("account", "mapping", "add", "APP", "--from", "m", "--to", "m.a", "--weight", "50")
    run("account", "mapping", "ls", "APP", both=True)
    run("account", "mapping", "rm", "APP", "--from", "m", "--to", "m.a")
    run("account", "signing-key", "rm", "APP", "--role", "reader", "--force")
    printed = "\n".join(outputs)
    seeds = [p.read_text().strip() for p in (store / "keys").rglob("*.nk")]
    s = Store(store)
    jwts = [e.token.token for a in s.accounts("DEMO") for e in (a, *s.users("DEMO", a.name))]
    assert seeds and jwts
    assert not [x for x in seeds + jwts if x in printed]
    assert not re.search(r"\bS[OAU][A-Z2-7]{56}\b", printed)  # no seed of any key at all
    assert "eyJ0eXAi" not in printed  # no JWT at all (every one starts with this header)
