"""Two leaf sites that share a JetStream domain: the "split brain" the guide describes.

A hub (domain ``hub``) and two leaf servers that both say ``domain: edge``, bridging the
system and application accounts over leafnode connections, as in doctor-signals §4.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from natsops.cli.main import app
from natsops.cluster.process import ServerProcess, free_port

runner = CliRunner()

ACCOUNTS = """
accounts {
  SYS { users: [ { user: "sys", password: "sys-pw" } ] }
  APP { jetstream: enabled, users: [ { user: "app", password: "app-pw" } ] }
}
system_account: SYS
"""


def _conf(name: str, port: int, http: int, store: Path, domain: str, leaf: str) -> str:
    return (f'server_name: "{name}"\nlisten: "127.0.0.1:{port}"\nhttp: "127.0.0.1:{http}"\n'
            f'jetstream {{ store_dir: "{store}", domain: "{domain}", max_memory_store: 64MB, '
            f"max_file_store: 256MB }}\n{leaf}\n{ACCOUNTS}")


@pytest.fixture
def leaf_sites(server_bin: Path, tmp_path: Path) -> Iterator[dict[str, Any]]:
    used: set[int] = set()

    def port() -> int:
        p = free_port("127.0.0.1", used)
        used.add(p)
        return p

    leaf_port = port()
    specs = [("hub1", "hub", f'leafnodes {{ listen: "127.0.0.1:{leaf_port}" }}')]
    remote = ('leafnodes { remotes: [\n'
              f'  {{ url: "nats-leaf://sys:sys-pw@127.0.0.1:{leaf_port}", account: SYS }}\n'
              f'  {{ url: "nats-leaf://app:app-pw@127.0.0.1:{leaf_port}", account: APP }}\n]}}')
    specs += [("edge1", "edge", remote), ("edge2", "edge", remote)]
    procs: list[ServerProcess] = []
    urls: dict[str, str] = {}
    try:
        for name, domain, leaf in specs:
            d = tmp_path / name
            d.mkdir()
            client, http = port(), port()
            conf = d / "nats-server.conf"
            conf.write_text(_conf(name, client, http, d / "js", domain, leaf))
            proc = ServerProcess.start(server_bin, ["-c", str(conf)], log_file=d / "log")
            procs.append(proc)
            proc.wait_ready(15)
            urls[name] = f"nats://127.0.0.1:{client}"
        yield {"hub": urls["hub1"]}
    finally:
        for p in procs:
            p.stop(grace=5)


def test_two_leaf_sites_sharing_a_domain(leaf_sites: dict[str, Any]) -> None:
    pre = ["-s", leaf_sites["hub"], "--user", "sys", "--password", "sys-pw"]
    deadline = time.monotonic() + 15
    while True:  # the leafnode connections come up a moment after "ready"
        res = runner.invoke(app, [*pre, "doctor", "--expect", "3", "--only",
                                  "js-domains,servers-missing", "--json"])
        doc = json.loads(res.stdout)
        if len(doc["servers"]) == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert doc["servers"] == ["edge1", "edge2", "hub1"]
    assert res.exit_code == 6
    (hit,) = [f for f in doc["findings"] if f["id"] == "js-domains"]
    assert hit["subject"] == "edge"
    assert hit["evidence"]["jetstreams"] == {"server edge1": ["edge1"],
                                             "server edge2": ["edge2"]}
    assert "unique `jetstream { domain" in hit["fix"]
