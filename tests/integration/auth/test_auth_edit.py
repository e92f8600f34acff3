"""``auth user edit``, roles, mappings and ``user info --live`` against a real operator-mode server.

What the server really does with an edited user (found here, nats-server 2.15): it evaluates a
user JWT only when a client connects. Pushing the account alone changes nothing for a live
connection of the user; a revocation of the user's older JWTs (``--revoke-previous``) makes the
server close connections that hold one, and a client that reconnects with the same creds file
(rewritten with the same seed) gets the new permissions. nats-py closes the connection on that
error instead of reconnecting, so the test reconnects itself, with the same file.
"""

from __future__ import annotations

import asyncio
import gc
import json
import shutil
import stat
import time
import warnings
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import nats
import pytest
from typer.testing import CliRunner

from natsops.auth import jwt as jwtmod
from natsops.auth import ops
from natsops.auth.claims import AccountLimits, Permissions
from natsops.auth.creds import parse_creds
from natsops.auth.store import Store
from natsops.cli.main import app

from .conftest import OperatorCluster, single_server

pytestmark = pytest.mark.integration
T = TypeVar("T")


@pytest.fixture(scope="module")
def server(server_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorCluster]:
    """One operator-mode server (full resolver) for the module; DEMO/APP/service pushed."""
    d = tmp_path_factory.mktemp("authedit")
    store = Store(d / "store")
    ops.add_operator(store, "DEMO", sys=True)
    ops.add_account(store, "DEMO", "APP", jetstream=True, limits=AccountLimits())
    ops.add_user(store, "DEMO", "APP", "service")
    with single_server(store, "DEMO", d / "cluster", server_bin) as oc:
        yield oc


def _cli(oc: OperatorCluster, *args: str, code: int = 0) -> tuple[str, str]:
    r = CliRunner().invoke(app, ["-s", oc.url("a1"), "auth", "--store", str(oc.store.root),
                                 *args])
    assert r.exit_code == code, (args, r.stdout, r.stderr, r.exception)
    return r.stdout, r.stderr


class Client:
    """A nats-py connection that records permission violations and its closing."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.nc: nats.NATS | None = None

    async def connect(self, url: str, creds: Path) -> Client:
        async def on_error(e: Exception) -> None:
            self.errors.append(str(e))

        self.nc = await nats.connect(url, user_credentials=str(creds), error_cb=on_error,
                                     allow_reconnect=False)
        return self

    async def denied(self, action: str, subject: str) -> bool:
        """Publish (or subscribe) and say whether the server answered a permissions violation."""
        assert self.nc is not None
        self.errors.clear()
        if action == "pub":
            await self.nc.publish(subject, b"x")
        else:
            await self.nc.subscribe(subject)
        await self.nc.flush()
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and not self.errors:
            await asyncio.sleep(0.02)
        return any("permissions violation" in e for e in self.errors)

    async def closed_by_server(self, within: float = 5.0) -> bool:
        """Wait until the server closed the connection (nats-py does not reconnect then)."""
        assert self.nc is not None
        deadline = time.monotonic() + within
        while not self.nc.is_closed and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return self.nc.is_closed

    async def close(self) -> None:
        if self.nc is not None and not self.nc.is_closed:
            await self.nc.close()


async def _refused(url: str, creds: Path) -> bool:
    why = ""
    try:
        nc = await nats.connect(url, user_credentials=str(creds), allow_reconnect=False,
                                max_reconnect_attempts=0, connect_timeout=3)
    except Exception as exc:
        why = str(exc).lower()
    else:
        await nc.close()
        return False
    return "authorization violation" in why


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, then collect what nats-py leaves of refused or server-closed sockets."""
    try:
        return asyncio.run(coro)
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()


