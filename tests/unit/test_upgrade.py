"""The upgrade's pure parts: version path, command templates, the journal, plan order, gates."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from natsops.cli.main import app
from natsops.errors import UsageError
from natsops.monitoring.snapshot import ServerView, Snapshot
from natsops.upgrade.gates import pending_conditions
from natsops.upgrade.journal import Journal
from natsops.upgrade.plan import build_plan
from natsops.upgrade.preflight import preflight, refusals
from natsops.upgrade.run import UpgradeOptions
from natsops.upgrade.state import SeqWatch, groups, meta_leader_of, meta_leaders
from natsops.upgrade.strategies import Target, check_template, render_command
from natsops.upgrade.versions import describe_path, intermediate_releases

RELEASED = ["2.15.1", "2.15.0", "2.14.6", "2.14.0", "2.12.8", "2.12.0", "2.11.11", "2.10.26",
            "2.16.0-rc.1"]


def test_one_released_minor_per_step() -> None:
    assert intermediate_releases("2.14.6", "2.15.1", RELEASED) == []
    assert intermediate_releases("2.12.8", "2.14.6", RELEASED) == []  # there is no 2.13
    assert intermediate_releases("2.11.3", "2.15.1", RELEASED) == ["2.12.8", "2.14.6"]
    assert intermediate_releases("2.15.1", "2.11.11", RELEASED) == ["2.14.6", "2.12.8"]
    assert intermediate_releases("2.15.0", "2.15.1", RELEASED) == []
    assert describe_path(["2.10.26", "2.14.6"], "2.15.1", RELEASED) == [
        "2.10.26 -> 2.15.1 skips 3 released minor version(s): go through 2.11.11 -> 2.12.8 -> "
        "2.14.6 first"]


def test_templates_fill_words_without_a_shell() -> None:
    t = Target("n1", "db-1; rm -rf /", 42)
    argv = render_command("ssh {host} sudo systemctl restart nats-server@{name}", t,
                          shell=False)
    assert argv == ["ssh", "db-1; rm -rf /", "sudo", "systemctl", "restart",
                    "nats-server@n1"]
    sh = render_command("kill {pid} && echo {host}", t, shell=True)
    assert sh == ["/bin/sh", "-c", "kill 42 && echo 'db-1; rm -rf /'"]
    with pytest.raises(UsageError, match="unknown field"):
        check_template("restart {server}", "--restart-cmd")


def test_journal_refuses_to_start_over_an_interrupted_run(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    j = Journal.open(path, target="2.15.1", strategy="local", order=["n1", "n2"], resume=False)
    j.at("n1", "restarting")
    j.close("aborted", "restart command failed")
    with pytest.raises(UsageError, match="interrupted at n1"):
        Journal.open(path, target="2.15.1", strategy="local", order=["n1"], resume=False)
    with pytest.raises(UsageError, match=r"was to 2\.15\.1"):
        Journal.open(path, target="restart", strategy="local", order=["n1"], resume=True)
    again = Journal.open(path, target="2.15.1", strategy="local", order=["n1"], resume=True)
    assert again.current == "n1" and again.status == "running"
    with pytest.raises(UsageError, match="no upgrade state"):
        Journal.open(tmp_path / "none.json", target="x", strategy="local", order=[],
                     resume=True)


def _stream(name: str, leader: str, replicas: int, peers: dict[str, dict[str, Any]],
            last_seq: int = 10) -> dict[str, Any]:
    return {"name": name, "created": "t0", "config": {"num_replicas": replicas},
            "state": {"last_seq": last_seq},
            "cluster": {"leader": leader,
                        "replicas": [{"name": n, **p} for n, p in peers.items()]}}


def _snap(streams: dict[str, list[dict[str, Any]]], leader: str = "n1",
          health: dict[str, str] | None = None) -> Snapshot:
    servers = []
    for name in ("n1", "n2", "n3"):
        meta = {"leader": leader, "cluster_size": 3, "replicas": [
            {"name": n, "current": True, "active": 0} for n in ("n1", "n2", "n3") if n != leader]}
        jsz = {"config": {"max_memory": 1}, "meta_cluster": meta,
               "account_details": [{"name": "APP", "stream_detail": streams.get(name, [])}]}
        status = (health or {}).get(name, "ok")
        servers.append(ServerView(name=name, id=name, version="2.14.6", jsz=jsz, varz={},
                                  healthz={"status": status, "error": None if status == "ok"
                                           else "JetStream is not current with the meta leader"}))
    return Snapshot(servers=tuple(servers), transport="sys", expected=("n1", "n2", "n3"))


OK = {"current": True, "active": 1000}


def test_plan_orders_followers_first_and_names_r1_groups() -> None:
    snap = _snap({"n2": [_stream("ORDERS", "n2", 3, {"n1": OK, "n3": OK})],
                  "n1": [_stream("ORDERS", "n2", 3, {}), _stream("ONE", "n1", 1, {})],
                  "n3": [_stream("ORDERS", "n2", 3, {})]}, leader="n1")
    plan = build_plan(snap, ["n1", "n2", "n3"], target_version="2.15.1", target_binary=None,
                      strategy="local")
    assert plan.order == ("n2", "n3", "n1")
    assert plan.step("n2").step_downs == ("APP > ORDERS",)
    assert plan.step("n1").step_downs[0] == "JetStream meta leader"
    assert plan.step("n1").r1 == ("APP > ONE",)
    found = preflight(snap, plan, accept_downtime=False)
    assert [f.id for f in refusals(found)] == ["upgrade-r1"]
    assert refusals(preflight(snap, plan, accept_downtime=True)) == []


def test_gate_waits_for_the_leaders_view_of_the_restarted_server() -> None:
    lagging = {"current": False, "lag": 120, "active": 1000}
    snap = _snap({"n1": [_stream("ORDERS", "n1", 3, {"n2": lagging, "n3": OK})],
                  "n2": [_stream("ORDERS", "n1", 3, {})]})
    pending, lag = pending_conditions(snap, "n2")
    assert pending == {"APP > ORDERS on n2": "not current (120 behind)"} and lag == 120
    assert pending_conditions(snap, "n3") == ({}, 0)
    unhealthy = _snap({"n1": [_stream("ORDERS", "n1", 3, {"n2": OK, "n3": OK})]},
                      health={"n3": "unavailable"})
    assert list(pending_conditions(unhealthy, "n3")[0]) == ["n3 /healthz"]
    gone = Snapshot(servers=unhealthy.servers[:2], transport="sys",
                    expected=("n1", "n2", "n3"))
    assert pending_conditions(gone, "n3")[0]["n3"] == "not answering"


def test_sequence_going_back_is_seen() -> None:
    w = SeqWatch.new()
    assert w.update(_snap({"n2": [_stream("S", "n1", 3, {}, last_seq=50)]})) == []
    bad = w.update(_snap({"n2": [_stream("S", "n1", 3, {}, last_seq=40)]}))
    assert bad == ["stream APP > S on n2: last sequence went back from 50 to 40"]


def test_ephemeral_consumer_counts_as_single_replica() -> None:
    sd = _stream("S", "n1", 3, {"n2": OK, "n3": OK})
    sd["consumer_detail"] = [{"name": "eph", "config": {"num_replicas": 0},
                              "cluster": {"leader": "n1"}}]
    [stream, consumer] = groups(_snap({"n1": [sd]}))
    assert (stream.replicas, consumer.replicas) == (3, 1)


def test_options_refuse_contradictions() -> None:
    with pytest.raises(UsageError, match="exactly one of"):
        UpgradeOptions(cluster_dir=Path("x")).check()
    with pytest.raises(UsageError, match="exclude each other"):
        UpgradeOptions(restart_only=True, restart_cmd="x", kubernetes=True).check()
    with pytest.raises(UsageError, match="--to-binary installs"):
        UpgradeOptions(to_binary=Path("b"), restart_cmd="x {name}",
                       settings=None, cluster_dir=Path("d")).check()


def test_bad_template_or_version_refused_before_connecting() -> None:
    r = CliRunner().invoke(app, ["-s", "nats://127.0.0.1:1", "upgrade", "--rolling",
                                 "--restart-only", "--restart-cmd", "x {bogus}"])
    assert r.exit_code == 2 and "unknown field(s) {bogus}" in r.output, r.output
    r = CliRunner().invoke(app, ["-s", "nats://127.0.0.1:1", "upgrade", "--rolling",
                                 "--to-version", "2.x.1", "--kubernetes"])
    assert r.exit_code == 2 and "not a server version" in r.output, r.output


def test_cli_without_rolling_is_one_error_line() -> None:
    r = CliRunner().invoke(app, ["upgrade", "--dir", "/nonexistent", "--restart-only"])
    assert r.exit_code == 2
    assert r.output.strip().splitlines()[0] == "error: only rolling upgrades exist: pass --rolling"


def test_gate_waits_for_r1_groups_of_the_restarted_server() -> None:
    down = _stream("ONE", "", 1, {})
    snap = _snap({"n2": [down]})
    assert pending_conditions(snap, "n2")[0] == {"APP > ONE": "no leader"}
    assert pending_conditions(snap, "n3")[0] == {}


def test_each_jetstream_domain_has_its_own_meta_leader_and_gate() -> None:
    """A topology with a leaf site in domain ``edge``: two meta groups, each judged apart."""
    hub = _snap({})
    leaf = ServerView(name="l1", id="l1", version="2.14.6", domain="edge", varz={},
                      healthz={"status": "ok"},
                      jsz={"meta_cluster": {"leader": "l1", "cluster_size": 1, "replicas": []}})
    snap = Snapshot(servers=(*hub.servers, leaf), transport="sys",
                    expected=("n1", "n2", "n3", "l1"))
    assert meta_leaders(snap) == {"": "n1", "edge": "l1"}
    assert meta_leader_of(snap, "l1") == "l1" and meta_leader_of(snap, "n2") == "n1"
    assert pending_conditions(snap, None)[0] == {}
    assert pending_conditions(snap, "l1")[0] == {}
    plan = build_plan(snap, ("n1", "n2", "n3", "l1"), target_version=None, target_binary=None,
                      strategy="local")
    assert [s.name for s in plan.steps if s.meta_leader] == ["l1", "n1"]
    lost = Snapshot(servers=(*hub.servers, replace(leaf, jsz={"meta_cluster": {"leader": None}})),
                    transport="sys", expected=snap.expected)
    assert pending_conditions(lost, "l1")[0] == {"meta (edge)": "no meta leader agreed on"}
    assert pending_conditions(lost, "n2")[0] == {}  # the hub's gate is not held by the leaf


class _FakeConn:
    nc = None  # the ping is replaced: no network


def _jsz(name: str, domain: str, leader: str | None, clustered: bool = True) -> dict[str, Any]:
    meta = {"name": "c", "leader": leader, "cluster_size": 3,
            "replicas": [{"name": f"{name}x", "current": True}]} if clustered else None
    data: dict[str, Any] = {"server_id": name, **({"meta_cluster": meta} if meta else {})}
    return {"server": {"name": name, "domain": domain}, "data": data}


@pytest.mark.parametrize(("replies", "domain", "want"), [
    # the default domain's leader first, though the leaf domain's answered too
    ([_jsz("l2", "edge", "l2"), _jsz("h3", "", "h3")], None, "h3"),
    ([_jsz("l2", "edge", "l2"), _jsz("h3", "", "h3")], "edge", "l2"),
    # the hub electing: a one-server leaf site in its own domain is not "no meta group"
    ([_jsz("l1", "edge", None, clustered=False)], None, None),
])
def test_meta_leader_per_jetstream_domain(monkeypatch: pytest.MonkeyPatch,
                                          replies: list[dict[str, Any]], domain: str | None,
                                          want: str | None) -> None:
    import asyncio

    from natsops.jetstream import meta
    from natsops.monitoring import sys as sysmod
    from natsops.monitoring.sys import PingResult

    sent: list[Any] = []

    async def fake_ping(nc: Any, what: str, body: Any = None, **kw: Any) -> PingResult:
        sent.append(body)
        return PingResult("$SYS.REQ.SERVER.PING.JSZ", tuple(replies))

    monkeypatch.setattr(sysmod, "sys_ping", fake_ping)
    state = asyncio.run(meta._jsz_leader(_FakeConn(), 1.0, domain))  # type: ignore[arg-type]
    assert (state.leader if state else None) == want
    assert sent == [{"leader_only": True, **({"domain": domain} if domain else {})}]


def test_a_lone_server_without_a_domain_has_no_meta_group(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    import asyncio

    from natsops.jetstream import meta
    from natsops.monitoring import sys as sysmod
    from natsops.monitoring.sys import PingResult

    async def fake_ping(nc: Any, what: str, body: Any = None, **kw: Any) -> PingResult:
        return PingResult("$SYS.REQ.SERVER.PING.JSZ", (_jsz("s1", "", None, clustered=False),))

    monkeypatch.setattr(sysmod, "sys_ping", fake_ping)
    with pytest.raises(UsageError, match="without clustering"):
        asyncio.run(meta._jsz_leader(_FakeConn(), 1.0))  # type: ignore[arg-type]
