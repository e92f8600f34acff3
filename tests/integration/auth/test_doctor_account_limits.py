"""doctor's per-account limits in operator mode (the only mode where servers show them): an
account JWT with conn 5, subs 10 and 3 streams, used up to near each limit."""

from __future__ import annotations

import nats

from natsops.auth import ops
from natsops.auth.claims import AccountLimits
from natsops.auth.push import push
from natsops.context import Settings
from natsops.doctor import DoctorOptions, run


async def test_account_connection_subscription_and_stream_limits(operator_cluster, auth_store) -> None:  # type: ignore[no-untyped-def]
    store, op = auth_store, "DEMO"
    ops.edit_account(store, op, "APP", limits=AccountLimits(conn=5, subs=10, js_streams=3))
    oc = operator_cluster(nodes=1)
    await push(store, op, oc.settings)
    sys_settings = Settings(servers=tuple(oc.urls), timeout=5.0,
                            creds=str(store.creds_path(op, "SYS", "sys")))
    creds = str(store.creds_path(op, "APP", "service"))
    clients = [await nats.connect(oc.urls[0], user_credentials=creds, allow_reconnect=False,
                                  name=f"c{i}") for i in range(4)]
    try:
        for i in range(9):  # nats-py holds one more: its inbox subscription of requests
            await clients[0].subscribe(f"s.{i}")
        js = clients[1].jetstream(timeout=10)
        for name in ("A1", "A2", "A3"):
            await js.add_stream(name=name, subjects=[f"{name}.>"])
        await clients[0].flush()
        report = await run(sys_settings, DoctorOptions(
            only=("conn-limits", "sub-limits", "account-limits")))
        by = {(f.id, f.subject): f for f in report.findings}
        conn = by[("conn-limits", "APP")]
        assert (conn.severity.label, conn.evidence["used"], conn.evidence["limit"]) == (
            "warn", 4, 5)
        sub = by[("sub-limits", "a1")]
        [c] = sub.evidence["connections"]
        assert (c["name"], c["limit"], c["limit_from"]) == ("c0", 10, "account APP limits.subs")
        assert c["subscriptions"] >= 9
        streams = by[("account-limits", "APP")]
        assert (streams.severity.label, streams.evidence["kind"]) == ("fail", "streams")
        assert (streams.evidence["used"], streams.evidence["limit"]) == (3, 3)
    finally:
        for nc in clients:
            await nc.close()
