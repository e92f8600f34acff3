"""``natsops lab up --topology`` with a hub cluster and a leaf site in its own JetStream domain,
TLS generated: every server in its own namespace, certificates for its lab address. A message
published on the leaf reaches a subscriber on the hub (over TLS); cutting the site off the hub
(``lab isolate site --from hub``) shows as leafnode links down in ``cluster status`` (run
inside the lab) and as doctor's ``leaf-links`` FAIL, and both clear after ``heal``; ``upgrade
--rolling`` run inside the lab restarts every server once in its namespace; ``lab down --purge``
leaves no namespace, link, process, directory or context. Needs root or CAP_NET_ADMIN: FAILS (never skips) without.
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
    topology_lab,
    wait_for,
)

TOPOLOGY = """name: labhl
clusters:
  - name: hub
    nodes:
      - {name: h1, host: h1.example.com}
      - {name: h2, host: h2.example.com}
      - {name: h3, host: h3.example.com}
leafs:
  - name: site
    hub: hub
    account: APP
    domain: edge
    nodes: [{name: l1, host: l1.example.com}]
tls: {generate: true}
""" + JS_AUTH


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    yield from topology_lab(tmp_path_factory, TOPOLOGY)


def links_down(lab: Lab) -> dict[str, Any]:
    r = lab.inside(NATSOPS, "cluster", "status", "--json", timeout=30)
    assert r.returncode == 0, r.stderr
    return dict(json.loads(r.stdout)["links_down"])


def test_leaf_site_over_tls_carries_messages_to_the_hub(lab: Lab) -> None:
    st = lab.status()
    assert {n["name"]: (n["group"], n["healthz"]) for n in st["nodes"]} == {
        "h1": ("hub", "ok"), "h2": ("hub", "ok"), "h3": ("hub", "ok"), "l1": ("site", "ok")}
    assert all(n["monitor_url"].startswith("https://10.200.0.") for n in st["nodes"])
    assert links_down(lab) == {}
    message_crosses(lab, "tls://10.200.0.14:4222", "tls://10.200.0.12:4222")  # l1 -> h2


def test_site_cut_off_the_hub_shows_links_down_then_heals(lab: Lab) -> None:
    r = lab.lab("isolate", "site", "--from", "hub")
    assert r.returncode == 0, r.stderr
    assert {n["name"]: n["cut_from"] for n in lab.status()["nodes"]}["l1"] == ["h1", "h2", "h3"]
    down, _ = wait_for("the leafnode links of l1 down", lambda: links_down(lab), 30)
    assert "leafnode connections to hub" in down["l1"], down
    cut = [f for f in lab.doctor() if f["id"] == "leaf-links"]  # doctor names the cut site
    assert [(f["subject"], f["severity"]) for f in cut] == [("l1", "fail"), ("l1", "fail")], cut
    assert {f["evidence"]["account"] for f in cut} == {"APP", "SYS"}
    assert lab.lab("heal").returncode == 0
    wait_for("the leafnode links back", lambda: links_down(lab) == {}, 30)
    wait_for("doctor quiet on leaf links",
             lambda: not [f for f in lab.doctor() if f["id"] == "leaf-links"], 30)


def test_rolling_restart_inside_the_lab_rolls_the_hub_then_the_site(lab: Lab) -> None:
    """``upgrade --rolling`` run inside the lab (``lab exec``) on the lab's topology: every
    server restarted once in its own namespace (hub first, the leaf site after), the leafnode
    links back over TLS, the canary whole."""
    before = {n["name"]: n["pid"] for n in lab.status()["nodes"]}
    r = lab.inside(NATSOPS, "upgrade", "--rolling", "--restart-only", "--yes", "--json",
                   "--drain-timeout", "1s", "--stall-timeout", "30s", timeout=150)
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads(r.stdout)["report"]
    assert rep["status"] == "done"
    order = [s["name"] for s in rep["servers"] if not s["skipped"]]
    assert sorted(order) == ["h1", "h2", "h3", "l1"] and order[-1] == "l1", order
    assert all("links" in s["phases"] for s in rep["servers"])
    canary = rep["canary"]
    assert canary["acked"] > 0 and canary["missing"] == 0 and canary["duplicated"] == 0, canary
    st = lab.status()
    after = {n["name"]: n for n in st["nodes"]}
    assert all(v["process"] == "running" and v["pid"] not in (None, before[k])
               for k, v in after.items()), (before, after)
    assert links_down(lab) == {}
    message_crosses(lab, "tls://10.200.0.14:4222", "tls://10.200.0.12:4222")  # l1 -> h2
    # each server still runs in its own namespace, on its lab address
    assert {k: v["netns"] for k, v in after.items()} == \
        {n["name"]: n["netns"] for n in st["nodes"]}
    assert all(v["healthz"] == "ok" for v in after.values()), after


def test_down_purge_leaves_nothing(lab: Lab) -> None:
    pids = [n["pid"] for n in lab.status()["nodes"] if n["pid"]]
    assert len(pids) == 4
    r = lab.lab("down", "--purge", "--force", "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert len(res["namespaces"]) == 6 and sorted(res["stopped"]) == ["h1", "h2", "h3", "l1"]
    assert sorted(res["contexts"]) == ["natsops-hub", "natsops-hub-sys", "natsops-site",
                                       "natsops-site-sys"]
    assert not lab.dir.exists()
    assert_nothing_left(lab, pids)
