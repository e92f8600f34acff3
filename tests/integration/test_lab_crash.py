"""``natsops lab down`` after ``natsops lab up`` was killed half-way (SIGKILL: no clean-up ran):
``lab.json`` listed every namespace and link before it was created, so ``down`` stops the
servers already started, by pid, and deletes everything; ``lab up`` on the directory then brings
the lab back and ``down --purge`` removes it all. The same for a lab running a topology file
(a hub and a leaf site). Needs root or CAP_NET_ADMIN: FAILS (never skips) without."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from natsops.cluster.process import pid_matches

NATSOPS = str(Path(sys.executable).parent / "natsops")
HUB_LEAF = """name: crashhl
clusters:
  - {name: hub, nodes: [{name: h1, host: h1.example.com}]}
leafs:
  - {name: site, hub: hub, account: APP, domain: edge, nodes: [{name: l1, host: l1.example.com}]}
auth:
  accounts:
    APP: {users: [{user: app}]}
"""


def _netns() -> list[str]:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                          check=False).stdout.split()


def _links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=False)
    return {line.split(":")[1].strip() for line in out.stdout.splitlines() if ":" in line}


@pytest.mark.parametrize("topology", [False, True], ids=["nodes", "topology"])
def test_down_after_up_was_killed_leaves_nothing(tmp_path: Path, topology: bool) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NATS_", "NATSOPS_"))}
    env.update(HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "home" / ".config"))
    d = tmp_path / "L"
    links = _links()
    (tmp_path / "t.yaml").write_text(HUB_LEAF)
    first = d / "hub" / "h1" / "nats-server.pid" if topology else d / "n1" / "nats-server.pid"
    pid_files = "*/*/nats-server.pid" if topology else "n*/nats-server.pid"
    how = ["--topology", str(tmp_path / "t.yaml")] if topology else ["--name", "crash"]
    up = subprocess.Popen([NATSOPS, "lab", "up", "--dir", str(d), *how], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    lab_id = ""
    try:
        deadline = time.monotonic() + 30
        # kill it as soon as the first server runs: namespaces exist, the cluster is not usable
        while not (first.is_file() and first.read_text().strip()):  # written after spawn
            if up.poll() is not None:
                pytest.fail(f"natsops lab up exited {up.returncode} before starting a server "
                            f"(namespaces need root or CAP_NET_ADMIN): "
                            f"{up.stderr.read().decode() if up.stderr else ''}")
            assert time.monotonic() < deadline, "no server started within 30 s"
            time.sleep(0.005)
        up.send_signal(signal.SIGKILL)
        up.wait(10)
        assert up.returncode == -signal.SIGKILL
        lab_id = json.loads((d / "lab.json").read_text())["id"]
        assert f"{lab_id}-cli" in _netns()
        pids = [int(t) for p in d.glob(pid_files) if (t := p.read_text().strip())]
        assert pids, "no server was started"
        r = subprocess.run([NATSOPS, "lab", "down", "--dir", str(d), "--json", "--grace", "3"],
                           env=env, capture_output=True, text=True, timeout=60, check=False)
        assert r.returncode == 0, r.stderr
        assert not [ns for ns in _netns() if ns.startswith(lab_id)]
        assert _links() == links
        for pid in pids:
            assert not Path(f"/proc/{pid}").exists() or "nats-server" not in \
                Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
        # the directory stays: `lab up` on it brings the lab back, then down --purge clears all
        r = subprocess.run([NATSOPS, "lab", "up", "--dir", str(d), "--json"], env=env,
                           capture_output=True, text=True, timeout=120, check=False)
        assert r.returncode == 0, r.stderr
        assert [n["process"] for n in json.loads(r.stdout)["nodes"]] == \
            ["running"] * (2 if topology else 3)
        r = subprocess.run([NATSOPS, "lab", "down", "--dir", str(d), "--purge", "--force",
                            "--grace", "3"], env=env, capture_output=True, text=True,
                           timeout=60, check=False)
        assert r.returncode == 0, r.stderr
        assert not d.exists()
        assert not [ns for ns in _netns() if ns.startswith(lab_id)]
    finally:
        if up.poll() is None:
            up.kill()
            up.wait(10)
        if up.stderr:
            up.stderr.close()
        for ns in _netns():
            if lab_id and ns.startswith(f"{lab_id}-"):
                subprocess.run(["ip", "netns", "delete", ns], check=False)
        for p in d.glob(pid_files):  # down failed: the servers this test started
            text = p.read_text().strip()  # empty: killed between spawn and write
            if text and pid_matches(int(text), str(d)):
                os.kill(int(text), signal.SIGKILL)