def test_user_edit_keeps_key_and_applies_on_reconnect(server: OperatorCluster,
                                                       tmp_path: Path) -> None:
    oc, url = server, server.url("a1")
    ops.add_user(oc.store, "DEMO", "APP", "editme",
                 permissions=Permissions(allow_pub=("a.>",), allow_sub=("a.>", "_INBOX.>")))
    creds = oc.store.creds_path("DEMO", "APP", "editme")
    v1_copy = tmp_path / "v1.creds"
    shutil.copy(creds, v1_copy)
    seed_before = parse_creds(creds.read_text()).seed.reveal()

    async def scenario() -> None:
        live = await Client().connect(url, creds)
        assert await live.denied("pub", "b.x")

        # 1. edit without --revoke-previous: the live connection keeps its claims, the old
        # creds copy keeps working, a new connect with the same file gets the new claims
        out, _ = _cli(oc, "user", "edit", "editme", "--account", "APP", "--allow-pubsub", "b.>",
                      "--json")
        diff = {d["path"]: d for d in json.loads(out)["diffs"][0]["diff"]}
        assert diff["nats.pub.allow"]["after"] == ["a.>", "b.>"]
        assert await live.denied("pub", "b.x")
        assert not await _refused(url, v1_copy)
        again = await Client().connect(url, creds)
        assert not await again.denied("pub", "b.x")
        assert not await again.denied("sub", "b.y")
        await again.close()

        # 2. --revoke-previous and push: the server closes the connection on the old JWT;
        # reconnecting with the same creds file gets the new permissions, the old copy is refused
        _cli(oc, "user", "edit", "editme", "--account", "APP", "--allow-pub", "c.>",
             "--revoke-previous")
        assert await live.denied("pub", "c.x")
        await asyncio.to_thread(_cli, oc, "push", "--account", "APP")
        assert await live.closed_by_server(), "the connection on the revoked JWT stayed open"
        assert live.nc is not None and "revoked" in str(live.nc.last_error).lower()
        back = await Client().connect(url, creds)
        assert not await back.denied("pub", "c.x")
        assert await back.denied("pub", "d.x")
        await back.close()
        assert await _refused(url, v1_copy)

    _run(scenario())
    text = creds.read_text()
    assert parse_creds(text).seed.reveal() == seed_before
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert parse_creds(text).user.nats["pub"]["allow"] == ["a.>", "b.>", "c.>"]


def test_role_user_gets_the_template_whatever_its_jwt(server: OperatorCluster) -> None:
    oc, url = server, server.url("a1")
    _cli(oc, "account", "signing-key", "add", "APP", "--role", "reader",
         "--deny-pub", "forbidden.>", "--allow-sub", "feed.{{name()}}.>", "--allow-sub",
         "_INBOX.>")
    _cli(oc, "user", "add", "alice", "--account", "APP", "--role", "reader")
    _cli(oc, "push", "--account", "APP")
    creds = oc.store.creds_path("DEMO", "APP", "alice")

    # a user JWT signed by the role's key that carries its own permissions is refused
    role_key = json.loads(_cli(oc, "account", "signing-key", "ls", "APP", "--json")[0])[
        "roles"][0]["key"]
    ops.add_user(oc.store, "DEMO", "APP", "mallory")
    m = oc.store.user("DEMO", "APP", "mallory")
    claims = dict(m.token.claims)
    claims["nats"] = {**claims["nats"], "issuer_account": oc.store.account("DEMO", "APP")
                      .public_key, "pub": {"allow": [">"]}}
    forged = jwtmod.encode(claims, oc.store.load_key(role_key, "account"))
    seed = oc.store.load_key(m.public_key, "user").seed
    from natsops.auth.creds import format_creds

    forged_creds = oc.dir / "mallory.creds"
    forged_creds.write_text(format_creds(forged, seed))
    forged_creds.chmod(0o600)

    async def scenario() -> None:
        alice = await Client().connect(url, creds)
        assert not await alice.denied("sub", "feed.alice.news")
        assert await alice.denied("sub", "feed.bob.news")
        assert await alice.denied("pub", "forbidden.x")
        assert not await alice.denied("pub", "anything.else")
        assert await alice.denied("sub", "extra.x")
        assert await _refused(url, forged_creds)

        # a template change (same key) reaches live users: the server disconnects them when
        # the account is pushed, and a reconnect with the same creds gets the new template
        _cli(oc, "account", "signing-key", "edit", "APP", "--role", "reader", "--allow-sub",
             "extra.>")
        await asyncio.to_thread(_cli, oc, "push", "--account", "APP")
        assert await alice.closed_by_server(), "the role user stayed connected"
        again = await Client().connect(url, creds)
        assert not await again.denied("sub", "extra.x")
        assert await again.denied("sub", "feed.bob.news")
        await again.close()

    _run(scenario())
    out, _ = _cli(oc, "user", "info", "alice", "--account", "APP", "--live", "--json")
    live = json.loads(out)["live"]
    assert sorted(live["permissions"]["permissions"]["subscribe"]["allow"]) == [
        "_INBOX.>", "extra.>", "feed.alice.>"]
    assert live["permissions"]["permissions"]["publish"]["deny"] == ["forbidden.>"]
    human, _ = _cli(oc, "user", "info", "alice", "--account", "APP", "--live")
    assert "role reader" in human and "effective permissions" in human, human
    effective = human.split("effective permissions", 1)[1]
    assert "feed.alice.>" in effective and "forbidden.>" in effective and "{" not in human


