"""Day two in operator mode, on real servers: revocations, rotation, prune, contexts."""

from __future__ import annotations

import asyncio
import json
import stat
import time
from pathlib import Path

import nats
from nats.aio.client import Client as NATS
from typer.testing import CliRunner

from natsops.auth import ops
from natsops.cli.main import app
from natsops.context import CONTEXT_KEYS, config_root


def _cli(store: Path, url: str | None, *args: str, code: int = 0) -> tuple[str, str]:
    server = ["-s", url] if url else []
    r = CliRunner().invoke(app, [*server, "auth", "--store", str(store), *args])
    assert r.exit_code == code, (args, r.stdout, r.stderr, r.exception)
    return r.stdout, r.stderr


def _root(*args: str, code: int = 0) -> str:
    r = CliRunner().invoke(app, list(args))
    assert r.exit_code == code, (args, r.stdout, r.stderr, r.exception)
    return r.stdout


async def _works(url: str, creds: Path) -> bool:
    """True when ``creds`` can connect and round-trip a message; False when refused."""
    nc = NATS()
    refused = ""
    try:
        await nc.connect(url, user_credentials=str(creds), allow_reconnect=False,
                         connect_timeout=3, max_reconnect_attempts=0)
    except Exception as exc:  # nats-py raises a plain Error("nats: 'Authorization Violation'")
        refused = str(exc)
        await nc.close()  # a refused connect leaves its socket open otherwise
    if refused:
        assert "authorization" in refused.lower(), refused
        return False
    try:
        sub = await nc.subscribe("lifecycle.x")
        await nc.publish("lifecycle.x", b"1")
        return (await sub.next_msg(timeout=2)).data == b"1"
    finally:
        await nc.close()


def works(url: str, creds: Path) -> bool:
    return asyncio.run(_works(url, creds))


def test_revoked_user_is_disconnected_and_rm_lets_it_back(operator_cluster, auth_store) -> None:
    oc = operator_cluster(nodes=1)
    store, url = auth_store.root, oc.url("a1")
    creds = auth_store.creds_path("DEMO", "APP", "service")
    _cli(store, url, "push", "--all")

    async def revoke_while_connected() -> str:
        closed = asyncio.Event()
        errors: list[str] = []

        async def on_error(e: Exception) -> None:
            errors.append(str(e))

        async def on_closed() -> None:
            closed.set()

        nc = await nats.connect(url, user_credentials=str(creds), allow_reconnect=False,
                                error_cb=on_error, closed_cb=on_closed)
        await asyncio.to_thread(_cli, store, None, "revocations", "add", "-a", "APP",
                                "--name", "service", "--force")
        await asyncio.to_thread(_cli, store, url, "push", "--account", "APP")
        await asyncio.wait_for(closed.wait(), timeout=10)  # the server closes it
        errors.append(str(nc.last_error or ""))
        await nc.close()
        return " ".join(errors)

    errors = asyncio.run(revoke_while_connected())
    print("closed with:", errors)
    assert not works(url, creds)
    out, _ = _cli(store, None, "revocations", "ls", "--json")
    [rev] = json.loads(out)["revocations"]
    assert (rev["account"], rev["name"], rev["kind"]) == ("APP", "service", "user")
    out, _ = _cli(store, None, "describe", "jwt", str(creds), "--json", code=6)
    assert "AUTH045" in {f["id"] for f in json.loads(out)["findings"] if f["severity"] == "fail"}
    human = "".join(_cli(store, None, "describe", "jwt", str(creds), code=6))
    seed = auth_store.key_path(auth_store.user("DEMO", "APP", "service").public_key).read_text()
    assert "revoked in account APP" in human
    assert seed.strip() not in human + out

    _cli(store, None, "revocations", "rm", "-a", "APP", "--name", "service")
    _cli(store, url, "push", "--account", "APP")
    assert works(url, creds)  # the same creds file, not re-issued


