"""doctor's jwt-mismatch check on real operator-mode servers: a push that missed a server."""

from __future__ import annotations

import nats

from natsops.auth import ops
from natsops.auth.claims import AccountLimits
from natsops.auth.push import push
from natsops.context import Settings
from natsops.doctor import DoctorOptions, run
from natsops.findings import Severity


async def test_doctor_names_the_server_with_a_stale_account_jwt(operator_cluster, auth_store) -> None:  # type: ignore[no-untyped-def]
    oc = operator_cluster(nodes=2)
    store, op = auth_store, "DEMO"
    await push(store, op, oc.settings)
    sys_settings = Settings(servers=tuple(oc.urls), timeout=5.0,
                            creds=str(store.creds_path(op, "SYS", "sys")))
    opts = DoctorOptions(expect=2, only=("jwt-mismatch",))

    # the edit reaches a1 only: a2 was down during the push
    oc.stop("a2")
    ops.edit_account(store, op, "APP", limits=AccountLimits(subs=100))
    await push(store, op, oc.settings.with_(servers=(oc.url("a1"),)), ["APP"])
    oc.start("a2")
    creds = str(store.creds_path(op, "APP", "service"))
    clients = [await nats.connect(url, user_credentials=creds, allow_reconnect=False)
               for url in oc.urls]  # APP is loaded on both servers
    try:
        report = await run(sys_settings, opts)
        found = [f for f in report.findings if f.id == "jwt-mismatch"]
        assert found, report.findings
        assert found[0].severity == Severity.FAIL
        assert found[0].evidence["stale"] == ["a2"]
        assert found[0].fix and "natsops auth push --account APP" in found[0].fix

        # pushing again to every server clears it
        await push(store, op, oc.settings, ["APP"], expect=2)
        report = await run(sys_settings, opts)
        assert [f for f in report.findings if f.severity >= Severity.WARN] == []
    finally:
        for nc in clients:
            await nc.close()
