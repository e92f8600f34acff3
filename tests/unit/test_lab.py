"""``natsops lab`` without a lab: names, privileges, the rendered configs, and the partition
check on Snapshots recorded from a real lab (``data/record_lab.py``)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from natsops.cluster.local import LocalCluster
from natsops.cluster.process import find_server_binary
from natsops.doctor import run_checks, select_checks
from natsops.errors import UsageError
from natsops.findings import Severity
from natsops.lab import ROUTE_PING, Lab, _plan, lab_id, load, net
from natsops.monitoring.snapshot import Snapshot

DATA = Path(__file__).parent / "data"


def recorded(name: str) -> Snapshot:
    return Snapshot.from_dict(json.loads((DATA / name).read_text()))


def test_names_are_short_and_distinct_per_directory(tmp_path: Path) -> None:
    a, b = lab_id(tmp_path / "a"), lab_id(tmp_path / "b")
    assert a != b and a.startswith("nl") and len(a) == 7
    lab = Lab(dir=tmp_path / "a", id=a)
    nodes = _plan(lab, 9)
    names = [lab.hub, lab.client, *(str(n.netns) for n in nodes)]
    assert len(set(names)) == len(names)
    assert all(len(n) <= 15 for n in names), names  # also usable as interface names
    assert [n.host for n in nodes][:3] == ["10.200.0.11", "10.200.0.12", "10.200.0.13"]


def test_capability_parsing_and_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    assert net._cap_net_admin("Name:\tx\nCapEff:\t0000000000001000\n")
    assert not net._cap_net_admin("CapEff:\t0000000000000000\n")
    assert not net._cap_net_admin("")
    monkeypatch.setattr(net.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(net, "_cap_net_admin", lambda status: False)
    with pytest.raises(UsageError, match="needs root or CAP_NET_ADMIN"):
        net.require_privileges()


def test_lab_config_has_short_route_pings_and_passes_server_check(tmp_path: Path) -> None:
    lab = Lab(dir=tmp_path / "L", id=lab_id(tmp_path / "L"))
    c = LocalCluster.create(tmp_path / "L", name="LAB", nodes=_plan(lab, 3),
                            route_ping=ROUTE_PING)
    conf = c.config_path("n2").read_text()
    assert 'listen: "10.200.0.12:4222"' in conf and 'listen: "10.200.0.12:6222"' in conf
    assert 'ping_interval: "1s"' in conf and "ping_max: 3" in conf
    assert '"nats-route://10.200.0.11:6222"' in conf
    loaded = LocalCluster.load(tmp_path / "L")
    assert loaded.route_ping == ROUTE_PING
    assert loaded.node("n3").netns == f"{lab.id}-n3"
    assert loaded.node("n3").monitor_url == "http://10.200.0.13:8222"
    out = subprocess.run([str(find_server_binary()), "-t", "-c", str(c.config_path("n2"))],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def test_partitioned_meta_leader_recorded() -> None:
    s = recorded("partition_leader.json")
    found = list(run_checks(s, select_checks(only=["partition"])))
    assert [(f.severity, f.subject) for f in found] == [(Severity.FAIL, "n2")]
    f = found[0]
    assert "n2 is cut off from the majority" in f.message
    assert "yet its /healthz says ok" in f.message
    assert "still calls itself JetStream meta leader" in f.message
    assert "n1, n3 hold the quorum (2 of 3, 2 needed) and elected n3 meta leader" in f.message
    assert f.evidence["quorum_side"] == ["n1", "n3"]
    assert f.fix is not None and "natsops lab heal" in f.fix


def test_partition_seen_from_the_cut_off_side_only() -> None:
    doc = json.loads((DATA / "partition_leader.json").read_text())
    doc["servers"] = [s for s in doc["servers"] if s["name"] == "n2"]
    found = list(run_checks(Snapshot.from_dict(doc), select_checks(only=["partition"])))
    assert [f.subject for f in found] == ["n2"]
    assert "n1, n3 did not answer this gathering" in found[0].message
    assert "--transport http" in found[0].message


def test_cut_pair_recorded_is_a_warning() -> None:
    found = list(run_checks(recorded("partition_pair.json"), select_checks(only=["partition"])))
    assert [(f.severity, f.subject) for f in found] == [(Severity.WARN, "n1-n2")]


@pytest.mark.parametrize("name", ["healthy.json", "degraded.json", "degraded_http.json"])
def test_no_partition_in_the_other_recordings(name: str) -> None:
    assert list(run_checks(recorded(name), select_checks(only=["partition"]))) == []


def test_routes_still_forming_right_after_start_are_not_a_cut() -> None:
    doc = json.loads((DATA / "partition_pair.json").read_text())
    for s in doc["servers"]:
        s["varz"]["start"] = s["varz"]["now"]
    assert list(run_checks(Snapshot.from_dict(doc), select_checks(only=["partition"]))) == []


def test_cut_pair_seen_without_one_of_them() -> None:
    """Over $SYS through n1, n2 (cut from n1 only) does not answer; n3 has routes to both."""
    doc = json.loads((DATA / "partition_pair.json").read_text())
    doc["servers"] = [s for s in doc["servers"] if s["name"] != "n2"]
    found = list(run_checks(Snapshot.from_dict(doc), select_checks(only=["partition"])))
    assert [(f.severity, f.subject) for f in found] == [(Severity.WARN, "n1-n2")]
    assert "n2 did not answer this gathering; n3 has a route to it" in found[0].message


def test_a_lab_file_naming_foreign_namespaces_is_refused(tmp_path: Path) -> None:
    lab = Lab(dir=tmp_path, id=lab_id(tmp_path), namespaces=["production"])
    lab.save()
    with pytest.raises(UsageError, match="without the lab's id"):
        load(tmp_path)
    Lab(dir=tmp_path, id=lab.id, namespaces=[lab.hub], links=[f"{lab.hub}/br0"]).save()
    assert load(tmp_path).namespaces == [lab.hub]


def test_servers_of_other_clusters_are_not_missing_routes() -> None:
    """A super-cluster or a leaf site: the meta group names servers with no route to here."""
    doc = json.loads((DATA / "healthy.json").read_text())
    for s in doc["servers"]:
        routes = s["routez"]["routes"]
        s["routez"]["routes"] = [r for r in routes if r["remote_name"] != "n1"]
        if s["name"] == "n1":
            s["cluster"] = "west"
            s["routez"]["routes"] = []
    assert list(run_checks(Snapshot.from_dict(doc), select_checks(only=["partition"]))) == []


def test_a_peer_still_listing_a_route_to_the_cut_off_server_is_not_its_side() -> None:
    """Right after a cut, n1 may still list its route to n2 (its pings have not timed out)
    while n2 has dropped all of its: n2 is cut off, n1 and n3 hold the quorum."""
    doc = json.loads((DATA / "partition_leader.json").read_text())
    n1 = next(s for s in doc["servers"] if s["name"] == "n1")
    n1["routez"]["routes"].append({**n1["routez"]["routes"][0], "remote_name": "n2"})
    found = list(run_checks(Snapshot.from_dict(doc), select_checks(only=["partition"])))
    assert [f.subject for f in found] == ["n2"]
    assert "n1, n3 hold the quorum (2 of 3, 2 needed)" in found[0].message
    assert found[0].evidence["quorum_side"] == ["n1", "n3"]


def test_cut_off_in_a_super_cluster_names_the_clusters_majority() -> None:
    """With gateways the meta group spans the clusters: the finding speaks of the cluster's
    majority and the meta leader that side sees, not of a quorum it elected."""
    doc = json.loads((DATA / "partition_leader.json").read_text())
    for s in doc["servers"]:
        s["varz"]["gateway"] = {"name": s["cluster"], "gateways": [{"name": "west"}]}
    found = list(run_checks(Snapshot.from_dict(doc), select_checks(only=["partition"])))
    assert [f.subject for f in found] == ["n2"]
    msg = found[0].message
    assert "n1, n3 hold the majority of cluster" in msg and "(2 of 3, 2 needed)" in msg
    assert "see n3 as JetStream meta leader" in msg and "elected" not in msg


def test_topology_placed_in_a_lab_renders_lab_addresses_and_short_pings(tmp_path: Path) -> None:
    """The topology renderer, placed as a lab places it: own address and standard ports per
    server, the monitor public, short pings on every link; `nats-server -t` accepts it."""
    from natsops.topology.load import parse_topology
    from natsops.topology.local import LaunchOptions, Placement, create

    topo = parse_topology(
        "name: t\nclusters:\n"
        "  - {name: east, nodes: [{name: e1, host: a.example}, {name: e2, host: b.example}]}\n"
        "  - {name: west, nodes: [{name: w1, host: c.example}, {name: w2, host: d.example}]}\n"
        "auth:\n  accounts:\n    APP: {users: [{user: app}]}\n", "t.yaml", {}).topology
    names = ["e1", "e2", "w1", "w2"]
    placement = Placement(addresses={n: f"10.200.0.{11 + i}" for i, n in enumerate(names)},
                          netns={n: f"nlabcde-n{i + 1}" for i, n in enumerate(names)},
                          ping=ROUTE_PING)
    dep = create(topo, tmp_path / "L", LaunchOptions(write_contexts=False), {},
                 placement=placement)
    assert dep.node("w1").host == "10.200.0.13" and dep.node("w1").netns == "nlabcde-n3"
    assert dep.monitor_url(dep.node("e2")) == "http://10.200.0.12:8222"
    conf = dep.cluster("east").config_path("e1").read_text()
    assert 'listen: "10.200.0.11:4222"' in conf and 'http: "0.0.0.0:8222"' in conf
    assert conf.count('ping_interval: "1s"') == 2 and conf.count("ping_max: 3") == 2
    secrets = (dep.cluster("east").node_dir("e1") / "nats-server.secrets").read_text()
    assert "@10.200.0.12:6222" in secrets and "@10.200.0.13:7222" in secrets
    for _, path in dep.config_files():
        out = subprocess.run([str(find_server_binary()), "-t", "-c", str(path)],
                             capture_output=True, text=True, check=False, cwd=path.parent)
        assert out.returncode == 0, out.stdout + out.stderr
