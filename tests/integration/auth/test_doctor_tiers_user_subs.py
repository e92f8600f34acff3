"""doctor on tiered JetStream limits and a user JWT's own subscription limit (operator mode):
quiet while the account is empty, then an R1 tier near its storage and stream limits and a
user near its subs limit are found, with evidence and fix."""

from __future__ import annotations

from typing import Any

import nats

from natsops.auth import ops
from natsops.auth.edit import UserEdit, edit_user
from natsops.auth.push import push
from natsops.context import Settings
from natsops.doctor import DoctorOptions, run

_FLAT = ("mem_storage", "disk_storage", "streams", "consumer", "max_ack_pending",
         "mem_max_stream_bytes", "disk_max_stream_bytes", "max_bytes_required")


def _tiers(nats_claims: dict[str, Any]) -> None:
    limits = nats_claims.setdefault("limits", {})
    for k in _FLAT:  # tiered and flat JetStream limits cannot be combined
        limits.pop(k, None)
    limits["tiered_limits"] = {"R1": {"mem_storage": -1, "disk_storage": 1_000_000,
                                      "streams": 2, "consumer": -1},
                               "R3": {"mem_storage": -1, "disk_storage": 1_000_000,
                                      "streams": 1, "consumer": -1}}


async def test_tiered_limits_and_user_subs_limit(operator_cluster, auth_store) -> None:  # type: ignore[no-untyped-def]
    store, op = auth_store, "DEMO"
    ops.edit_account(store, op, "APP", also=_tiers)
    edit_user(store, op, "APP", "service", UserEdit(subs=10))
    oc = operator_cluster(nodes=1)
    await push(store, op, oc.settings)
    sys_settings = Settings(servers=tuple(oc.urls), timeout=5.0,
                            creds=str(store.creds_path(op, "SYS", "sys")))
    only = DoctorOptions(only=("account-tiers", "sub-limits"))
    nc = await nats.connect(oc.urls[0], user_credentials=str(
        store.creds_path(op, "APP", "service")), allow_reconnect=False, name="busy")
    try:
        quiet = await run(sys_settings, only)
        assert [f for f in quiet.findings if f.severity.label in ("warn", "fail")] == []
        js = nc.jetstream(timeout=10)
        await js.add_stream(name="T1", subjects=["t1"], max_bytes=900_000)
        await js.add_stream(name="T2", subjects=["t2"])
        for i in range(85):
            await js.publish("t1", b"%05d" % i + b"x" * 9995)
        for i in range(8):  # nats-py holds one more: its inbox subscription of requests
            await nc.subscribe(f"s.{i}")
        await nc.flush()
        report = await run(sys_settings, only)
        by = {(f.id, f.evidence.get("kind")): f for f in report.findings
              if f.id == "account-tiers"}
        disk, streams = by[("account-tiers", "disk_storage")], by[("account-tiers", "streams")]
        assert disk.subject == "APP" and disk.evidence["tier"] == "R1"
        assert disk.severity.label == "warn" and 80 <= disk.evidence["pct"] < 95
        assert "--js-tier R1 --js-disk" in (disk.fix or "")
        assert (streams.severity.label, streams.evidence["used"],
                streams.evidence["limit"]) == ("fail", 2, 2)
        assert not any(f.evidence.get("tier") == "R3" for f in report.findings)
        [sub] = [f for f in report.findings if f.id == "sub-limits"]
        [c] = sub.evidence["connections"]
        assert (c["name"], c["limit"]) == ("busy", 10)
        assert c["limit_from"].startswith("user JWT limits.subs")
        assert sub.severity.label in ("warn", "fail") and c["subscriptions"] >= 9
    finally:
        await nc.close()
