"""``natsops auth push/verify/pull`` through the CLI against real operator-mode servers."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import nats
import pytest
from typer.testing import CliRunner

from natsops.auth import ops
from natsops.auth.claims import AccountLimits
from natsops.auth.config import render_config
from natsops.cli.main import app


def _cli(store: Path, url: str, *args: str, code: int = 0) -> tuple[str, str]:
    r = CliRunner().invoke(app, ["-s", url, "-vv", "auth", "--store", str(store), *args])
    assert r.exit_code == code, (args, r.stdout, r.stderr, r.exception)
    return r.stdout, r.stderr


async def _pub_sub(url: str, creds: Path) -> None:
    nc = await nats.connect(url, user_credentials=str(creds), allow_reconnect=False)
    try:
        sub = await nc.subscribe("x")
        await nc.publish("x", b"1")
        assert (await sub.next_msg(timeout=2)).data == b"1"
    finally:
        await nc.close()


def test_rendered_config_passes_server_check(auth_store, server_bin: Path, tmp_path: Path) -> None:
    conf = tmp_path / "op.conf"
    conf.write_text(render_config(auth_store, "DEMO").replace("./jwt", str(tmp_path / "jwt")))
    res = subprocess.run([str(server_bin), "-t", "-c", str(conf)], capture_output=True,
                         text=True, timeout=20, check=False)
    assert res.returncode == 0, res.stdout + res.stderr


def test_cli_push_verify_pull_and_refusals(operator_cluster, auth_store, tmp_path) -> None:
    oc = operator_cluster(nodes=1)
    store, url = auth_store.root, oc.url("a1")
    outputs: list[str] = []

    out, _ = _cli(store, url, "push", "--dry-run", "--json")
    dry = json.loads(out)
    assert {r["status"] for p in dry["pushes"] for r in p["replies"]} == {"would push"}
    assert dry["verification"] is None
    assert (dry["status"], dry["exit_code"], dry["findings"]) == ("ok", 0, [])

    out, err = _cli(store, url, "push", "--all", "--json")
    outputs += [out, err]
    report = json.loads(out)
    assert {p["account"] for p in report["pushes"]} == {"APP", "SYS"}
    assert {r["status"] for p in report["pushes"] for r in p["replies"]} == {"accepted"}
    assert {f["severity"] for f in report["findings"]} == {"ok"}
    assert (report["status"], report["exit_code"]) == ("ok", 0)
    assert {f["subject"] for f in report["findings"]} >= {"APP@a1", "SYS@a1"}
    assert report["verification"]["copies"]

    asyncio.run(_pub_sub(url, auth_store.creds_path("DEMO", "APP", "service")))

    out, err = _cli(store, url, "verify", "--json")
    outputs += [out, err]
    doc = json.loads(out)
    statuses = {(c["account"], c["server"]): c["status"] for c in doc["copies"]}
    assert (doc["status"], doc["counts"]["ok"]) == ("ok", 2)
    assert statuses == {("APP", "a1"): "current", ("SYS", "a1"): "current"}

    # the server holds a newer APP than the store: push refuses (would roll back), pull fixes it
    old = store / "stores/DEMO/accounts/APP/APP.jwt"
    old_text = old.read_text()
    ops.edit_account(auth_store, "DEMO", "APP", limits=AccountLimits(subs=50))
    _cli(store, url, "push", "--account", "APP")
    old.write_text(old_text)
    out, err = _cli(store, url, "verify", "--account", "APP", code=0)  # newer on server: warn
    outputs += [out, err]
    assert "newer" in out
    out, err = _cli(store, url, "push", "--account", "APP", code=9)
    assert "roll it back" in err
    out, err = _cli(store, url, "push", "--account", "APP", "--dry-run", "--json", code=6)
    dry = json.loads(out)
    assert [(f["id"], f["severity"]) for f in dry["findings"]] == [("AUTH003", "fail")]
    assert dry["exit_code"] == 6
    out, err = _cli(store, url, "pull", "--json")
    assert {r["account"]: r["action"] for r in json.loads(out)["accounts"]}["APP"] == "updated"
    assert auth_store.account("DEMO", "APP").nats["limits"]["subs"] == 50

    # a new operator signing key the running servers do not know: push refuses
    ops.edit_operator(auth_store, "DEMO", add_signing_key=True)
    ops.add_account(auth_store, "DEMO", "LATE")
    out, err = _cli(store, url, "push", "--account", "LATE", code=7)
    assert "does not trust" in err
    assert "restart the servers" in err

    # a stale server: exit 6 with the fix
    ops.edit_account(auth_store, "DEMO", "APP", limits=AccountLimits(subs=60))
    out, err = _cli(store, url, "verify", "--account", "APP", code=6)
    assert "stale" in out
    assert "natsops auth push --account APP" in out

    printed = "\n".join(outputs) + oc.logs()
    for seed_file in store.rglob("*.nk"):
        assert seed_file.read_text().strip() not in printed


def test_strict_signing_keys_against_the_server(operator_cluster, auth_store) -> None:
    # replace the fixture's operator with a strict one before the servers start
    import shutil

    shutil.rmtree(auth_store.root)
    ops.add_operator(auth_store, "DEMO", signing_key=True, strict=True)
    ops.add_account(auth_store, "DEMO", "APP", jetstream=True)
    ops.add_user(auth_store, "DEMO", "APP", "service")
    oc = operator_cluster(nodes=1)
    _cli(auth_store.root, oc.url("a1"), "push", "--all")
    asyncio.run(_pub_sub(oc.url("a1"), auth_store.creds_path("DEMO", "APP", "service")))


@pytest.mark.parametrize("resolver", ["memory"])
def test_memory_resolver_config_starts(auth_store, server_bin: Path, tmp_path: Path,
                                       resolver: str) -> None:
    from natsops.auth.config import ResolverOptions

    conf = tmp_path / "mem.conf"
    conf.write_text(render_config(auth_store, "DEMO", ResolverOptions(type=resolver)))
    res = subprocess.run([str(server_bin), "-t", "-c", str(conf)], capture_output=True,
                         text=True, timeout=20, check=False)
    assert res.returncode == 0, res.stdout + res.stderr


def test_push_refuses_servers_not_in_operator_mode(nats_cluster, auth_store) -> None:
    """The shared password-mode cluster has a system account but no operator."""
    pw = nats_cluster.cluster.credentials()["sys"]
    r = CliRunner().invoke(app, ["-s", ",".join(nats_cluster.urls), "--user", "sys",
                                 "--password", pw, "auth", "--store", str(auth_store.root),
                                 "push", "--all"])
    assert r.exit_code == 7, (r.stdout, r.stderr)
    assert "not in operator mode" in r.stderr
    assert pw not in r.stdout + r.stderr


def test_account_rm_from_servers(operator_cluster, auth_store) -> None:
    oc = operator_cluster(nodes=1)
    ops.add_account(auth_store, "DEMO", "GONE")
    key = auth_store.account("DEMO", "GONE").public_key
    _cli(auth_store.root, oc.url("a1"), "push", "--all")
    _cli(auth_store.root, oc.url("a1"), "account", "rm", "GONE", "--from-servers", "--force")
    assert "GONE" not in auth_store.account_names("DEMO")
    jwt_dir = oc.dir / "a1" / "jwt"
    assert (jwt_dir / f"{key}.jwt.deleted").is_file()
    assert not (jwt_dir / f"{key}.jwt").exists()
    _, err = _cli(auth_store.root, oc.url("a1"), "account", "rm", "SYS", "--force", code=2)
    assert "system account" in err
