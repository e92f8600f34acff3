"""Expiry, revocations, describe's chain rules, keys ls and operator rules, on a store (no server)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from natsops.auth import ops
from natsops.auth.describe import describe_jwt, token_of
from natsops.auth.expiry import expirations, expiry_findings
from natsops.auth.keys import list_keys
from natsops.auth.ops import ExportSpec, ImportSpec
from natsops.auth.revocations import (
    Target,
    add_revocation,
    list_revocations,
    parse_time,
    remove_revocation,
)
from natsops.auth.rotate import plan_rotation
from natsops.auth.store import Store
from natsops.errors import NotFound, UsageError


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "store")
    ops.add_operator(s, "OP", sys=True)
    ops.add_account(s, "OP", "APP", signing_key=True)
    ops.add_account(s, "OP", "OTHER")
    ops.add_user(s, "OP", "APP", "alice")
    return s


def _fails(d: object) -> list[str]:
    return [f.id for f in d.findings if f.severity.label == "fail"]  # type: ignore[attr-defined]


def test_parse_time() -> None:
    assert parse_time(None, now=100) == 100
    assert parse_time("now", now=100) == 100
    assert parse_time("1700000000") == 1700000000
    assert parse_time("2026-01-01T00:00:00Z") == 1767225600
    assert parse_time("2026-01-01") == 1767225600
    with pytest.raises(UsageError):
        parse_time("tomorrow-ish")


def test_activation_expiry_and_export_revocations(store: Store) -> None:
    ops.add_export(store, "OP", "APP", ExportSpec("svc.>", private=True))
    token = ops.generate_activation(store, "OP", "APP", "svc.>", "OTHER",
                                    expires=int(time.time()) + 3600)
    ops.add_import(store, "OP", "OTHER", ImportSpec("svc.>", "APP", token=token))
    items, _ = expirations(store, "OP", 86400)
    assert [(i.kind, i.account) for i in items] == [("activation", "OTHER")]
    assert [f.id for f in expiry_findings(items, 86400, 5)] == ["AUTH031"]
    add_revocation(store, "OP", "APP", Target(export="svc.>", importer="OTHER"), at=50)
    [rev] = list_revocations(store, "OP", "APP")
    assert (rev.kind, rev.name, rev.export, rev.at) == ("activation", "OTHER", "svc.>", 50)
    remove_revocation(store, "OP", "APP", Target(export="svc.>", importer="OTHER"))
    assert list_revocations(store, "OP") == []
    assert "exports" in store.account("OP", "APP").nats
    with pytest.raises(NotFound):
        remove_revocation(store, "OP", "APP", Target(user="alice"))
    with pytest.raises(UsageError):
        Target(user="alice", export="svc.>")


def test_describe_names_broken_chains(store: Store) -> None:
    creds = store.creds_path("OP", "APP", "alice").read_text()
    assert token_of(creds, "c")[1] == "creds"
    ok = describe_jwt(creds, "alice.creds", store)
    assert _fails(ok) == []
    assert ok.signer == "signing key of account APP"
    seed = store.load_key(store.user("OP", "APP", "alice").public_key).seed.reveal()
    assert seed not in repr(ok) + str(ok.claims)
    # the signing key is rotated away: the old creds name the problem
    old_key = store.account("OP", "APP").signing_keys[0]
    ops.edit_account(store, "OP", "APP", add_signing_key=True)
    import copy

    from natsops.auth import jwt

    acc = store.account("OP", "APP")
    claims = copy.deepcopy(dict(acc.token.claims))
    claims["nats"]["signing_keys"] = [k for k in claims["nats"]["signing_keys"] if k != old_key]
    claims["iat"] += 1
    store.write_jwt(acc.path, jwt.encode(claims, store.load_key(
        store.operator("OP").public_key, "operator")))
    assert _fails(describe_jwt(creds, "alice.creds", store)) == ["AUTH044"]
    # a store of another operator: nothing it signed is trusted
    other = Store(store.root.parent / "other")
    ops.add_operator(other, "X", sys=True)
    assert "AUTH044" in _fails(describe_jwt(creds, "alice.creds", other))
    assert {f.id for f in describe_jwt(creds, "c", None).findings} == {"AUTH041", "AUTH040"}
    with pytest.raises(UsageError):
        describe_jwt("hello", "x", store)


def test_keys_ls_flags_missing_orphan_and_loose_seeds(store: Store) -> None:
    alice = store.user("OP", "APP", "alice").public_key
    store.key_path(alice).chmod(0o644)
    store.key_path(store.account("OP", "OTHER").public_key).unlink()
    from natsops.auth.nkey import generate

    store.save_key(generate("user"))
    by_owner = {k.owner: k for k in list_keys(store)}
    assert "readable by others" in str(by_owner["user APP/alice"].problem)
    assert not by_owner["account OTHER (identity key)"].seed
    assert any(o.startswith("orphan") for o in by_owner)


def test_require_signing_keys_and_rotation_plan(store: Store) -> None:
    with pytest.raises(UsageError):
        ops.edit_operator(store, "OP", strict=True)
    ch = ops.edit_operator(store, "OP", strict=True, add_signing_key=True)
    assert ch.claims["nats"]["strict_signing_key_usage"] is True
    assert any("would no longer trust" in n and "OTHER" in n for n in ch.notes), ch.notes
    key = store.operator("OP").signing_keys[0]
    ch = ops.edit_operator(store, "OP", strict=False, remove_signing_keys=(key,))
    assert "signing_keys" not in ch.claims["nats"]
    assert "strict_signing_key_usage" not in ch.claims["nats"]
    plan = plan_rotation(store, "OP", "APP")
    assert plan.users == ("alice",)
    with pytest.raises(UsageError):
        plan_rotation(store, "OP", "OTHER")  # no signing key


def test_rotation_without_push_reissues_users_and_activations(store: Store) -> None:
    import asyncio

    from natsops.auth.rotate import rotate_signing_key

    ops.add_export(store, "OP", "APP", ExportSpec("svc.>", private=True))
    token = ops.generate_activation(store, "OP", "APP", "svc.>", "OTHER")
    ops.add_import(store, "OP", "OTHER", ImportSpec("svc.>", "APP", token=token))
    alice = store.user("OP", "APP", "alice")
    report = asyncio.run(rotate_signing_key(store, "OP", "APP", None))
    assert report.plan.activations == (("OTHER", "svc.>"),)
    assert store.account("OP", "APP").signing_keys == [report.new_key]
    user = store.user("OP", "APP", "alice")
    assert (user.public_key, user.token.issuer) == (alice.public_key, report.new_key)
    assert user.token.iat > alice.token.iat
    [imp] = store.account("OP", "OTHER").nats["imports"]
    assert _fails(describe_jwt(imp["token"], "token", store)) == []
    assert _fails(describe_jwt(store.creds_path("OP", "APP", "alice").read_text(), "c",
                               store)) == []
    assert report.steps[-1].startswith("not pushed: natsops auth push --account APP")
