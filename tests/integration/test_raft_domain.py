"""`natsops server raft step-down --domain`: the meta leader of a leaf site's JetStream domain
moves (hub + three-server leaf site in domain edge, started for this module; stopped by pid)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from natsops.cli.main import app
from natsops.cluster.deployment import LocalDeployment
from tests.integration.test_topology_local import _start, _topology
from tests.integration.test_upgrade_topology import LEAF, SITE3

runner = CliRunner()


@pytest.fixture(scope="module")
def site(server_bin: Path, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[LocalDeployment]:
    tmp = tmp_path_factory.mktemp("raft-domain")
    d = _start(_topology(SITE3, tmp, "hl3.yaml"), tmp, server_bin)
    try:
        yield d
    finally:
        d.stop_all(grace=5)


def _leaders(d: LocalDeployment) -> set[str | None]:
    return {httpx.get(f"{d.node(n).monitor_url}/jsz", timeout=3).json()
            .get("meta_cluster", {}).get("leader") for n in LEAF}


def test_step_down_in_a_leaf_domain_moves_that_domains_leader(site: LocalDeployment) -> None:
    [before] = _leaders(site)
    want = sorted(set(LEAF) - {before})[0]
    r = runner.invoke(app, ["server", "raft", "step-down", "--domain", "edge", "--preferred",
                            want, "--dir", str(site.dir), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert (doc["old_leader"], doc["new_leader"], doc["preferred_honoured"]) == \
        (before, want, True)
    assert _leaders(site) == {want}  # every leaf server agrees
    # the hub's server is no peer of domain edge's meta group
    r = runner.invoke(app, ["server", "raft", "step-down", "--domain", "edge", "--preferred",
                            "h1", "--dir", str(site.dir)])
    assert r.exit_code == 4 and "'h1' is not a meta peer" in r.stderr, r.output
    # the hub runs JetStream unclustered: without --domain the leaf's group is not stepped
    # down through the hub's $JS.API (no answer there), the user is told which domain answered
    r = runner.invoke(app, ["server", "raft", "step-down", "--dir", str(site.dir)])
    assert r.exit_code == 2, r.output
    assert "domain edge's" in r.stderr and "hint: pass --domain edge" in r.stderr, r.stderr
    assert _leaders(site) == {want}


@pytest.mark.parametrize("domain", ["a.b", "x*", "e dge"])
def test_raft_step_down_refuses_a_bad_domain_before_connecting(domain: str) -> None:
    r = runner.invoke(app, ["-s", "nats://127.0.0.1:1", "server", "raft", "step-down",
                            "--domain", domain])
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith(f"error: invalid JetStream domain {domain!r}"), r.stderr
