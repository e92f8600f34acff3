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
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

NATSOPS = str(Path(sys.executable).parent / "natsops")
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
defaults:
  jetstream: {max_memory: 64MB, max_file: 256MB}
auth:
  accounts:
    APP: {users: [{user: app}]}
"""
# run inside the lab: subscribe on w1 (west), publish on e1 (east) until the message arrives
CROSS = """
import asyncio, json, sys
import nats

async def main(d):
    app = json.load(open(d + "/credentials.json"))["app"]
    kw = dict(user=app["user"], password=app["password"], connect_timeout=2,
              allow_reconnect=False)
    west = await nats.connect(["nats://10.200.0.14:4222"], **kw)
    east = await nats.connect(["nats://10.200.0.11:4222"], **kw)
    sub = await west.subscribe("lab.cross")
    await west.flush()
    for i in range(40):
        await east.publish("lab.cross", f"hello {i}".encode())
        await east.flush()
        try:
            msg = await sub.next_msg(timeout=0.25)
        except nats.errors.TimeoutError:
            continue
        print(json.dumps({"data": msg.data.decode(), "subject": msg.subject}))
        return
    sys.exit("no message crossed the gateway")

asyncio.run(main(sys.argv[1]))
"""


@dataclass
class Lab:
    dir: Path
    env: dict[str, str]
    id: str
    host_links: set[str]

    def run(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        return subprocess.run([NATSOPS, *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=False)

    def lab(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        return self.run("lab", *args, "--dir", str(self.dir), timeout=timeout)

    def inside(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        """``natsops lab exec -- ARGS``: a command in the lab's client namespace."""
        return self.run("lab", "exec", "--dir", str(self.dir), "--", *args, timeout=timeout)

    def doctor(self) -> list[dict[str, Any]]:
        r = self.inside(NATSOPS, "doctor", "--transport", "http", "--json", timeout=30)
        assert r.returncode in (0, 6), r.stderr
        return list(json.loads(r.stdout)["findings"])

    def status(self) -> dict[str, Any]:
        r = self.lab("status", "--json")
        assert r.returncode == 0, r.stderr
        return dict(json.loads(r.stdout))


def _links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=False)
    return {line.split(":")[1].strip() for line in out.stdout.splitlines() if ":" in line}


def _netns() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                          check=False).stdout


def wait_for(what: str, cond: Callable[[], Any], seconds: float) -> tuple[Any, float]:
    """Poll ``cond`` until it returns something truthy; (value, seconds it took)."""
    start = time.monotonic()
    last: Any = None
    while time.monotonic() - start < seconds:
        last = cond()
        if last:
            return last, time.monotonic() - start
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {seconds:g}s (last: {last!r})")


def problems(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in found if f["severity"] in ("fail", "warn")]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp("labtopo")
    home = base / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NATS_", "NATSOPS_"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), NO_COLOR="1",
               COLUMNS="200", TERM="dumb")
    (base / "sc.yaml").write_text(TOPOLOGY)
    d = base / "L"
    lab = Lab(d, env, "", _links())
    r = lab.run("lab", "up", "--topology", str(base / "sc.yaml"), "--dir", str(d), "--json",
                timeout=120)
    try:
        assert r.returncode == 0, ("natsops lab up --topology failed: network namespaces need "
                                   f"root or CAP_NET_ADMIN and iproute2 ({r.stderr.strip()})")
        lab.id = json.loads(r.stdout)["id"]
        yield lab
    finally:
        if (d / "lab.json").is_file():
            lab.lab("down", "--grace", "3")
        for ns in _netns().split():  # whatever a failed test left: by our lab's id only
            if lab.id and ns.startswith(f"{lab.id}-"):
                subprocess.run(["ip", "netns", "delete", ns], check=False)


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
    r = lab.inside(sys.executable, "-c", CROSS, str(lab.dir), timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    got = json.loads(r.stdout)
    assert got["data"].startswith("hello") and got["subject"] == "lab.cross"
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
    assert lab.id not in _netns()
    assert _links() == lab.host_links
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or \
            "nats-server" not in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    left = subprocess.run(["pgrep", "-f", str(lab.dir)], capture_output=True, text=True,
                          check=False).stdout.split()
    assert left == [], left
