"""natsops.check: thresholds and evaluations on recorded/synthetic API replies (no server)."""

from __future__ import annotations

import pytest

from natsops.check.evaluate import (
    ConsumerThresholds,
    CredentialThresholds,
    MetaThresholds,
    StreamThresholds,
    age_seconds,
    evaluate_consumer,
    evaluate_credential,
    evaluate_meta,
    evaluate_stream,
)
from natsops.check.model import Threshold, nagios_code, parse_threshold, status_label
from natsops.check.render import json_document, nagios_line, prometheus_text
from natsops.errors import UsageError
from natsops.findings import Finding, Severity, to_prometheus

NOW = 1_700_000_000.0


def stream(messages: int = 10, subjects: int = 3, cluster: dict | None = None,
           sources: list | None = None) -> dict:
    return {"config": {"name": "ORDERS"}, "state": {"messages": messages,
                                                    "num_subjects": subjects},
            "cluster": cluster, "sources": sources}


def test_threshold_levels_and_inversion() -> None:
    t = Threshold(10, 20)
    assert [t.severity(v) for v in (9, 10, 20)] == [Severity.OK, Severity.WARN, Severity.FAIL]
    inv = Threshold.inverting(10, 2)  # crit < warn: "too few"
    assert inv.below
    assert [inv.severity(v) for v in (11, 10, 2)] == [Severity.OK, Severity.WARN, Severity.FAIL]
    assert not Threshold.inverting(2, 10).below
    assert Threshold(None, 5, strict=True).severity(5) is Severity.OK


def test_parse_threshold_rejects_bad_text() -> None:
    assert parse_threshold("1s", "7d", duration=True).crit == 7 * 86400
    for bad in ("x", "-1", "nan"):
        with pytest.raises(UsageError):
            parse_threshold(bad, None)
    with pytest.raises(UsageError):
        parse_threshold(None, "soon", duration=True)


def test_stream_messages_alert_at_or_below() -> None:
    t = StreamThresholds(msgs=Threshold(5, 1))
    assert nagios_code(evaluate_stream(stream(messages=6), t)) == 0
    assert nagios_code(evaluate_stream(stream(messages=5), t)) == 1
    assert nagios_code(evaluate_stream(stream(messages=1), t)) == 2


def test_stream_peers() -> None:
    ok = {"leader": "n1", "replicas": [{"name": "n2", "current": True, "active": 10**8, "lag": 0},
                                       {"name": "n3", "current": True, "active": 10**8, "lag": 0}]}
    t = StreamThresholds(peer_expect=3, peer_lag_crit=5, peer_seen_crit=2.0)
    assert nagios_code(evaluate_stream(stream(cluster=ok), t)) == 0
    lagged = {**ok, "replicas": [{**ok["replicas"][0], "lag": 6}, ok["replicas"][1]]}
    r = evaluate_stream(stream(cluster=lagged), t)
    assert nagios_code(r) == 2 and "1 replicas lagged" in nagios_line(r)
    offline = {**ok, "replicas": [{**ok["replicas"][0], "offline": True}]}
    r = evaluate_stream(stream(cluster=offline), t)
    assert "expected 3 peers got 2" in nagios_line(r) and "1 replicas offline" in nagios_line(r)
    assert "no leader" in nagios_line(evaluate_stream(stream(cluster={"replicas": ok["replicas"]}),
                                                      t))
    assert "not clustered" in nagios_line(evaluate_stream(stream(), t))


def test_stream_sources_lag_and_count() -> None:
    src = [{"name": "A", "lag": 50, "active": 3 * 10**9}, {"name": "B", "lag": 0, "active": 0}]
    t = StreamThresholds(lag=Threshold(10, 100), seen=Threshold(None, 2.0), min_sources=3)
    r = evaluate_stream(stream(sources=src), t)
    line = nagios_line(r)
    assert nagios_code(r) == 2
    assert "Warn:A lag 50 >= 10" in line and "A last seen 3.000s" in line
    assert "2 sources, expected between 3 and any" in line


def test_consumer_thresholds_and_ages() -> None:
    info = {"stream_name": "S", "name": "C", "num_ack_pending": 5, "num_waiting": 0,
            "num_pending": 100, "num_redelivered": 2,
            "delivered": {"last_active": "2023-11-14T22:13:10.123456789Z"},
            "ack_floor": {}}
    t = ConsumerThresholds(outstanding_ack=Threshold(5, 10), unprocessed=Threshold(10, 100),
                           last_delivery=Threshold(5, 60), last_ack=Threshold(None, 60))
    r = evaluate_consumer(info, t, NOW)
    line = nagios_line(r)
    assert r.name == "S_C" and nagios_code(r) == 2
    assert "Warn:ack pending 5 >= 5" in line and "Crit:unprocessed 100 >= 100" in line
    assert "Crit:no acks" in line and "Warn:last delivery age 9.9s >= 5s" in line


