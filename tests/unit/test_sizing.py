"""The sizing model (the README's worked example by hand, the guide's table) and requests."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from natsops.errors import UsageError
from natsops.sizing import GiB, Observed, Prices, SizingInput, cost, jetstream_config, size
from natsops.sizing_request import Given, load_prices, sizing_report, workload

README_EXAMPLE = SizingInput(msgs_per_sec=10_000, msg_size=1024, retention_seconds=7 * 86400,
                             replicas=3, streams=10, consumers=20, connections=500, fan_out=2)


def test_readme_worked_example_by_hand() -> None:
    r = size(README_EXAMPLE)
    stored = 1024 + 34                       # payload + record overhead
    ingest = 10_000 * stored                 # 10,580,000 B/s
    logical = ingest * 7 * 86400             # 6,398,784,000,000 B
    assert r.logical_bytes == logical == 6_398_784_000_000
    assert r.nodes == 3
    # ceil(10 streams x 3 replicas / 3 nodes) = 10 shares of logical / 10
    assert r.data_per_server == logical
    assert r.max_file_store == 7_998_480_000_000          # x 1.25
    assert r.disk_per_server == 9_998_100_000_000         # / 0.8
    assert r.max_memory_store == GiB
    # estimate: 512 MiB + 167 x 64 KiB + 1 GiB + 10 s x 10,580,000 B/s = 1,727,357,248 B;
    # doubled it is still below the 8 GiB baseline
    assert [s.value for s in r.steps if s.name == "memory estimate"] == [1_727_357_248]
    assert r.memory_per_server == 8 * GiB
    assert r.vcpu_per_server == 4                          # 0.107 busy vCPU -> the minimum
    assert r.ingress_bytes_per_sec == 10_640_000           # (1024 + 40) x 10,000
    assert r.network_bytes_per_sec_per_server == pytest.approx(53_200_000 / 3)
    assert r.nic_gbit == 1
    assert not r.notes


@settings(max_examples=200, deadline=None, derandomize=True)
@given(rate=st.floats(1, 2e6), msg=st.integers(16, 1 << 20), days=st.integers(1, 90),
       replicas=st.sampled_from([1, 3, 5]), streams=st.integers(1, 500),
       conns=st.integers(0, 100_000))
def test_consistent_with_guide_sizing_table(rate: float, msg: int, days: int, replicas: int,
                                            streams: int, conns: int) -> None:
    r = size(SizingInput(msgs_per_sec=rate, msg_size=msg, retention_seconds=days * 86400,
                         replicas=replicas, streams=streams, connections=conns))
    assert r.nodes % 2 == 1
    assert r.nodes >= replicas
    assert r.memory_per_server >= 8 * GiB                     # "8 GB baseline"
    assert r.vcpu_per_server >= 4                              # "4-8 vCPUs typical"
    assert r.disk_per_server > r.max_file_store >= r.data_per_server
    assert r.memory_per_server % GiB == 0
    if r.vcpu_per_server > 8:
        assert any("4-8" in n for n in r.notes)


def test_max_bytes_caps_retention_and_even_nodes_are_noted() -> None:
    r = size(SizingInput(msgs_per_sec=1000, msg_size=100, retention_seconds=86400 * 365,
                         max_bytes=10 * GiB, nodes=4, replicas=3))
    assert r.logical_bytes == 10 * GiB
    assert any("even" in n for n in r.notes)


@pytest.mark.parametrize("kw", [
    {"msgs_per_sec": 0}, {"replicas": 7}, {"nodes": 1}, {"retention_seconds": None},
    {"memory_fraction": 2.0}, {"streams": 0},
])
def test_bad_input(kw: dict[str, object]) -> None:
    base: dict[str, object] = {"msgs_per_sec": 10, "msg_size": 10, "retention_seconds": 60}
    with pytest.raises(UsageError):
        size(SizingInput(**{**base, **kw}))  # type: ignore[arg-type]


def test_cost_and_break_even() -> None:
    small = SizingInput(msgs_per_sec=50, msg_size=512, retention_seconds=86400, connections=20)
    c = cost(small)
    assert c.managed_is_cheaper                     # the guide: managed is cheaper at low scale
    assert c.break_even_msgs_per_sec is not None
    above = cost(SizingInput(msgs_per_sec=c.break_even_msgs_per_sec * 1.5, msg_size=512,
                             retention_seconds=86400, connections=20))
    assert not above.managed_is_cheaper
    assert c.self_hosted == pytest.approx(c.compute + c.storage + c.network)
    pricey = cost(small, Prices(vcpu_month=0.01, gib_ram_month=0.01))
    assert pricey.compute < c.compute


# ---- a sizing request: flags over measurements over defaults, price tables ------------------

MEASURED = Observed(seconds=10.0, msgs_per_sec=50.0, msg_size=300, streams=4, consumers=2,
                    connections=7, servers=3, replicas=1, fan_out=2.0, retention_seconds=3600.0,
                    max_bytes=None, stored_bytes=0)


def test_given_parses_sizes_durations_and_nodes() -> None:
    g = Given.parse(msg_size="1KB", retention="7d", max_bytes="500GB", nodes="5")
    assert (g.msg_size, g.retention_seconds, g.max_bytes, g.nodes) == (
        1024, 7 * 86400, 500 << 30, 5)
    assert Given.parse().nodes is None  # auto
    with pytest.raises(UsageError, match="--nodes must be a number or 'auto', not 'many'"):
        Given.parse(nodes="many")
    with pytest.raises(UsageError, match="--retention"):
        Given.parse(retention="7x")


def test_workload_defaults_without_flags_or_measurement() -> None:
    w = workload(Given())
    assert (w.msgs_per_sec, w.msg_size, w.replicas, w.streams, w.consumers, w.connections,
            w.fan_out) == (1000.0, 1024, 3, 1, 1, 100, 1.0)
    assert (w.retention_seconds, w.max_bytes, w.nodes) == (None, None, None)


def test_workload_flags_win_over_measured_values() -> None:
    w = workload(Given(msgs_per_sec=200.0, replicas=3), MEASURED)
    assert (w.msgs_per_sec, w.replicas) == (200.0, 3)  # given
    assert (w.msg_size, w.streams, w.consumers, w.connections, w.fan_out) == (300, 4, 2, 7, 2.0)
    assert (w.retention_seconds, w.max_bytes) == (3600.0, None)  # measured limits


def test_workload_one_limit_given_replaces_both_measured_limits() -> None:
    w = workload(Given(max_bytes=1 << 30), MEASURED)
    assert (w.retention_seconds, w.max_bytes) == (None, 1 << 30)


def test_workload_measured_without_traffic_needs_a_rate() -> None:
    idle = dataclasses.replace(MEASURED, msgs_per_sec=0.0, streams=0)
    with pytest.raises(UsageError, match="no JetStream message was stored during the 10s"):
        workload(Given(), idle)
    w = workload(Given(msgs_per_sec=5.0), idle)
    assert (w.msgs_per_sec, w.streams) == (5.0, 1)  # at least one stream


def test_load_prices(tmp_path: Path) -> None:
    assert load_prices(None) == Prices()
    p = tmp_path / "p.yaml"
    p.write_text("vcpu_month: 10\nmanaged_per_connection_month: 2\n")
    assert load_prices(p) == Prices(vcpu_month=10.0, managed_per_connection_month=2.0)
    for text, match in (("bogus: 1\n", r"unknown price keys \['bogus'\]"),
                        ("- 1\n", "unknown price keys"),
                        ("vcpu_month: lots\n", "prices must be numbers"),
                        ("vcpu_month: [1\n", "invalid YAML")):
        p.write_text(text)
        with pytest.raises(UsageError, match=match):
            load_prices(p)
    with pytest.raises(UsageError, match="cannot read"):
        load_prices(tmp_path / "missing.yaml")


def test_sizing_report_adds_cost_only_with_prices() -> None:
    given = Given(msgs_per_sec=10_000, msg_size=1024, retention_seconds=7 * 86400, streams=10,
                  consumers=20, connections=500, fan_out=2)
    rep = sizing_report(given)
    assert rep.input == README_EXAMPLE
    assert rep.cost is None and rep.observed is None
    assert rep.jetstream_config == jetstream_config(rep.result) == (
        "jetstream { max_memory_store: 1GB, max_file_store: 7450GB }")
    assert sizing_report(given, prices=Prices()).cost == cost(README_EXAMPLE, Prices())


def test_measured_streams_are_each_bounded_by_their_own_limits() -> None:
    from natsops.sizing import StreamLimit

    orders = StreamLimit("ORDERS", share=1.0, max_age_s=30 * 86400, max_bytes=50 << 30)
    kv = StreamLimit("KV_SESSIONS", share=0.0, max_age_s=86400, stored_bytes=1_000)
    obj = StreamLimit("OBJ_FIRMWARE", share=0.0, stored_bytes=300_000)
    seen = dataclasses.replace(MEASURED, retention_seconds=30 * 86400.0, max_bytes=None,
                               streams=3, replicas=3, stream_limits=(orders, kv, obj))
    r = sizing_report(Given(msgs_per_sec=15_000.0, msg_size=1024), seen).result
    logical = next(s.value for s in r.steps if s.name == "logical data")
    assert logical == (50 << 30) + 1_000 + 300_000  # not 15k x 1058 B x 30 d = 41 TB
    # limits given on the command line replace the measured ones, per-stream too
    w = workload(Given(retention_seconds=86400.0), seen)
    assert w.stream_limits == () and w.retention_seconds == 86400.0
    # a stream with traffic and no limit at all takes the longest max_age of the others
    loose = dataclasses.replace(seen, stream_limits=(dataclasses.replace(obj, share=0.5),
                                                     dataclasses.replace(orders, share=0.5)))
    r = sizing_report(Given(msgs_per_sec=1.0, msg_size=966), loose).result
    assert next(s.value for s in r.steps if s.name == "logical data") == pytest.approx(
        0.5 * 1000 * 30 * 86400 * 2)
    assert any("OBJ_FIRMWARE has no limit" in n for n in r.notes)
