"""`natsops upgrade --rolling` on a local topology (`bootstrap --topology`): every server of
every cluster, one at a time, cluster by cluster, with the preflight across the whole topology.

One supercluster (east: 3 JetStream servers, west: 2, joined by gateways) is started for the
module, and a hub with a leaf site in its own JetStream domain for the last test; both are
stopped by pid at the end even when a test fails.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from natsops.cli.main import app
from natsops.cluster.deployment import LocalDeployment
from natsops.cluster.deployment_ready import link_problems
from natsops.cluster.target import start_local
from tests.integration._topology import run
from tests.integration.test_topology_local import SUPER, _start, _topology, hub_leaf

runner = CliRunner()


@pytest.fixture(scope="module")
def dep(server_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDeployment]:
    tmp = tmp_path_factory.mktemp("upgrade-topo")
    d = _start(_topology(SUPER, tmp, "super.yaml"), tmp, server_bin)
    try:
        yield d
    finally:
        d.stop_all(grace=5)


def _pids(d: LocalDeployment) -> dict[str, int | None]:
    return {n.name: d.pid(n.name) for n in d.nodes}


def test_restart_only_rolls_every_server_once(dep: LocalDeployment, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    before = _pids(dep)
    assert all(before.values())
    (tmp_path / ".natsops").mkdir()
    (tmp_path / ".natsops" / "super").symlink_to(dep.dir)
    monkeypatch.chdir(tmp_path)  # without --dir: the one topology in ./.natsops
    r = runner.invoke(app, ["upgrade", "--rolling", "--restart-only", "--yes", "--json",
                            "--drain-timeout", "1s", "--stall-timeout", "20s"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    servers = doc["report"]["servers"]
    assert sorted(s["name"] for s in servers) == sorted(before)  # each exactly once
    assert not [s for s in servers if s["skipped"]]
    order = [s["name"] for s in servers]
    groups = [dep.group_of(n).name for n in order]
    assert groups == sorted(groups, key=groups.index)  # cluster by cluster, not interleaved
    assert all("links" in s["phases"] for s in servers)  # the gateway gate ran per server
    after = _pids(dep)
    assert all(after[n] and after[n] != before[n] for n in before), (before, after)
    canary = doc["report"]["canary"]
    assert canary is not None and canary["missing"] == 0 and canary["duplicated"] == 0
    assert canary["acked"] > 0
    assert run(link_problems(dep)) == {}
    r = runner.invoke(app, ["doctor", "--dir", str(dep.dir)])
    assert r.exit_code == 0, r.output


def test_a_stopped_server_in_the_other_cluster_refuses(dep: LocalDeployment) -> None:
    west = dep.cluster("west").nodes[1].name
    dep.stop_all(grace=5, only=[west])
    try:
        before = _pids(dep)
        r = runner.invoke(app, ["upgrade", "--rolling", "--restart-only", "--yes",
                                "--dir", str(dep.dir)])
        assert r.exit_code == 6, r.output
        assert "refused" in r.output and west in r.output
        assert _pids(dep) == before  # nothing restarted
    finally:
        run(start_local(dep, [west], timeout=30))


def test_to_binary_rolls_the_hub_then_its_leaf_site_in_another_domain(
        server_bin: Path, tmp_path: Path) -> None:
    """Two meta groups (the hub's, the leaf site's domain): each gated apart; the new binary is
    recorded per node and, once all run it, as the topology's."""
    d = _start(_topology(hub_leaf("hl"), tmp_path, "hl.yaml"), tmp_path, server_bin)
    try:
        new = tmp_path / "nats-server-new"
        shutil.copy(server_bin, new)
        before = _pids(d)
        r = runner.invoke(app, ["upgrade", "--rolling", "--to-binary", str(new), "--yes",
                                "--no-canary", "--json", "--dir", str(d.dir),
                                "--drain-timeout", "1s", "--stall-timeout", "20s"])
        assert r.exit_code == 0, r.output
        order = [s["name"] for s in json.loads(r.stdout)["report"]["servers"]]
        assert [d.group_of(n).is_leaf for n in order] == [False, True]  # leaf site last
        after = _pids(d)
        assert all(after[n] and after[n] != before[n] for n in before), (before, after)
        again = LocalDeployment.load(d.dir)
        assert again.binary == new.resolve() or again.binary == new
        assert run(link_problems(d)) == {}
    finally:
        d.stop_all(grace=5)