def test_signing_key_rotation_keeps_every_pushed_user_connecting(operator_cluster,
                                                                  auth_store) -> None:
    ops.edit_account(auth_store, "DEMO", "APP", add_signing_key=True)
    for u in ("u1", "u2"):
        ops.add_user(auth_store, "DEMO", "APP", u)  # signed by the signing key
    oc = operator_cluster(nodes=1)
    store, url = auth_store.root, oc.url("a1")
    _cli(store, url, "push", "--all")
    old = auth_store.creds_path("DEMO", "APP", "u1").read_text()
    old_key = auth_store.account("DEMO", "APP").signing_keys[0]

    out, _ = _cli(store, url, "account", "rotate-signing-key", "APP", "--force", "--json")
    report = json.loads(out)
    assert report["plan"]["old_key"] == old_key
    assert sorted(report["plan"]["users"]) == ["u1", "u2"]
    assert auth_store.account("DEMO", "APP").signing_keys == [report["new_key"]]
    for u in ("service", "u1", "u2"):
        creds = auth_store.creds_path("DEMO", "APP", u)
        assert works(url, creds), u
        assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert auth_store.user("DEMO", "APP", "u1").token.issuer == report["new_key"]
    # the old seed left the key store: kept, 0600, under keys/retired
    assert not auth_store.has_key(old_key)
    assert stat.S_IMODE(auth_store.retired_key_path(old_key).stat().st_mode) == 0o600
    stale = oc.dir / "old-u1.creds"
    stale.write_text(old)
    assert not works(url, stale)  # signed by the removed key


def test_require_signing_keys_resign_keeps_users_connecting(operator_cluster,
                                                            auth_store) -> None:
    """--require-signing-keys --resign: plan, dry run, confirm, re-sign, push; the users keep
    their keys; after the restart on the strict operator JWT only the old creds copies fail."""
    ops.edit_operator(auth_store, "DEMO", add_signing_key=True)  # the servers start knowing it
    oc = operator_cluster(nodes=1)
    store, url = auth_store.root, oc.url("a1")
    _cli(store, url, "push", "--all")
    creds = auth_store.creds_path("DEMO", "APP", "service")
    old = oc.dir / "deployed-service.creds"
    old.write_text(creds.read_text())
    user_key, jti = (auth_store.user("DEMO", "APP", "service").public_key,
                     auth_store.account("DEMO", "APP").token.jti)
    edit = ("operator", "edit", "--require-signing-keys", "--resign")
    _, err = _cli(store, url, *edit, "--dry-run")
    assert "re-issue user APP/service" in err and str(creds) in err, err
    _, err = _cli(store, url, *edit, code=2)  # no terminal to confirm on: names --force
    assert "--force" in err
    assert auth_store.account("DEMO", "APP").token.jti == jti  # nothing changed so far

    out, _ = _cli(store, url, *edit, "--yes", "--json")
    report = json.loads(out)["resign"]
    assert report["plan"]["users"] == [["APP", "service"]]
    assert report["plan"]["accounts"] == ["APP", "SYS"], report
    assert report["redeploy"] == [str(creds)]
    assert report["steps"][-1].startswith("pushed APP, SYS to 1 server(s)"), report
    user = auth_store.user("DEMO", "APP", "service")
    assert user.public_key == user_key
    assert user.token.issuer in auth_store.account("DEMO", "APP").signing_keys
    assert works(url, creds) and works(url, old)  # the servers are not strict yet

    oc.stop("a1")
    oc.write_config("a1")  # the strict operator JWT
    oc.start("a1")
    assert works(url, creds)
    assert not works(url, old)  # signed by the account identity key: redeploy was needed


