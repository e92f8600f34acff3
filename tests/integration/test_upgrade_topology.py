"""`natsops upgrade --rolling` on a local topology (`bootstrap --topology`): every server of
every cluster, one at a time, cluster by cluster, with the preflight across the whole topology.

One supercluster (east: 3 JetStream servers, west: 2, joined by gateways) is started for the
module and stopped by pid at the end even when a test fails.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from natsops.cli.main import app
from natsops.cluster.deployment import LocalDeployment
from natsops.cluster.deployment_ready import link_problems
from natsops.cluster.target import start_local
from tests.integration._topology import run
from tests.integration.test_topology_local import SUPER, _start, _topology

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
