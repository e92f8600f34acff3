"""tls-expiry on the HTTPS monitor's chain and local cert files, account-tiers and user JWT subs
limits, on hand-built Snapshots (shapes measured on 2.15.1; the live cases are in
tests/integration/test_doctor_tls_chain.py and tests/integration/auth/test_doctor_tiers_user_subs.py)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from natsops.doctor import run_checks, select_checks
from natsops.findings import Finding
from natsops.monitoring.gather import user_limits
from natsops.monitoring.snapshot import ServerView, Snapshot

NOW = "2026-12-01T12:00:00Z"
KEY = "A" + "B" * 55


def run(s: Snapshot, *ids: str) -> list[Finding]:
    return list(run_checks(s, select_checks(only=ids)))


def srv(name: str = "n1", **docs: Any) -> ServerView:
    return ServerView(name=name, id=f"ID{name}", version="2.15.1", **docs)


def _cert(subject: str, not_after: str, ca: bool = False) -> dict[str, Any]:
    return {"subject": subject, "issuer": "CN=root", "is_ca": ca, "not_after": not_after}


VARZ = {"now": NOW, "tls_required": True, "tls_cert_not_after": "2027-06-01T00:00:00Z"}


@pytest.mark.parametrize(("inter", "want"), [
    ("2027-06-01T00:00:00Z", []),
    ("2026-12-05T00:00:00Z", [("fail", "CA CN=inter in the HTTPS monitor's chain")]),
    ("2026-12-20T00:00:00Z", [("warn", "CA CN=inter in the HTTPS monitor's chain")]),
])
def test_monitor_chain_intermediates(inter: str, want: list[tuple[str, str]]) -> None:
    chain = [_cert("CN=n1", "2027-06-01T00:00:00Z"), _cert("CN=inter", inter, ca=True),
             _cert("CN=root", "2036-01-01T00:00:00Z", ca=True)]
    found = run(Snapshot(servers=(srv(varz=VARZ, monitor_tls=chain),), transport="http"),
                "tls-expiry")
    assert [(f.severity.label, f.message.split(": ", 1)[1].split(" expire")[0])
            for f in found] == want
    if found:
        assert found[0].evidence["source"] == "https handshake"
        assert "CN=inter" in (found[0].fix or "")


def test_monitor_own_certificate_when_it_differs_from_the_client_port() -> None:
    chain = [_cert("CN=mon", "2026-12-03T00:00:00Z")]
    [f] = run(Snapshot(servers=(srv(varz=VARZ, monitor_tls=chain),), transport="http"),
              "tls-expiry")
    assert f.severity.label == "fail" and "HTTPS monitor's certificate" in f.message
    same = [_cert("CN=n1", "2027-06-01T00:00:00Z")]  # the client cert: varz already said it
    assert run(Snapshot(servers=(srv(varz=VARZ, monitor_tls=same),), transport="http"),
               "tls-expiry") == []


def test_local_cert_files_leaf_remote_client_cert_and_intermediate() -> None:
    files = {"n1": {"tls_files": [
        {"where": "leafnodes.remotes[0].tls", "file": "/etc/nats/leaf.pem",
         "chain": [_cert("CN=leafcli", "2026-12-06T00:00:00Z"),
                   _cert("CN=inter", "2026-12-25T00:00:00Z", ca=True)]},
        {"where": "cluster.tls", "file": "/etc/nats/server.pem",
         "chain": [_cert("CN=n1", "2026-12-02T00:00:00Z")]},  # varz reports listeners
    ]}}
    found = run(Snapshot(servers=(srv(varz=VARZ),), transport="sys", config_files=files),
                "tls-expiry")
    assert [(f.severity.label, f.evidence["listener"], f.evidence["position"])
            for f in found] == [("fail", "leafnodes.remotes[0].tls", 0),
                                ("warn", "leafnodes.remotes[0].tls", 1)]
    assert "client certificate of leafnodes.remotes[0]" in found[0].message
    assert "/etc/nats/leaf.pem" in (found[0].fix or "")
    fine = {"n1": {"tls_files": [{"where": "leafnodes.remotes[0].tls", "file": "x",
                                  "chain": [_cert("CN=l", "2027-06-01T00:00:00Z")]}]}}
    assert run(Snapshot(servers=(srv(varz=VARZ),), transport="sys", config_files=fine),
               "tls-expiry") == []


def _tiered(**tiers: dict[str, int]) -> dict[str, Any]:
    return {"name": "APP", "limits": {}, "tiered_limits": tiers}


def _streams(*specs: tuple[str, int, int]) -> dict[str, Any]:
    details = [{"name": n, "config": {"num_replicas": r, "storage": "file"},
                "state": {"bytes": b}} for n, r, b in specs]
    return {"account_details": [{"name": "APP", "id": KEY, "stream_detail": details}]}


def test_account_tiers_per_replica_tier() -> None:
    claim = _tiered(R1={"disk_storage": 1000, "streams": 4},
                    R3={"disk_storage": 3000, "streams": 1})
    s = srv(jsz=_streams(("A", 1, 850), ("B", 3, 990)), account_claims={KEY: claim})
    found = run(Snapshot(servers=(s,), transport="sys"), "account-tiers")
    got = {(f.evidence["tier"], f.evidence["kind"]): f for f in found}
    assert set(got) == {("R1", "disk_storage"), ("R3", "disk_storage"), ("R3", "streams")}
    assert got[("R1", "disk_storage")].severity.label == "warn"
    assert got[("R3", "disk_storage")].evidence["used"] == 2970  # bytes x 3 replicas
    assert got[("R3", "streams")].severity.label == "fail"
    reserved = _streams(("A", 1, 100))
    reserved["account_details"][0]["stream_detail"][0]["config"]["max_bytes"] = 900
    [r] = run(Snapshot(servers=(srv(jsz=reserved, account_claims={KEY: claim}),),
                       transport="sys"), "account-tiers")  # max_bytes is reserved at creation
    assert (r.evidence["used"], r.evidence["stored"], r.severity.label) == (900, 100, "warn")
    quiet = srv(jsz=_streams(("A", 1, 100)), account_claims={KEY: claim})
    assert run(Snapshot(servers=(quiet,), transport="sys"), "account-tiers") == []
    flat = srv(jsz=_streams(("A", 1, 999)), account_claims={KEY: {"name": "APP", "limits": {
        "disk_storage": 1000}}})
    assert run(Snapshot(servers=(flat,), transport="sys"), "account-tiers") == []


def _jwt(claims: dict[str, Any]) -> str:
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")  # noqa: E731
    return f"{enc({'typ': 'JWT', 'alg': 'ed25519-nkey'})}.{enc(claims)}.c2ln"


def test_user_subs_limit_from_the_connection_jwt_which_is_not_kept() -> None:
    conn = {"cid": 3, "name": "busy", "subscriptions": 9, "account": KEY, "name_tag": "APP",
            "authorized_user": "UABC", "jwt": _jwt({"nats": {"subs": 10, "type": "user"}})}
    view = user_limits({"connz_subs": {"connections": [conn]}})
    [c] = view["connz_subs"]["connections"]
    assert "jwt" not in c and c["user_subs_limit"] == 10
    [f] = run(Snapshot(servers=(srv(connz_subs=view["connz_subs"]),), transport="sys"),
              "sub-limits")
    assert f.severity.label == "warn"
    assert f.evidence["connections"][0]["limit_from"].startswith("user JWT limits.subs (APP")
    unlimited = user_limits({"connz_subs": {"connections": [
        {**conn, "jwt": _jwt({"nats": {"subs": -1}})}]}})
    assert run(Snapshot(servers=(srv(connz_subs=unlimited["connz_subs"]),), transport="sys"),
               "sub-limits") == []