def test_push_prune_removes_exactly_the_deleted_account(operator_cluster, auth_store) -> None:
    for name in ("GONE", "KEPT"):
        ops.add_account(auth_store, "DEMO", name)
    oc = operator_cluster(nodes=1)
    store, url = auth_store.root, oc.url("a1")
    _cli(store, url, "push", "--all")
    gone = auth_store.account("DEMO", "GONE").public_key
    ops.remove_account(auth_store, "DEMO", "GONE")

    out, err = _cli(store, url, "push", "--prune", "--dry-run", "--json")
    assert [(p["account"], p["public_key"], p["status"]) for p in json.loads(out)["pruned"]] \
        == [("GONE", gone, "would delete")]
    _, err = _cli(store, url, "push", "--prune", code=2)  # no terminal: asks for --yes
    assert "pass --yes" in err  # push's --force overrides the pre-push checks: not named
    out, _ = _cli(store, url, "push", "--prune", "--yes", "--json")
    assert [p["status"] for p in json.loads(out)["pruned"]] == ["deleted"]
    jwt_dir = oc.dir / "a1" / "jwt"
    left = sorted(p.name for p in jwt_dir.iterdir())
    assert f"{gone}.jwt.deleted" in left
    keys = {auth_store.account("DEMO", a).public_key for a in ("APP", "KEPT", "SYS")}
    assert {n.removesuffix(".jwt") for n in left if n.endswith(".jwt")} == keys
    out, _ = _cli(store, url, "push", "--prune", "--dry-run", "--json")
    assert json.loads(out)["pruned"] == []


def test_contexts_round_trip_in_natscli_format(operator_cluster, auth_store) -> None:
    oc = operator_cluster(nodes=1)
    store, url = auth_store.root, oc.url("a1")
    _cli(store, url, "push", "--all")
    _cli(store, url, "creds", "generate", "-a", "APP", "-n", "service", "--context", "app",
         "--select")
    folder = config_root() / "nats" / "context"
    doc = json.loads((folder / "app.json").read_text())
    assert set(doc) == set(CONTEXT_KEYS)  # every key natscli writes
    assert doc["url"] == url
    assert doc["creds"] == str(auth_store.creds_path("DEMO", "APP", "service"))
    assert stat.S_IMODE((folder / "app.json").stat().st_mode) == 0o600
    assert (config_root() / "nats" / "context.txt").read_text().strip() == "app"

    v = json.loads(_root("context", "validate", "--json"))  # the selected one
    assert v["account"] == "APP"  # the name_tag of its JWT
    assert v["jetstream"]["limits"]
    assert v["server"] == "a1"
    _root("context", "add", "pw", "--server", url, "--user", "bob", "--password", "S3cret-pw",
          "--description", "password user")
    _root("context", "add", "pw", "--server", url, code=9)  # exists: --force to replace
    dry = json.loads(_root("context", "add", "new", "-s", url, "--dry-run", "--json"))
    assert (dry["fields"], dry["dry_run"]) == (["url"], True)
    assert not (folder / "new.json").exists()
    _root("context", "add", "both", "--user", "x", "--creds", str(folder / "app.json"), code=2)
    shown = _root("context", "show", "pw", "--json")
    assert json.loads(shown)["password"] == "***"
    assert "S3cret-pw" not in shown
    listed = json.loads(_root("context", "ls", "--json"))["contexts"]
    assert {(c["name"], c["selected"], c["auth"]) for c in listed} == {
        ("app", True, "creds"), ("pw", False, "user")}
    _root("context", "validate", "pw", code=7)  # bob does not exist in operator mode
    _root("context", "select", "pw")
    assert (config_root() / "nats" / "previous-context.txt").read_text().strip() == "app"
    _root("context", "rm", "pw", "--dry-run")
    assert (folder / "pw.json").is_file()
    _root("context", "rm", "pw", "--force")
    assert not (config_root() / "nats" / "context.txt").exists()
    assert [c["name"] for c in json.loads(_root("context", "ls", "--json"))["contexts"]] == ["app"]
    _root("context", "rm", "nope", "--force", code=4)


def test_expirations_exit_codes(auth_store) -> None:
    hours = 20  # expires tomorrow
    store = auth_store.root
    out, _ = _cli(store, None, "expirations", "--within", "30d", "--json")
    assert json.loads(out)["expiring"] == []
    ops.add_user(auth_store, "DEMO", "APP", "temp", expires=int(time.time()) + hours * 3600)
    out, _ = _cli(store, None, "expirations", "--within", "2d", "--json", code=6)
    [item] = json.loads(out)["expiring"]
    assert (item["kind"], item["name"], item["account"]) == ("user", "temp", "APP")
    _cli(store, None, "expirations", "--within", "1h")  # tomorrow is outside one hour
