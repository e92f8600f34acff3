"""Every example topology renders; every rendered config passes `nats-server -t` and lints clean
as a set; a rendered topology really runs: bcrypt passwords, leaf connections and TLS."""

from __future__ import annotations

import json
import ssl
import subprocess
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nats
import pytest
from typer.testing import CliRunner

from natsops.cli.main import app
from natsops.cluster.process import ServerProcess
from natsops.conf.lint import lint_paths
from natsops.findings import Severity
from natsops.render import data_dir
from natsops.topology import parse_topology, relocate, resolve_passwords

runner = CliRunner()
EXAMPLES = sorted((data_dir("recipes") / "topologies").glob("*.yaml"))


def _check(server_bin: Path, conf: Path) -> tuple[Path, int, str]:
    r = subprocess.run([str(server_bin), "-t", "-c", conf.name], cwd=conf.parent,
                       capture_output=True, text=True, timeout=60, check=False)
    return conf, r.returncode, r.stdout + r.stderr


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_renders_passes_server_check_and_lints_as_a_set(
        path: Path, tmp_path: Path, server_bin: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATS_OPS_PASSWORD", "ops-pw-from-env")
    out = tmp_path / "out"
    r = runner.invoke(app, ["render", str(path), "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    confs = [out / f["path"] for f in doc["files"] if f["kind"] == "config"]
    assert confs
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda c: _check(server_bin, c), confs))
    for conf, rc, text in results:
        assert rc == 0 and "is valid" in text, (conf, text)
        assert "ops-pw-from-env" not in conf.read_text()
    report = lint_paths([out, *sorted((out / "helm").glob("*.yaml"))])
    assert set(report.files.values()) <= {"conf", "helm"}
    bad = [(str(f.location), f.id, f.message) for f in report.findings
           if f.severity >= Severity.WARN]
    assert bad == []
    assert (out / "README.md").read_text().count("| ") > 3


def _tls_topology(tmp_path: Path):  # type: ignore[no-untyped-def]
    text = """\
name: itest
domain: hub
clusters:
  - name: hub
    nodes:
      - {name: hub-1, host: hub-1.example}
      - {name: hub-2, host: hub-2.example}
      - {name: hub-3, host: hub-3.example}
leafs:
  - {name: edge, hub: hub, account: APP, domain: edge,
     nodes: [{name: edge-1, host: edge-1.example}]}
tls: {generate: true}
auth:
  accounts:
    APP: {users: [{user: app}]}
"""
    return relocate(parse_topology(text, "itest.yaml").topology, root=tmp_path)


def _get(url: str, ca: Path) -> dict[str, object]:
    ctx = ssl.create_default_context(cafile=str(ca))
    with urllib.request.urlopen(url, timeout=2, context=ctx) as resp:
        doc: dict[str, object] = json.load(resp)
        return doc


async def test_rendered_topology_runs_with_bcrypt_leafs_and_tls(
        tmp_path: Path, server_bin: Path) -> None:
    """What `bootstrap --topology` builds on: relocate, write_topology(absolute=True), start."""
    from dataclasses import replace

    from natsops.topology import SECRETS_FILE, TlsSpec
    from natsops.topology.render import write_topology

    topo = replace(_tls_topology(tmp_path / "data"), tls=TlsSpec(generate=True))
    out = tmp_path / "out"
    write_topology(topo, out, {}, bcrypt_cost=4, absolute=True)
    pw = resolve_passwords(topo, {}, saved=out / SECRETS_FILE, cost=4)
    ca_file = out / "tls" / "ca.pem"
    assert str(out / "hub-2" / "tls" / "server.pem") in (out / "hub-2" / "nats-server.conf"
                                                         ).read_text()
    procs: list[ServerProcess] = []
    try:
        for n in topo.all_nodes():
            d = out / n.name
            procs.append(ServerProcess.start(server_bin, ["-c", str(d / "nats-server.conf")],
                                             log_file=d / "log"))
        for p in procs:
            p.wait_ready(30)
        hub1, leaf = topo.node("hub-1"), topo.node("edge-1")
        deadline = time.monotonic() + 30
        while True:  # the leaf's two remotes (APP and SYS) authenticate with bcrypt-hashed users
            leafz = _get(f"https://127.0.0.1:{leaf.ports.monitor}/leafz", ca_file)
            routez = _get(f"https://127.0.0.1:{hub1.ports.monitor}/routez", ca_file)
            if leafz.get("leafnodes") == 2 and int(str(routez.get("num_routes"))) >= 2:
                break
            assert time.monotonic() < deadline, (leafz, routez)
            time.sleep(0.2)
        tls_ctx = ssl.create_default_context(cafile=str(ca_file))
        url = f"tls://127.0.0.1:{hub1.ports.client}"
        nc = await nats.connect(url, user="app", password=pw.password("user:APP:app"),
                                tls=tls_ctx, allow_reconnect=False)
        leaf_nc = await nats.connect(f"tls://127.0.0.1:{leaf.ports.client}", user="app",
                                     password=pw.password("user:APP:app"), tls=tls_ctx,
                                     allow_reconnect=False)
        try:
            sub = await leaf_nc.subscribe("edge.hello")
            await leaf_nc.flush()
            for _ in range(50):  # interest crosses the leaf connection
                await nc.publish("edge.hello", b"hi")
                try:
                    msg = await sub.next_msg(timeout=0.2)
                    break
                except nats.errors.TimeoutError:
                    continue
            assert msg.data == b"hi"
        finally:
            await nc.close()
            await leaf_nc.close()
        with pytest.raises(nats.errors.Error):  # the hash is no password
            await nats.connect(url, user="app", password=pw.hash("user:APP:app"), tls=tls_ctx,
                               allow_reconnect=False, max_reconnect_attempts=0)
        with pytest.raises(ssl.SSLError):  # a client that does not trust the CA
            await nats.connect(url, user="app", password=pw.password("user:APP:app"),
                               tls=ssl.create_default_context(), allow_reconnect=False,
                               max_reconnect_attempts=0)
    finally:
        for p in procs:
            p.stop(grace=5)


def test_operator_topology_renders_leaf_creds_and_passes_server_check(
        tmp_path: Path, server_bin: Path) -> None:
    from natsops.auth import ops
    from natsops.auth.store import Store

    store = Store(tmp_path / "store")
    ops.add_operator(store, "DEMO", sys=True)
    ops.add_account(store, "DEMO", "APP")
    topo = tmp_path / "op.yaml"
    topo.write_text("name: op\ndomain: hub\nclusters:\n  - name: hub\n    nodes:\n"
                    "      - {name: h1, host: 10.0.0.1}\n      - {name: h2, host: 10.0.0.2}\n"
                    "      - {name: h3, host: 10.0.0.3}\nleafs:\n"
                    "  - {name: edge, hub: hub, account: APP, domain: edge,\n"
                    "     nodes: [{name: e1, host: 10.1.0.1}]}\n"
                    "auth: {operator: DEMO, resolver: full}\n")
    out = tmp_path / "out"
    dry = runner.invoke(app, ["render", str(topo), "--out", str(out), "--store",
                              str(store.root), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "e1/leaf-edge.creds" in dry.stdout and not out.exists()
    assert "leaf-edge" not in store.user_names("DEMO", "APP")  # a dry run creates no user
    r = runner.invoke(app, ["render", str(topo), "--out", str(out), "--store", str(store.root)])
    assert r.exit_code == 0, r.output
    assert "leaf-edge" in store.user_names("DEMO", "APP")
    creds = out / "e1" / "leaf-edge.creds"
    assert (creds.stat().st_mode & 0o077) == 0 and "NATS USER JWT" in creds.read_text()
    leaf = (out / "e1" / "nats-server.conf").read_text()
    assert 'credentials: "leaf-edge.creds"' in leaf and "operator: " in leaf
    for conf in sorted(out.glob("*/nats-server.conf")):
        _, rc, text = _check(server_bin, conf)
        assert rc == 0, (conf, text)
    values = (out / "helm" / "hub.values.yaml").read_text()
    assert "resolver_preload" in values and "  password:" not in values
    report = lint_paths([out, out / "helm" / "hub.values.yaml"])
    assert [f.id for f in report.findings if f.severity >= Severity.WARN] == []
