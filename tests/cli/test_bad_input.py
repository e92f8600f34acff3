"""Bad input over every command group: one `error:` line, the documented exit code, never an
"internal error" or a traceback, and nothing written or sent first (issue 13, items 8-11).

Each row is an argv (placeholders filled per test), the files it needs, and the exit code.
Rows marked ``server`` run with ``-s URL`` against the session's nats-server, where a stream
``{S}`` (consumer ``{C}``), a KV bucket ``{B}`` and an object store ``{O}`` (object
``small.txt``) exist.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from natsops.cli.main import app
from tests.conftest import SingleServer

BINARY = b"\xff\xfe\x00\x89PNG\r\n\x1a garbage \xc3\x28"
LONG = "n" * 300
runner = CliRunner()


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    code: int
    server: bool = False
    words: str = ""  # expected in the error line (case-insensitive)
    setup: Callable[[Path], None] | None = None
    absent: tuple[str, ...] = field(default=())  # paths (under tmp) that must not exist after


def _config_home() -> Path:
    return Path(os.environ["XDG_CONFIG_HOME"])


def _binary_context_txt(tmp: Path) -> None:
    (_config_home() / "nats").mkdir(parents=True, exist_ok=True)
    (_config_home() / "nats" / "context.txt").write_bytes(BINARY)


def _binary_context_json(tmp: Path) -> None:
    d = _config_home() / "nats" / "context"
    d.mkdir(parents=True, exist_ok=True)
    (d / "bin.json").write_bytes(BINARY)


def _binary_config_yaml(tmp: Path) -> None:
    (_config_home() / "natsops").mkdir(parents=True, exist_ok=True)
    (_config_home() / "natsops" / "config.yaml").write_bytes(BINARY)


def _store(tmp: Path) -> None:
    r = runner.invoke(app, ["auth", "--store", str(tmp / "st"), "operator", "add", "OP"])
    assert r.exit_code == 0, r.stderr


def _store_binary_jwt(tmp: Path) -> None:
    _store(tmp)
    (tmp / "st" / "stores" / "OP" / "OP.jwt").write_bytes(BINARY)


CASES: list[Case] = [
    # item 8: non-UTF-8 files
    Case("config-binary", ("stream", "add", "X1", "--config", "{bin}"), 2, server=True,
         words="not UTF-8"),
    Case("context-txt-binary", ("stream", "ls"), 2, server=True, setup=_binary_context_txt,
         words="not UTF-8"),
    Case("context-json-binary", ("--context", "bin", "stream", "ls"), 2, server=True,
         setup=_binary_context_json, words="not UTF-8"),
    Case("config-yaml-binary", ("stream", "ls"), 2, server=True, setup=_binary_config_yaml,
         words="not UTF-8"),
    Case("prices-binary", ("sizing", "--msgs-per-sec", "10", "--cost", "--prices", "{bin}"), 2,
         words="not UTF-8"),
    Case("sys-creds-binary", ("auth", "--store", "{tmp}/st", "push", "--all", "--sys-creds",
                              "{bin}"), 2, server=True, setup=_store, words="not UTF-8"),
    Case("store-jwt-binary", ("auth", "--store", "{tmp}/st", "ls"), 2, setup=_store_binary_jwt,
         words="not UTF-8"),
    # item 8: unwritable output paths (a path below a regular file cannot be created)
    Case("object-get-O", ("object", "get", "{O}", "small.txt", "-O", "{file}/out"), 2,
         server=True),
    Case("object-get-long-name", ("object", "get", "{O}", LONG), 2, server=True,
         words="255"),
    Case("stream-backup", ("stream", "backup", "{S}", "{file}/s.tar"), 2, server=True,
         absent=("file/s.tar",)),
    Case("kv-backup", ("kv", "backup", "{B}", "{file}/b.tar"), 2, server=True),
    Case("backup-all-onto-file", ("stream", "backup", "--all", "{file}/all"), 2, server=True),
    Case("creds-generate-o", ("auth", "--store", "{tmp}/st", "creds", "generate", "-a", "SYS",
                              "-n", "sys", "-o", "{file}/x.creds"), 2, setup=_store),
    Case("bootstrap-dir", ("bootstrap", "--dir", "{file}/c", "--base-port", "auto"), 2),
    Case("render-only-out", ("bootstrap", "--render-only", "--hosts", "h1,h2,h3", "--out",
                             "{file}/r"), 2),
    Case("store-unwritable", ("auth", "--store", "{file}/st", "operator", "add", "OP"), 2),
    # item 8: numeric overflow
    Case("pause-1e99", ("consumer", "pause", "{S}", "{C}", "1e99"), 2, server=True,
         words="292y"),
    Case("pause-inf", ("consumer", "pause", "{S}", "{C}", "inf"), 2, server=True),
    Case("sizing-inf", ("sizing", "--msgs-per-sec", "inf"), 2, words="--msgs-per-sec"),
    Case("sizing-nan", ("sizing", "--msgs-per-sec", "nan"), 2, words="--msgs-per-sec"),
    # item 8: unreadable --tlsca, archive
    Case("tlsca-binary", ("--tlsca", "{bin}", "stream", "ls"), 2, server=True, words="TLS CA"),
    Case("tlsca-directory", ("--tlsca", "{tmp}", "stream", "ls"), 2, server=True),
    Case("restore-directory", ("stream", "restore", "{tmp}"), 2, server=True),
    Case("restore-binary", ("stream", "restore", "{bin}"), 2, server=True),
    # item 9: credentials
    Case("creds-binary", ("--creds", "{bin}", "stream", "ls"), 2, server=True,
         words="creds file"),
    Case("creds-directory", ("--creds", "{tmp}", "stream", "ls"), 2, server=True),
    Case("creds-text", ("--creds", "{file}", "stream", "ls"), 2, server=True,
         words="malformed creds"),
    Case("nkey-binary", ("--nkey", "{bin}", "stream", "ls"), 2, server=True),
    # item 10: checked before anything is written or sent
    Case("bootstrap-max-mem", ("bootstrap", "--dir", "{tmp}/c1", "--base-port", "auto",
                               "--max-mem", "50XB"), 2, words="--max-mem", absent=("c1",)),
    Case("bootstrap-max-file", ("bootstrap", "--dir", "{tmp}/c2", "--base-port", "auto",
                                "--max-file", "-5"), 2, words="--max-file", absent=("c2",)),
    Case("render-max-mem", ("bootstrap", "--render-only", "--hosts", "h1,h2,h3", "--out",
                            "{tmp}/r", "--max-mem", "5XB"), 2, absent=("r",)),
    Case("stream-max-age", ("stream", "add", "X2", "--subjects", "x2.>", "--defaults",
                            "--max-age", "1e99"), 2, server=True, words="--max-age"),
    Case("stream-max-bytes", ("stream", "add", "X3", "--subjects", "x3.>", "--defaults",
                              "--max-bytes", "99999999999TB"), 2, server=True),
    Case("stream-max-msgs", ("stream", "add", "X4", "--subjects", "x4.>", "--defaults",
                             "--max-msgs", "99999999999999999999999"), 2, server=True,
         words="max_msgs"),
    Case("stream-first-sequence", ("stream", "add", "X7", "--subjects", "x7.>", "--defaults",
                                   "--first-sequence", "-5"), 2, server=True,
         words="first_seq"),
    Case("stream-bad-subject", ("stream", "add", "X8", "--subjects", "x8.>.y", "--defaults"),
         2, server=True, words="'>' must be"),
    Case("consumer-bad-filter", ("consumer", "add", "{S}", "C9", "--pull", "--defaults",
                                 "--filter", "a..b"), 2, server=True, words="empty token"),
    Case("kv-ttl", ("kv", "add", "X5", "--ttl", "1e99"), 2, server=True),
    Case("kv-revision", ("kv", "get", "{B}", "k", "--revision", "-1"), 2, server=True,
         words="--revision"),
    Case("kv-over-max-payload", ("kv", "put", "{B}", "big", "x" * (1024 * 1024 + 1)), 2,
         server=True, words="max_payload"),
    Case("stream-name-300", ("stream", "add", LONG, "--subjects", "x6.>", "--defaults"), 2,
         server=True, words="255"),
    Case("kv-bucket-name-300", ("kv", "add", LONG), 2, server=True, words="at most 251"),
    Case("object-bucket-name-300", ("object", "add", LONG), 2, server=True, words="at most 251"),
    Case("consumer-name-300", ("consumer", "add", "{S}", LONG, "--pull", "--defaults"), 2,
         server=True, words="255"),
    Case("object-name-over-control-line", ("object", "put", "{O}", "{file}", "--name",
                                           "o" * 5000), 2, server=True, words="max_control_line"),
    Case("kv-key-over-control-line", ("kv", "put", "{B}", "k" * 5000, "v"), 2, server=True,
         words="max_control_line"),
    Case("allow-pub-bad-subject", ("auth", "--store", "{tmp}/st", "user", "add", "u1", "-a",
                                   "SYS", "--allow-pub", "bad subject"), 2, setup=_store,
         words="--allow-pub"),
    Case("deny-sub-bad-subject", ("auth", "--store", "{tmp}/st", "user", "add", "u2", "-a",
                                  "SYS", "--deny-sub", "a.>.b"), 2, setup=_store),
    Case("export-bad-subject", ("auth", "--store", "{tmp}/st", "account", "export", "add",
                                "-a", "SYS", "svc..time"), 2, setup=_store, words="empty token"),
    Case("sizing-streams", ("sizing", "--msgs-per-sec", "10", "--streams", "-5"), 2,
         words="--streams"),
    Case("sizing-replicas", ("sizing", "--msgs-per-sec", "10", "--replicas", "0"), 2),
    Case("tlsfirst-without-tls", ("--tlsfirst", "stream", "ls"), 2, server=True),
    # item 11: exit codes from the README
    Case("url-bad-port", ("-s", "nats://127.0.0.1:99999", "stream", "ls"), 2),
    Case("url-no-host", ("-s", "nats://:4222", "stream", "ls"), 2),
    Case("port-not-nats", ("-s", "nats://127.0.0.1:{silent}", "stream", "ls"), 3),
]


@pytest.fixture(scope="module")
def assets(nats_server: SingleServer) -> Iterator[dict[str, str]]:
    """A stream with a consumer, a KV bucket and an object store on the session server."""
    import secrets

    tag = secrets.token_hex(3).upper()
    names = {"S": f"BAD_S_{tag}", "C": "C1", "B": f"BAD_B_{tag}", "O": f"BAD_O_{tag}"}
    url = nats_server.url

    def ok(*argv: str, input: str | None = None) -> None:
        r = runner.invoke(app, ["-s", url, *argv], input=input)
        assert r.exit_code == 0, (argv, r.stderr)

    ok("stream", "add", names["S"], "--subjects", f"{names['S']}.>", "--defaults")
    ok("consumer", "add", names["S"], "C1", "--pull", "--defaults")
    ok("kv", "add", names["B"])
    ok("kv", "put", names["B"], "k", "v")
    ok("object", "add", names["O"])
    small = Path(os.environ.get("TMPDIR", "/tmp")) / f"small-{tag}.txt"
    small.write_text("hi\n")
    try:
        ok("object", "put", names["O"], str(small), "--name", "small.txt")
    finally:
        small.unlink()
    try:
        yield names
    finally:
        for argv in (("stream", "rm", names["S"], "--force"), ("kv", "rm", names["B"], "--force"),
                     ("object", "rm", names["O"], "--force")):
            runner.invoke(app, ["-s", url, *argv])


@pytest.fixture(scope="module")
def silent_port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path: Path, request: pytest.FixtureRequest,
                   silent_port: int) -> None:
    (tmp_path / "bin.dat").write_bytes(BINARY)
    (tmp_path / "file").write_text("a regular file, not a folder\n")
    values = {"tmp": str(tmp_path), "bin": str(tmp_path / "bin.dat"),
              "file": str(tmp_path / "file"), "silent": str(silent_port)}
    prefix: list[str] = []
    if case.server:
        nats_server: SingleServer = request.getfixturevalue("nats_server")
        values.update(request.getfixturevalue("assets"))
        prefix = ["-s", nats_server.url]
    if case.setup is not None:
        case.setup(tmp_path)
    argv = [*prefix, *(a.format(**values) if "{" in a else a for a in case.argv)]
    r = runner.invoke(app, argv)
    out = r.stdout + r.stderr
    assert "Traceback" not in out and "internal error" not in out, out[-2000:]
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, r.stderr[-2000:]
    assert r.exit_code == case.code, (r.exit_code, r.stderr[-2000:])
    assert case.words.lower() in errors[0].lower(), errors[0]
    for rel in case.absent:
        assert not (tmp_path / rel).exists(), f"{rel} was written"
