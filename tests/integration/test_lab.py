"""``natsops lab`` end to end: a 3-node lab (one server per network namespace), a partitioned
follower and a partitioned meta leader seen by doctor, a rolling restart refused while a node is
cut off and done after ``heal``, process faults, and ``lab down`` leaving nothing behind.

The commands run as the user runs them: ``natsops lab ...`` on the host, and natsops commands
inside the lab through ``natsops lab exec --``. Needs root or CAP_NET_ADMIN (CI runs as root):
where namespaces cannot be created the tests FAIL with the reason, they never skip. One lab for
the module, torn down (and checked) at the end.
"""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration._lab import NATSOPS, Lab, assert_nothing_left, running_lab, wait_for

DETECT = 30.0  # doctor must report a partition within this many seconds


def meta_leader(lab: Lab) -> str:
    """The meta leader every node agrees on (read from inside the lab; waits up to 30 s: a
    healed cluster may still be electing)."""
    code = ("import json, urllib.request as u\n"
            "print(json.dumps([json.load(u.urlopen(f'http://10.200.0.{10 + i}:8222/jsz', "
            "timeout=2)).get('meta_cluster', {}).get('leader') for i in (1, 2, 3)]))")

    def agreed() -> str | None:
        r = lab.inside(sys.executable, "-c", code, timeout=20)
        assert r.returncode == 0, r.stderr
        seen = set(json.loads(r.stdout))
        return str(seen.pop()) if len(seen) == 1 and None not in seen else None

    return str(wait_for("one meta leader all nodes agree on", agreed, 30)[0])


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    yield from running_lab(tmp_path_factory.mktemp("lab"), "--name",
                           f"lab{secrets.token_hex(3)}")


def partition_findings(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in found if f["id"] == "partition"]


def healed(lab: Lab) -> None:
    """After ``heal``: doctor reports nothing above INFO (within 30 s)."""
    def clean() -> bool:
        return not [f for f in lab.doctor() if f["severity"] in ("fail", "warn")]
    wait_for("doctor clean after heal", clean, 30)


def test_partitioned_follower_reported_then_cleared(lab: Lab) -> None:
    leader = meta_leader(lab)
    follower = next(n for n in ("n1", "n2", "n3") if n != leader)
    assert lab.lab("partition", follower, "--dry-run").returncode == 0
    assert lab.status()["cuts"] == []
    assert lab.lab("partition", follower).returncode == 0
    st = lab.status()
    assert {n["name"]: n["cut_from"] for n in st["nodes"]}[follower] == \
        sorted({"n1", "n2", "n3"} - {follower})

    def reported() -> dict[str, Any] | None:
        return next((f for f in partition_findings(lab.doctor()) if f["subject"] == follower),
                    None)

    f, took = wait_for(f"doctor reports {follower} cut off", reported, DETECT)
    assert took < DETECT
    assert f["severity"] == "fail"
    assert f"{follower} is cut off from the majority" in f["message"]
    others = sorted({"n1", "n2", "n3"} - {follower})
    assert f"{', '.join(others)} hold the quorum" in f["message"], f["message"]
    assert "Restore the network between" in f["fix"] and "natsops lab heal" in f["fix"]
    assert lab.lab("heal").returncode == 0
    assert lab.status()["cuts"] == []
    healed(lab)


def test_partitioned_meta_leader_is_replaced_and_quorum_side_named(lab: Lab) -> None:
    leader = meta_leader(lab)
    others = sorted({"n1", "n2", "n3"} - {leader})
    assert lab.lab("partition", leader).returncode == 0

    def replaced() -> dict[str, Any] | None:
        for f in partition_findings(lab.doctor()):
            ev = f["evidence"]
            if f["subject"] == leader and ev.get("quorum_side_leader") in others:
                return f
        return None

    f, _ = wait_for(f"a new meta leader elected on {others}", replaced, DETECT)
    ev = f["evidence"]
    assert ev["quorum_side"] == others
    assert f"{', '.join(others)} hold the quorum (2 of 3" in f["message"]
    assert f"elected {ev['quorum_side_leader']} meta leader" in f["message"]
    assert lab.lab("heal").returncode == 0
    healed(lab)


def test_rolling_restart_refused_while_partitioned_done_after_heal(lab: Lab) -> None:
    follower = next(n for n in ("n1", "n2", "n3") if n != meta_leader(lab))
    assert lab.lab("partition", follower).returncode == 0
    wait_for("doctor sees the cut", lambda: partition_findings(lab.doctor()), DETECT)
    r = lab.inside(NATSOPS, "upgrade", "--rolling", "--restart-only", "--yes", "--json")
    assert r.returncode == 6, r.stdout + r.stderr
    refused = json.loads(r.stdout)["findings"]
    assert any(follower in f["subject"] or follower in f["message"] for f in refused
               if f["severity"] in ("fail", "warn")), refused
    assert "restarting" not in r.stderr
    assert lab.lab("heal").returncode == 0
    healed(lab)
    r = lab.inside(NATSOPS, "upgrade", "--rolling", "--restart-only", "--yes", "--json",
                   timeout=150)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert doc["status"] == "done"
    canary = doc["report"]["canary"]
    assert canary["acked"] > 0 and canary["missing"] == 0 and canary["duplicated"] == 0, canary
    assert canary["error"] is None, canary
    assert [s["name"] for s in doc["report"]["servers"] if not s["skipped"]] != []


def test_process_faults_show_in_status(lab: Lab) -> None:
    node = next(n for n in ("n1", "n2", "n3") if n != meta_leader(lab))
    assert lab.lab("kill", node, "--dry-run").returncode == 0
    assert {n["name"]: n["process"] for n in lab.status()["nodes"]}[node] == "running"
    assert lab.lab("freeze", node).returncode == 0
    procs = {n["name"]: n for n in lab.status()["nodes"]}
    assert procs[node]["process"] == "frozen"
    assert lab.lab("thaw", node).returncode == 0
    assert {n["name"]: n["process"] for n in lab.status()["nodes"]}[node] == "running"
    old = procs[node]["pid"]
    assert lab.lab("kill", node).returncode == 0
    now = {n["name"]: n for n in lab.status()["nodes"]}[node]
    assert now["process"] == "stopped" and now["pid"] is None
    r = lab.lab("restart", node, "--dry-run")
    assert r.returncode == 0 and "would restart" in r.stderr, r.stderr
    assert {n["name"]: n for n in lab.status()["nodes"]}[node]["process"] == "stopped"
    r = lab.lab("restart", node)
    assert r.returncode == 0, r.stderr
    now = {n["name"]: n for n in lab.status()["nodes"]}[node]
    assert now["process"] == "running" and now["pid"] not in (None, old)
    r = lab.lab("up", "--dry-run", "--json")
    assert json.loads(r.stdout)["action"] == "report the running lab (nothing to start)", r.stderr
    r = lab.inside("no-such-command-here")  # said by natsops, not by `ip netns exec`
    assert r.returncode == 2 and r.stderr.startswith("error: command 'no-such-command-here' "
                                                     "not found"), r.stderr



def test_down_leaves_no_namespace_link_or_process(lab: Lab) -> None:
    pids = [n["pid"] for n in lab.status()["nodes"] if n["pid"]]
    assert len(pids) == 3
    r = lab.lab("down", "--dry-run", "--json")
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)["namespaces"]) == 5
    assert [n["process"] for n in lab.status()["nodes"]] == ["running"] * 3
    r = lab.lab("down", "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert len(res["namespaces"]) == 5 and sorted(res["stopped"]) == ["n1", "n2", "n3"]
    assert_nothing_left(lab, pids)
