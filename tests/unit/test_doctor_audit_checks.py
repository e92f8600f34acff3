"""Edge cases of doctor's audit checks on hand-built Snapshots (the real cases are provoked on
servers in tests/integration/test_doctor_audit.py). Document shapes follow what 2.10-2.15
servers send (varz, jsz, gatewayz, accountz claims)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from natsops.doctor import run_checks, select_checks
from natsops.findings import Finding
from natsops.monitoring.gather import store_disk
from natsops.monitoring.snapshot import ServerView, Snapshot

NOW = "2026-12-01T12:00:00.123456789Z"


def run(s: Snapshot, *ids: str) -> list[Finding]:
    return list(run_checks(s, select_checks(only=ids)))


def sev(found: list[Finding]) -> list[tuple[str, str]]:
    return [(f.severity.label, f.subject) for f in found]


def srv(name: str = "n1", **docs: Any) -> ServerView:
    return ServerView(name=name, id=f"ID{name}", version=docs.pop("version", "2.15.1"), **docs)


def snap(*servers: ServerView, **kw: Any) -> Snapshot:
    return Snapshot(servers=servers, transport="sys", taken_at=kw.pop("taken_at", 1e9), **kw)


# ---- tls-expiry ------------------------------------------------------------------------------


@pytest.mark.parametrize(("not_after", "want"), [
    ("2027-01-01T12:00:00Z", []),  # 31 days: fine
    ("2026-12-20T12:00:00Z", [("warn", "n1")]),  # 19 days
    ("2026-12-06T12:00:00Z", [("fail", "n1")]),  # 5 days
    ("2026-11-30T12:00:00Z", [("fail", "n1")]),  # expired yesterday
])
def test_tls_expiry_thresholds_per_listener(not_after: str, want: list[tuple[str, str]]) -> None:
    varz = {"now": NOW, "tls_required": True, "tls_cert_not_after": "2027-06-01T00:00:00Z",
            "gateway": {"name": "A", "port": 7222, "tls_required": True,
                        "tls_cert_not_after": not_after}}
    found = run(snap(srv(varz=varz)), "tls-expiry")
    assert sev(found) == want
    if want:
        assert found[0].evidence["listener"] == "gateway"
        assert "expired" in found[0].message or "expires in" in found[0].message


def test_tls_expiry_unknown_on_servers_before_2_14() -> None:
    """2.10-2.12 report tls_required but no tls_cert_not_after: said, not invented."""
    varz = {"now": NOW, "tls_required": True, "cluster": {"cluster_port": 6222,
                                                           "tls_required": True},
            "leaf": {"port": 7422}, "websocket": {"port": 8443}}
    [f] = run(snap(srv(varz=varz, version="2.10.26")), "tls-expiry")
    assert f.severity.label == "info"
    assert f.evidence["listeners"] == ["client", "cluster"]
    assert "2.14" in f.message
    assert run(snap(srv(varz={"now": NOW})), "tls-expiry") == []  # no TLS at all


# ---- cpu ---------------------------------------------------------------------------------------


def _cpu(pct: float, cores: int = 4, name: str = "n1") -> ServerView:
    return srv(name, varz={"cpu": pct, "cores": cores})


def test_cpu_needs_two_samples_over_the_threshold() -> None:
    busy = snap(_cpu(390), _cpu(10, name="n2"))
    assert run(busy, "cpu") == []  # one gathering is one moment
    both = busy.with_previous(snap(_cpu(380), _cpu(395, name="n2"), taken_at=1e9 - 5))
    [f] = run(both, "cpu")
    assert sev([f]) == [("warn", "n1")]
    assert f.evidence["samples_pct"] == [95.0, 97.5]
    assert f.evidence["cores"] == 4
    # 350% of 4 cores is 87.5%: below 90
    assert run(snap(_cpu(350)).with_previous(snap(_cpu(390))), "cpu") == []
    # a server that answered only once is not judged
    assert run(busy.with_previous(snap(_cpu(10, name="n2"))), "cpu") == []


# ---- conn-limits / sub-limits (operator-mode accounts) ----------------------------------------

KEY = "A" + "B" * 55


def _claim(conns: int, **limits: int) -> dict[str, Any]:
    return {"name": "APP", "jti": "J", "iat": 1, "limits": limits,
            "client_connections": conns, "subscriptions": 0}


def test_conn_limits_sum_an_accounts_connections_over_servers() -> None:
    s1 = srv("n1", varz={"connections": 10, "max_connections": 65536},
             account_claims={KEY: _claim(5, conn=10)})
    s2 = srv("n2", varz={"connections": 4, "max_connections": 65536},
             account_claims={KEY: _claim(4, conn=10)})
    [f] = run(snap(s1, s2), "conn-limits")
    assert (f.severity.label, f.subject, f.evidence["used"]) == ("warn", "APP", 9)
    assert f.evidence["servers"] == {"n1": 5, "n2": 4}
    unlimited = srv("n1", varz={"connections": 10, "max_connections": -1},
                    account_claims={KEY: _claim(50, conn=-1)})
    assert run(snap(unlimited), "conn-limits") == []


def test_sub_limits_use_the_lower_of_server_and_account_limits() -> None:
    conns = {"connections": [
        {"cid": 7, "name": "leaky", "account": KEY, "subscriptions": 48},
        {"cid": 8, "name": "other", "account": "$G", "subscriptions": 48},
        {"cid": 9, "name": "small", "account": KEY, "subscriptions": 3}]}
    s = srv(varz={"max_subscriptions": 1000}, connz_subs=conns,
            account_claims={KEY: _claim(1, subs=50)})
    [f] = run(snap(s), "sub-limits")
    assert f.severity.label == "fail"  # 48 of 50 = 96%
    assert [(c["cid"], c["limit_from"]) for c in f.evidence["connections"]] == [
        (7, "account APP limits.subs")]
    assert run(snap(srv(connz_subs=conns)), "sub-limits") == []  # no limit anywhere


# ---- account-limits ----------------------------------------------------------------------------


def _jsz(**acc: Any) -> dict[str, Any]:
    return {"config": {"max_storage": 1 << 30}, "account_details": [{"name": "APP", **acc}]}


def test_account_limits_storage_memory_and_unlimited() -> None:
    full = srv(jsz=_jsz(storage=990_000, reserved_storage=1_000_000, memory=10,
                        reserved_memory=2**64 - 1))
    [f] = run(snap(full), "account-limits")
    assert (f.severity.label, f.evidence["store"]) == ("fail", "file")
    assert run(snap(srv(jsz=_jsz(storage=10, reserved_storage=0))), "account-limits") == []


def test_account_limits_stream_count_in_operator_mode() -> None:
    details = [{"name": f"S{i}", "config": {"num_replicas": 1}} for i in range(9)]
    jsz = {"account_details": [{"name": "APP", "id": KEY, "stream_detail": details}]}
    s = srv(jsz=jsz, account_claims={KEY: _claim(0, streams=10, consumer=-1)})
    [f] = run(snap(s), "account-limits")
    assert (f.severity.label, f.evidence["kind"], f.evidence["used"]) == ("warn", "streams", 9)


# ---- stream-limits -----------------------------------------------------------------------------


def _stream(discard: str, **state: int) -> ServerView:
    cfg = {"discard": discard, "max_msgs": 100, "max_bytes": 1000, "max_consumers": 4}
    sd = {"name": "S", "config": cfg, "state": state}
    return srv(jsz={"account_details": [{"name": "APP", "stream_detail": [sd]}]})


def test_stream_limits_only_where_writes_would_fail() -> None:
    assert run(snap(_stream("old", messages=100, bytes=1000)), "stream-limits") == []
    found = run(snap(_stream("new", messages=85, bytes=990, consumer_count=4)), "stream-limits")
    assert sorted((f.evidence["limit_key"], f.severity.label) for f in found) == [
        ("max_bytes", "fail"), ("max_consumers", "fail"), ("max_msgs", "warn")]
    # max_consumers refuses new consumers whatever the discard policy
    [f] = run(snap(_stream("old", consumer_count=4)), "stream-limits")
    assert f.evidence["limit_key"] == "max_consumers"


# ---- gateway-mesh ------------------------------------------------------------------------------


def _gw(name: str, cluster: str, out: list[str], inb: list[str]) -> ServerView:
    conn = {"connection": {"cid": 1}}
    return srv(name, varz={"gateway": {"name": cluster, "gateways": [
        {"name": "A"}, {"name": "B"}]}},
        gatewayz={"name": cluster, "outbound_gateways": {c: conn for c in out},
                  "inbound_gateways": {c: [conn] for c in inb}})


def test_gateway_mesh_clusters_learnt_from_gossip_and_one_way_links() -> None:
    ok = snap(_gw("a1", "A", ["B"], ["B"]), _gw("b1", "B", ["A"], ["A"]))
    assert run(ok, "gateway-mesh") == []
    # C is known only from b1's gatewayz (gossiped): a1 must reach it too
    gossip = snap(_gw("a1", "A", ["B"], ["B"]), _gw("b1", "B", ["A", "C"], ["A", "C"]))
    [f] = run(gossip, "gateway-mesh")
    assert (f.severity.label, f.subject, f.evidence["no_outbound"]) == ("fail", "a1", ["C"])
    one_way = snap(_gw("a1", "A", ["B"], []), _gw("b1", "B", ["A"], ["A"]))
    [f] = run(one_way, "gateway-mesh")
    assert (f.severity.label, f.subject, f.evidence["no_inbound"]) == (
        "warn", "cluster A", ["B"])
    # B's server dialled a1, not a2: a cluster needs the inbound once, not on every server
    spread = snap(_gw("a1", "A", ["B"], ["B"]), _gw("a2", "A", ["B"], []),
                  _gw("b1", "B", ["A"], ["A"]))
    assert run(spread, "gateway-mesh") == []
    assert run(snap(srv(varz={}, gatewayz={})), "gateway-mesh") == []  # no gateways


# ---- ha-assets ---------------------------------------------------------------------------------


def test_ha_assets_server_limit_and_advised_maximum() -> None:
    meta = {"meta_cluster": {"leader": "n1", "cluster_size": 3}}
    limited = srv(jsz={"config": {"x": 1}, "ha_assets": 101, "limits": {"max_ha_assets": 100},
                       **meta})
    [f] = run(snap(limited), "ha-assets")  # 100 assets + the meta group
    assert (f.severity.label, f.evidence["used"]) == ("fail", 100)
    big = srv(jsz={"config": {"x": 1}, "ha_assets": 1500, **meta})
    [f] = run(snap(big), "ha-assets")
    assert (f.severity.label, f.evidence["advised_max"]) == ("warn", 1000)
    assert run(snap(srv(jsz={"config": {"x": 1}, "ha_assets": 1000, **meta})), "ha-assets") == []


def test_ha_assets_limit_of_a_210_server_comes_from_its_config_file() -> None:
    """2.10 reports no max_ha_assets: with the config files (--dir) doctor reads it there."""
    meta = {"meta_cluster": {"leader": "n1", "cluster_size": 3}}
    s210 = srv(version="2.10.26", jsz={"config": {"x": 1}, "ha_assets": 11, **meta})
    files = {"n1": {"path": "/etc/nats/n1.conf", "digest": None, "max_ha_assets": 10}}
    [f] = run(snap(s210, config_files=files), "ha-assets")
    assert (f.severity.label, f.evidence["used"], f.evidence["limit_from"]) == (
        "fail", 10, "/etc/nats/n1.conf")
    assert run(snap(s210), "ha-assets") == []  # without the file: the advised maximum only


# ---- disk-free ---------------------------------------------------------------------------------


class _Vfs:
    def __init__(self, total: int, free: int, avail: int) -> None:
        self.f_frsize, self.f_blocks, self.f_bfree, self.f_bavail = 1, total, free, avail
        self.f_fsid = 42


def test_store_disk_reads_statvfs_of_local_servers_only(monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    seen: list[str] = []

    def fake(path: str) -> _Vfs:
        seen.append(path)
        if path.endswith("gone"):
            raise FileNotFoundError(2, "No such file or directory")
        return _Vfs(1000, 150, 100)

    monkeypatch.setattr(os, "statvfs", fake)
    s = snap(srv("n1", jsz={"config": {"store_dir": "/data/n1"}}),
             srv("n2", varz={"jetstream": {"config": {"store_dir": "/data/gone"}}}),
             srv("far", jsz={"config": {"store_dir": "/data/far"}}))
    disk = store_disk(s, ["n1", "n2"])
    assert seen == ["/data/n1", "/data/gone"]
    assert disk["n1"] == {"path": "/data/n1", "fsid": 42, "total": 1000, "free": 150,
                          "avail": 100}
    assert disk["n2"]["error"] == "No such file or directory"


def _disk(total: int, free: int, avail: int, fsid: int = 1) -> dict[str, Any]:
    return {"path": "/data", "fsid": fsid, "total": total, "free": free, "avail": avail}


def test_disk_free_thresholds_and_shared_filesystem() -> None:
    js = {"config": {"max_storage": 400}, "storage": 100}
    servers = (srv("n1", jsz=js), srv("n2", jsz=js))
    full = snap(*servers, disk={"n1": _disk(1000, 40, 30), "n2": _disk(1000, 150, 150, 2)})
    assert sorted(sev([f for f in run(full, "disk-free") if f.severity.label != "info"])) == [
        ("fail", "n1"), ("warn", "n2")]
    # two servers on one filesystem: 2 x 300 may still be written, 500 free -> info only
    shared = snap(*servers, disk={"n1": _disk(1000, 500, 500), "n2": _disk(1000, 500, 500)})
    [f] = run(shared, "disk-free")
    assert (f.severity.label, f.evidence["js_headroom"]) == ("info", 600)
    assert f.evidence["servers"] == ["n1", "n2"]
    roomy = snap(*servers, disk={"n1": _disk(10000, 9000, 9000)})
    assert run(roomy, "disk-free") == []
    assert run(snap(*servers), "disk-free") == []  # remote: nothing measured, nothing said


# ---- leader-balance ----------------------------------------------------------------------------


def _led(leaders: list[str]) -> tuple[ServerView, ...]:
    """R3 streams over n1..n3, each led by the given server (every server lists its copy)."""
    views = []
    for host in ("n1", "n2", "n3"):
        details = []
        for i, lead in enumerate(leaders):
            peers = [{"name": p, "current": True} for p in ("n1", "n2", "n3") if p != host]
            details.append({"name": f"S{i}", "config": {"num_replicas": 3},
                            "cluster": {"leader": lead, "replicas": peers}})
        views.append(srv(host, jsz={"account_details": [{"name": "APP",
                                                          "stream_detail": details}]}))
    return tuple(views)


def test_leader_balance_far_more_than_the_share() -> None:
    assert run(snap(*_led(["n1"] * 4)), "leader-balance") == []  # 4 of share 2: not "far"
    [f] = run(snap(*_led(["n1"] * 5 + ["n2"])), "leader-balance")
    assert (f.severity.label, f.subject) == ("warn", "n1")
    assert (f.evidence["leads"], f.evidence["share"], f.evidence["moves_planned"]) == (5, 2, 3)
    assert run(snap(*_led(["n1", "n2", "n3"] * 3)), "leader-balance") == []
