"""``natsops lab up --topology``: a super-cluster (east: 3 servers, west: 2, joined by gateways)
with every server in its own network namespace. A message crosses the gateway inside the lab;
cutting the two clusters apart (``lab isolate east --from west``) is reported by doctor's
``gateway-mesh`` check (and not as a partition: each cluster keeps its routes) and clears after
``heal``; a server cut off inside one cluster is a ``partition`` naming that cluster's majority;
process faults and ``cluster status`` work across clusters; ``lab down`` leaves no namespace,
link or process. Needs root or CAP_NET_ADMIN: FAILS (never skips) without. One lab for the
module, torn down (and checked) at the end.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration._lab import (
    JS_AUTH,
    NATSOPS,
    Lab,
    assert_nothing_left,
    message_crosses,
    problems,
    topology_lab,
    wait_for,
)

DETECT = 30.0  # doctor must report a cut within this many seconds
EAST, WEST = ["e1", "e2", "e3"], ["w1", "w2"]
TOPOLOGY = """name: labsc
clusters:
  - name: east
    nodes:
      - {name: e1, host: e1.example.com}
      - {name: e2, host: e2.example.com}
      - {name: e3, host: e3.example.com}
  - name: west
    nodes:
      - {name: w1, host: w1.example.com}
      - {name: w2, host: w2.example.com}
""" + JS_AUTH


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    yield from topology_lab(tmp_path_factory, TOPOLOGY)


def test_every_server_has_its_namespace_and_a_message_crosses_the_gateway(lab: Lab) -> None:
    st = lab.status()
    assert st["topology"] is True and st["name"] == "labsc"
    nodes = {n["name"]: n for n in st["nodes"]}
    assert {n: (v["group"], v["address"], v["process"], v["healthz"]) for n, v in
            nodes.items()} == {
        "e1": ("east", "10.200.0.11", "running", "ok"),
        "e2": ("east", "10.200.0.12", "running", "ok"),
        "e3": ("east", "10.200.0.13", "running", "ok"),
        "w1": ("west", "10.200.0.14", "running", "ok"),
        "w2": ("west", "10.200.0.15", "running", "ok")}
    assert len({n["netns"] for n in nodes.values()}) == 5
    assert sorted(st["contexts"]) == ["natsops-east", "natsops-east-sys", "natsops-west",
                                      "natsops-west-sys"]
    message_crosses(lab, "nats://10.200.0.11:4222", "nats://10.200.0.14:4222")  # e1 -> w1
    # NATSOPS_CLUSTER_DIR points at the lab's topology: cluster status sees both clusters
    r = lab.inside(NATSOPS, "cluster", "status", "--json", timeout=30)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [g["cluster"]["name"] for g in doc["groups"]] == ["east", "west"]
    assert doc["links_down"] == {}
    assert not problems(lab.doctor())


def test_cut_between_clusters_is_a_gateway_finding_then_clears(lab: Lab) -> None:
    assert lab.lab("isolate", "east", "--from", "west", "--dry-run").returncode == 0
    assert lab.status()["cuts"] == []
    r = lab.lab("isolate", "east", "--from", "west")
    assert r.returncode == 0, r.stderr
    cut = {n["name"]: n["cut_from"] for n in lab.status()["nodes"]}
    assert cut == {**dict.fromkeys(EAST, WEST), **dict.fromkeys(WEST, EAST)}

    def reported() -> list[dict[str, Any]] | None:
        found = lab.doctor()
        gw = {f["subject"] for f in found if f["id"] == "gateway-mesh" and
              f["severity"] == "fail"}
        return found if gw == set(EAST + WEST) else None

    found, took = wait_for("doctor reports every gateway cut", reported, DETECT)
    assert took < DETECT
    msgs = {f["subject"]: f["message"] for f in found if f["id"] == "gateway-mesh"}
    assert "e1 (cluster east) has no outbound gateway to west" in msgs["e1"]
    assert "w2 (cluster west) has no outbound gateway to east" in msgs["w2"]
    # routes inside each cluster are intact: no server is cut off from its own cluster
    assert not [f for f in found if f["id"] == "partition"], found
    assert lab.lab("heal").returncode == 0
    assert lab.status()["cuts"] == []
    wait_for("doctor clean after heal", lambda: not problems(lab.doctor()), DETECT)


def test_server_cut_off_inside_its_cluster_names_that_clusters_majority(lab: Lab) -> None:
    assert lab.lab("partition", "e1").returncode == 0

    def reported() -> dict[str, Any] | None:
        return next((f for f in lab.doctor() if f["id"] == "partition"), None)

    f, _ = wait_for("doctor reports e1 cut off", reported, DETECT)
    assert (f["subject"], f["severity"]) == ("e1", "fail")
    assert "e1 is cut off from the majority of cluster east" in f["message"]
    assert "e2, e3 hold the majority of cluster east (2 of 3, 2 needed)" in f["message"], \
        f["message"]
    assert f["evidence"]["quorum_side"] == ["e2", "e3"]
    assert lab.lab("heal").returncode == 0
    wait_for("doctor clean after heal", lambda: not problems(lab.doctor()), DETECT)


def test_process_faults_across_clusters(lab: Lab) -> None:
    assert lab.lab("freeze", "w2").returncode == 0
    assert {n["name"]: n["process"] for n in lab.status()["nodes"]}["w2"] == "frozen"
    old = {n["name"]: n["pid"] for n in lab.status()["nodes"]}["w2"]
    assert lab.lab("kill", "w2").returncode == 0  # SIGKILL works on a frozen process too
    now = {n["name"]: n for n in lab.status()["nodes"]}["w2"]
    assert now["process"] == "stopped" and now["pid"] is None
    r = lab.lab("restart", "w2")
    assert r.returncode == 0, r.stderr
    now = {n["name"]: n for n in lab.status()["nodes"]}["w2"]
    assert now["process"] == "running" and now["pid"] not in (None, old)


def test_down_leaves_no_namespace_link_or_process(lab: Lab) -> None:
    pids = [n["pid"] for n in lab.status()["nodes"] if n["pid"]]
    assert len(pids) == 5
    r = lab.lab("down", "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert len(res["namespaces"]) == 7 and sorted(res["stopped"]) == sorted(EAST + WEST)
    assert_nothing_left(lab, pids)
