"""The one connection policy, against real servers: every URL probed at once, TLS or an error,
unusable credentials refused up front, permission denials reported as such (issue 13)."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from natsops.cli.main import app
from natsops.cluster.process import ServerProcess
from tests.cli._helpers import natsops, one_line_error, runner
from tests.conftest import SingleServer
from tests.integration.test_doctor_audit import raw_client


def _server(server_bin: Path, d: Path, *args: str) -> ServerProcess:
    d.mkdir(parents=True, exist_ok=True)
    proc = ServerProcess.start(server_bin, ["-a", "127.0.0.1", "-p", "-1", *args],
                               log_file=d / "nats-server.log")
    try:
        proc.wait_ready(15)
    except BaseException:
        proc.stop(grace=2)
        raise
    return proc


@pytest.fixture
def frozen_server(server_bin: Path, tmp_path: Path) -> Iterator[ServerProcess]:
    """A nats-server stopped with SIGSTOP: it accepts TCP (the kernel does) and says nothing."""
    proc = _server(server_bin, tmp_path / "frozen", "-n", "frozen")
    proc.signal(signal.SIGSTOP)
    try:
        yield proc
    finally:
        proc.signal(signal.SIGCONT)
        proc.stop(grace=5)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never sends a byte (not NATS)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def test_stream_info_through_a_list_with_a_frozen_server_succeeds_every_time(
        nats_server: SingleServer, frozen_server: ServerProcess,
        unique: Callable[[str], str]) -> None:
    name = unique("FROZEN")
    urls = [frozen_server.client_url, nats_server.url]
    r = natsops(nats_server.url, "stream", "add", name, "--subjects", f"{name}.>", "--defaults")
    assert r.exit_code == 0, r.stderr
    try:
        for _ in range(10):
            t0 = time.monotonic()
            r = natsops(urls, "stream", "info", name, "--json")
            assert r.exit_code == 0, r.stderr
            assert name in r.stdout
            # the frozen server must not eat the 5 s timeout
            assert time.monotonic() - t0 < 3.0
    finally:
        natsops(nats_server.url, "stream", "rm", name, "--force")


def test_only_frozen_or_silent_servers_exit_3_naming_each(
        frozen_server: ServerProcess, silent_port: int) -> None:
    silent = f"nats://127.0.0.1:{silent_port}"
    t0 = time.monotonic()
    r = natsops([frozen_server.client_url, silent], "stream", "ls")
    line = one_line_error(r, 3)
    assert time.monotonic() - t0 < 4.5  # probed at once, each with a short timeout
    assert frozen_server.client_url in line and silent in line
    assert "no NATS greeting" in line


def test_tls_url_against_a_plaintext_server_is_refused(nats_server: SingleServer) -> None:
    tls_url = nats_server.url.replace("nats://", "tls://")
    line = one_line_error(natsops(tls_url, "stream", "ls"), 3)
    assert "refusing to connect in plaintext" in line


def test_tlsfirst_without_tls_is_a_usage_error(nats_server: SingleServer) -> None:
    line = one_line_error(natsops(nats_server.url, "--tlsfirst", "stream", "ls"), 2)
    assert "--tlsfirst needs TLS" in line


def test_tls_ca_option_means_tls(nats_server: SingleServer, tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate\n")
    line = one_line_error(natsops(nats_server.url, "--tlsca", str(ca), "stream", "ls"), 2)
    assert "TLS" in line


@pytest.mark.parametrize(("content", "words"), [
    (b"\x00\xff\xfe\x89PNG garbage", "not UTF-8"),
    (b"just some text\n", "malformed creds"),
])
def test_unusable_creds_file_is_a_usage_error_not_a_no_auth_connection(
        nats_server: SingleServer, tmp_path: Path, content: bytes, words: str) -> None:
    creds = tmp_path / "user.creds"
    creds.write_bytes(content)
    line = one_line_error(natsops(nats_server.url, "--creds", str(creds), "stream", "ls"), 2)
    assert words in line and str(creds) in line


def test_creds_path_that_is_a_directory_is_a_usage_error(
        nats_server: SingleServer, tmp_path: Path) -> None:
    line = one_line_error(natsops(nats_server.url, "--creds", str(tmp_path), "stream", "ls"), 2)
    assert str(tmp_path) in line


def test_garbage_nkey_file_is_a_usage_error(nats_server: SingleServer, tmp_path: Path) -> None:
    seed = tmp_path / "user.nk"
    seed.write_text("SUAGARBAGE\n")
    line = one_line_error(natsops(nats_server.url, "--nkey", str(seed), "stream", "ls"), 2)
    assert str(seed) in line


@pytest.mark.parametrize("url", ["nats://127.0.0.1:99999", "nats://:4222",
                                 "nats://127.0.0.1:port"])
def test_invalid_urls_exit_2(url: str) -> None:
    line = one_line_error(natsops(url, "stream", "ls"), 2)
    assert "invalid server URL" in line


def test_a_port_that_never_speaks_nats_exits_3(silent_port: int) -> None:
    line = one_line_error(natsops(f"nats://127.0.0.1:{silent_port}", "stream", "ls"), 3)
    assert "no NATS greeting" in line


@pytest.fixture(scope="module")
def restricted_server(server_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A JetStream server with user ``ro`` that may not publish to the JetStream API."""
    d = tmp_path_factory.mktemp("restricted")
    conf = d / "server.conf"
    conf.write_text(
        f'jetstream {{ store_dir: "{d / "js"}" }}\n'
        "authorization {\n  users = [\n"
        "    {user: admin, password: admin}\n"
        '    {user: ro, password: ro, permissions: {publish: {deny: ["$JS.API.>"]}}}\n'
        "  ]\n}\n")
    proc = _server(server_bin, d, "-c", str(conf))
    try:
        yield proc.client_url
    finally:
        proc.stop(grace=5)


