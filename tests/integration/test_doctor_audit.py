"""doctor's audit checks provoked for real: each on servers configured for it, and all of them
quiet on a healthy cluster.

Three set-ups, each its own servers (module scope): ``limits``, one JetStream server with
max_connections 10, max_subscriptions 20, an account with a 1 MB JetStream limit and a leafnode
listener whose certificate expires in 5 days (made here with ``cryptography``); ``gateways``,
two one-node clusters joined by gateways; ``audit``, a 3-node cluster with max_ha_assets 7.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import os
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from natsops.cli.main import app
from natsops.cluster.local import LocalCluster, plan_nodes
from natsops.cluster.process import ServerProcess, free_port
from natsops.cluster.ready import start_usable
from natsops.errors import NatsopsError
from natsops.monitoring.gather import gather
from tests.integration.test_doctor import findings as found
from tests.integration.test_doctor import wait_for

pytestmark = pytest.mark.cluster
runner = CliRunner()
NEW = ("tls-expiry", "cpu", "conn-limits", "sub-limits", "account-limits", "stream-limits",
       "gateway-mesh", "ha-assets", "disk-free", "leader-balance")


def doctor(*args: str, pre: tuple[str, ...] = ()) -> dict[str, Any]:
    res = runner.invoke(app, [*pre, "doctor", "--format", "json", *args])
    assert res.exit_code in (0, 6), (res.exit_code, res.output)
    return dict(json.loads(res.stdout))


def cert_expiring(d: Path, days: float) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 that expires in ``days`` days, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "natsops-test")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = d / "leaf-cert.pem", d / "leaf-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_file.chmod(0o600)
    return cert_file, key_file


def start_server(binary: Path, d: Path, conf: str) -> ServerProcess:
    d.mkdir(parents=True, exist_ok=True)
    (d / "server.conf").write_text(conf)
    proc = ServerProcess.start(binary, ["-c", str(d / "server.conf")], log_file=d / "server.log")
    try:
        proc.wait_ready(15)
    except BaseException:
        proc.stop(grace=2)
        raise
    return proc


def raw_client(url: str, name: str, subs: int = 0) -> socket.socket:
    """A plain NATS client on a socket (stays connected without an event loop)."""
    host, port = url.removeprefix("nats://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=5)
    buf = b""
    while b"\r\n" not in buf:
        buf += sock.recv(4096)
    connect = json.dumps({"verbose": False, "pedantic": False, "name": name, "lang": "raw"})
    lines = [f"CONNECT {connect}"] + [f"SUB {name}.{i} {i}" for i in range(subs)] + ["PING"]
    sock.sendall(("\r\n".join(lines) + "\r\n").encode())
    buf = b""
    while b"PONG" not in buf:
        chunk = sock.recv(4096)
        assert chunk, f"{name}: connection closed: {buf!r}"
        buf += chunk
    return sock


# ---- one server at its limits --------------------------------------------------------------


@dataclass
class Limits:
    proc: ServerProcess
    sys_password: str
    clients: list[socket.socket]

    @property
    def sys(self) -> tuple[str, ...]:
        return ("-s", self.proc.client_url, "--user", "sys", "--password", self.sys_password)


LIMITS_CONF = """
server_name: lim
host: 127.0.0.1
port: -1
http: "127.0.0.1:-1"
max_connections: 10
max_subscriptions: 20
jetstream {{ store_dir: "{store}", max_memory_store: 64MB, max_file_store: 256MB }}
leafnodes {{ host: 127.0.0.1, port: -1, tls {{ cert_file: "{cert}", key_file: "{key}" }} }}
accounts {{
  SYS {{ users: [{{ user: sys, password: "{pw}" }}] }}
  APP {{ jetstream: {{ max_file: 1000000, max_mem: 1000000 }}, users: [{{ user: app }}] }}
}}
system_account: SYS
no_auth_user: app
"""


async def _fill(url: str) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream(timeout=10)
        await js.add_stream(name="FILL", subjects=["fill.>"], storage="file")
        for i in range(85):
            await js.publish("fill.x", b"%05d" % i + b"x" * 9995)
        await js.add_stream(name="DN", subjects=["dn.>"], storage="file", max_msgs=100,
                            discard="new")
        for i in range(95):
            await js.publish("dn.x", b"%d" % i)
    finally:
        await nc.close()


@pytest.fixture(scope="module")
def limits(server_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Limits]:
    d = tmp_path_factory.mktemp("audit-limits")
    cert, key = cert_expiring(d, 5)
    pw = secrets.token_urlsafe(12)
    proc = start_server(server_bin, d / "lim", LIMITS_CONF.format(
        store=d / "js", cert=cert, key=key, pw=pw))
    clients: list[socket.socket] = []
    try:
        asyncio.run(_fill(proc.client_url))
        clients.append(raw_client(proc.client_url, "subber", subs=18))
        clients += [raw_client(proc.client_url, f"idle{i}") for i in range(8)]
        yield Limits(proc, pw, clients)
    finally:
        for c in clients:
            c.close()
        proc.stop(grace=5)


def _connections(limits: Limits) -> int:
    return int(httpx.get(f"{limits.proc.monitor_url}/varz", timeout=5).json()["connections"])


@pytest.mark.parametrize("transport", ["http", "sys"])
def test_limits_are_found_over_both_transports(limits: Limits, transport: str) -> None:
    if transport == "http":
        doc = doctor("--monitor", limits.proc.monitor_url)
    else:
        # doctor's own connection counts over sys (not over http): one idle client leaves, so
        # both transports see 9 connections (test_connection_policy logs in as the 10th).
        limits.clients.pop().close()
        wait_for(lambda: _connections(limits) == 8, 10, "the idle client gone")
        doc = doctor(pre=limits.sys)
    assert doc["transport"] == transport

    [tls] = found(doc, "tls-expiry")
    assert tls["severity"] == "fail"
    assert tls["evidence"]["listener"] == "leafnode"
    assert 4.8 < tls["evidence"]["days_left"] < 5.1

    [conn] = found(doc, "conn-limits")
    assert conn["subject"] == "lim"
    assert conn["evidence"]["limit"] == 10
    assert (conn["severity"], conn["evidence"]["used"]) == ("warn", 9)

    [subs] = found(doc, "sub-limits")
    [c] = subs["evidence"]["connections"]
    assert (c["name"], c["subscriptions"], c["limit"]) == ("subber", 18, 20)
    assert subs["severity"] == "warn"

    [acc] = found(doc, "account-limits")
    assert acc["subject"] == "APP"
    assert acc["evidence"]["store"] == "file"
    assert acc["evidence"]["limit"] == 1_000_000
    assert 80 <= acc["evidence"]["pct"] < 95

    [dn] = found(doc, "stream-limits")
    assert dn["subject"] == "APP > DN"
    assert (dn["evidence"]["limit_key"], dn["evidence"]["used"]) == ("max_msgs", 95)
    assert dn["severity"] == "fail"
    assert "natsops stream edit DN --max-msgs" in dn["fix"]


def test_the_full_account_really_refuses_writes(limits: Limits) -> None:
    """What account-limits warns about: past 1 MB the account's publishes fail."""

    async def overfill() -> str:
        nc = await nats.connect(limits.proc.client_url)
        try:
            js = nc.jetstream(timeout=5)
            for _ in range(50):
                try:
                    await js.publish("fill.x", b"y" * 10000)
                except nats.js.errors.APIError as exc:
                    return str(exc)
            return "never refused"
        finally:
            await nc.close()

    assert "resource limits exceeded for account" in asyncio.run(overfill())
    [acc] = found(doctor("--monitor", limits.proc.monitor_url, "--only", "account-limits"),
                  "account-limits")
    assert acc["severity"] == "fail"


