"""natsops' config parser against the real `nats-server -t`: same verdict, same digest.

The server is the oracle: for every corpus config it says whether its parser accepts the file
(option errors such as unknown fields come after parsing and do not count) and, when `-t`
passes, prints the digest natsops must reproduce byte for byte.
"""

from __future__ import annotations

import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from natsops.conf import ConfSyntaxError, lint_paths, parse_file
from natsops.findings import Severity
from natsops.render.production import render_production
from tests.conf_corpus import CASES

# Messages of the server's conf package (lexer/parser), as opposed to option processing.
_PARSE_ERRORS = ("Parse error", "variable reference", "error parsing include file",
                 "config is invalid", "is out of the range", "expected integer",
                 "expected float", "expected Zulu", "stack overflow", "goroutine stack")
_DIGEST = re.compile(r"is valid \((sha256:[0-9a-f]{64})\)")


def server_verdict(server_bin: Path, conf: Path) -> tuple[bool, str | None, str]:
    """(parser accepted it, digest when -t passed, stderr)."""
    r = subprocess.run([str(server_bin), "-t", "-c", conf.name], cwd=conf.parent,
                       capture_output=True, text=True, timeout=30, errors="replace")
    m = _DIGEST.search(r.stderr)
    if r.returncode == 0 and m:
        return True, m.group(1), r.stderr
    parse_failed = r.returncode not in (0, 1) or any(s in r.stderr for s in _PARSE_ERRORS)
    return not parse_failed, None, r.stderr


def natsops_verdict(conf: Path) -> tuple[bool, str | None, str]:
    try:
        cfg = parse_file(conf)
    except ConfSyntaxError as exc:
        return False, None, str(exc)
    return True, cfg.digest(), ""


def _write_case(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(text.encode("utf-8"))
    return root / "main.conf"


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 60


def test_parser_agrees_with_server_on_corpus(server_bin: Path, tmp_path: Path) -> None:
    mains = {name: _write_case(tmp_path / name, files) for name, files in CASES.items()}
    with ThreadPoolExecutor(max_workers=8) as pool:
        server = dict(zip(mains, pool.map(lambda p: server_verdict(server_bin, p),
                                          mains.values()), strict=False))
    disagreements = []
    digests_checked = 0
    for name, main in mains.items():
        s_ok, s_digest, s_err = server[name]
        n_ok, n_digest, n_err = natsops_verdict(main)
        if s_ok != n_ok:
            disagreements.append(f"{name}: server {'accepts' if s_ok else 'rejects'} "
                                 f"({s_err.strip()[:120]}), natsops {n_err or 'accepts'}")
        elif s_digest is not None:
            digests_checked += 1
            if s_digest != n_digest:
                disagreements.append(f"{name}: digest {n_digest} != server {s_digest}")
    assert not disagreements, "\n".join(disagreements)
    # both sides of the grammar are exercised
    assert digests_checked >= 40
    assert sum(1 for v in server.values() if not v[0]) >= 20


_ALPHABET = st.sampled_from([*"abcz019_-.:=;,#/ \t\n{}[]()\"'$\\kKmMGgbBiIeE@", "max_payload",
                             "server_name", "true", "include", "2a$", "\r\n"])


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(_ALPHABET, max_size=40).map("".join))
def test_random_configs_agree_with_server(server_bin: Path, tmp_path: Path, text: str) -> None:
    d = tmp_path / f"h{abs(hash(text))}"
    d.mkdir(exist_ok=True)
    conf = d / "main.conf"
    conf.write_text(text)
    s_ok, s_digest, s_err = server_verdict(server_bin, conf)
    n_ok, n_digest, n_err = natsops_verdict(conf)
    assert s_ok == n_ok, f"{text!r}: server {s_err.strip()!r}, natsops {n_err!r}"
    if s_digest is not None:
        assert n_digest == s_digest, repr(text)


def test_rendered_production_configs_lint_clean(server_bin: Path, tmp_path: Path) -> None:
    written = render_production(["nats-1", "nats-2", "nats-3"], tmp_path / "out", name="C1")
    confs = [Path(w.config) for w in written]
    for c in confs:
        ok, digest, err = server_verdict(server_bin, c)
        assert ok, err
        assert digest is not None, err
        assert parse_file(c).digest() == digest
    report = lint_paths(confs)
    fails = [f for f in report.findings if f.severity >= Severity.FAIL]
    assert not fails, [(str(f.location), f.id, f.message) for f in fails]