def test_user_without_js_api_permission_gets_exit_7(restricted_server: str) -> None:
    r = natsops(restricted_server, "--user", "ro", "--password", "ro", "--timeout", "1s",
                "stream", "info", "ANY")
    line = one_line_error(r, 7)
    assert "permission" in line.lower()


def test_wrong_password_is_exit_7(restricted_server: str) -> None:
    r = natsops(restricted_server, "--user", "ro", "--password", "nope", "stream", "ls")
    one_line_error(r, 7)


TLS_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "tls"


@pytest.fixture(scope="module")
def tls_servers(server_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        tuple[str, str]]:
    """Two JetStream-less servers with TLS: one plain-then-TLS, one TLS handshake first."""
    d = tmp_path_factory.mktemp("tls")
    cert, key = TLS_DIR / "server-cert.pem", TLS_DIR / "server-key.pem"
    procs = []
    try:
        for name, extra in (("tls", ""), ("tlsfirst", ", handshake_first: true")):
            conf = d / f"{name}.conf"
            conf.write_text(f'tls {{ cert_file: "{cert}", key_file: "{key}"{extra} }}\n')
            procs.append(_server(server_bin, d / name, "-c", str(conf)))
        yield procs[0].client_url, procs[1].client_url
    finally:
        for p in procs:
            p.stop(grace=5)


def test_tls_server_with_its_ca(tls_servers: tuple[str, str]) -> None:
    url = tls_servers[0].replace("nats://", "tls://")
    r = natsops(url, "--tlsca", str(TLS_DIR / "server-cert.pem"), "stream", "ls")
    assert "no responders" in r.stderr, r.stderr  # connected; this server has no JetStream
    assert "eof_received" not in r.stderr


def test_tls_server_without_its_ca_is_refused_not_downgraded(
        tls_servers: tuple[str, str]) -> None:
    line = one_line_error(natsops(tls_servers[0], "stream", "ls"), 3)
    assert "CERTIFICATE_VERIFY_FAILED" in line


