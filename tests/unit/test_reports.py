"""The report views over a Snapshot: sorting across servers, filters, slow flags, links."""

from __future__ import annotations

from typing import Any

import pytest

from natsops.errors import UsageError
from natsops.monitoring.reports import (
    connection_rows,
    connections_gather,
    health_rows,
    link_rows,
)
from natsops.monitoring.snapshot import ServerView, Snapshot


def conn(cid: int, name: str, **kw: Any) -> dict[str, Any]:
    return {"cid": cid, "name": name, "account": "APP", "rtt": "1ms", "uptime": "1m",
            "idle": "0s", **kw}


SNAP = Snapshot(transport="sys", expected=("n1", "n2", "n3"), servers=(
    ServerView(name="n1", id="N1", connz={"connections": [
        conn(1, "quiet", in_msgs=5, subscriptions_list=["orders.>"]),
        conn(2, "slow", in_msgs=50, pending_bytes=2 << 20, subscriptions_list=["x"])]},
        routez={"routes": [{"remote_name": "n2", "rtt": "250µs", "pending_size": 7,
                            "did_solicit": True, "compression": "off"}]},
        healthz={"status": "ok", "status_code": 200}),
    ServerView(name="n2", id="N2", connz={"connections": [
        conn(1, "flooder", in_msgs=9000, idle="2h", stalls=3)]},
        healthz={"status": "error", "status_code": 503, "errors": [
            {"type": "STREAM", "account": "APP", "stream": "S", "error": "not current"}]}),
))


def test_connections_are_sorted_across_servers_and_flag_slow_ones() -> None:
    rows, total, missing = connection_rows(SNAP, sort="in-msgs", top=2)
    assert [(r.server, r.name) for r in rows] == [("n2", "flooder"), ("n1", "slow")]
    assert total == 3
    assert missing == ("n3",)
    assert all(r.slow for r in rows)  # stalls, and 2 MiB pending
    rows, _, _ = connection_rows(SNAP, sort="idle", top=1)
    assert rows[0].idle_s == 7200
    rows, total, _ = connection_rows(SNAP, subject="orders.new", top=10)
    assert [r.name for r in rows] == ["quiet"] and not rows[0].slow
    rows, _, _ = connection_rows(SNAP, name="loo", top=10)
    assert [r.name for r in rows] == ["flooder"]


def test_connections_gather_asks_the_server_to_sort_and_filter() -> None:
    o = connections_gather("out-bytes", 5, account="APP")
    assert (o.connz_sort, o.connz_limit, o.connz_account, o.parts) == (
        "bytes_to", 5, "APP", ("varz", "connz"))
    assert connections_gather("pending", 5, name="x").connz_limit == 1024
    assert connections_gather("rtt", 5, state="closed").parts == ("varz", "connz_closed")
    for bad in ({"sort": "bogus"}, {"state": "gone"}, {"top": 0}):
        args: dict[str, Any] = {"sort": "pending", "top": 5, **bad}
        with pytest.raises(UsageError):
            connections_gather(args.pop("sort"), args.pop("top"), **args)


def test_links_and_health() -> None:
    rows, missing = link_rows(SNAP, "routes")
    assert [(r.server, r.remote, r.pending, r.rtt_s) for r in rows] == [
        ("n1", "n2", 7, 0.00025)]
    assert rows[0].detail == "solicited, compression off"
    assert missing == ("n3",)
    assert link_rows(SNAP, "leafnodes")[0] == ()
    with pytest.raises(UsageError):
        link_rows(SNAP, "bogus")
    health, _ = health_rows(SNAP)
    assert [(h.server, h.status) for h in health] == [("n1", "ok"), ("n2", "error")]
    assert health[1].errors == ("STREAM APP > S: not current",)
