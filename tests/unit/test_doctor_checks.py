"""Doctor checks on Snapshots recorded from a real 3-node 2.15.1 cluster (see data/record.py).

``healthy.json``: a fresh cluster. ``degraded.json`` / ``degraded_http.json`` (the same state
over $SYS and over HTTP): R3 ORDERS with a consumer that never acks (max_ack_pending 2), R2
EVEN, R3 NOLIMITS without limits, R1 ONE, and follower n1 stopped gracefully. Variants are made
by editing the recorded documents, never by inventing whole ones.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from natsops.doctor import all_checks, run_checks, select_checks
from natsops.doctor.registry import Check
from natsops.errors import ExitCode, UsageError
from natsops.findings import Finding, Severity, exit_code, nagios
from natsops.monitoring.snapshot import Snapshot

DATA = Path(__file__).parent / "data"


def load(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text())


def snap(doc: dict[str, Any], previous: dict[str, Any] | None = None) -> Snapshot:
    s = Snapshot.from_dict(doc)
    return s.with_previous(Snapshot.from_dict(previous)) if previous else s


def check(s: Snapshot, *ids: str) -> list[Finding]:
    return list(run_checks(s, select_checks(only=ids)))


def summary(findings: list[Finding]) -> set[tuple[str, str, str]]:
    return {(f.id, f.severity.label, f.subject) for f in findings if f.severity >= Severity.WARN}


def server(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in doc["servers"] if s["name"] == name)


def test_healthy_cluster_has_nothing_above_info() -> None:
    found = run_checks(snap(load("healthy.json")), all_checks())
    assert [f for f in found if f.severity > Severity.INFO] == []
    assert exit_code(found) == ExitCode.OK


@pytest.mark.parametrize("name", ["degraded.json", "degraded_http.json"])
def test_degraded_cluster_findings(name: str) -> None:
    s = snap(load(name))
    assert s.missing == ("n1",)
    found = list(run_checks(s, all_checks()))
    assert summary(found) == {
        ("consumer-ack-window", "fail", "APP > ORDERS > STUCK"),
        ("meta-group", "fail", "n1"),
        ("replicas", "fail", "n1"),
        ("servers-missing", "fail", "n1"),
        ("replication-factor", "warn", "APP > EVEN"),
        ("retention", "warn", "APP > NOLIMITS"),
    }
    rep = next(f for f in found if f.id == "replicas")
    assets = {a["asset"]: a for a in rep.evidence["assets"]}
    assert set(assets) == {"APP > ORDERS", "APP > NOLIMITS", "APP > ORDERS > STUCK"}
    assert assets["APP > ORDERS"]["offline"] is True
    assert assets["APP > ORDERS"]["lag"] > 0
    assert "natsops stream cluster peer-remove NOLIMITS n1" in (rep.fix or "")
    stuck = next(f for f in found if f.id == "consumer-ack-window")
    assert stuck.evidence["num_ack_pending"] == 2
    assert stuck.evidence["max_ack_pending"] == 2
    assert stuck.evidence["num_pending"] == 28
    assert exit_code(found) == ExitCode.FAILED


def test_streams_are_read_from_their_leaders_copy() -> None:
    s = snap(load("degraded.json"))
    orders = next(st for st in s.streams if st.name == "ORDERS")
    assert orders.leader == orders.server
    assert orders.hosts == ("n2", "n3")
    stuck = next(c for c in s.consumers if c.name == "STUCK")
    assert stuck.leader == stuck.server


def test_snapshot_round_trips_through_json() -> None:
    doc = load("degraded.json")
    again = Snapshot.from_dict(json.loads(json.dumps(Snapshot.from_dict(doc).to_dict())))
    assert again == Snapshot.from_dict(doc)


def test_leaderless_stream_fails_and_needs_two_samples_when_sampled() -> None:
    doc = load("degraded.json")
    broken = copy.deepcopy(doc)
    for s in broken["servers"]:
        for acc in s["jsz"].get("account_details") or ():
            for sd in acc.get("stream_detail") or ():
                if sd["name"] == "EVEN":
                    sd["cluster"].pop("leader", None)
    found = check(snap(broken), "replicas")
    assert ("replicas", "fail", "APP > EVEN") in summary(found)
    # sampled: a leader missing in only the last sample is an election, not a finding
    found = check(snap(broken, previous=doc), "replicas")
    assert ("replicas", "fail", "APP > EVEN") not in summary(found)
    found = check(snap(broken, previous=broken), "replicas")
    assert ("replicas", "fail", "APP > EVEN") in summary(found)


def test_lag_trend_and_eta_when_sampled() -> None:
    now = load("degraded.json")
    before = copy.deepcopy(now)
    before["taken_at"] = now["taken_at"] - 5
    for s in before["servers"]:
        for acc in s["jsz"].get("account_details") or ():
            for sd in acc.get("stream_detail") or ():
                for r in sd.get("cluster", {}).get("replicas") or ():
                    if r["name"] == "n1" and "lag" in r:
                        r["lag"] += 100
    rep = next(f for f in check(snap(now, previous=before), "replicas") if f.subject == "n1")
    orders = next(a for a in rep.evidence["assets"] if a["asset"] == "APP > ORDERS")
    assert orders["trend"] == "shrinking"
    assert orders["eta_s"] == pytest.approx(orders["lag"] / 20, rel=0.01)


@pytest.mark.parametrize(("version", "severity"), [("2.13.4", "fail"), ("2.14.9", "warn"),
                                                   ("2.15.0", "info"), ("3.15.1", "fail")])
def test_version_skew(version: str, severity: str) -> None:
    doc = load("healthy.json")
    server(doc, "n2")["version"] = version
    found = check(snap(doc), "version-skew")
    assert [f.severity.label for f in found] == [severity]
    assert found[0].evidence["versions"][version] == ["n2"]


def test_duplicate_server_names() -> None:
    doc = load("healthy.json")
    server(doc, "n3")["name"] = "n2"
    found = check(snap(doc), "duplicate-names")
    assert summary(found) == {("duplicate-names", "fail", "n2")}


def _meta(doc: dict[str, Any], name: str, leader: str, peers: list[str]) -> None:
    """Give server ``name`` this view of its meta group (in jsz and varz)."""
    s = server(doc, name)
    for meta in (s["jsz"]["meta_cluster"], s["varz"]["jetstream"]["meta"]):
        meta["leader"] = leader
        meta["replicas"] = [r for r in meta["replicas"] if r["name"] in peers]


def test_two_jetstreams_answer_for_one_domain() -> None:
    doc = load("healthy.json")
    for name in ("n1", "n2", "n3"):
        server(doc, name)["domain"] = "edge"
    server(doc, "n3")["cluster"] = "OTHER"  # n3 is a JetStream of its own: no common peers
    _meta(doc, "n3", "n3", [])
    for name in ("n1", "n2"):
        _meta(doc, name, "n1", ["n1", "n2"])
    found = check(snap(doc), "js-domains")
    assert summary(found) == {("js-domains", "fail", "edge")}
    assert set(found[0].evidence["jetstreams"]) == {"cluster T1", "cluster OTHER"} or set(
        found[0].evidence["jetstreams"]) == {"cluster REC", "cluster OTHER"}


def test_a_supercluster_is_one_jetstream() -> None:
    """Clusters joined by gateways share one meta group: not two JetStreams in one domain."""
    doc = load("healthy.json")
    server(doc, "n3")["cluster"] = "OTHER"  # still a meta peer of n1 and n2
    assert check(snap(doc), "js-domains") == []


def test_js_usage_thresholds_and_overcommit() -> None:
    doc = load("healthy.json")
    jsz = server(doc, "n1")["jsz"]
    jsz["storage"] = int(jsz["config"]["max_storage"] * 0.95)
    jsz["reserved_memory"] = jsz["config"]["max_memory"] * 2
    found = check(snap(doc), "js-usage")
    assert {(f.severity.label, f.evidence["store"]) for f in found} == {
        ("fail", "file"), ("warn", "memory")}


def test_js_usage_fails_a_shut_down_jetstream_not_a_core_only_server() -> None:
    doc = load("healthy.json")
    shut = server(doc, "n1")["jsz"]
    shut["disabled"] = True  # ran out of resources: its configured limits are still there
    server(doc, "n2")["jsz"] = {"disabled": True, "config": {"max_memory": 0, "max_storage": 0},
                                "memory": 0, "storage": 0}  # never configured (jetstream: off)
    found = check(snap(doc), "js-usage")
    assert [(f.severity.label, f.subject) for f in found] == [("fail", "n1")]


def test_store_dir_default_is_a_warning() -> None:
    doc = load("healthy.json")
    server(doc, "n1")["jsz"]["config"]["store_dir"] = "/tmp/nats/jetstream/jetstream"
    found = check(snap(doc), "store-dir")
    assert ("store-dir", "warn", "n1") in summary(found)


def test_unhealthy_healthz_is_reported_with_its_error() -> None:
    doc = load("healthy.json")
    server(doc, "n2")["healthz"] = {"status": "unavailable", "status_code": 503,
                                    "error": "JetStream stream 'APP > X' is not current"}
    found = check(snap(doc), "healthz")
    assert summary(found) == {("healthz", "warn", "n2")}
    assert "not current" in found[0].message


def test_js_mixed_with_core_only_servers() -> None:
    doc = load("healthy.json")
    n3 = server(doc, "n3")
    n3["jsz"] = None
    n3["varz"]["jetstream"] = {}
    assert summary(check(snap(doc), "js-mixed")) == {("js-mixed", "warn", n3["cluster"])}


def _conn(**kw: Any) -> dict[str, Any]:
    return {"cid": 42, "name": "stuck1", "account": "APP", "ip": "127.0.0.1", "port": 5,
            "pending_bytes": 0, **kw}


def test_slow_consumers_open_closed_and_counters() -> None:
    doc = load("healthy.json")
    n1 = server(doc, "n1")
    n1["connz"]["connections"] = [_conn(cid=7, name="busy", pending_bytes=40 << 20),
                                  _conn(cid=8, name="worse", pending_bytes=60 << 20)]
    n1["connz_closed"]["connections"] = [_conn(reason="Slow Consumer (Pending Bytes)",
                                               stop=n1["varz"]["now"])]
    n1["varz"]["slow_consumer_stats"] = {"clients": 2, "routes": 1, "gateways": 0, "leafs": 0}
    found = check(snap(doc), "slow-consumers")
    assert {(f.subject, f.severity.label) for f in found} == {
        ("busy", "warn"),  # 62 % of max_pending
        ("worse", "fail"),  # 94 %
        ("stuck1", "fail"),  # disconnected just now
        ("n1", "warn"),  # a route slow consumer since start
        ("n1", "info"),  # client events since start: cumulative, not news
    }
    closed = next(f for f in found if f.subject == "stuck1")
    assert closed.evidence["account"] == "APP"
    assert closed.evidence["reason"].startswith("Slow Consumer")


def test_slow_consumer_deltas_when_sampled() -> None:
    before = load("healthy.json")
    now = copy.deepcopy(before)
    server(now, "n2")["varz"]["slow_consumer_stats"]["clients"] = 3
    server(now, "n2")["varz"]["slow_consumers"] = 3
    server(now, "n2")["varz"]["slow_consumer_stats"]["leafs"] = 1
    found = check(snap(now, previous=before), "slow-consumers")
    assert {(f.severity.label, f.subject) for f in found} == {("warn", "n2"), ("fail", "n2")}
    leaf = next(f for f in found if f.severity == Severity.FAIL)
    assert leaf.evidence["kind"] == "leafs"
    assert leaf.evidence["delta"] == 1


def test_expect_more_servers_than_the_inventory_names() -> None:
    doc = load("healthy.json")
    doc["expected_count"] = 5
    found = check(snap(doc), "servers-missing")
    assert summary(found) == {("servers-missing", "fail", "deployment")}
    assert found[0].evidence["expected"] == 5


def test_monitor_errors_become_findings() -> None:
    doc = load("healthy.json")
    server(doc, "n1")["errors"] = {"jsz": "http://x/jsz: HTTP 500: boom"}
    assert summary(check(snap(doc), "monitor-errors")) == {("monitor-errors", "warn", "n1")}


def test_unknown_check_ids_are_a_usage_error() -> None:
    with pytest.raises(UsageError, match="nope"):
        select_checks(only=("nope",))
    with pytest.raises(UsageError):
        select_checks(skip=("replicas", "nada"))
    assert "replicas" not in {c.id for c in select_checks(skip=("replicas",))}


def test_a_crashing_check_is_a_warning_not_a_traceback() -> None:
    def boom(_: Snapshot) -> list[Finding]:
        raise KeyError("x")

    found = run_checks(snap(load("healthy.json")), [Check("boom", "Boom", Severity.FAIL, boom)])
    assert [(f.id, f.severity) for f in found] == [("boom", Severity.WARN)]


def test_nagios_line_and_codes() -> None:
    warn = Finding.warn("a", "s", "w | x")
    fail = Finding.fail("b", "s", "f")
    assert nagios("DOCTOR", [])[0] == 0
    code, line = nagios("DOCTOR", [warn], perfdata={"servers": 3})
    assert code == 1
    assert line.startswith("DOCTOR WARNING: 0 fail, 1 warn - [a] w / x | ")
    assert "servers=3" in line
    assert nagios("DOCTOR", [warn], strict=True)[0] == 2
    assert nagios("DOCTOR", [warn, fail])[0] == 2


def test_many_r1_streams_become_one_finding() -> None:
    doc = load("degraded.json")
    n2 = server(doc, "n2")
    acc = n2["jsz"]["account_details"][0]
    template = next(sd for sd in acc["stream_detail"] if sd["name"] == "EVEN")
    for i in range(25):
        sd = copy.deepcopy(template)
        sd["name"] = f"S{i:02d}"
        sd["config"]["num_replicas"] = 1
        sd["cluster"] = {"leader": "n2"}
        acc["stream_detail"].append(sd)
    found = [f for f in check(snap(doc), "replication-factor") if f.subject != "APP > EVEN"]
    assert [f.subject for f in found] == ["R1 streams"]
    assert found[0].evidence["count"] == 25


ACC = "A" + "B" * 55


def _claims(doc: dict[str, Any], name: str, jti: str, iat: int, **kw: Any) -> None:
    server(doc, name)["account_claims"] = {ACC: {"name": "ORDERS", "jti": jti, "iat": iat,
                                                 "update_time": "2026-11-26T09:22:19Z",
                                                 "expired": False, **kw}}


def test_account_jwt_mismatch_names_the_stale_server() -> None:
    # o1 runs v2; o2 restarted and re-read its old preload (so its update_time is newer)
    doc = load("healthy.json")
    _claims(doc, "n1", "SH4MJJMU", 1795684938)
    _claims(doc, "n2", "SH4MJJMU", 1795684938)
    _claims(doc, "n3", "C5J2CWIV", 1795684933, update_time="2026-11-26T09:22:23Z")
    found = check(snap(doc), "jwt-mismatch")
    assert summary(found) == {("jwt-mismatch", "fail", "ORDERS (ABBBBBBB…)")}
    assert found[0].evidence["stale"] == ["n3"]
    assert "nsc push -a ORDERS" in (found[0].fix or "")
    for name in ("n1", "n2", "n3"):
        _claims(doc, name, "SH4MJJMU", 1795684938)
    assert check(snap(doc), "jwt-mismatch") == []


def test_expired_account_jwt() -> None:
    doc = load("healthy.json")
    _claims(doc, "n1", "SH4MJJMU", 1795684938, expired=True)
    found = check(snap(doc), "jwt-mismatch")
    assert [(f.severity.label, f.evidence["servers"]) for f in found] == [("fail", ["n1"])]


def test_operator_accounts_are_recognised_by_their_key() -> None:
    from natsops.monitoring.gather import _operator_accounts

    listed = [{"accounts": ["APP", "$G", ACC, "SYS"]}, {"accounts": [ACC]}]
    assert _operator_accounts(listed, 10) == [ACC]


def test_meta_peer_missing_from_the_inventory() -> None:
    doc = load("healthy.json")
    doc["expected"] = ["n1", "n2"]
    found = check(snap(doc), "meta-group")
    assert summary(found) == {("meta-group", "warn", "n3")}
    assert "peer-remove n3" in (found[0].fix or "")


def _all_peers(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for s in doc["servers"]:
        for acc in s["jsz"].get("account_details") or ():
            for sd in acc.get("stream_detail") or ():
                yield from sd.get("cluster", {}).get("replicas") or ()
                for ci in sd.get("consumer_detail") or ():
                    yield from ci.get("cluster", {}).get("replicas") or ()


def test_not_current_once_is_ignored_when_sampled() -> None:
    degraded = load("degraded.json")  # n1 stopped: make it look online but behind instead
    for r in _all_peers(degraded):
        r.pop("offline", None)
    before = copy.deepcopy(degraded)
    for r in _all_peers(before):
        r.update(current=True, active=100_000_000, lag=0)
    found = check(snap(degraded), "replicas")
    assert [(f.subject, f.evidence["state"]) for f in found] == [("n1", "not current")]
    assert check(snap(degraded, previous=before), "replicas") == []  # bad once: ignored
    assert [f.subject for f in check(snap(degraded, previous=degraded), "replicas")] == ["n1"]


def test_http_meta_peer_without_a_monitor_url_is_not_missing() -> None:
    doc = load("healthy.json")
    leader = Snapshot.from_dict(doc).meta_view["leader"]
    dropped = next(n for n in ("n1", "n2", "n3") if n != leader)
    doc["transport"] = "http"
    doc["expected"] = []  # --monitor URLs only: no inventory
    doc["servers"] = [s for s in doc["servers"] if s["name"] != dropped]
    s = snap(doc)
    assert s.missing == ()
    assert s.unmonitored == (dropped,)
    found = check(s, "servers-missing")
    assert [(f.severity.label, f.subject) for f in found] == [("info", dropped)]
    degraded = load("degraded_http.json")  # n1 stopped: the leader sees it offline
    assert snap(degraded).missing == ("n1",)


def test_pending_bytes_that_do_not_drain_when_sampled() -> None:
    before = load("healthy.json")
    server(before, "n1")["connz"]["connections"] = [_conn(cid=9, name="frozen",
                                                          pending_bytes=16 << 20)]
    now = copy.deepcopy(before)
    found = check(snap(now, previous=before), "slow-consumers")
    assert [(f.severity.label, f.subject) for f in found] == [("warn", "frozen")]
    server(now, "n1")["connz"]["connections"][0]["pending_bytes"] = 1000  # draining
    assert check(snap(now, previous=before), "slow-consumers") == []


def test_js_limits_from_the_config_files(tmp_path: Path) -> None:
    """The gathering step parses each config file (lint's key list); the check reports it."""
    from natsops.monitoring.inventory import _unset_js_limits

    bare = tmp_path / "bare.conf"
    bare.write_text('jetstream { store_dir: "/var/lib/nats" }\n')
    half = tmp_path / "half.conf"
    half.write_text("jetstream { max_mem: 1G, store_dir: /data }\n")
    full = tmp_path / "full.conf"
    full.write_text("jetstream { max_memory_store: 1GB, max_file: 10GB }\n")
    nojs = tmp_path / "nojs.conf"
    nojs.write_text("port: 4222\n")
    assert [u["key"] for u in _unset_js_limits(bare)] == ["max_memory_store", "max_file_store"]
    assert [u["key"] for u in _unset_js_limits(half)] == ["max_file_store"]
    assert _unset_js_limits(full) == [] and _unset_js_limits(nojs) == []

    doc = load("healthy.json")
    names = [s["name"] for s in doc["servers"]]
    doc["config_files"] = {n: {"path": f"/etc/nats/{n}.conf", "digest": "x", "error": None,
                               "js_limits_unset": _unset_js_limits(half if n == names[0] else full)}
                           for n in names}
    found = check(snap(doc), "js-limits")
    assert [(f.subject, f.severity) for f in found] == [(names[0], Severity.WARN)]
    assert found[0].evidence["unset"] == ["max_file_store"]
    assert "max_file_store: <size>" in (found[0].fix or "")
    assert check(snap(load("healthy.json")), "js-limits") == []  # no files, no guess


def _edit_stream(doc: dict[str, Any], name: str, config: dict[str, Any],
                 state: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    for s in doc["servers"]:
        for acc in (s.get("jsz") or {}).get("account_details") or []:
            for st in acc.get("stream_detail") or []:
                if st["name"] == name:
                    st["config"].update(config)
                    st["state"].update(state)
    return doc


def test_retention_limits_that_compete() -> None:
    from natsops.doctor.checks.retention_dominant import times_to_limit

    # ORDERS as recorded: 30 messages; stretch them over one hour, 1 MB in total
    hour = {"first_ts": "2026-11-26T10:00:00.5Z", "last_ts": "2026-11-26T11:00:00.5Z",
            "messages": 3600, "bytes": 1_000_000}
    t = times_to_limit({"max_age": 86400 * 10**9, "max_bytes": 24_000_000}, hour)
    assert t["max_age"] == 86400 and round(t["max_bytes"]) == 86400  # both: one day
    base = load("degraded.json")
    competing = _edit_stream(base, "ORDERS", {"max_bytes": 30_000_000}, hour)  # 30 h vs 24 h
    found = check(snap(competing), "retention-dominant")
    assert [(f.subject, f.severity) for f in found] == [("APP > ORDERS", Severity.WARN)]
    assert set(found[0].evidence["time_to_limit"]) == {"max_age", "max_bytes"}
    assert "--max-bytes" in (found[0].fix or "")
    dominant = _edit_stream(base, "ORDERS", {"max_bytes": 500_000_000}, hour)  # 500 h vs 24 h
    assert check(snap(dominant), "retention-dominant") == []
    # a stream written in one burst has no rate to project: no guess
    assert check(snap(_edit_stream(base, "ORDERS", {"max_bytes": 1}, {})),
                 "retention-dominant") == []


def _as_bucket(doc: dict[str, Any], old: str, new: str, config: dict[str, Any],
               state: dict[str, Any] | None = None) -> dict[str, Any]:
    """The recorded stream ``old`` renamed into a bucket's stream with the bucket's config."""
    doc = _edit_stream(doc, old, config, state or {})
    for s in doc["servers"]:
        for acc in (s.get("jsz") or {}).get("account_details") or []:
            for st in acc.get("stream_detail") or []:
                if st["name"] == old:
                    st["name"] = st["config"]["name"] = new
    return doc


OBJ = {"subjects": ["$O.FIRMWARE.C.>", "$O.FIRMWARE.M.>"], "discard": "new", "max_age": 0,
       "max_bytes": -1, "max_msgs": -1, "max_msgs_per_subject": -1, "allow_rollup_hdrs": True}
KV = {"subjects": ["$KV.SESSIONS.>"], "discard": "new", "max_age": 86400 * 10**9,
      "max_bytes": -1, "max_msgs": -1, "max_msgs_per_subject": 1, "allow_rollup_hdrs": True,
      "deny_delete": True}


def test_buckets_are_not_judged_as_streams() -> None:
    doc = _as_bucket(_as_bucket(load("degraded.json"), "NOLIMITS", "OBJ_FIRMWARE", OBJ),
                     "ORDERS", "KV_SESSIONS", {**KV, "max_bytes": 30_000_000, "max_msgs": 3600},
                     {"first_ts": "2026-11-26T10:00:00.5Z", "last_ts": "2026-11-26T11:00:00.5Z",
                      "messages": 3600, "bytes": 1_000_000})
    found = check(snap(doc), "retention", "retention-dominant", "bucket")
    assert [f for f in found if f.id != "bucket"] == []  # no "stream edit OBJ_... --max-age"
    assert {(f.subject, f.severity) for f in found} == {
        ("APP > OBJ_FIRMWARE", Severity.OK), ("APP > KV_SESSIONS", Severity.OK)}
    kv = next(f for f in found if "KV_" in f.subject)
    assert (kv.evidence["history"], kv.evidence["ttl"]) == (1, "1d")


def test_bucket_limits_that_lose_data_and_full_buckets() -> None:
    base = load("degraded.json")
    trimmed = _as_bucket(base, "NOLIMITS", "OBJ_FIRMWARE",
                         {**OBJ, "discard": "old", "max_bytes": 10 << 30})
    [f] = check(snap(trimmed), "bucket", "retention")
    assert (f.id, f.severity) == ("bucket", Severity.FAIL)
    assert "can no longer be read" in f.message
    assert f.fix and "--discard new" in f.fix and "--max-age" not in f.fix
    full = _as_bucket(base, "ORDERS", "KV_SESSIONS", {**KV, "max_bytes": 1_000_000},
                      {"bytes": 970_000})
    [f] = [f for f in check(snap(full), "bucket", "retention") if "KV_" in f.subject]
    assert f.id == "bucket" and f.severity == Severity.FAIL and "97%" in f.message
    assert f.fix and "natsops kv purge SESSIONS" in f.fix
    sealed = _as_bucket(base, "ORDERS", "KV_SESSIONS", {**KV, "sealed": True})
    assert [(f.severity, "sealed" in f.message) for f in check(snap(sealed), "bucket")] == [
        (Severity.WARN, True)]
    # a plain stream that only looks like a bucket by name is still a stream
    plain = _as_bucket(base, "NOLIMITS", "KV_NOTABUCKET", {"subjects": ["nolimits.>"]})
    assert [f.id for f in check(snap(plain), "bucket", "retention")] == ["retention"]