def test_user_info_live_lists_connections_on_an_older_jwt(server: OperatorCluster) -> None:
    oc, url = server, server.url("a1")
    ops.add_user(oc.store, "DEMO", "APP", "narrow", permissions=Permissions(allow_pub=("n.>",)))
    out, _ = _cli(oc, "user", "info", "narrow", "--account", "APP", "--live", "--json")
    live = json.loads(out)["live"]
    assert live["permissions"] is None and "may not publish" in live["permissions_note"]
    ops.add_user(oc.store, "DEMO", "APP", "watched")
    creds = oc.store.creds_path("DEMO", "APP", "watched")

    async def scenario() -> None:
        c = await Client().connect(url, creds)
        try:
            out, _ = await asyncio.to_thread(_cli, oc, "user", "info", "watched", "--account",
                                             "APP", "--live", "--json")
            assert [x["current"] for x in json.loads(out)["live"]["connections"]] == [True]
            _cli(oc, "user", "edit", "watched", "--account", "APP", "--max-subs", "10")
            out, _ = await asyncio.to_thread(_cli, oc, "user", "info", "watched", "--account",
                                             "APP", "--live", "--json")
            live = json.loads(out)["live"]
            assert [x["current"] for x in live["connections"]] == [False]
            assert "older JWT" in live["notes"][0]
        finally:
            await c.close()

    _run(scenario())


def test_weighted_mapping_splits_traffic(server: OperatorCluster) -> None:
    oc, url = server, server.url("a1")
    _cli(oc, "account", "mapping", "add", "APP", "--from", "split", "--to", "split.a",
         "--weight", "80")
    _cli(oc, "account", "mapping", "add", "APP", "--from", "split", "--to", "split.b",
         "--weight", "20")
    out, _ = _cli(oc, "account", "mapping", "ls", "APP", "--json")
    assert [(m["subject"], m["weight"]) for m in json.loads(out)["mappings"]] == [
        ("split.a", 80), ("split.b", 20)]
    _cli(oc, "push", "--account", "APP")
    total = 10_000

    async def scenario() -> dict[str, int]:
        nc = await nats.connect(url, user_credentials=str(
            oc.store.creds_path("DEMO", "APP", "service")), allow_reconnect=False)
        counts = {"split.a": 0, "split.b": 0, "split": 0}
        done = asyncio.Event()

        async def on(msg: nats.aio.msg.Msg) -> None:
            counts[msg.subject] += 1
            if sum(counts.values()) == total:
                done.set()

        for s in counts:
            await nc.subscribe(s, cb=on)
        await nc.flush()
        for _ in range(total):
            await nc.publish("split", b"")
        await nc.flush()
        await asyncio.wait_for(done.wait(), 20)
        await nc.close()
        return counts

    counts = _run(scenario())
    assert counts["split"] == 0
    assert abs(counts["split.a"] - 0.8 * total) <= 0.05 * total, counts
    assert abs(counts["split.b"] - 0.2 * total) <= 0.05 * total, counts
    _cli(oc, "account", "mapping", "rm", "APP", "--from", "split")
    assert "mappings" not in oc.store.account("DEMO", "APP").nats