def test_environment_variables_agree(server_bin: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATSOPS_TEST_MP", "3MB")
    monkeypatch.setenv("NATSOPS_TEST_CHAIN", "$NATSOPS_TEST_MP")
    conf = tmp_path / "main.conf"
    conf.write_text("max_payload: $NATSOPS_TEST_CHAIN\ndebug: $NATSOPS_TEST_MP_B\n")
    monkeypatch.setenv("NATSOPS_TEST_MP_B", "yes")
    assert os.environ["NATSOPS_TEST_MP"] == "3MB"
    s_ok, s_digest, _ = server_verdict(server_bin, conf)
    n_ok, n_digest, _ = natsops_verdict(conf)
    assert s_ok
    assert n_ok
    assert s_digest == n_digest
    assert parse_file(conf).get("max_payload").value == 3 * 1024 * 1024  # type: ignore[union-attr]


# `-t` passes these, the server refuses to start (conf-grammar §4.2); lint must say FAIL.
_BASE = 'listen: "127.0.0.1:-1"\n'
_JS = 'jetstream { store_dir: "STORE", max_memory_store: 64MB, max_file_store: 64MB }\n'
START_FAILURES = {
    "conf/max-payload": _BASE + "max_payload: 8MB\nmax_pending: 4MB\n",
    "conf/lame-duck": _BASE + 'lame_duck_duration: "30s"\nlame_duck_grace_period: "40s"\n',
    "conf/server-name": _BASE + _JS + 'cluster { name: C1, listen: "127.0.0.1:-1", '
                        "no_advertise: true, routes: [nats://127.0.0.1:1] }\n",
    "conf/jetstream-domain": _BASE + _JS.replace("}", ', domain: "a.b" }') + "server_name: d\n",
    "conf/cluster-settings": _BASE + 'cluster { name: C1, listen: "127.0.0.1:-1", '
                             "compression: bogus }\n",
    "conf/monitor": _BASE + 'https: "127.0.0.1:-1"\n',
}


@pytest.mark.parametrize("rule_id", sorted(START_FAILURES))
def test_start_failures_are_lint_fails(rule_id: str, server_bin: Path, tmp_path: Path) -> None:
    conf = tmp_path / "main.conf"
    conf.write_text(START_FAILURES[rule_id].replace("STORE", str(tmp_path / "js")))
    _, digest, err = server_verdict(server_bin, conf)
    assert digest is not None, err  # `nats-server -t` says the file is valid
    proc = subprocess.Popen([str(server_bin), "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, errors="replace")
    try:
        _, stderr = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"nats-server started with {conf.read_text()!r}")
    assert proc.returncode != 0, stderr
    fails = {f.id for f in lint_paths([conf]).findings if f.severity is Severity.FAIL}
    assert rule_id in fails, (stderr.strip().splitlines()[-1:], fails)


# `-t` rejects these after parsing (option errors or warnings); lint must say FAIL too.
T_FAILURES = {
    "conf/duration-integer": "ping_interval: 2m\n",
    "conf/unknown-field": "prevent_gateway_dial_through_routes: true\n",
    "conf/size-quoted": 'max_payload: "2MB"\n',
    "conf/quoted-scalar": 'port: "4222"\n',
    "conf/write-timeout": "write_timeout: Close\n",
    "conf/lame-duck": 'lame_duck_duration: "5s"\n',
    "conf/duration-invalid": 'ping_interval: "1d"\n',
}


@pytest.mark.parametrize("rule_id", sorted(T_FAILURES))
def test_dash_t_failures_are_lint_fails(rule_id: str, server_bin: Path, tmp_path: Path) -> None:
    conf = tmp_path / "main.conf"
    conf.write_text(T_FAILURES[rule_id])
    r = subprocess.run([str(server_bin), "-t", "-c", str(conf)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 1, r.stderr
    fails = {f.id for f in lint_paths([conf]).findings if f.severity is Severity.FAIL}
    assert rule_id in fails, (r.stderr, fails)
