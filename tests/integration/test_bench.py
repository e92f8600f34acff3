"""`natsops bench` against real servers: every mode checks counts, never speed."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from nats.js.errors import NotFoundError
from typer.testing import CliRunner

from natsops.bench import BenchOptions, BenchResult, run_bench
from natsops.cli.main import app
from natsops.cluster.process import ServerProcess
from natsops.connection import connect
from natsops.context import Secret, Settings
from natsops.errors import AuthError, Conflict, ServerError, Unreachable, UsageError

runner = CliRunner()


def bench(settings: Settings, **kw: object) -> BenchResult:
    return asyncio.run(run_bench(settings, BenchOptions(**kw)))  # type: ignore[arg-type]


def stream_exists(settings: Settings, name: str) -> bool:
    async def check() -> bool:
        async with connect(settings) as conn:
            try:
                await conn.js.stream_info(name)
            except NotFoundError:
                return False
            return True

    return asyncio.run(check())


def test_core_pub_sub_counts(nats_server, unique: Callable[[str], str]) -> None:  # type: ignore[no-untyped-def]
    r = bench(nats_server.settings, subject=unique("core"), pubs=2, subs=2, msgs=20_001, size=64)
    pub, sub = r.group("pub"), r.group("sub")
    assert pub is not None and sub is not None
    assert r.published == 20_001 and pub.msgs == 20_001
    assert [c.msgs for c in pub.clients] == [10_001, 10_000]  # remainder to the first client
    assert r.expected == 40_002 and r.received == 40_002 and r.lost == 0
    assert [c.msgs for c in sub.clients] == [20_001, 20_001]
    assert r.warnings == ()
    assert pub.msgs_per_sec > 0 and sub.bytes == 40_002 * 64


def test_core_many_subjects_random_payload(nats_server, unique: Callable[[str], str]) -> None:  # type: ignore[no-untyped-def]
    r = bench(nats_server.settings, subject=unique("ms"), pubs=2, subs=2, msgs=30_000, size=100,
              subjects=120, payload="random")
    assert r.published == 30_000 and r.received == 60_000 and r.lost == 0
    assert r.subjects == 120 and r.payload == "random"


def test_js_many_subjects_stream_takes_them_all(nats_server, unique: Callable[[str], str]) -> None:  # type: ignore[no-untyped-def]
    r = bench(nats_server.settings, subject=unique("jms"), mode="js", stream=unique("JMS"),
              subjects=10, msgs=5_000, size=16, payload="zeros")
    assert r.stream is not None and r.stream.subjects[0].endswith(".*")
    assert r.stream.stored == r.published == 5_000


def test_core_across_the_cluster(nats_cluster, unique: Callable[[str], str]) -> None:  # type: ignore[no-untyped-def]
    # clients are spread over the servers, so messages cross routes
    r = bench(nats_cluster.settings, subject=unique("fan"), pubs=3, subs=2, msgs=30_000,
              size=256)
    assert r.published == 30_000
    assert r.received == r.published * 2 and r.lost == 0


def test_duration_instead_of_msgs(nats_server, unique: Callable[[str], str]) -> None:  # type: ignore[no-untyped-def]
    r = bench(nats_server.settings, subject=unique("dur"), pubs=1, subs=1, msgs=None,
              duration=0.3, size=16)
    assert r.published > 0
    assert r.received == r.published and r.lost == 0


def test_request_reply_counts_and_latency(nats_server, unique: Callable[[str], str]) -> None:  # type: ignore[no-untyped-def]
    r = bench(nats_server.settings, subject=unique("svc"), mode="request", pubs=2, subs=2,
              msgs=2_000, size=32)
    req = r.group("req")
    assert req is not None and req.errors == 0
    assert req.msgs == 2_000 and [c.msgs for c in req.clients] == [1_000, 1_000]
    assert req.latency is not None and req.latency.count == 2_000
    lat = req.latency
    assert 0 < lat.min_us <= lat.p50_us <= lat.p90_us <= lat.p99_us <= lat.p999_us <= lat.max_us


def test_request_without_responders_is_a_clear_error(nats_server, unique: Callable[[str], str]) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ServerError, match="no responders") as exc:
        bench(nats_server.settings, subject=unique("nobody"), mode="request", msgs=20)
    assert exc.value.hint and "--sub N" in exc.value.hint


def test_js_async_publish_stores_every_message_and_removes_stream(nats_server, unique: Callable[[str], str]) -> None:  # type: ignore[no-untyped-def]
    name = unique("BENCH")
    r = bench(nats_server.settings, subject=unique("js"), mode="js", stream=name, pubs=2,
              msgs=20_000, size=128, window=1000, batch=100)
    assert r.published == 20_000 and r.group("jspub").errors == 0  # type: ignore[union-attr]
    assert r.stream is not None and r.stream.created and r.stream.removed
    assert r.stream.stored == 20_000
    assert r.latency_unit == "batch" and r.groups[0].latency.count == 200  # type: ignore[union-attr]
    assert not stream_exists(nats_server.settings, name)


def test_js_sync_r3_keep(nats_cluster, unique: Callable[[str], str]) -> None:  # type: ignore[no-untyped-def]
    name = unique("BENCH")
    r = bench(nats_cluster.settings, subject=unique("js3"), mode="js", stream=name, replicas=3,
              storage="memory", window=1, msgs=300, size=16, keep=True)
    assert r.published == 300 and r.stream is not None and r.stream.stored == 300
    assert r.latency_unit == "publish" and r.groups[0].latency.count == 300  # type: ignore[union-attr]
    assert r.stream.created and not r.stream.removed
    assert stream_exists(nats_cluster.settings, name)

    async def drop() -> None:
        async with connect(nats_cluster.settings) as conn:
            await conn.js.delete_stream(name)

    asyncio.run(drop())


@pytest.mark.parametrize("how", ["fetch", "ordered"])
def test_js_consume_reads_back_every_message(how: str, nats_cluster, unique: Callable[[str], str]) -> None:  # type: ignore[no-untyped-def]
    name = unique("CONS")
    r = bench(nats_cluster.settings, subject=unique("jc"), mode="js", stream=name, replicas=3,
              pubs=1, subs=2, msgs=6_000, size=64, batch=250, consume=how)
    assert r.published == 6_000 and r.stream is not None and r.stream.stored == 6_000
    g = r.group(how)
    assert g is not None and len(g.clients) == 2
    if how == "fetch":  # one durable shared by both clients: every message once
        assert r.expected == 6_000 and g.msgs == 6_000
    else:  # each ordered consumer reads the whole stream
        assert r.expected == 12_000 and [c.msgs for c in g.clients] == [6_000, 6_000]
    assert r.received == r.expected and r.lost == 0 and r.warnings == ()
    assert r.stream.removed and not stream_exists(nats_cluster.settings, name)


def test_kv_put_and_get(nats_cluster, unique: Callable[[str], str]) -> None:  # type: ignore[no-untyped-def]
    bucket = unique("kvb")
    put = bench(nats_cluster.settings, subject="cfg", mode="kv", kv="put", bucket=bucket,
                replicas=3, keys=50, pubs=2, msgs=500, size=32)
    g = put.group("kvput")
    assert g is not None and g.msgs == 500 and g.errors == 0
    assert g.latency is not None and g.latency.count == 500
    assert put.stream is not None and put.stream.messages_after == 50  # history 1: one per key
    assert put.stream.removed and not stream_exists(nats_cluster.settings, f"KV_{bucket}")

    get = bench(nats_cluster.settings, subject="cfg", mode="kv", kv="get", bucket=bucket,
                keys=20, pubs=2, msgs=300, size=32)
    fill, got = get.group("kvfill"), get.group("kvget")
    assert fill is not None and fill.msgs == 20  # every key written once before the gets
    assert got is not None and got.msgs == 300 and got.errors == 0  # every get found a value
    assert get.warnings == ()


def test_js_existing_stream_with_other_subjects_is_a_conflict(nats_server, unique: Callable[[str], str]) -> None:  # type: ignore[no-untyped-def]
    name = unique("OTHER")

    async def make() -> None:
        async with connect(nats_server.settings) as conn:
            await conn.js.add_stream(name=name, subjects=[f"{name}.x"])

    asyncio.run(make())
    with pytest.raises(Conflict, match="does not take"):
        bench(nats_server.settings, subject=f"{name}.y", mode="js", stream=name, msgs=10)
    assert stream_exists(nats_server.settings, name)  # never touched

    async def cleanup() -> None:
        async with connect(nats_server.settings) as conn:
            await conn.js.delete_stream(name)

    asyncio.run(cleanup())


def test_js_into_an_existing_wildcard_stream(nats_server, unique: Callable[[str], str]) -> None:  # type: ignore[no-untyped-def]
    name = unique("WILD")

    async def make() -> None:
        async with connect(nats_server.settings) as conn:
            await conn.js.add_stream(name=name, subjects=[f"{name}.>"])

    async def count_and_remove() -> int:
        async with connect(nats_server.settings) as conn:
            info = await conn.js.stream_info(name)
            await conn.js.delete_stream(name)
            return info.state.messages

    asyncio.run(make())
    r = bench(nats_server.settings, subject=f"{name}.y", mode="js", stream=name, msgs=300)
    assert r.published == 300
    assert stream_exists(nats_server.settings, name)  # not created by the run: not removed
    assert asyncio.run(count_and_remove()) == 300


@pytest.fixture(scope="module")
def auth_server(server_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    d = tmp_path_factory.mktemp("nats-auth")
    proc = ServerProcess.start(
        server_bin, ["-a", "127.0.0.1", "-p", "-1", "--user", "bench", "--pass", "s3cret"],
        log_file=d / "nats-server.log")
    try:
        yield proc.wait_ready(15).client_url
    finally:
        proc.stop(grace=5)


def test_user_password_auth(auth_server: str, unique: Callable[[str], str]) -> None:
    good = Settings(servers=(auth_server,), user="bench", password=Secret("s3cret"))
    r = bench(good, subject=unique("auth"), pubs=1, subs=1, msgs=1_000, size=8)
    assert r.received == 1_000
    in_url = auth_server.replace("nats://", "nats://bench:s3cret@")
    r = bench(Settings(servers=(in_url,)), subject=unique("auth"), msgs=100, size=8)
    assert r.published == 100 and "s3cret" not in repr(r.servers)
    bad = Settings(servers=(auth_server,), user="bench", password=Secret("wrong"))
    with pytest.raises(AuthError):
        bench(bad, subject="auth", msgs=10)


@pytest.fixture(scope="module")
def tls_server(server_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    d = tmp_path_factory.mktemp("nats-tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem"),
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    proc = ServerProcess.start(
        server_bin, ["-a", "127.0.0.1", "-p", "-1", "--tls", "--tlscert", d / "cert.pem",
                     "--tlskey", d / "key.pem"], log_file=d / "nats-server.log")
    try:
        yield proc.wait_ready(15).client_url, d / "cert.pem"
    finally:
        proc.stop(grace=5)


def test_tls(tls_server: tuple[str, Path], unique: Callable[[str], str]) -> None:
    url, ca = tls_server
    r = bench(Settings(servers=(url,), tls_ca=str(ca)), subject=unique("tls"), pubs=1, subs=1,
              msgs=2_000, size=100)
    assert r.received == 2_000
    with pytest.raises(Unreachable, match="certificate verify failed"):
        bench(Settings(servers=(url,)), subject="tls", msgs=10)


def test_malformed_creds_are_a_usage_error(nats_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    creds = tmp_path / "u.creds"
    creds.write_text("x")
    s = Settings(servers=(nats_server.url,), creds=str(creds))
    with pytest.raises((UsageError, AuthError), match=r"creds|nonce"):
        bench(s, subject="x", msgs=10)


def test_cli_json_and_csv(nats_server, unique: Callable[[str], str], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    csv_path = tmp_path / "run.csv"
    r = runner.invoke(app, ["-s", nats_server.url, "bench", unique("cli"), "--pub", "2",
                            "--sub", "1", "--msgs", "5000", "--size", "1KB", "--json",
                            "--csv", str(csv_path), "--no-progress"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["published"] == 5000 and doc["received"] == 5000 and doc["lost"] == 0
    assert doc["size"] == 1024
    assert [g["role"] for g in doc["groups"]] == ["pub", "sub"]
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("#RunID,ClientID,MsgCount")
    assert [line.split(",")[1] for line in lines[1:]] == ["P0", "P1", "S0"]


def test_cli_human_output(nats_server, unique: Callable[[str], str]) -> None:  # type: ignore[no-untyped-def]
    r = runner.invoke(app, ["-s", nats_server.url, "bench", unique("h"), "--js", "--stream",
                            unique("HB"), "--msgs", "1000", "--sync"])
    assert r.exit_code == 0, r.output
    assert "NATS JetStream publisher stats:" in r.stdout
    assert "latency per publish (1,000)" in r.stdout
    assert "1,000 messages stored by this run, removed" in r.stdout


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["--stream", "S"], 2, "--stream only apply with --js"),
        (["--msgs", "10", "--duration", "1s"], 2, "either --msgs or --duration"),
        (["--request", "--js"], 2, "choose one"),
        (["--pub", "0"], 2, "--pub must be at least 1"),
        (["--size", "lots"], 2, "invalid --size"),
        (["--js", "--sync", "--window", "10"], 2, "drop --window"),
        (["--consume", "fetch"], 2, "--consume only apply with --js"),
        (["--js", "--consume", "fetch"], 2, "--consume needs --sub"),
        (["--js", "--consume", "push", "--sub", "1"], 2, "--consume must be one of"),
        (["--keys", "5"], 2, "--keys only apply with --kv"),
        (["--replicas", "3"], 2, "only apply with --js or --kv"),
        (["--kv", "put", "--js"], 2, "choose one"),
        (["--kv", "del"], 2, "--kv must be one of"),
        (["--js", "--window", "0"], 2, "--window and --batch must be at least 1"),
        (["--kv", "get", "--keys", "0"], 2, "--keys must be between"),
        (["--js", "--stream", "a.b"], 2, "invalid stream name"),
        (["--csv", "-", "--json"], 2, "both write to stdout"),
        (["--payload", "lorem"], 2, "--payload must be one of"),
        (["--subjects", "0"], 2, "--subjects must be between"),
        (["--kv", "put", "--subjects", "3"], 2, "use --keys, not --subjects"),
    ],
)
def test_cli_usage_errors(args: list[str], code: int, text: str) -> None:
    r = runner.invoke(app, ["-s", "nats://127.0.0.1:1", "bench", "x", *args])
    assert r.exit_code == code, r.output
    assert text in r.stderr
    assert "Traceback" not in r.output


def test_cli_unreachable(unused_port: int) -> None:
    r = runner.invoke(app, ["-s", f"nats://127.0.0.1:{unused_port}", "bench", "x"])
    assert r.exit_code == 3, r.output
    assert "cannot connect" in r.stderr


@pytest.fixture
def unused_port() -> int:
    from natsops.cluster.process import free_port

    return free_port()
