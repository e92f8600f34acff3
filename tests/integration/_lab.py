"""What the ``natsops lab`` tests share: the lab driven through the CLI as a user drives it
(``natsops lab ...`` on the host, natsops commands inside with ``lab exec --``), one lab per
module torn down at the end even when a test fails, and what the host looks like."""

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

NATSOPS = str(Path(sys.executable).parent / "natsops")


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


def host_links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=False)
    return {line.split(":")[1].strip() for line in out.stdout.splitlines() if ":" in line}


def host_netns() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                          check=False).stdout


def lab_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NATS_", "NATSOPS_"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), NO_COLOR="1",
               COLUMNS="200", TERM="dumb")
    return env


def running_lab(base: Path, *up_args: str) -> Iterator[Lab]:
    """``natsops lab up UP_ARGS --dir base/L``; yields the lab, then ``lab down`` and deletes
    whatever namespace of this lab is left (by its id only)."""
    d = base / "L"
    lab = Lab(d, lab_env(base / "home"), "", host_links())
    r = lab.run("lab", "up", *up_args, "--dir", str(d), "--json", timeout=120)
    try:
        assert r.returncode == 0, ("natsops lab up failed: network namespaces need root or "
                                   f"CAP_NET_ADMIN and iproute2 ({r.stderr.strip()})")
        lab.id = json.loads(r.stdout)["id"]
        yield lab
    finally:
        if (d / "lab.json").is_file():
            lab.lab("down", "--grace", "3")
        for ns in host_netns().split():
            if lab.id and ns.startswith(f"{lab.id}-"):
                subprocess.run(["ip", "netns", "delete", ns], check=False)


JS_AUTH = """defaults:
  jetstream: {max_memory: 64MB, max_file: 256MB}
auth:
  accounts:
    APP: {users: [{user: app}]}
"""


def topology_lab(tmp_path_factory: Any, topology: str) -> Iterator[Lab]:
    """:func:`running_lab` of ``lab up --topology`` with this topology file text."""
    base = tmp_path_factory.mktemp("labtopo")
    (base / "topology.yaml").write_text(topology)
    yield from running_lab(base, "--topology", str(base / "topology.yaml"))


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


def assert_nothing_left(lab: Lab, pids: list[int]) -> None:
    """No namespace of the lab, no link the host did not have, no process of the lab."""
    assert lab.id not in host_netns()
    assert host_links() == lab.host_links
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or \
            "nats-server" not in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    left = subprocess.run(["pgrep", "-f", str(lab.dir)], capture_output=True, text=True,
                          check=False).stdout.split()
    assert left == [], left


# run inside the lab (argv: lab dir, publisher URL, subscriber URL): subscribe, then publish
# until the message arrives; TLS with the lab's CA when it has one
CROSS = """
import asyncio, json, os, ssl, sys
import nats

async def main(d, pub_url, sub_url):
    app = json.load(open(d + "/credentials.json"))["app"]
    kw = dict(user=app["user"], password=app["password"], connect_timeout=2,
              allow_reconnect=False)
    if os.path.exists(d + "/tls/ca.pem"):
        kw["tls"] = ssl.create_default_context(cafile=d + "/tls/ca.pem")
    sub_nc = await nats.connect([sub_url], **kw)
    pub_nc = await nats.connect([pub_url], **kw)
    sub = await sub_nc.subscribe("lab.cross")
    await sub_nc.flush()
    for i in range(40):
        await pub_nc.publish("lab.cross", f"hello {i}".encode())
        await pub_nc.flush()
        try:
            msg = await sub.next_msg(timeout=0.25)
        except nats.errors.TimeoutError:
            continue
        print(json.dumps({"data": msg.data.decode(), "subject": msg.subject}))
        return
    sys.exit("no message arrived")

asyncio.run(main(*sys.argv[1:4]))
"""


def message_crosses(lab: Lab, pub_url: str, sub_url: str) -> None:
    r = lab.inside(sys.executable, "-c", CROSS, str(lab.dir), pub_url, sub_url, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    got = json.loads(r.stdout)
    assert got["data"].startswith("hello") and got["subject"] == "lab.cross"