def test_tls_handshake_first(tls_servers: tuple[str, str]) -> None:
    url = tls_servers[1].replace("nats://", "tls://")
    ca = str(TLS_DIR / "server-cert.pem")
    r = natsops(url, "--tlsca", ca, "--tlsfirst", "stream", "ls")
    assert "no responders" in r.stderr, r.stderr
    line = one_line_error(natsops(url, "--tlsca", ca, "stream", "ls"), 3)
    assert "--tlsfirst" in line


# --- a server at its max_connections ---------------------------------------------------------

FULL = "maximum connections exceeded"
LIMIT_CONF = """
max_connections: 10
jetstream {{ store_dir: "{store}" }}
accounts {{
  SYS {{ users: [{{ user: sys, password: "syspw" }}] }}
  APP {{ jetstream: enabled, users: [{{ user: app }}] }}
}}
system_account: SYS
no_auth_user: app
"""


@pytest.fixture(scope="module")
def nine_of_ten(server_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        ServerProcess]:
    """A server with max_connections 10 and 9 clients: natsops' login is the 10th."""
    d = tmp_path_factory.mktemp("max-conn")
    (d / "server.conf").write_text(LIMIT_CONF.format(store=d / "js"))
    proc = _server(server_bin, d, "-c", str(d / "server.conf"), "-m", "-1", "-n", "full")
    clients: list[socket.socket] = []
    try:
        clients += [raw_client(proc.client_url, f"idle{i}") for i in range(9)]
        yield proc
    finally:
        for c in clients:
            c.close()
        proc.stop(grace=5)


def test_the_tenth_login_of_ten_succeeds_every_time(nine_of_ten: ServerProcess) -> None:
    """natsops probes a server's INFO on a connection of its own just before it logs in; the
    server may not have freed that slot yet (nor the one of the command before)."""
    url, sys_user = nine_of_ten.client_url, ("--user", "sys", "--password", "syspw")
    for _ in range(15):
        r = natsops(url, "stream", "ls", "--json")
        assert r.exit_code == 0, (r.stdout, r.stderr)
    for _ in range(4):
        for args in ((*sys_user, "doctor", "--transport", "sys"),
                     ("doctor", "--monitor", nine_of_ten.monitor_url)):
            r = runner.invoke(app, ["-s", url, *args, "--format", "json"])
            assert r.exit_code in (0, 6) and "error:" not in r.stderr, (args, r.stderr)
            assert json.loads(r.stdout)["transport"] in ("sys", "http")


def test_a_login_dropped_at_the_limit_is_tried_again(nine_of_ten: ServerProcess) -> None:
    """The 10th slot is held until the server refused natsops' probe and its login (its
    total_connections counts both): the login is tried again and gets the slot once free."""
    import httpx

    from natsops.connection import connect
    from natsops.context import Settings

    url, varz = nine_of_ten.client_url, f"{nine_of_ten.monitor_url}/varz"
    blocker = raw_client(url, "blocker")

    async def scenario() -> bool:
        async with httpx.AsyncClient(timeout=5) as http:
            async def total() -> int:
                return int((await http.get(varz)).json()["total_connections"])

            before = await total()

            async def free_the_slot() -> None:
                while await total() < before + 2:  # the probe, then the login: both refused
                    await asyncio.sleep(0.005)
                blocker.close()

            freeing = asyncio.ensure_future(free_the_slot())
            async with connect(Settings(servers=(url,), timeout=5.0)) as conn:
                await conn.nc.flush()
                return freeing.done()

    try:
        assert asyncio.run(asyncio.wait_for(scenario(), 20))
    finally:
        blocker.close()


def test_a_full_server_is_one_error_naming_the_limit(nine_of_ten: ServerProcess) -> None:
    url = nine_of_ten.client_url
    tenth = raw_client(url, "tenth")
    try:
        for args in (("stream", "ls"),
                     ("--user", "sys", "--password", "syspw", "doctor", "--transport", "sys")):
            line = one_line_error(natsops(url, *args), 10)  # ExitCode.SERVER
            assert f"{url}: the server refused the connection: {FULL}" in line, line
            assert "max_connections" in line, line
    finally:
        tenth.close()
