"""Lint matches URLs to listeners by address (wildcard binds, names, unresolvable names), and
checks certificate files: in a topology (file:line errors) and in configs (conf/tls-files,
set/tls-sans). No network: names are localhost and the never-resolving .invalid."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from natsops.conf.lint import lint_texts
from natsops.findings import Finding, Severity
from natsops.tls import CertKey, check_server_cert, generate_ca, issue_cert, write_pair
from natsops.topology import TopologyError, parse_topology
from tests.unit.test_topology import BASE

NOW = dt.datetime.now(dt.timezone.utc)


def _set(findings: list[Finding], rule: str) -> list[Finding]:
    return [f for f in findings if f.id == rule]


def _member(i: int, listen: str, routes: list[str], extra: str = "") -> str:
    return (f"server_name: n{i}\ncluster {{ name: C1, listen: \"{listen}\", {extra} "
            f"routes: [{', '.join(routes)}] }}\n")


def test_wildcard_listener_matches_only_its_own_addresses() -> None:
    files = {
        "n1.conf": _member(1, "0.0.0.0:6222", ["nats://10.0.0.2:6222"],
                           'advertise: "10.0.0.1:6222",'),
        "n2.conf": _member(2, "0.0.0.0:6222", ["nats://10.0.0.1:6222", "nats://10.0.0.9:6222"],
                           'advertise: "10.0.0.2:6222",'),
    }
    found = _set(lint_texts(files, env={}).findings, "set/route-targets")
    # before, 10.0.0.9:6222 matched any 0.0.0.0:6222 listener by its port
    assert [f.message for f in found] == [
        "route to 10.0.0.9:6222: no config of cluster C1 listens there"]
    how = found[0].evidence["listeners"]
    assert {h["file"] for h in how} == {"n1.conf", "n2.conf"}
    assert all(h["match"] == "no" and "none of its addresses" in h["how"] for h in how)
    assert "10.0.0.1 (cluster.advertise)" in how[0]["how"]


def test_loopback_url_reaches_the_dialers_own_machine_only() -> None:
    files = {
        "n1.conf": _member(1, "0.0.0.0:6222", ["nats://127.0.0.1:6223"],
                           'advertise: "10.0.0.1:6222",'),
        "n2.conf": _member(2, "0.0.0.0:6223", ["nats://10.0.0.1:6222"],
                           'advertise: "10.0.0.2:6223",'),
    }
    [f] = _set(lint_texts(files, env={}).findings, "set/route-targets")
    assert f.location is not None and f.location.file == "n1.conf"
    assert "the dialing server's own machine (10.0.0.1)" in f.evidence["listeners"][0]["how"]
    same = {**files, "n2.conf": files["n2.conf"].replace("10.0.0.2", "10.0.0.1")}
    assert _set(lint_texts(same, env={}).findings, "set/route-targets") == []


def test_a_name_matches_the_ip_it_resolves_to(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from natsops.conf import hosts

    monkeypatch.setitem(hosts._RESOLVED, "nats-b.example", (time.monotonic(),
                                                            frozenset({"10.0.0.2"})))
    files = {
        "n1.conf": _member(1, "10.0.0.1:6222", ["nats://nats-b.example:6222"]),
        "n2.conf": _member(2, "10.0.0.2:6222", ["nats://10.0.0.1:6222"]),
    }
    assert _set(lint_texts(files, env={}).findings, "set/route-targets") == []
    files["n2.conf"] = _member(2, "10.0.0.3:6222", ["nats://10.0.0.1:6222"])
    [f] = _set(lint_texts(files, env={}).findings, "set/route-targets")
    assert "nats-b.example (10.0.0.2) is not 10.0.0.3 (10.0.0.3)" in {
        h["how"].split(": ", 1)[1] for h in f.evidence["listeners"]}


def test_names_resolve_and_an_unresolvable_name_is_said_so() -> None:
    files = {
        "n1.conf": _member(1, "127.0.0.1:6222", ["nats://localhost:6223"]),
        "n2.conf": _member(2, "localhost:6223", ["nats://127.0.0.1:6222",
                                                 "nats://nowhere.invalid:6222"]),
    }
    found = lint_texts(files, env={}).findings
    routes = _set(found, "set/route-targets")
    assert len(routes) == 1 and routes[0].severity == Severity.WARN
    assert "nowhere.invalid does not resolve" in routes[0].message
    assert "no config" not in routes[0].message


def test_wildcard_without_addresses_matches_by_port_and_says_so() -> None:
    from natsops.conf.hosts import HostMatcher, Listener
    from natsops.conf.parser import parse_text

    cfg = parse_text(_member(1, "0.0.0.0:6222", []), "n1.conf", env={})
    v = HostMatcher().reaches("10.1.1.1", Listener(cfg, "cluster", "0.0.0.0", 6222))
    assert v.match and "matched by port only" in v.how


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    d = tmp_path_factory.mktemp("pki")
    root = generate_ca("root", path_length=1)
    inter = generate_ca("inter", parent=root, not_after=NOW + dt.timedelta(days=10))
    other = generate_ca("other")
    write_pair(root, d / "ca.pem", d / "ca-key.pem")
    write_pair(other, d / "other.pem", d / "other-key.pem")
    for n, ip in (("e1", "10.0.0.1"), ("e2", "10.0.0.2"), ("e3", "10.0.0.3")):
        write_pair(issue_cert(root, n, ip_addresses=[ip]), d / f"{n}.pem", d / f"{n}-key.pem")
    write_pair(issue_cert(root, "e1", dns_names=["e1"]), d / "nosan.pem", d / "nosan-key.pem")
    old = issue_cert(root, "e1", ip_addresses=["10.0.0.1"], not_after=NOW - dt.timedelta(days=1))
    write_pair(old, d / "old.pem", d / "old-key.pem")
    soon = issue_cert(root, "e1", ip_addresses=["10.0.0.1"], not_after=NOW + dt.timedelta(days=5))
    write_pair(soon, d / "soon.pem", d / "soon-key.pem")
    wrong = issue_cert(other, "e1", ip_addresses=["10.0.0.1"])
    write_pair(wrong, d / "wrong.pem", d / "wrong-key.pem")
    chained = issue_cert(inter, "e1", ip_addresses=["10.0.0.1"])
    write_pair(CertKey(chained.cert_pem + inter.cert_pem, chained.key_pem), d / "chained.pem",
               d / "chained-key.pem")
    return {"dir": d}


TOPO = BASE + """\
tls:
  ca: ca.pem
  certs:
    e1: {cert: CERT, key: KEY}
    e2: {cert: e2.pem, key: e2-key.pem}
    e3: {cert: e3.pem, key: e3-key.pem}