def test_age_seconds_parses_server_times() -> None:
    assert age_seconds("2023-11-14T22:13:10Z", NOW) == pytest.approx(10.0)
    assert age_seconds("2023-11-14T23:13:10.5+01:00", NOW) == pytest.approx(9.5)
    assert age_seconds("0001-01-01T00:00:00Z", NOW) is None
    assert age_seconds(None, NOW) is None


def test_meta() -> None:
    jsz = {"data": {"meta_cluster": {"leader": "n1", "replicas": [
        {"name": "n2", "current": True, "active": 10**8, "lag": 0},
        {"name": "n3", "current": False, "active": 9 * 10**9, "lag": 500}]}}}
    r = evaluate_meta(jsz, MetaThresholds(expect=3, lag_crit=100, seen_crit=5))
    line = nagios_line(r)
    assert nagios_code(r) == 2
    assert "1 peers lagged: n3" in line and "1 peers inactive: n3" in line
    assert "1 peers not current: n3" in line
    assert "expected 5 peers got 3" in nagios_line(evaluate_meta(jsz, MetaThresholds(expect=5)))
    good = {"meta_cluster": {"leader": "n1", "replicas": [
        {"name": "n2", "current": True, "active": 10**8, "lag": 0}]}}
    r = evaluate_meta(good, MetaThresholds(expect=2))
    assert status_label(r) == "OK" and "2 peers led by n1" in nagios_line(r)


def test_credential() -> None:
    t = CredentialThresholds(Threshold(14 * 86400, 7 * 86400, below=True), require_expiry=True)
    assert nagios_code(evaluate_credential(int(NOW + 30 * 86400), t, NOW)) == 0
    assert nagios_code(evaluate_credential(int(NOW + 10 * 86400), t, NOW)) == 1
    assert nagios_code(evaluate_credential(int(NOW + 86400), t, NOW)) == 2
    assert "expired" in nagios_line(evaluate_credential(int(NOW - 5), t, NOW))
    assert nagios_code(evaluate_credential(None, t, NOW)) == 2
    assert nagios_code(evaluate_credential(None, CredentialThresholds(), NOW)) == 0


def test_renderers() -> None:
    r = evaluate_stream(stream(messages=3), StreamThresholds(msgs=Threshold(5, 1)))
    assert nagios_line(r) == ("WARNING ORDERS Warn:messages 3 <= 5 | messages=3;5;1 subjects=3")
    doc = json_document(r)
    assert doc["status"] == "WARNING" and doc["exit_code"] == 1
    assert doc["check_suite"] == "stream" and doc["perf_data"][0]["warning"] == 5
    text = prometheus_text(r, "ns")
    assert 'ns_stream_messages{name="stream",asset="ORDERS"} 3\n' in text
    assert 'ns_stream_status_code{name="stream",asset="ORDERS",status="WARNING"} 1\n' in text


def test_to_prometheus_escapes_and_defaults_to_worst() -> None:
    f = [Finding.fail("x", "s", "bad")]
    text = to_prometheus(f, name="kv", asset='a"b\\c', perfdata={"values": 2})
    assert 'asset="a\\"b\\\\c"' in text
    assert text.endswith('status="CRITICAL"} 2\n')
    assert "# TYPE natsops_check_kv_values gauge" in text


def test_source_never_seen_is_critical_not_infinite() -> None:
    src = [{"name": "A", "lag": 0, "active": -1}]
    r = evaluate_stream(stream(sources=src), StreamThresholds(seen=Threshold(None, 60.0)))
    assert nagios_code(r) == 2 and "Crit:A never seen" in nagios_line(r)
    assert all(p.name != "active" for p in r.perf)  # no inf in perf data or JSON


def test_meta_warning_levels() -> None:
    jsz = {"meta_cluster": {"leader": "n1", "replicas": [
        {"name": "n2", "current": True, "active": 3 * 10**9, "lag": 50}]}}
    r = evaluate_meta(jsz, MetaThresholds(expect=2, lag_warn=10, lag_crit=100, seen_warn=1,
                                          seen_crit=5))
    line = nagios_line(r)
    assert nagios_code(r) == 1
    assert "Warn:1 peers inactive: n2" in line and "Warn:1 peers lagged: n2" in line