def test_account_and_user_kinds_apply_then_plan_shows_no_change(server: OperatorCluster,
                                                                 tmp_path: Path) -> None:
    from natsops.connection import connect
    from natsops.context import Settings
    from natsops.estate import (
        AuthStore,
        EstateContext,
        Op,
        apply_plan,
        build_plan,
        load_resources,
    )

    oc, url = server, server.url("a1")
    recipe = tmp_path / "team.yaml"
    recipe.write_text(
        "kind: Account\nmetadata: {name: SUPPLIER}\nspec:\n"
        "  exports: [{name: prices, subject: 'prices.>', type: service}]\n---\n"
        "kind: Account\nmetadata: {name: TEAM, operator: DEMO}\nspec:\n"
        "  jetstream: true\n  limits: {conn: 50, payload: 512KB, disk_storage: 64MB}\n"
        "  default_permissions: {pub: {deny: ['admin.>']}}\n"
        "  imports: [{name: prices, subject: 'prices.>', account: SUPPLIER, type: service}]\n"
        "---\nkind: User\nmetadata: {name: worker, account: TEAM}\n"
        "spec: {pub: {allow: ['jobs.>']}, sub: {allow: ['jobs.>', '_INBOX.>']}, subs: 20}\n")
    guide = Path(__file__).parents[3] / "recipes" / "auth" / "app.yaml"
    resources = load_resources([guide, recipe])
    settings = Settings(servers=(url,), timeout=5.0, sources={"servers": "flag"},
                        creds=str(oc.store.creds_path("DEMO", "APP", "service")))

    async def plan_and_apply() -> tuple[list[tuple[str, str, Op]], list[tuple[str, Op]]]:
        async with connect(settings) as conn:
            ctx = EstateContext(conn, auth=AuthStore(oc.store.root))
            plan = await build_plan(ctx, resources)
            first = [(a.kind, a.name, a.op) for a in plan.actions]
            report = await apply_plan(ctx, plan)
            assert report.ok, report.error
            again = await build_plan(EstateContext(conn, auth=AuthStore(oc.store.root)),
                                     resources, prune=True)  # accounts/users are never pruned
            return first, [(a.label, a.op) for a in again.actions]

    first, second = _run(plan_and_apply())
    assert ("Account", "TEAM", Op.CREATE) in first and ("User", "TEAM/worker", Op.CREATE) in first
    assert {op for _, op in second} == {Op.NOOP}, second
    supplier = oc.store.account("DEMO", "SUPPLIER").public_key
    assert oc.store.account("DEMO", "TEAM").nats["imports"][0]["account"] == supplier
    team = oc.store.account("DEMO", "TEAM").nats["limits"]
    assert (team["conn"], team["payload"], team["disk_storage"]) == (50, 512 * 1024, 64 << 20)

    async def worker() -> None:
        c = await Client().connect(url, oc.store.creds_path("DEMO", "TEAM", "worker"))
        assert not await c.denied("pub", "jobs.x")
        assert await c.denied("pub", "other.x")
        await c.close()

    _run(worker())

    # one field edited: exactly that diff, then apply and no change
    recipe.write_text(recipe.read_text().replace("conn: 50", "conn: 60"))
    resources = load_resources([recipe])

    async def edited() -> list[tuple[str, str, object, object]]:
        async with connect(settings) as conn:
            ctx = EstateContext(conn, auth=AuthStore(oc.store.root))
            plan = await build_plan(ctx, resources)
            changes = [(a.name, c.field, c.old, c.new) for a in plan.pending for c in a.changes]
            assert (await apply_plan(ctx, plan)).ok
            again = await build_plan(EstateContext(conn, auth=AuthStore(oc.store.root)),
                                     resources)
            assert not again.pending
            return changes

    assert _run(edited()) == [("TEAM", "limits.conn", 50, 60)]


def test_plan_and_apply_take_store_and_operator_flags(server: OperatorCluster,
                                                      tmp_path: Path) -> None:
    """recipes/auth with --store/--operator and no NATSOPS_* variable (the test env has none)."""
    oc = server
    recipe = tmp_path / "flagged.yaml"
    recipe.write_text("kind: User\nmetadata: {name: flagged, account: APP}\n"
                      "spec: {pub: {allow: ['flagged.>']}}\n")
    guide = Path(__file__).parents[3] / "recipes" / "auth"
    conn = ["-s", oc.url("a1"), "--creds", str(oc.store.creds_path("DEMO", "APP", "service"))]
    store = ["--store", str(oc.store.root), "--operator", "DEMO"]

    def natsops(*args: str, code: int = 0) -> tuple[str, str]:
        r = CliRunner().invoke(app, [*conn, *args])
        assert r.exit_code == code, (args, r.stdout, r.stderr, r.exception)
        return r.stdout, r.stderr

    plan = json.loads(natsops("plan", str(guide), str(recipe), *store, "--json")[0])
    ops_by_name = {(a["kind"], a["name"]): a["op"] for a in plan["actions"]}
    assert ops_by_name[("User", "APP/flagged")] == "create", plan
    assert ops_by_name[("Account", "APP")] == "no-change", plan
    natsops("apply", str(guide), str(recipe), *store, "--yes")
    assert oc.store.creds_path("DEMO", "APP", "flagged").exists()
    assert oc.store.user("DEMO", "APP", "flagged").nats["pub"]["allow"] == ["flagged.>"]
    out, _ = natsops("plan", str(recipe), "--store", str(oc.store.root), "--check")
    assert "no change" in out.lower(), out
    # the flags are what found the store: without them the per-user folder has no operator
    _, err = natsops("plan", str(recipe), code=4)
    assert "no operator in" in err and str(oc.store.root) not in err, err
    _, err = natsops("plan", str(recipe), "--store", str(oc.store.root), "--operator", "NOPE",
                     code=4)
    assert "operator 'NOPE' not found" in err and err.count("error:") == 1, err