"""


@pytest.mark.parametrize(("cert", "key", "error"), [
    ("nosan.pem", "nosan-key.pem", r"t\.yaml:11: tls\.certs\.e1\.cert: .*nosan\.pem: its SANs "
     r"\(DNS:e1\) do not cover 10\.0\.0\.1"),
    ("old.pem", "old-key.pem", r"t\.yaml:11: tls\.certs\.e1\.cert: .*old\.pem: the certificate "
     "expired on"),
    ("e1.pem", "e2-key.pem", r"t\.yaml:11: tls\.certs\.e1\.key: .*e2-key\.pem: this private key "
     "does not belong"),
    ("wrong.pem", "wrong-key.pem", r"t\.yaml:11: tls\.certs\.e1\.cert: .*wrong\.pem: does not "
     r"chain to the CA in .*ca\.pem.*issuer CN=other"),
])
def test_topology_certificates_are_checked_at_load(pki: dict[str, Path], cert: str, key: str,
                                                   error: str) -> None:
    text = TOPO.replace("CERT", cert).replace("KEY", key)
    with pytest.raises(TopologyError, match=error):
        parse_topology(text, str(pki["dir"] / "t.yaml"))


def test_topology_certificates_quiet_and_near_expiry_warns(pki: dict[str, Path]) -> None:
    ok = parse_topology(TOPO.replace("CERT", "e1.pem").replace("KEY", "e1-key.pem"),
                        str(pki["dir"] / "t.yaml"))
    assert ok.warnings == ()
    chained = parse_topology(TOPO.replace("CERT", "chained.pem").replace("KEY",
                                                                         "chained-key.pem"),
                             str(pki["dir"] / "t.yaml"))
    assert any("intermediate CN=inter expires in" in w and ":11:" in w
               for w in chained.warnings)  # an intermediate in the file, chained to the root
    soon = parse_topology(TOPO.replace("CERT", "soon.pem").replace("KEY", "soon-key.pem"),
                          str(pki["dir"] / "t.yaml"))
    assert any("the certificate expires in" in w for w in soon.warnings)


def _tls_conf(i: int, cert: str, routes: list[str], d: Path) -> str:
    return (f"server_name: e{i}\ncluster {{ name: C1, listen: \"10.0.0.{i}:6222\", "
            f"routes: [{', '.join(routes)}]\n tls {{ cert_file: \"{d}/{cert}.pem\", "
            f"key_file: \"{d}/{cert}-key.pem\", ca_file: \"{d}/ca.pem\" }} }}\n")


def test_lint_checks_certificate_files_and_sans(pki: dict[str, Path]) -> None:
    d = pki["dir"]
    good = {f"e{i}.conf": _tls_conf(i, f"e{i}", [f"nats://10.0.0.{j}:6222" for j in (1, 2, 3)
                                                  if j != i], d) for i in (1, 2, 3)}
    found = lint_texts(good, env={}).findings
    assert not [f for f in found if f.id in ("conf/tls-files", "set/tls-sans")]
    bad = {**good, "e1.conf": _tls_conf(1, "nosan", ["nats://10.0.0.2:6222"], d),
           "e2.conf": _tls_conf(2, "old", ["nats://10.0.0.1:6222"], d),
           "e3.conf": _tls_conf(3, "wrong", ["nats://10.0.0.1:6222"], d)}
    found = lint_texts(bad, env={}).findings
    files = {(f.location.file if f.location else "", f.evidence.get("problem"))
             for f in _set(found, "conf/tls-files")}
    assert ("e2.conf", "expired") in files and ("e3.conf", "chain") in files
    sans = _set(found, "set/tls-sans")
    # e2 and e3 dial e1 (certificate for DNS:e1 only); e1 dials e2 (issued for 10.0.0.1)
    assert {f.location.file for f in sans if f.location} == {"e1.conf", "e2.conf", "e3.conf"}
    to_e1 = next(f for f in sans if f.location and f.location.file == "e2.conf")
    assert "does not cover 10.0.0.1" in to_e1.message and to_e1.evidence["sans"] == ["DNS:e1"]
    chain = {f.location.file: f.severity for f in _set(found, "conf/tls-files")
             if f.location and f.evidence.get("problem") == "chain"}
    assert chain == {"e3.conf": Severity.FAIL}  # routes: the nodes share one CA
    client = lint_texts({"c.conf": f'tls {{ cert_file: "{d}/wrong.pem", key_file: '
                                   f'"{d}/wrong-key.pem", ca_file: "{d}/ca.pem" }}\n'}, env={})
    [warn] = _set(client.findings, "conf/tls-files")  # clients may trust another CA
    assert warn.severity == Severity.WARN and "ca_file verifies the peers" in warn.message
    missing = lint_texts({"m.conf": "tls { cert_file: /nonexistent/x.pem }\n"}, env={})
    [info] = _set(missing.findings, "conf/tls-files")
    assert info.severity == Severity.INFO and "not checked here" in info.message


def test_check_server_cert_names_each_problem(pki: dict[str, Path]) -> None:
    d = pki["dir"]
    kinds = {p.kind for p in check_server_cert(d / "soon.pem", d / "e2-key.pem", d / "other.pem",
                                               ["10.0.0.1", "e1.example.com"])}
    assert kinds == {"expiring", "key", "chain", "sans"}


def test_topology_ca_to_issue_from_is_checked(pki: dict[str, Path]) -> None:
    base = BASE + "tls: {generate: true, ca: ca.pem, ca_key: KEY}\n"
    assert parse_topology(base.replace("KEY", "ca-key.pem"), str(pki["dir"] / "t.yaml"))
    with pytest.raises(TopologyError, match=r"t\.yaml:8: tls\.ca_key: .*other-key\.pem: this "
                       "private key does not belong"):
        parse_topology(base.replace("KEY", "other-key.pem"), str(pki["dir"] / "t.yaml"))