# ---- two clusters joined by gateways -------------------------------------------------------

GW_CONF = """
server_name: g{name}
host: 127.0.0.1
port: -1
http: "127.0.0.1:-1"
accounts {{ SYS {{ users: [{{ user: sys, password: "{pw}" }}] }} }}
system_account: SYS
gateway {{
  name: {name}
  host: 127.0.0.1
  port: {port}
  gateways: [ {{ name: A, url: "nats://127.0.0.1:{a}" }}, {{ name: B, url: "nats://127.0.0.1:{b}" }} ]
}}
"""


def test_gateway_mesh_quiet_then_one_gateway_down(server_bin: Path, tmp_path: Path) -> None:
    pw = secrets.token_urlsafe(12)
    a = free_port()
    b = free_port(avoid={a})
    procs: dict[str, ServerProcess] = {}
    try:
        for name, port in (("A", a), ("B", b)):
            procs[name] = start_server(server_bin, tmp_path / name, GW_CONF.format(
                name=name, port=port, a=a, b=b, pw=pw))
        monitors = [arg for p in procs.values() for arg in ("--monitor", p.monitor_url)]

        def meshed() -> Any:
            doc = doctor(*monitors, "--only", "gateway-mesh")
            return doc if doc["servers"] == ["gA", "gB"] and not doc["findings"] else None

        wait_for(meshed, 20, "gateways A <-> B connected")
        procs.pop("B").stop(grace=5)
        sys = ("-s", procs["A"].client_url, "--user", "sys", "--password", pw)
        for doc in (doctor("--monitor", procs["A"].monitor_url, "--only", "gateway-mesh"),
                    doctor("--only", "gateway-mesh", pre=sys)):
            [f] = found(doc, "gateway-mesh")
            assert (f["severity"], f["subject"]) == ("fail", "gA")
            assert f["evidence"]["no_outbound"] == ["B"]
            assert f["evidence"]["no_inbound"] == ["B"]
    finally:
        for p in procs.values():
            p.stop(grace=5)


