"""The nsc recipe end to end against real operator-mode servers, through the library."""

from __future__ import annotations

import asyncio
import gc
import stat
import warnings

import nats
import pytest
from nats.errors import NoRespondersError

from natsops.auth import ops
from natsops.auth.claims import AccountLimits, Permissions
from natsops.auth.push import push, verify
from natsops.errors import Conflict
from natsops.findings import Severity


def _collect_leaked_sockets() -> None:
    """nats-py leaves the socket of a refused connect to the garbage collector."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


async def _connect(creds: str, url: str, errors: list[str] | None = None) -> nats.NATS:
    async def on_error(exc: Exception) -> None:
        if errors is not None:
            errors.append(str(exc))

    return await nats.connect(url, user_credentials=creds, error_cb=on_error,
                              allow_reconnect=False, connect_timeout=3)


async def test_recipe_push_connect_edit_revoke(operator_cluster, auth_store, unique) -> None:
    oc = operator_cluster(nodes=1)
    store, op = auth_store, "DEMO"
    ops.add_account(store, op, "OTHER")
    ops.add_user(store, op, "OTHER", "client")
    ops.add_export(store, op, "APP", ops.ExportSpec("svc.time", "service"))
    ops.add_import(store, op, "OTHER", ops.ImportSpec("svc.time", "APP", "service"))
    ops.add_user(store, op, "APP", "restricted",
                 permissions=Permissions(allow_pub=("public.>",), allow_sub=("public.>",
                                                                             "_INBOX.>")))
    creds = store.creds_path(op, "APP", "service")
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600

    report = await push(store, op, oc.settings)
    assert {p.account for p in report.pushes} == {"SYS", "APP", "OTHER"}
    assert all(r.status == "accepted" for p in report.pushes for r in p.replies), report.pushes
    assert report.verification is not None
    assert report.verification.ok

    # the creds work: pub/sub and JetStream
    nc = await _connect(str(creds), oc.url("a1"))
    try:
        sub = await nc.subscribe("orders.*")
        await nc.publish("orders.new", b"hi")
        msg = await sub.next_msg(timeout=2)
        assert msg.data == b"hi"
        js = nc.jetstream()
        name = unique("ORDERS")
        await js.add_stream(name=name, subjects=[f"{name}.>"])
        ack = await js.publish(f"{name}.a", b"x")
        assert ack.seq == 1

        # the service exported by APP answers OTHER; an unexported subject does not
        async def answer(m: nats.aio.msg.Msg) -> None:
            await m.respond(b"12:00")

        await nc.subscribe("svc.time", cb=answer)
        await nc.subscribe("app.private", cb=answer)
        await nc.flush()
        other = await _connect(str(store.creds_path(op, "OTHER", "client")), oc.url("a1"))
        try:
            reply = await other.request("svc.time", b"", timeout=2)
            assert reply.data == b"12:00"
            with pytest.raises(NoRespondersError):
                await other.request("app.private", b"", timeout=2)
        finally:
            await other.close()

        # edit: one stream at most, and a new deny; pushed, enforced live on this connection
        errors: list[str] = []
        watcher = await _connect(str(creds), oc.url("a1"), errors)
        ops.edit_account(store, op, "APP", limits=AccountLimits(js_streams=1),
                         allow=Permissions(deny_pub=("forbidden.>",)))
        report = await push(store, op, oc.settings, ["APP"])
        assert report.verification is not None
        assert report.verification.ok
        await watcher.publish("forbidden.x", b"no")
        await watcher.flush()
        for _ in range(50):
            if errors:
                break
            await asyncio.sleep(0.02)
        assert any("forbidden.x" in e for e in errors), errors
        with pytest.raises(nats.js.errors.BadRequestError):
            await js.add_stream(name=unique("SECOND"), subjects=["second.>"])
        await watcher.close()

        # revoke: the restricted user is disconnected, service stays
        rnc = await _connect(str(store.creds_path(op, "APP", "restricted")), oc.url("a1"))
        ops.revoke_user(store, op, "APP", "restricted")
        await push(store, op, oc.settings, ["APP"])
        for _ in range(100):
            if rnc.is_closed:
                break
            await asyncio.sleep(0.02)
        assert rnc.is_closed
        assert nc.is_connected
        with pytest.raises(Exception, match="Authorization Violation"):
            await _connect(str(store.creds_path(op, "APP", "restricted")), oc.url("a1"))
        _collect_leaked_sockets()
    finally:
        await nc.close()

    # no seed in any server log
    logs = oc.logs()
    for path in (store.root / "keys" / "keys").rglob("*.nk"):
        assert path.read_text().strip() not in logs


async def test_verify_names_stale_server_after_missed_push(operator_cluster, auth_store) -> None:
    oc = operator_cluster(nodes=2)
    store, op = auth_store, "DEMO"
    await push(store, op, oc.settings)
    oc.wait_meta_peers()  # a2 is a known meta peer once stopped
    oc.stop("a2")
    ops.edit_account(store, op, "APP", limits=AccountLimits(subs=100))
    only_a1 = oc.settings.with_(servers=(oc.url("a1"),))
    report = await push(store, op, only_a1, ["APP"])
    assert [(r.server, r.status) for r in report.pushes[0].replies] == [
        ("a1", "accepted"), ("a2", "no answer")]
    assert report.missing == ("a2",)  # a stopped meta peer: the push is not a success
    assert [(f.id, f.subject) for f in report.findings if f.severity == Severity.FAIL] == [
        ("AUTH016", "a2")]
    oc.start("a2")

    # without loading APP on a2, only the stored copies (CLAIMS.LOOKUP, anonymous) show it
    unloaded = await verify(store, op, oc.settings, ["APP"], expect=2, timeout=5, load=False)
    assert unloaded.stored[0].older == 1
    assert unloaded.stored[0].current == 1
    assert "AUTH017" in {f.id for f in unloaded.findings if f.severity == Severity.FAIL}

    stale = await verify(store, op, oc.settings, ["APP"], expect=2, timeout=5)
    by_server = {c.server: c.status for c in stale.copies}
    assert by_server == {"a1": "current", "a2": "stale"}, stale.copies
    bad = [f for f in stale.findings if f.severity == Severity.FAIL]
    assert bad
    assert bad[0].fix == "natsops auth push --account APP"

    again = await push(store, op, oc.settings, ["APP"], expect=2)
    assert again.pushes[0].accepted == 2
    fresh = await verify(store, op, oc.settings, ["APP"], expect=2)
    assert {c.status for c in fresh.copies} == {"current"}


async def test_push_to_a_memory_resolver(operator_cluster, auth_store) -> None:
    store, op = auth_store, "DEMO"
    oc = operator_cluster(nodes=1, resolver="memory")
    ops.add_account(store, op, "LATER")  # not in the preload: never loaded
    nc = await _connect(str(store.creds_path(op, "APP", "service")), oc.url("a1"))
    try:
        ops.edit_account(store, op, "APP", limits=AccountLimits(subs=77))
        with pytest.raises(Conflict, match="run a MEMORY resolver"):  # not natsops' configs
            await push(store, op, oc.settings, ["APP", "LATER"])
        report = await push(store, op, oc.settings, ["APP", "LATER"], force=True)  # live only
        status = {p.account: p.replies[0].status for p in report.pushes}
        assert status == {"APP": "accepted", "LATER": "skipped"}
        assert report.verification is not None
        copies = {c.account: c.status for c in report.verification.copies}
        assert copies["APP"] == "current"
    finally:
        await nc.close()


async def test_dry_run_push_changes_nothing(operator_cluster, auth_store) -> None:
    oc = operator_cluster(nodes=1)
    report = await push(auth_store, "DEMO", oc.settings, dry_run=True)
    assert {r.status for p in report.pushes for r in p.replies} == {"would push"}
    assert report.verification is None
    fresh = await verify(auth_store, "DEMO", oc.settings, ["APP"], load=False)
    assert {c.status for c in fresh.copies} == {"not loaded"}