def test_account_roles_plan_apply_export_round_trip(server: OperatorCluster,
                                                     tmp_path: Path) -> None:
    """Roles declared in an Account recipe: created, enforced, diffed, edited in place (same
    key), removed, exported and planned again with no change."""
    oc = server
    conn = ["-s", oc.url("a1"), "--creds", str(oc.store.creds_path("DEMO", "APP", "service"))]
    store = ["--store", str(oc.store.root), "--operator", "DEMO"]

    def natsops(*args: str, code: int = 0) -> str:
        r = CliRunner().invoke(app, [*conn, *args])
        assert r.exit_code == code, (args, r.stdout, r.stderr, r.exception)
        return r.stdout

    recipe = tmp_path / "roles.yaml"
    recipe.write_text(
        "kind: Account\nmetadata: {name: ROLES, operator: DEMO}\nspec:\n  signing_keys:\n"
        "    - {role: ops, template: {pub: {allow: ['ops.>']}, sub: {allow: ['_INBOX.>']}}}\n"
        "    - {role: audit, description: read only, template: {sub: {allow: ['audit.>']}}}\n"
        "---\nkind: User\nmetadata: {name: bot, account: ROLES}\nspec: {role: ops}\n")
    natsops("apply", str(recipe), *store, "--yes")
    roles = {r["role"]: r for r in json.loads(
        _cli(oc, "account", "signing-key", "ls", "ROLES", "--json")[0])["roles"]}
    assert set(roles) == {"ops", "audit"} and roles["audit"]["description"] == "read only"
    assert oc.store.user("DEMO", "ROLES", "bot").token.issuer == roles["ops"]["key"]

    async def bot() -> tuple[bool, bool]:
        c = await Client().connect(oc.url("a1"), oc.store.creds_path("DEMO", "ROLES", "bot"))
        try:
            return await c.denied("pub", "ops.x"), await c.denied("pub", "other.x")
        finally:
            await c.close()

    assert _run(bot()) == (False, True)  # the role's template applies

    recipe.write_text(recipe.read_text().replace("['ops.>']", "['ops.>', 'ops2.>']").replace(
        "    - {role: audit, description: read only, template: {sub: {allow: ['audit.>']}}}\n",
        ""))
    plan = json.loads(natsops("plan", str(recipe), *store, "--json"))
    [acc] = [a for a in plan["actions"] if a["kind"] == "Account"]
    changes = {c["field"]: (c["old"], c["new"]) for c in acc["changes"]}
    assert changes["signing_keys.ops.template.pub.allow"] == (["ops.>"], ["ops.>", "ops2.>"])
    assert changes["signing_keys.audit"][1] is None and "audit" in acc["reason"], acc
    assert set(changes) == {"signing_keys.ops.template.pub.allow", "signing_keys.audit"}
    natsops("apply", str(recipe), *store, code=2)  # a role removal asks; no terminal
    assert oc.store.has_key(roles["audit"]["key"])
    natsops("apply", str(recipe), *store, "--yes")
    after = {r["role"]: r for r in json.loads(
        _cli(oc, "account", "signing-key", "ls", "ROLES", "--json")[0])["roles"]}
    assert set(after) == {"ops"} and after["ops"]["key"] == roles["ops"]["key"]  # same key
    assert not oc.store.has_key(roles["audit"]["key"])  # retired, not deleted
    assert oc.store.retired_key_path(roles["audit"]["key"]).is_file()

    out = tmp_path / "exported"
    natsops("export", "--account", "ROLES", *store, "--out", str(out))
    text = (out / "account-ROLES.yaml").read_text()
    assert "role: ops" in text and "ops2.>" in text and roles["ops"]["key"] not in text, text
    assert "No changes" in natsops("plan", str(out), *store, "--check")
