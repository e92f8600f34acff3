"""``auth user edit/info``, ``account edit`` (tiers, flags), mappings and roles: no server needed."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from natsops.auth.creds import parse_creds
from natsops.auth.store import Store
from natsops.cli.main import app


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setenv("NATSOPS_STORE", str(tmp_path / "store"))
    for args in (["operator", "add", "DEMO", "--sys"], ["account", "add", "APP", "--js-enable"],
                 ["user", "add", "svc", "--account", "APP", "--allow-pub", "a.>"]):
        _run(*args)
    return Store(tmp_path / "store")


def _run(*args: str, code: int = 0) -> tuple[str, str]:
    r = CliRunner().invoke(app, ["auth", *args])
    assert r.exit_code == code, (args, r.stdout, r.stderr, r.exception)
    return r.stdout, r.stderr


def test_user_edit_dry_run_prints_the_diff_and_changes_nothing(store: Store) -> None:
    jwt_file = store.user_path("DEMO", "APP", "svc")
    creds = store.creds_path("DEMO", "APP", "svc")
    before = (jwt_file.read_text(), creds.read_text())
    out, _ = _run("user", "edit", "svc", "--account", "APP", "--allow-pubsub", "b.>",
                  "--deny-pub", "a.secret", "--source-network", "10.0.0.0/8", "--time",
                  "08:00:00-18:00:00", "--time-zone", "UTC", "--conn-type", "websocket",
                  "--max-payload", "1KB", "--allow-pub-response", "2", "--response-ttl", "5s",
                  "--tag", "Team-A", "--expiry", "30d", "--dry-run", "--json")
    doc = json.loads(out)
    diff = {d["path"]: d["after"] for d in doc["diffs"][0]["diff"]}
    assert diff["nats.pub.allow"] == ["a.>", "b.>"]
    assert diff["nats.sub.allow"] == ["b.>"]
    assert diff["nats.src"] == ["10.0.0.0/8"]
    assert diff["nats.times"] == [{"start": "08:00:00", "end": "18:00:00"}]
    assert diff["nats.allowed_connection_types"] == ["WEBSOCKET"]
    assert diff["nats.payload"] == 1024
    assert diff["nats.resp.ttl"] == 5_000_000_000
    assert diff["nats.tags"] == ["team-a"]
    assert "exp" in diff
    assert doc["changes"][0]["dry_run"] is True
    assert (jwt_file.read_text(), creds.read_text()) == before
    out, _ = _run("user", "edit", "svc", "--account", "APP", "--max-subs", "5", "--dry-run")
    assert "user svc: nats.subs: -1 -> 5" in out


def test_user_edit_keeps_the_key_and_rewrites_creds_0600(store: Store) -> None:
    old = store.user("DEMO", "APP", "svc")
    seed = parse_creds(store.creds_path("DEMO", "APP", "svc").read_text()).seed.reveal()
    _run("user", "edit", "svc", "--account", "APP", "--rm", "a.>", "--allow-sub", "x.>")
    new = store.user("DEMO", "APP", "svc")
    creds = store.creds_path("DEMO", "APP", "svc")
    parsed = parse_creds(creds.read_text())
    assert new.public_key == old.public_key and new.token.iat > old.token.iat
    assert parsed.seed.reveal() == seed and parsed.user.jti == new.token.jti
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert new.nats["sub"] == {"allow": ["x.>"]} and not new.nats["pub"]
    out, _ = _run("user", "info", "svc", "--account", "APP", "--json")
    assert json.loads(out)["user"]["public_key"] == old.public_key
    assert json.loads(out)["live"] is None


@pytest.mark.parametrize(("args", "message"), [
    (["user", "edit", "svc", "--account", "APP", "--source-network", "10.0.0/99"], "CIDR"),
    (["user", "edit", "svc", "--account", "APP", "--time", "8-18"], "HH:MM:SS"),
    (["user", "edit", "svc", "--account", "APP", "--conn-type", "CARRIER_PIGEON"],
     "connection type"),
    (["user", "edit", "svc", "--account", "APP", "--time-zone", "Mars/Olympus"], "zone"),
    (["user", "edit", "svc", "--account", "APP", "--max-subs", "-5"], "--max-subs"),
    (["account", "edit", "APP", "--js-tier", "R9", "--js-disk", "1GB"], "tier"),
    (["account", "edit", "APP", "--js-tier", "R3", "--js-disk", "1GB"], "--js-disable"),
    (["account", "mapping", "add", "APP", "--from", "a", "--to", "b", "--weight", "101"],
     "--weight"),
    (["account", "mapping", "add", "APP", "--from", "a b", "--to", "b"], "--from"),
])
def test_bad_input_is_one_error_line_exit_2(store: Store, args: list[str], message: str) -> None:
    before = store.user_path("DEMO", "APP", "svc").read_text()
    _, err = _run(*args, code=2)
    assert err.startswith("error:") and message in err, err
    assert store.user_path("DEMO", "APP", "svc").read_text() == before


def test_unknown_user_or_mapping_is_not_found(store: Store) -> None:
    _run("user", "edit", "nobody", "--account", "APP", "--max-subs", "1", code=4)
    _run("account", "mapping", "rm", "APP", "--from", "nothing", code=4)
    _run("account", "signing-key", "rm", "APP", "--role", "nothing", "--force", code=4)


def test_account_edit_flags_tiers_and_diff(store: Store) -> None:
    out, _ = _run("account", "edit", "APP", "--js-disable", "--js-tier", "3", "--js-disk",
                  "1GB", "--js-streams", "2", "--js-max-bytes-required", "--disallow-bearer",
                  "--no-wildcard-exports", "--description", "the app", "--max-imports", "4",
                  "--max-exports", "3", "--js-tier", "R3", "--json")
    lim = store.account("DEMO", "APP").nats["limits"]
    assert lim["tiered_limits"]["R3"]["disk_storage"] == 1 << 30
    assert lim["tiered_limits"]["R3"]["max_bytes_required"] is True
    assert "disk_storage" not in lim and lim["disallow_bearer"] is True
    assert (lim["wildcards"], lim["imports"], lim["exports"]) == (False, 4, 3)
    assert store.account("DEMO", "APP").nats["description"] == "the app"
    paths = {d["path"] for d in json.loads(out)["diffs"][0]["diff"]}
    assert "nats.limits.tiered_limits.R3.streams" in paths
    _, err = _run("account", "edit", "APP", "--js-disk", "2GB", code=2)
    assert "--js-tier" in err
    _, err = _run("user", "edit", "svc", "--account", "APP", "--bearer", code=2)
    assert "disallows bearer" in err
    _run("account", "edit", "APP", "--js-disable")
    assert "tiered_limits" not in store.account("DEMO", "APP").nats["limits"]


def test_mappings_weights_add_up_to_100_per_cluster(store: Store) -> None:
    _run("account", "mapping", "add", "APP", "--from", "m", "--to", "m.a", "--weight", "60")
    _, err = _run("account", "mapping", "add", "APP", "--from", "m", "--to", "m.b", "--weight",
                  "50", code=2)
    assert "110%" in err
    _run("account", "mapping", "add", "APP", "--from", "m", "--to", "m.b", "--weight", "50",
         "--cluster", "east")
    _run("account", "mapping", "add", "APP", "--from", "m", "--to", "m.a", "--weight", "40")
    out, _ = _run("account", "mapping", "ls", "APP", "--json")
    assert [(m["subject"], m["weight"], m["cluster"]) for m in json.loads(out)["mappings"]] == [
        ("m.b", 50, "east"), ("m.a", 40, None)]
    _run("account", "mapping", "rm", "APP", "--from", "m", "--to", "m.b")
    assert store.account("DEMO", "APP").nats["mappings"] == {"m": [{"subject": "m.a",
                                                                    "weight": 40}]}


def test_roles_issue_permission_free_users_and_ask_before_rm(store: Store) -> None:
    _run("account", "signing-key", "add", "APP", "--role", "reader", "--allow-sub", "r.>",
         "--deny-pub", ">", "--max-subs", "10", "--description", "read only")
    _run("account", "signing-key", "add", "APP", "--role", "reader", code=9)
    _run("user", "add", "ro", "--account", "APP", "--role", "reader")
    _, err = _run("user", "add", "ro2", "--account", "APP", "--role", "reader", "--allow-pub",
                  "x", code=2)
    assert "template" in err
    ro = store.user("DEMO", "APP", "ro")
    roles = json.loads(_run("account", "signing-key", "ls", "APP", "--json")[0])["roles"]
    assert roles[0]["template"]["sub"] == {"allow": ["r.>"]} and roles[0]["template"]["subs"] == 10
    assert ro.token.issuer == roles[0]["key"]
    assert set(ro.nats) == {"issuer_account", "type", "version"}
    _, err = _run("user", "edit", "ro", "--account", "APP", "--allow-pub", "x", code=2)
    assert "role 'reader'" in err
    _run("user", "edit", "ro", "--account", "APP", "--tag", "blue")
    assert store.user("DEMO", "APP", "ro").token.issuer == roles[0]["key"]
    assert "pub" not in store.user("DEMO", "APP", "ro").nats
    _, err = _run("account", "signing-key", "rm", "APP", "--role", "reader", code=2)
    assert "--force" in err
    _run("account", "signing-key", "rm", "APP", "--role", "reader", "--force")
    assert "signing_keys" not in store.account("DEMO", "APP").nats
    assert not store.has_key(roles[0]["key"])


def test_revoked_user_is_not_silently_unrevoked(store: Store) -> None:
    _run("user", "revoke", "svc", "--account", "APP", "--force")
    _, err = _run("user", "edit", "svc", "--account", "APP", "--max-subs", "3", code=2)
    assert "revoked" in err
