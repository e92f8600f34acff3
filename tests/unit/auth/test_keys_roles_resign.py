"""Orphan seeds and prune, the user view, operator --resign planning and Account recipe roles,
on a store (no server)."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest

from natsops.auth import ops
from natsops.auth.claims import Permissions
from natsops.auth.describe import describe_jwt
from natsops.auth.edit import UserEdit
from natsops.auth.keys import list_keys, prune_keys
from natsops.auth.operator_rules import plan_resign, resign
from natsops.auth.roles import add_role, add_role_user, list_roles, sync_roles
from natsops.auth.rotate import rotate_signing_key
from natsops.auth.store import Store
from natsops.auth.userview import user_view
from natsops.errors import UsageError
from natsops.estate.model import Doc, Live, Op, RecipeError


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "store")
    ops.add_operator(s, "OP", sys=True)
    ops.add_account(s, "OP", "APP", signing_key=True)
    ops.add_user(s, "OP", "APP", "alice", permissions=Permissions(
        allow_pub=("orders.>",), deny_sub=("admin.>",), allow_resp=2))
    return s


def test_rotation_retires_the_old_seed_and_prune_moves_orphans(store: Store) -> None:
    old = store.account("OP", "APP").signing_keys[0]
    report = asyncio.run(rotate_signing_key(store, "OP", "APP", None))
    assert not store.has_key(old) and store.retired_key_path(old).is_file()
    assert any("keys/retired" in s for s in report.steps)
    assert not any(k.orphan for k in list_keys(store))
    # an account removed from the store leaves its seeds behind: orphans
    ops.add_account(store, "OP", "GONE")
    gone = store.account("OP", "GONE").public_key
    ops.remove_account(store, "OP", "GONE")
    [orphan] = [k for k in list_keys(store) if k.orphan]
    assert orphan.public_key == gone and orphan.owner.startswith("orphan")
    plan = prune_keys(store, dry_run=True)
    assert [k.public_key for k in plan.orphans] == [gone] and store.has_key(gone)
    done = prune_keys(store)
    assert done.orphans == plan.orphans and not store.has_key(gone)
    assert stat.S_IMODE(store.retired_key_path(gone).stat().st_mode) == 0o600
    assert prune_keys(store).orphans == ()


def test_user_view_reads_like_nsc_describe_and_holds_no_secret(store: Store) -> None:
    rows = dict(user_view(store, "OP", "APP", "alice", now=0))
    user = store.user("OP", "APP", "alice")
    assert rows["publish allow"] == "orders.>" and rows["subscribe deny"] == "admin.>"
    assert rows["subscribe allow"] == "everything" and rows["expires"] == "never"
    assert rows["response"].startswith("max 2 message(s)")
    assert "signing key of account APP" in rows["issuer"]
    assert rows["max payload"] == "unlimited" and rows["bearer token"] == "no"
    seed = store.load_key(user.public_key).seed.reveal()
    text = repr(rows)
    assert user.token.token not in text and seed not in text
    add_role(store, "OP", "APP", "reader", UserEdit(
        permissions=Permissions(allow_sub=("feed.>",))))
    add_role_user(store, "OP", "APP", "bob", "reader")
    assert "role reader" in dict(user_view(store, "OP", "APP", "bob"))["issuer"]


def test_resign_plan_refusals_and_store_only_run(store: Store) -> None:
    ops.add_account(store, "OP", "PLAIN")  # no signing key; its user is signed by identity
    ops.add_user(store, "OP", "PLAIN", "bob")
    with pytest.raises(UsageError, match="do not know the operator signing key"):
        plan_resign(store, "OP", strict=True, adding_key=True)  # with push: refused
    with pytest.raises(UsageError, match="no seed of a signing key"):
        plan_resign(store, "OP", strict=True)
    plan = plan_resign(store, "OP", strict=True, adding_key=True, push=False)
    assert plan.accounts == ("APP", "PLAIN", "SYS") and plan.new_signing_keys == ("PLAIN",)
    assert plan.users == (("PLAIN", "bob"),)  # alice is signed by APP's signing key already
    bob = store.user("OP", "PLAIN", "bob")
    ops.edit_operator(store, "OP", strict=True, add_signing_key=True)
    report = asyncio.run(resign(store, "OP", plan, None))
    assert report.steps[-1].startswith("not pushed: natsops auth push --account APP")
    after = store.user("OP", "PLAIN", "bob")
    assert after.public_key == bob.public_key and after.token.issuer != bob.token.issuer
    creds = store.creds_path("OP", "PLAIN", "bob")
    assert report.redeploy == (str(creds),)
    fails = [f.id for f in describe_jwt(creds.read_text(), "bob", store).findings
             if f.severity.label == "fail"]
    assert fails == []
    assert plan_resign(store, "OP", strict=None).empty()  # nothing left to re-sign
    # a removed operator signing key: the accounts it signed are named (non-strict too)
    ops.edit_operator(store, "OP", strict=False, add_signing_key=True)
    first = store.operator("OP").signing_keys[0]
    assert plan_resign(store, "OP", strict=None, remove=(first,)).accounts == (
        "APP", "PLAIN", "SYS")


def _doc(spec: dict[str, object]) -> Doc:
    return Doc("Account", {"name": "APP"}, spec, "roles.yaml", 1)


def test_account_recipe_roles_load_diff_and_sync(store: Store) -> None:
    from natsops.estate.kinds.account import AccountKind

    kind = AccountKind()
    for bad in ([{"role": "r", "key": "AAA"}], [{"role": "r", "template": {"pubb": {}}}],
                [{"role": "r"}, {"role": "r"}], {"role": "r"}, [{"template": {}}]):
        with pytest.raises(RecipeError):
            kind.load(_doc({"signing_keys": bad}))
    res = kind.load(_doc({"signing_keys": [
        {"role": "reader", "template": {"sub": {"allow": ["feed.>"]}, "payload": "1KB"}}]}))
    assert res.spec["signing_keys"]["reader"]["template"]["payload"] == 1024
    sync_roles(store, "OP", "APP", res.spec["signing_keys"])
    live_nats = dict(store.account("OP", "APP").nats)
    live = Live("Account", "APP", live_nats, detail={
        "current": True, "keys": {"APP": store.account("OP", "APP").public_key},
        "operator": "OP", "server_iat": 0, "store_iat": 0})
    assert kind.diff(res, live).op is Op.NOOP
    exported = kind.export(live)
    assert exported["spec"]["signing_keys"] == [
        {"role": "reader", "template": {"sub": {"allow": ["feed.>"]}, "payload": "1KB"}}]
    again = kind.load(Doc("Account", exported["metadata"], exported["spec"], "x.yaml", 1))
    assert kind.diff(again, live).op is Op.NOOP  # export -> plan: no change
    key = list_roles(store, "OP", "APP")[0].key
    other = kind.load(_doc({"signing_keys": [{"role": "writer"}]}))
    action = kind.diff(other, live)
    assert {c.field for c in action.changes} == {"signing_keys.reader", "signing_keys.writer"}
    assert "removes role(s) reader" in action.reason
    assert action.destructive  # apply asks before locking the role's users out
    sync_roles(store, "OP", "APP", {"reader": {"template": {"pub": {"allow": ["x"]}}}})
    [now] = list_roles(store, "OP", "APP")
    assert now.template["pub"] == {"allow": ["x"]} and now.key == key  # same key, new template


def test_account_export_round_trips_limits_imports_and_permissions() -> None:
    from natsops.estate.kinds.account import AccountKind

    kind = AccountKind()
    nats = {"limits": {"subs": -1, "data": -1, "payload": 512 * 1024, "imports": -1,
                       "exports": -1, "wildcards": True, "conn": 50, "leaf": -1,
                       "tiered_limits": {"R3": {"disk_storage": 64 << 20, "streams": 2}}},
            "default_permissions": {"pub": {"deny": ["admin.>"]}, "sub": {}},
            "imports": [{"name": "p", "subject": "prices.>", "account": "AKEY", "type": "service"}],
            "description": "team", "signing_keys": ["APLAIN"], "type": "account", "version": 2}
    live = Live("Account", "TEAM", nats, detail={
        "current": True, "keys": {"SUPPLIER": "AKEY", "TEAM": "ATEAM"}, "operator": "OP",
        "server_iat": 0, "store_iat": 0})
    doc = kind.export(live)
    assert doc["metadata"] == {"name": "TEAM", "operator": "OP"}
    assert doc["spec"]["limits"] == {"payload": "512KB", "conn": 50,
                                     "tiered_limits": {"R3": {"disk_storage": "64MB",
                                                              "streams": 2}}}
    assert doc["spec"]["imports"][0]["account"] == "SUPPLIER"
    assert "signing_keys" not in doc["spec"]  # plain keys are not declared; no roles here
    again = kind.load(Doc("Account", doc["metadata"], doc["spec"], "x.yaml", 1))
    assert kind.diff(again, live).op is Op.NOOP


def test_user_recipe_role_change_plans_and_reissues_through_the_new_role(
        store: Store, tmp_path: Path) -> None:
    from typing import Any, cast

    from natsops.estate import load_resources
    from natsops.estate.context import AuthStore, EstateContext
    from natsops.estate.kinds import handler
    from natsops.estate.plan import build_plan

    for role, subject in (("reader", "feed.>"), ("writer", "orders.>")):
        add_role(store, "OP", "APP", role, UserEdit(permissions=Permissions(
            allow_pub=(subject,))))
    add_role_user(store, "OP", "APP", "bob", "reader", tags=("team:a",))
    bob = store.user("OP", "APP", "bob")
    seed = store.load_key(bob.public_key).seed.reveal()
    ctx = EstateContext(cast(Any, None), auth=AuthStore(store.root, "OP"))
    recipe = tmp_path / "users.yaml"

    def plan(text: str) -> Any:
        recipe.write_text(text)
        return asyncio.run(build_plan(ctx, load_resources([recipe])))

    action = plan("kind: User\nmetadata: {name: bob, account: APP}\nspec: {role: writer}\n"
                  ).actions[0]
    assert action.op is Op.UPDATE
    assert [(c.field, c.old, c.new) for c in action.changes] == [("role", "reader", "writer")]
    note = asyncio.run(handler("User").apply(ctx, action))
    assert "role reader -> writer" in note
    after = store.user("OP", "APP", "bob")
    writer = next(r.key for r in list_roles(store, "OP", "APP") if r.role == "writer")
    assert after.public_key == bob.public_key and after.token.issuer == writer
    assert after.token.claims["nats"]["tags"] == ["team:a"]
    creds = store.creds_path("OP", "APP", "bob").read_text()
    assert seed in creds and after.token.token in creds
    assert plan("kind: User\nmetadata: {name: bob, account: APP}\nspec: {role: writer}\n"
                ).actions[0].op is Op.NOOP
    # a user with permissions of its own moves to a role: they are dropped (the template rules)
    action = plan("kind: User\nmetadata: {name: alice, account: APP}\nspec: {role: reader}\n"
                  ).actions[0]
    fields = [c.field for c in action.changes]
    assert fields[0] == "role" and "pub.allow" in fields
    asyncio.run(handler("User").apply(ctx, action))
    assert "pub" not in store.user("OP", "APP", "alice").token.claims["nats"]
    # a role the account does not have: the plan fails at the recipe's line
    with pytest.raises(RecipeError, match=r"users.yaml:4: .*account APP has no role 'nope' "
                                          r"\(its roles: reader, writer\)"):
        plan("kind: User\nmetadata: {name: bob, account: APP}\nspec:\n  role: nope\n")
    # ... unless the run's Account recipe declares it (its roles are then the only ones)
    account = "kind: Account\nmetadata: {name: APP}\nspec:\n  signing_keys: [{role: nope}]\n"

    def check(role: str) -> None:
        recipe.write_text(account + "---\nkind: User\nmetadata: {name: bob, account: APP}\n"
                          f"spec: {{role: {role}}}\n")
        res = load_resources([recipe])
        asyncio.run(handler("User").check(ctx, res[1:], res))

    check("nope")
    with pytest.raises(RecipeError, match="its roles: nope"):
        check("writer")


def test_user_recipe_change_on_a_revoked_user_is_refused(store: Store, tmp_path: Path) -> None:
    """Re-signing issues a JWT newer than the revocation, which would silently lift it."""
    from typing import Any, cast

    from natsops.auth.revocations import Target, add_revocation, remove_revocation
    from natsops.estate import load_resources
    from natsops.estate.context import AuthStore, EstateContext
    from natsops.estate.plan import build_plan

    ctx = EstateContext(cast(Any, None), auth=AuthStore(store.root, "OP"))
    recipe = tmp_path / "users.yaml"
    recipe.write_text("kind: User\nmetadata: {name: alice, account: APP}\n"
                      "spec: {tags: [team:b]}\n")
    add_revocation(store, "OP", "APP", Target(user="alice"))
    with pytest.raises(RecipeError, match=r"users.yaml:1: .*alice is revoked in account APP: "
                                          "re-issuing it would lift the revocation") as err:
        asyncio.run(build_plan(ctx, load_resources([recipe])))
    assert "revocations rm -a APP -n alice" in str(err.value.hint)
    remove_revocation(store, "OP", "APP", Target(user="alice"))
    action = asyncio.run(build_plan(ctx, load_resources([recipe]))).actions[0]
    assert action.op is Op.UPDATE


def test_rotation_and_resign_leave_revoked_users_revoked(store: Store) -> None:
    """Re-issuing a revoked user would lift its revocation: rotation and --resign skip it."""
    from natsops.auth.edit import revoked_at
    from natsops.auth.revocations import Target, add_revocation

    signer = store.account("OP", "APP").signing_keys[0]
    for name in ("carol", "dave"):
        ops.add_user(store, "OP", "APP", name)
    assert store.user("OP", "APP", "carol").token.issuer == signer
    add_revocation(store, "OP", "APP", Target(user="dave"))
    report = asyncio.run(rotate_signing_key(store, "OP", "APP", None))
    assert "dave" in report.plan.revoked and "dave" not in report.plan.users
    assert "carol" in report.plan.users
    acc = store.account("OP", "APP")
    assert revoked_at(acc, store.user("OP", "APP", "dave")) is not None  # still revoked
    assert revoked_at(acc, store.user("OP", "APP", "carol")) is None
    # --resign re-issues identity-signed users, never a revoked one
    ops.add_account(store, "OP", "OLD")
    ops.add_user(store, "OP", "OLD", "erin")
    ops.add_user(store, "OP", "OLD", "frank")
    old_acc = store.account("OP", "OLD")
    assert store.user("OP", "OLD", "erin").token.issuer == old_acc.public_key
    add_revocation(store, "OP", "OLD", Target(user="frank"))
    plan = plan_resign(store, "OP", strict=True, adding_key=True, push=False)
    assert ("OLD", "erin") in plan.users and ("OLD", "frank") not in plan.users
