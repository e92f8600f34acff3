"""`natsops export --all` in operator mode: accounts and their users become recipes (no key,
seed or JWT in them) and `plan` on the export shows no change; without an auth store one
stderr line says why accounts and users were left out. One operator-mode server for the
module (stopped by pid in teardown)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from natsops.auth import ops, roles
from natsops.auth.claims import AccountLimits, Permissions
from natsops.auth.edit import UserEdit, edit_user
from natsops.auth.store import Store
from natsops.cli.main import app
from tests.integration.auth.conftest import OperatorCluster, single_server

SECRETISH = re.compile(r"eyJ[\w-]{10,}|\bS[OAU][A-Z2-7]{50,}|\b[OAU][A-Z2-7]{55}\b")
EXPIRES = int(time.time()) + 30 * 86400


@pytest.fixture(scope="module")
def oc(server_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorCluster]:
    d = tmp_path_factory.mktemp("exportall")
    store = Store(d / "store")
    ops.add_operator(store, "DEMO", sys=True)
    ops.add_account(store, "DEMO", "APP", jetstream=True,
                    limits=AccountLimits(conn=50, payload=1 << 20))
    ops.add_account(store, "DEMO", "FEED")
    ops.add_export(store, "DEMO", "FEED", ops.ExportSpec("feed.>", "stream", private=True))
    token = ops.generate_activation(store, "DEMO", "FEED", "feed.>", "APP")
    ops.add_import(store, "DEMO", "APP", ops.ImportSpec("feed.>", "FEED", "stream",
                                                        token=token))
    ops.add_user(store, "DEMO", "APP", "service")
    ops.add_user(store, "DEMO", "APP", "limited", bearer=True, expires=EXPIRES,
                 permissions=Permissions(allow_pub=("orders.>",), deny_sub=("admin.>",)))
    edit_user(store, "DEMO", "APP", "limited", UserEdit(
        data=10 << 20, payload=1 << 20, add_conn_types=("STANDARD",), add_src=("10.0.0.0/8",),
        add_times=(("08:00:00", "18:00:00"),), time_zone="Europe/Berlin"))
    roles.add_role(store, "DEMO", "APP", "ops", UserEdit(
        permissions=Permissions(allow_pub=("ops.>",))))
    roles.add_role_user(store, "DEMO", "APP", "bot", "ops", tags=("team:ops",),
                        expires=EXPIRES)
    ops.add_user(store, "DEMO", "APP", "gone")
    ops.revoke_user(store, "DEMO", "APP", "gone")
    with single_server(store, "DEMO", d / "cluster", server_bin) as oc:
        yield oc


def _natsops(oc: OperatorCluster, *args: str, code: int = 0,
             env: dict[str, str] | None = None) -> tuple[str, str]:
    creds = oc.store.creds_path("DEMO", "APP", "service")
    r = CliRunner().invoke(app, ["-s", oc.url("a1"), "--creds", str(creds), *args], env=env)
    assert r.exit_code == code, (args, r.stdout, r.stderr, r.exception)
    return r.stdout, r.stderr


def test_export_all_writes_accounts_and_users_and_plan_shows_no_change(
        oc: OperatorCluster, tmp_path: Path) -> None:
    _natsops(oc, "stream", "add", "EXA", "--subjects", "exa.>", "--defaults")
    store = ["--store", str(oc.store.root), "--operator", "DEMO"]
    out = tmp_path / "estate"
    _, err = _natsops(oc, "export", "--all", *store, "--out", str(out))
    assert "not exported" not in err, err
    assert sorted(p.name for p in out.iterdir()) == [
        "account-APP.yaml", "account-FEED.yaml", "stream-EXA.yaml"]  # no system account
    text = (out / "account-APP.yaml").read_text()
    assert not SECRETISH.findall(text), SECRETISH.findall(text)  # no JWT, seed or key
    docs = list(yaml.safe_load_all(text))
    assert docs[0]["kind"] == "Account" and docs[0]["spec"]["limits"] == {
        "conn": 50, "payload": "1MB", "mem_storage": -1, "disk_storage": -1, "streams": -1,
        "consumer": -1}
    assert docs[0]["spec"]["imports"][0]["account"] == "FEED"
    assert "token" not in docs[0]["spec"]["imports"][0]
    users = {d["metadata"]["name"]: d for d in docs[1:]}
    assert sorted(users) == ["bot", "limited", "service"]  # the revoked user is left out
    assert all(d["kind"] == "User" and d["metadata"]["account"] == "APP"
               for d in users.values())
    assert users["service"]["spec"] == {}
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(EXPIRES))
    assert users["bot"]["spec"] == {"role": "ops", "tags": ["team:ops"], "expires": expires}
    assert users["limited"]["spec"] == {
        "pub": {"allow": ["orders.>"]}, "sub": {"deny": ["admin.>"]}, "data": "10MB",
        "payload": "1MB", "src": ["10.0.0.0/8"],
        "times": [{"start": "08:00:00", "end": "18:00:00"}], "times_location": "Europe/Berlin",
        "bearer_token": True, "allowed_connection_types": ["STANDARD"], "expires": expires}
    stdout, _ = _natsops(oc, "plan", str(out), *store, "--check")
    assert "No changes: 6" in stdout, stdout  # stream, 2 accounts, 3 users

    # an edit in the recipe is one field-level change (expires shown as a time)
    doc = (out / "account-APP.yaml")
    doc.write_text(text.replace(expires, "2030-01-01T00:00:00Z"))
    stdout, _ = _natsops(oc, "plan", str(out), *store, "--check", code=5)
    assert stdout.count("expires") == 2 and "2030-01-01T00:00:00Z" in stdout, stdout
    key = oc.store.user("DEMO", "APP", "bot").public_key
    _natsops(oc, "apply", str(out), *store)
    bot = oc.store.user("DEMO", "APP", "bot")
    assert bot.token.expires == 1893456000 and bot.public_key == key  # same key, re-signed
    assert "No changes: 6" in _natsops(oc, "plan", str(out), *store, "--check")[0]


def test_export_all_finds_the_servers_operator_in_the_default_store(
        oc: OperatorCluster, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "natsops").symlink_to(oc.store.root)  # the per-user data folder
    out = tmp_path / "estate"
    _, err = _natsops(oc, "export", "--all", "--out", str(out),
                      env={"XDG_DATA_HOME": str(data)})
    assert "not exported" not in err and (out / "account-APP.yaml").is_file(), err
    stdout, _ = _natsops(oc, "plan", str(out), "--check", env={"XDG_DATA_HOME": str(data)})
    assert "No changes" in stdout


def test_export_all_without_the_servers_operator_says_why_in_one_line(
        oc: OperatorCluster, tmp_path: Path) -> None:
    other = tmp_path / "other"
    ops.add_operator(Store(other / "natsops"), "ELSEWHERE", sys=True)
    for data, why in ((tmp_path / "empty", "no auth store given (--store, --operator) and no "
                                           "operator in"),
                      (other, "the servers' operator is not in the auth store")):
        out = tmp_path / f"out-{data.name}"
        _, err = _natsops(oc, "export", "--all", "--out", str(out),
                          env={"XDG_DATA_HOME": str(data)})
        [line] = [ln for ln in err.splitlines() if "not exported" in ln]
        assert line.startswith(f"accounts and users not exported: {why}"), err
        assert not list(out.glob("account-*"))
