"""``auth keys ls|prune``, ``auth user info`` and ``operator edit --resign`` flags, through
Typer's runner (no server)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from natsops.cli.main import app
from tests.cli._helpers import as_terminal


def _auth(store: Path, *args: str, code: int = 0, answer: str | None = None) -> tuple[str, str]:
    with as_terminal(answer is not None):
        r = CliRunner().invoke(app, ["auth", "--store", str(store), *args], input=answer)
    assert r.exit_code == code, (args, r.stdout, r.stderr, r.exception)
    return r.stdout, r.stderr


def test_keys_ls_empty_store_then_orphans_and_prune(tmp_path: Path) -> None:
    store = tmp_path / "store"
    out, _ = _auth(store, "keys", "ls")
    assert out.strip() == f"(no keys in {store / 'keys' / 'keys'})"
    assert json.loads(_auth(store, "keys", "ls", "--json")[0])["keys"] == []
    _auth(store, "operator", "add", "OP", "--sys")
    _auth(store, "account", "add", "GONE")
    _auth(store, "account", "rm", "GONE", "--force")
    out, err = _auth(store, "keys", "ls")
    assert "orphan" in out and "1 orphan seed(s)" in err and "keys prune" in err
    [orphan] = [k for k in json.loads(_auth(store, "keys", "ls", "--json")[0])["keys"]
                if k["orphan"]]
    _, err = _auth(store, "keys", "prune", "--dry-run")
    assert f"orphan seed {orphan['public_key']}" in err and "would move 1 seed(s)" in err
    report = json.loads(_auth(store, "keys", "prune", "--dry-run", "--json")[0])
    assert [k["public_key"] for k in report["orphans"]] == [orphan["public_key"]]
    assert report["dry_run"] is True
    _auth(store, "keys", "prune", code=2)  # no terminal: names --force
    _auth(store, "keys", "prune", code=1, answer="n\n")
    assert Path(orphan["path"]).is_file()
    _, err = _auth(store, "keys", "prune", answer="y\n")
    assert "moved 1 seed(s)" in err and not Path(orphan["path"]).exists()
    _, err = _auth(store, "keys", "prune", "--yes")
    assert "no orphan seeds" in err


def test_user_info_is_readable_and_json_unchanged(tmp_path: Path) -> None:
    store = tmp_path / "store"
    _auth(store, "operator", "add", "OP", "--sys")
    _auth(store, "account", "add", "APP", "--signing-key")
    _auth(store, "user", "add", "svc", "-a", "APP", "--allow-pub", "orders.>", "--bearer",
          "--expiry", "2h")
    out, _ = _auth(store, "user", "info", "svc", "-a", "APP")
    lines = {ln.split(":", 1)[0].strip(): ln.split(":", 1)[1].strip()
             for ln in out.splitlines()}
    assert lines["publish allow"] == "orders.>" and lines["bearer token"].startswith("yes")
    assert "(in 1h59m" in lines["expires"] or "(in 2h" in lines["expires"], lines["expires"]
    assert "{" not in out  # not the claims JSON any more
    data = json.loads(_auth(store, "user", "info", "svc", "-a", "APP", "--json")[0])
    assert data["user"]["claims"]["nats"]["pub"]["allow"] == ["orders.>"]


def test_resign_flags_need_resign_and_dry_run_writes_nothing(tmp_path: Path) -> None:
    store = tmp_path / "store"
    _auth(store, "operator", "add", "OP", "--sys")
    jwt = (store / "stores/OP/OP.jwt").read_text()
    _, err = _auth(store, "operator", "edit", "--no-push", "--yes", code=2)
    assert "--no-push, --yes: only with --resign" in err
    _, err = _auth(store, "operator", "edit", "--require-signing-keys", "--add-signing-key",
                   "--resign", code=2)  # the running servers would not know the new key
    assert "--no-push" in err
    _, err = _auth(store, "operator", "edit", "--require-signing-keys", "--add-signing-key",
                   "--resign", "--no-push", "--dry-run")
    assert "re-sign account SYS" in err and "would update operator OP" in err
    assert (store / "stores/OP/OP.jwt").read_text() == jwt
