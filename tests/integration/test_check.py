"""`natsops check ...` against real servers: OK, WARNING, CRITICAL and UNKNOWN with the Nagios
exit codes (0/1/2/3), JSON and Prometheus output, and bad input."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import nats

from natsops.auth import jwt as jwtmod
from natsops.auth.claims import user_claims
from natsops.auth.creds import format_creds
from natsops.auth.nkey import generate
from tests.cli._helpers import natsops, one_line_error
from tests.conftest import SingleServer
from tests.conftest import TestCluster as Cluster


def _publish(url: str, subject: str, n: int) -> None:
    async def go() -> None:
        nc = await nats.connect(url)
        js = nc.jetstream()
        for i in range(n):
            await js.publish(subject, str(i).encode())
        await nc.close()

    asyncio.run(go())


def _code(url: str | list[str], *args: str) -> tuple[int, str]:
    r = natsops(url, "check", *args)
    assert "Traceback" not in r.stdout + r.stderr
    return r.exit_code, r.stdout.strip()


def test_check_stream(nats_server: SingleServer, unique) -> None:
    url, name = nats_server.url, unique("CHK")
    assert natsops(url, "stream", "add", name, "--subjects", f"{name}.>",
                   "--defaults").exit_code == 0
    _publish(url, f"{name}.a", 5)
    code, line = _code(url, "stream", name, "--msgs-warn", "2", "--msgs-crit", "1",
                       "--peer-expect", "1")
    assert code == 0 and line.startswith(f"OK {name} ") and "messages=5;2;1" in line, line
    code, line = _code(url, "stream", name, "--msgs-warn", "5", "--msgs-crit", "1")
    assert code == 1 and "Warn:messages 5 <= 5" in line, line
    code, line = _code(url, "stream", name, "--msgs-warn", "10", "--msgs-crit", "5")
    assert code == 2 and line.startswith("CRITICAL") and "Crit:messages 5 <= 5" in line, line
    code, line = _code(url, "stream", name, "--subjects-warn", "3", "--subjects-crit", "2")
    assert code == 2 and "Crit:subjects 1 <= 2" in line, line  # inverted: too few subjects
    code, line = _code(url, "stream", "NO_SUCH_STREAM")
    assert code == 3 and line.startswith("UNKNOWN NO_SUCH_STREAM") and "not found" in line
    r = natsops(url, "check", "stream", name, "--json", "--msgs-warn", "5")
    doc = json.loads(r.stdout)
    assert r.exit_code == 1 and doc["status"] == "WARNING" and doc["exit_code"] == 1
    assert doc["check_suite"] == "stream" and doc["findings"][0]["severity"] == "warn"
    r = natsops(url, "check", "stream", name, "--format", "prometheus", "--msgs-crit", "9")
    assert r.exit_code == 0  # Prometheus: the status is in the metrics
    assert f'natsops_check_stream_messages{{name="stream",asset="{name}"}} 5' in r.stdout
    assert 'status="CRITICAL"} 2' in r.stdout


def test_check_stream_sources(nats_server: SingleServer, unique) -> None:
    url, origin, agg = nats_server.url, unique("ORIG"), unique("AGG")
    assert natsops(url, "stream", "add", origin, "--subjects", f"{origin}.>",
                   "--defaults").exit_code == 0
    assert natsops(url, "stream", "add", agg, "--source", origin, "--defaults").exit_code == 0
    deadline = time.monotonic() + 10  # until the source has been heard from once
    while True:
        code, line = _code(url, "stream", agg, "--min-sources", "1", "--lag-warn", "100",
                           "--lag-crit", "1000", "--seen-crit", "1h")
        if "never seen" not in line or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert code == 0 and "OK:1 sources" in line and f"OK:{origin} lag 0" in line, line
    code, line = _code(url, "stream", agg, "--min-sources", "2")
    assert code == 2 and "1 sources, expected between 2 and any" in line, line
    code, line = _code(url, "stream", agg, "--lag-warn", "0", "--lag-crit", "1000")
    assert code == 1 and f"Warn:{origin} lag 0 >= 0" in line, line


def test_check_consumer(nats_server: SingleServer, unique) -> None:
    url, name = nats_server.url, unique("CHKC")
    assert natsops(url, "stream", "add", name, "--subjects", f"{name}.>",
                   "--defaults").exit_code == 0
    assert natsops(url, "consumer", "add", name, "C", "--pull", "--defaults").exit_code == 0
    _publish(url, f"{name}.a", 5)
    assert _code(url, "consumer", name, "C", "--unprocessed-warn", "6")[0] == 0
    code, line = _code(url, "consumer", name, "C", "--unprocessed-warn", "5",
                       "--unprocessed-crit", "10")
    assert code == 1 and "Warn:unprocessed 5 >= 5" in line, line
    code, line = _code(url, "consumer", name, "C", "--last-delivery-crit", "1h")
    assert code == 2 and "Crit:no deliveries" in line, line
    assert natsops(url, "consumer", "next", name, "C", "--count", "2").exit_code == 0
    code, line = _code(url, "consumer", name, "C", "--last-delivery-warn", "1h",
                       "--last-ack-crit", "1h")
    assert code == 0, line
    assert _code(url, "consumer", name, "NOPE")[0] == 3


def test_check_kv(nats_server: SingleServer, unique) -> None:
    url, b = nats_server.url, unique("CHKKV")
    assert natsops(url, "kv", "add", b).exit_code == 0
    for k in ("a", "b", "c"):
        assert natsops(url, "kv", "put", b, k, "v").exit_code == 0
    assert natsops(url, "kv", "del", b, "c", "--force").exit_code == 0
    assert _code(url, "kv", b, "--key", "a", "--values-warn", "2", "--values-crit", "1")[0] == 0
    code, line = _code(url, "kv", b, "--values-warn", "4", "--values-crit", "1")
    assert code == 1 and "Warn:values 3 <= 4" in line, line  # a, b and the delete marker of c
    code, line = _code(url, "kv", b, "--key", "c")
    assert code == 2 and "key c was deleted" in line, line
    assert "key zz not found" in _code(url, "kv", b, "--key", "zz")[1]
    assert _code(url, "kv", unique("NOKV"))[0] == 3


def _creds(tmp_path: Path, expires_in: float | None) -> Path:
    acc, user = generate("account"), generate("user")
    claims = dict(user_claims("svc", user.public_key, int(time.time())))
    if expires_in is not None:
        claims["exp"] = int(time.time() + expires_in)
    path = tmp_path / f"u{expires_in}.creds"
    path.write_text(format_creds(jwtmod.encode(claims, acc), user.seed))
    path.chmod(0o600)
    return path


def test_check_credential(tmp_path: Path) -> None:
    url = "nats://127.0.0.1:1"  # never contacted: the check is offline
    flags = ("--valid-warn", "14d", "--valid-for", "7d")
    assert _code(url, "credential", str(_creds(tmp_path, 30 * 86400)), *flags)[0] == 0
    code, line = _code(url, "credential", str(_creds(tmp_path, 10 * 86400)), *flags)
    assert code == 1 and "Warn:expires in" in line, line
    assert _code(url, "credential", str(_creds(tmp_path, 3600)), *flags)[0] == 2
    never = str(_creds(tmp_path, None))
    assert _code(url, "credential", never)[0] == 0
    assert "never expires" in _code(url, "credential", never, "--require-expiry")[1]
    assert _code(url, "credential", never, "--require-expiry")[0] == 2
    assert _code(url, "credential", str(tmp_path / "missing.creds"))[0] == 3
    bad = tmp_path / "bad.creds"
    bad.write_text("not a jwt")
    assert "malformed JWT" in one_line_error(natsops(url, "check", "credential", str(bad)), 2)
    r = natsops(url, "check", "credential", never, "--valid-for", "soon")
    assert "invalid --valid-for 'soon'" in one_line_error(r, 2)


def test_check_connection(nats_server: SingleServer) -> None:
    url = nats_server.url
    code, line = _code(url, "connection")
    assert code == 0 and line.startswith("OK Connection") and "rtt=" in line, line
    code, line = _code(url, "connection", "--rtt-warn", "0s", "--rtt-crit", "1h")
    assert code == 1 and "Warn:rtt" in line, line
    code, line = _code(url, "connection", "--connect-warn", "0s", "--connect-crit", "0s")
    assert code == 2 and "Crit:connected in" in line, line
    code, line = _code("nats://127.0.0.1:1", "connection")
    assert code == 3 and line.startswith("UNKNOWN Connection"), line
    r = natsops("nats://127.0.0.1:1", "check", "stream", "S", "--json")
    doc = json.loads(r.stdout)
    assert r.exit_code == 3 and doc["status"] == "UNKNOWN" and "connect" in doc["output"]
    assert "invalid" in one_line_error(natsops(url, "check", "connection", "--rtt-warn",
                                               "fast"), 2)


def test_check_bad_input(nats_server: SingleServer) -> None:
    url = nats_server.url
    for args in (("stream", "a.b"), ("stream", "S", "--msgs-warn", "many"),
                 ("stream", "S", "--peer-expect", "0"), ("stream", "S", "--format", "xml"),
                 ("consumer", "S", "C", "--last-ack-crit", "later"),
                 ("kv", "B", "--key", "bad key")):
        one_line_error(natsops(url, "check", *args), 2)


def test_check_stream_peers_and_meta(nats_cluster: Cluster, unique) -> None:
    urls, name = nats_cluster.urls, unique("CHKR")
    assert natsops(urls, "stream", "add", name, "--subjects", f"{name}.>", "--replicas", "3",
                   "--defaults").exit_code == 0
    code, line = _code(urls, "stream", name, "--peer-expect", "3", "--peer-lag-crit", "1000",
                       "--peer-seen-crit", "30s")
    assert code == 0 and "3 peers led by" in line, line
    code, line = _code(urls, "stream", name, "--peer-expect", "5")
    assert code == 2 and "expected 5 peers got 3" in line, line
    d = str(nats_cluster.cluster.dir)
    code, line = _code(urls, "meta", "--dir", d, "--expect", "3", "--lag-crit", "1000",
                       "--seen-crit", "30s")
    assert code == 0 and "3 peers led by" in line, line
    code, line = _code(urls, "meta", "--dir", d, "--expect", "3", "--seen-warn", "0s",
                       "--seen-crit", "1h")
    assert code == 1 and "Warn:2 peers inactive" in line, line  # seen more than 0s ago
    code, line = _code(urls, "meta", "--dir", d, "--expect", "4")
    assert code == 2 and "expected 4 peers got 3" in line, line
    code, line = _code(["nats://127.0.0.1:1"], "meta", "--expect", "3")
    assert code == 3 and line.startswith("UNKNOWN"), line