# ---- a 3-node cluster: quiet when healthy, then leaders and HA assets ----------------------


@pytest.fixture(scope="module")
def audit(server_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """max_file 1GB (so JetStream never promises more than the disk has) and max_ha_assets 7."""
    d = tmp_path_factory.mktemp("audit-cluster")
    last: Exception | None = None
    for attempt in range(3):
        c = LocalCluster.create(d / f"try{attempt}", name="AU", nodes=plan_nodes(3, None),
                                binary=server_bin, max_file="1GB")
        for n in c.nodes:
            path = c.config_path(n.name)
            text = path.read_text()
            assert "  max_file_store: 1GB\n}" in text
            path.write_text(text.replace("  max_file_store: 1GB\n}",
                                         "  max_file_store: 1GB\n  limits { max_ha_assets: 7 }\n}"))
        try:
            asyncio.run(start_usable(c, timeout=45))
            break
        except NatsopsError as exc:
            last = exc
    else:
        raise RuntimeError(f"could not start the audit cluster: {last}")
    try:
        yield c
    finally:
        c.stop_all(grace=5)


def test_new_checks_are_quiet_on_a_healthy_cluster(audit: LocalCluster) -> None:
    only = ("--only", ",".join(NEW))
    for transport in ("sys", "http"):
        doc = doctor("--dir", str(audit.dir), "--transport", transport, *only)
        assert doc["servers"] == ["n1", "n2", "n3"]
        assert doc["findings"] == [], transport
    doc = doctor("--dir", str(audit.dir), "--sample", "0.5s", *only)  # cpu needs two samples
    assert doc["sampled_seconds"] == 0.5
    assert doc["findings"] == []


def test_disk_free_measures_the_real_store_dirs(audit: LocalCluster) -> None:
    snap = asyncio.run(gather(None, cluster_dir=audit.dir))
    assert sorted(snap.disk) == ["n1", "n2", "n3"]
    for n in audit.nodes:
        d = snap.disk[n.name]
        # the server reports its store_dir with "jetstream" appended
        assert Path(d["path"]).resolve() == (audit.store_dir(n.name) / "jetstream").resolve()
        st = os.statvfs(d["path"])
        assert d["total"] == st.f_blocks * st.f_frsize
        assert abs(d["avail"] - st.f_bavail * st.f_frsize) < 2 << 30  # others write meanwhile
        assert 0 < d["avail"] <= d["free"] <= d["total"]


async def _streams_led_by(urls: list[str], names: list[str], leader: str) -> None:
    nc = await nats.connect(urls)
    try:
        js = nc.jetstream(timeout=15)
        for name in names:
            await js.add_stream(name=name, subjects=[f"{name}.>"], num_replicas=3, max_age=60)
        body = json.dumps({"placement": {"preferred": leader}}).encode()
        deadline = time.monotonic() + 30
        while True:
            led: dict[str, str | None] = {}
            for name in names:
                info = await js.stream_info(name)
                led[name] = info.cluster.leader if info.cluster else None
            if all(v == leader for v in led.values()):
                return
            assert time.monotonic() < deadline, f"leaders not all on {leader}: {led}"
            for name, cur in led.items():
                if cur and cur != leader:
                    await nc.request(f"$JS.API.STREAM.LEADER.STEPDOWN.{name}", body, timeout=5)
            await asyncio.sleep(0.2)
    finally:
        await nc.close()


def test_leaders_on_one_server_and_ha_assets_near_the_limit(audit: LocalCluster) -> None:
    names = [f"LB{i}" for i in range(6)]
    asyncio.run(_streams_led_by(audit.client_urls, names, "n1"))
    doc = doctor("--dir", str(audit.dir), "--only", "leader-balance,ha-assets")
    [lb] = found(doc, "leader-balance")
    assert (lb["severity"], lb["subject"]) == ("warn", "n1")
    assert lb["evidence"]["kind"] == "stream"
    assert (lb["evidence"]["leads"], lb["evidence"]["share"]) == (6, 2)
    assert "natsops stream cluster balance" in lb["fix"]
    ha = found(doc, "ha-assets")  # 6 R3 streams on every server, of max_ha_assets 7
    assert sorted(f["subject"] for f in ha) == ["n1", "n2", "n3"]
    assert {(f["severity"], f["evidence"]["used"], f["evidence"]["limit"]) for f in ha} == {
        ("warn", 6, 7)}
    # the fix it names works: after the balance the check is quiet
    res = runner.invoke(app, ["-s", ",".join(audit.client_urls), "stream", "cluster", "balance",
                                "--force"])
    assert res.exit_code == 0, res.output
    doc = doctor("--dir", str(audit.dir), "--only", "leader-balance")
    assert doc["findings"] == []
