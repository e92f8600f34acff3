"""Topology files: validation errors name file:line and the field; rendering is pure and
deterministic; relocation, passwords, certificates, Helm values and Prometheus files."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml

from natsops.conf.lint import lint_texts
from natsops.errors import Conflict, UsageError
from natsops.findings import Severity
from natsops.render import data_dir
from natsops.tls import cert_info, generate_ca, issue_cert
from natsops.topology import (
    Ports,
    TopologyError,
    load_topology,
    parse_topology,
    relocate,
    render_server_config,
    resolve_passwords,
)
from natsops.topology.prometheus import alert_rules, exporter_commands, render_prometheus
from natsops.topology.render import helm_values, node_sans, render_topology

EXAMPLES = sorted((data_dir("recipes") / "topologies").glob("*.yaml"))
ENV = {"NATS_OPS_PASSWORD": "ops-Secret-1"}

BASE = """\
name: t
clusters:
  - name: east
    nodes:
      - {name: e1, host: 10.0.0.1}
      - {name: e2, host: 10.0.0.2}
      - {name: e3, host: 10.0.0.3}
"""


def _topo(text: str = BASE, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return parse_topology(text, "topo.yaml", env=env or {})


def test_examples_ship() -> None:
    assert {p.name for p in EXAMPLES} >= {"single-cluster.yaml", "supercluster.yaml",
                                          "hub-leaf.yaml", "tls.yaml"}


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (BASE + "      - {name: e1, host: 10.0.0.4}\n", "topo.yaml:8: clusters[0].nodes[3].name: server name 'e1' is already used at line 5"),
        (BASE.replace("name: t\n", ""), "topo.yaml:1: name: missing"),
        (BASE + "leafs:\n  - {name: s1, hub: west, account: APP, domain: d1,\n"
                "     nodes: [{name: l1, host: 10.1.0.1}]}\n", "topo.yaml:9: leafs[0].hub"),
        (BASE + "leafs:\n  - {name: s1, hub: east, account: NOPE, domain: d1,\n"
                "     nodes: [{name: l1, host: 10.1.0.1}]}\n", "leafs[0].account"),
        (BASE + "leafs:\n  - {name: s1, hub: east, account: APP,\n"
                "     nodes: [{name: l1, host: 10.1.0.1}]}\n", "leafs[0].domain: missing"),
        (BASE + "domain: d1\nleafs:\n  - {name: s1, hub: east, account: APP, domain: d1,\n"
                "     nodes: [{name: l1, host: 10.1.0.1}]}\n", "already used by the clusters"),
        (BASE + "leafs:\n  - {name: s1, hub: east, account: APP, domain: d1,\n"
                "     nodes: [{name: l1, host: 10.1.0.1}]}\n"
                "  - {name: s2, hub: east, account: APP, domain: d1,\n"
                "     nodes: [{name: l2, host: 10.1.0.2}]}\n", "topo.yaml:11: leafs[1].domain"),
        (BASE.replace("{name: e3, host: 10.0.0.3}",
                      "{name: e3, host: 10.0.0.2, ports: {client: 4223, monitor: 6222}}"),
         "topo.yaml:7: clusters[0].nodes[2].ports: port 6222 on host 10.0.0.2 is already the "
         "cluster port of e2"),
        (BASE.replace("host: 10.0.0.3", "host: 10.0.0.3, ports: {client: 70000}"),
         "clusters[0].nodes[2].ports.client: invalid port"),
        (BASE + "auth:\n  accounts:\n    APP:\n      users:\n        - {user: a, password: x}\n",
         "topo.yaml:12: auth.accounts.APP.users[0].password: passwords are never written"),
        (BASE + "gateways: [[east, west]]\n", "topo.yaml:8: gateways[0]: no cluster named"),
        (BASE + "jetstream: {max_file: 10XB}\n", "unknown field"),
        (BASE.replace("host: 10.0.0.1}", "host: 10.0.0.1, jetstream: {max_file: 10XB}}"),
         "topo.yaml:5: clusters[0].nodes[0].jetstream.max_file"),
        (BASE + "  - name: west\n    nodes: [{name: w1, host: 10.0.1.1}]\n",
         "topo.yaml:9: clusters[1].nodes: cluster west has one node"),
        (BASE + "tls: {ca: ca.pem, certs: {e1: {cert: a, key: b}}}\n", "no certificate for"),
        (BASE + "monitor: everywhere\n", "topo.yaml:8: monitor"),
        ("name: t\nclusters: [\n", "topo.yaml:3: invalid YAML"),
    ],
)
def test_validation_errors_name_file_line_and_field(text: str, where: str) -> None:
    with pytest.raises(TopologyError) as exc:
        _topo(text)
    assert where in str(exc.value)
    assert exc.value.exit_code == 2


def test_warnings_for_even_clusters_and_defaults() -> None:
    lt = _topo(BASE.replace("      - {name: e3, host: 10.0.0.3}\n", ""))
    assert lt.warnings and "topo.yaml:4: clusters[0].nodes: cluster east has 2 nodes" in \
        lt.warnings[0]
    t = _topo().topology
    assert t.node("e1").ports == Ports() and t.monitor == "local"
    assert t.auth.account("APP") is not None  # a default APP account with user app


def test_a_core_only_cluster_in_a_jetstream_supercluster_is_a_warning() -> None:
    text = BASE + ("  - name: west\n    nodes: [{name: w1, host: 10.9.0.1, "
                   "jetstream: {enabled: false}}]\n")
    assert not [w for w in _topo(text).warnings if "without JetStream" in w]  # no leaf site
    text += ("leafs:\n  - {name: site, hub: east, account: APP, domain: edge, "
             "nodes: [{name: l1, host: 10.8.0.1}]}\n")
    (w,) = [w for w in _topo(text).warnings if "without JetStream" in w]
    assert "clusters[1].nodes: cluster west runs without JetStream in a supercluster" in w
    assert "leaf site(s) site sharing the system account" in w
    assert "never elect a meta leader" in w


def test_gateways_default_to_every_pair_and_join_every_cluster() -> None:
    text = BASE + "".join(f"  - name: {c}\n    nodes: [{{name: {c}1, host: 10.9.{i}.1}}, "
                          f"{{name: {c}2, host: 10.9.{i}.2}}, {{name: {c}3, host: 10.9.{i}.3}}]\n"
                          for i, c in enumerate(("west", "north")))
    t = _topo(text).topology
    assert t.gateways == (("east", "west"), ("east", "north"), ("west", "north"))
    assert t.gateway_peers("west") == ("east", "north")
    pairs = _topo(text + "gateways: [[west, east], [north, west]]\n").topology
    assert pairs.gateways == (("east", "west"), ("west", "north"))
    with pytest.raises(TopologyError, match="north is not joined"):
        _topo(text + "gateways: [[west, east]]\n")


def test_every_example_loads() -> None:
    for p in EXAMPLES:
        assert load_topology(p, ENV).topology.clusters


def test_relocate_keeps_the_shape_and_moves_addresses(tmp_path: Path) -> None:
    t = load_topology(data_dir("recipes") / "topologies" / "hub-leaf.yaml").topology
    local = relocate(t, root=tmp_path)
    ports = [p for n in local.all_nodes() for p in n.ports.as_dict().values()]
    assert len(set(ports)) == len(ports)
    assert all(n.host == n.listen == "127.0.0.1" for n in local.all_nodes())
    assert local.node("store17-1").jetstream.store_dir == str(tmp_path / "store17-1" /
                                                                 "jetstream")
    assert [c.name for c in local.clusters] == ["hub"] and local.leafs[0].domain == "store17"
    fixed = relocate(t, ports={"hub-1": Ports(1, 2, 3, 4, 5)})
    assert fixed.node("hub-1").ports == Ports(1, 2, 3, 4, 5)


def test_passwords_hash_with_bcrypt_and_come_back_from_the_secrets_file(tmp_path: Path) -> None:
    import bcrypt

    from natsops.topology import save_passwords

    t = load_topology(data_dir("recipes") / "topologies" / "supercluster.yaml", ENV).topology
    pw = resolve_passwords(t, ENV, cost=4)
    assert pw.password("user:APP:ops") == "ops-Secret-1"
    assert pw.hash("gateway").startswith("$2a$04$")
    assert bcrypt.checkpw(b"ops-Secret-1", pw.hash("user:APP:ops").encode())
    assert "ops-Secret-1" not in repr(pw)
    f = tmp_path / "s.json"
    save_passwords(pw, f)
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert "ops-Secret-1" not in f.read_text()  # from the environment: never stored
    again = resolve_passwords(t, ENV, saved=f, cost=4)
    assert again.clear == pw.clear and again.hashes == pw.hashes
    with pytest.raises(UsageError, match=r"supercluster.yaml:\d+: APP:ops: password_env "
                                         "NATS_OPS_PASSWORD is not set"):
        resolve_passwords(t, {}, cost=4)


def test_server_config_holds_hashes_and_includes_the_dialed_urls() -> None:
    t = load_topology(data_dir("recipes") / "topologies" / "supercluster.yaml", ENV).topology
    pw = resolve_passwords(t, ENV, cost=4)
    conf = render_server_config(t, "east-2", pw)
    assert conf.secrets is not None
    for clear in pw.clear.values():
        assert clear not in conf.text
    assert 'name: "east"' in conf.text and 'gateway {' in conf.text
    assert 'include "nats-server.secrets"' in conf.text
    assert 'http: "127.0.0.1:8222"' in conf.text
    assert "@nats-east-1.example.com:6222" in conf.secrets
    assert "@nats-east-2.example.com" not in conf.secrets  # never a route to itself
    assert conf.secrets.count("nats://gateway:") == 3  # the three west servers
    assert conf == render_server_config(t, "east-2", pw)  # pure and deterministic


def test_leaf_config_binds_the_account_and_the_domain() -> None:
    t = load_topology(data_dir("recipes") / "topologies" / "hub-leaf.yaml").topology
    pw = resolve_passwords(t, {}, cost=4)
    leaf = render_server_config(t, "store17-1", pw)
    assert 'domain: "store17"' in leaf.text and 'account: "EDGE"' in leaf.text
    assert leaf.secrets is not None and leaf.secrets.count("nats-leaf://leaf-store17:") == 3
    hub = render_server_config(t, "hub-1", pw)
    assert 'domain: "hub"' in hub.text
    assert '{ user: "leaf-store17", password: "$2a$04$' in hub.text
    assert 'account: "EDGE" }' in hub.text and 'listen: "0.0.0.0:7422"' in hub.text


def test_certificates_carry_the_node_sans(tmp_path: Path) -> None:
    t = load_topology(data_dir("recipes") / "topologies" / "tls.yaml").topology
    ca = generate_ca("test CA")
    dns, ips = node_sans(t.node("nats-c"))
    info = cert_info(issue_cert(ca, "nats-c", dns_names=dns, ip_addresses=ips).cert_pem)
    assert set(info.ip_addresses) == {"10.2.0.13", "127.0.0.1"}
    assert set(info.dns_names) == {"nats-c", "localhost"}
    assert not info.is_ca and cert_info(ca.cert_pem).is_ca
    dns, _ = node_sans(t.node("nats-a"))
    assert "nats-a.internal.example.com" in dns


def test_render_dry_run_writes_nothing_and_render_writes_private_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    p = data_dir("recipes") / "topologies" / "tls.yaml"
    dry = render_topology(p, out, {}, dry_run=True, bcrypt_cost=4)
    assert dry.dry_run and not out.exists()
    r = render_topology(p, out, {}, bcrypt_cost=4)
    assert [f.path for f in r.files] == [f.path for f in dry.files]
    for f in r.files:
        mode = stat.S_IMODE((out / f.path).stat().st_mode)
        assert (mode == 0o600) == f.private, f
    kinds = {f.kind for f in r.files if f.server == "nats-a"}
    assert kinds == {"config", "include", "unit", "ca", "cert", "key"}
    info = cert_info((out / "nats-a" / "tls" / "server.pem").read_bytes())
    assert "nats-a.internal.example.com" in info.dns_names
    conf = (out / "nats-a" / "nats-server.conf").read_text()
    assert 'https: "127.0.0.1:8222"' in conf and "verify: true" in conf
    with pytest.raises(Conflict, match="--force"):  # node certificates are issued anew
        render_topology(p, out, {}, bcrypt_cost=4)
    ca = (out / "tls" / "ca.pem").read_bytes()
    render_topology(p, out, {}, force=True, bcrypt_cost=4)
    assert (out / "tls" / "ca.pem").read_bytes() == ca  # the CA is kept


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_helm_values_lint_clean(path: Path) -> None:
    t = load_topology(path, ENV).topology
    pw = resolve_passwords(t, ENV, cost=4)
    for c in t.clusters:
        v = helm_values(t, c, pw)
        assert v["statefulSet"]["name"] == c.name  # the chart's cluster and gateway name
        assert v["config"]["cluster"]["replicas"] % 2 == 1
        assert v["statefulSet"]["merge"]["spec"]["podManagementPolicy"] == "Parallel"
        assert v["container"]["merge"]["startupProbe"]["httpGet"]["path"] == "/healthz"
        text = yaml.safe_dump(v)
        report = lint_texts({f"{c.name}.values.yaml": text})
        assert report.files == {f"{c.name}.values.yaml": "helm"}
        assert [f for f in report.findings if f.severity >= Severity.WARN] == []


def test_prometheus_files(tmp_path: Path) -> None:
    p = data_dir("recipes") / "topologies" / "hub-leaf.yaml"
    t = load_topology(p).topology
    cmds = {c.server: c for c in exporter_commands(t)}
    assert "-gatewayz" not in cmds["hub-1"].argv and "-leafz" in cmds["hub-1"].argv
    assert "-jsz=all" in cmds["store17-1"].argv and "-healthz" in cmds["store17-1"].argv
    assert cmds["hub-1"].argv[-1] == "http://127.0.0.1:8222"
    rules = alert_rules(t)
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    assert 'natsops_doctor_finding{check="js-domains",severity=~"warn|fail"} == 1' in exprs
    assert any("nats_healthz_status" in e for e in exprs)
    assert any('nats_varz_leafnodes{server_id=~"store17-1"}' in e for e in exprs)
    tls = load_topology(data_dir("recipes") / "topologies" / "tls.yaml").topology
    c = exporter_commands(tls)[0]
    assert c.argv[-1] == "https://localhost:8222" and dict(c.env)["SSL_CERT_FILE"]
    out = tmp_path / "prom"
    assert render_prometheus(p, out, {}, dry_run=True).exporters[0].argv != ()
    assert not out.exists()
    r = render_prometheus(p, out, {})
    scrape = yaml.safe_load((out / "prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in scrape["scrape_configs"]}
    assert jobs["natsops-doctor"]["static_configs"][0]["targets"] == ["localhost:9119"]
    assert len(jobs["nats"]["static_configs"]) == 4 and len(r.files) == 3
    assert yaml.safe_load((out / "natsops-alerts.yml").read_text())["groups"]


def test_doctor_alert_rules_select_what_doctor_serve_exports() -> None:
    """Every doctor check has a rule, and its selector matches the samples `doctor --serve`
    renders for a WARN and a FAIL finding of that check (parsed by a real text parser)."""
    import re

    from prometheus_client.parser import text_string_to_metric_families

    from natsops.doctor.metrics import render_metrics
    from natsops.doctor.registry import all_checks
    from natsops.findings import Finding
    from natsops.monitoring.snapshot import ServerView, Snapshot

    t = load_topology(data_dir("recipes") / "topologies" / "single-cluster.yaml").topology
    rules = [r for g in alert_rules(t)["groups"] for r in g["rules"]]
    selectors = {}
    for r in rules:
        m = re.fullmatch(r'natsops_doctor_finding\{check="([^"]+)",severity=~"([a-z|]+)"\} == 1',
                         r["expr"])
        if m:
            selectors[m.group(1)] = set(m.group(2).split("|"))
    assert set(selectors) == {c.id for c in all_checks()}
    snap = Snapshot(servers=(ServerView(name="n1", id="X", varz={}),), transport="http",
                    seconds=0.1)
    findings = [f for c in all_checks() for f in (Finding.warn(c.id, "s", "m"),
                                                  Finding.fail(c.id, "s2", "m"))]
    text = render_metrics(snap, findings, gathered_at=1.0)
    seen = {(s.labels["check"], s.labels["severity"]) for fam in
            text_string_to_metric_families(text) for s in fam.samples
            if s.name == "natsops_doctor_finding" and s.value == 1}
    for check_id, sevs in selectors.items():
        assert {(check_id, s) for s in sevs} <= seen
    assert "natsops_doctor_up" in text


def test_public_monitor_and_leaf_without_the_system_account() -> None:
    text = BASE + ("monitor: public\nleafs:\n  - {name: s1, hub: east, account: APP, domain: d1,"
                   " system: false,\n     nodes: [{name: l1, host: 10.1.0.1}]}\n")
    t = _topo(text).topology
    pw = resolve_passwords(t, {}, cost=4)
    assert "leaf-sys:s1" not in pw.clear
    leaf = render_server_config(t, "l1", pw)
    assert 'http: "0.0.0.0:8222"' in leaf.text and leaf.text.count("{ urls:") == 1
    with pytest.raises(TopologyError, match=r"topo\.yaml:8: gateways: use all"):
        _topo(BASE + "gateways: none\n")


def test_existing_certificates_and_an_existing_ca(tmp_path: Path) -> None:
    from natsops.tls import write_pair

    ca = generate_ca("corp CA")
    write_pair(ca, tmp_path / "pki" / "ca.pem", tmp_path / "pki" / "ca-key.pem")
    certs = ""
    for i, n in enumerate(("e1", "e2", "e3"), start=1):  # SANs cover the hosts peers dial
        write_pair(issue_cert(ca, n, dns_names=[n], ip_addresses=[f"10.0.0.{i}"]),
                   tmp_path / "pki" / f"{n}.pem",
                   tmp_path / "pki" / f"{n}-key.pem")
        certs += f"    {n}: {{cert: pki/{n}.pem, key: pki/{n}-key.pem}}\n"
    topo = tmp_path / "t.yaml"  # paths are relative to the topology file
    topo.write_text(BASE + "tls:\n  ca: pki/ca.pem\n  certs:\n" + certs)
    r = render_topology(topo, tmp_path / "out", {}, bcrypt_cost=4)
    assert "tls/ca-key.pem" not in {f.path for f in r.files}  # no CA key of ours
    assert (tmp_path / "out" / "e2" / "tls" / "server.pem").read_bytes() == \
        (tmp_path / "pki" / "e2.pem").read_bytes()
    assert stat.S_IMODE((tmp_path / "out" / "e2" / "tls" / "server-key.pem").stat().st_mode) \
        == 0o600
    issued = tmp_path / "i.yaml"
    issued.write_text(BASE + "tls: {generate: true, ca: pki/ca.pem, ca_key: pki/ca-key.pem}\n")
    render_topology(issued, tmp_path / "out2", {}, bcrypt_cost=4)
    info = cert_info((tmp_path / "out2" / "e1" / "tls" / "server.pem").read_bytes())
    assert info.issuer == "CN=corp CA" and "10.0.0.1" in info.ip_addresses
    assert not (tmp_path / "out2" / "tls" / "ca-key.pem").exists()


def test_render_again_is_fine_unless_a_file_differs(tmp_path: Path) -> None:
    """Without generated certificates a re-render writes the same files (passwords kept): a CI
    re-run passes; a file edited by hand is refused (nothing written) unless force."""
    out = tmp_path / "out"
    p = data_dir("recipes") / "topologies" / "hub-leaf.yaml"
    render_topology(p, out, {}, bcrypt_cost=4)
    conf = out / "hub-1" / "nats-server.conf"
    first = conf.read_text()
    render_topology(p, out, {}, bcrypt_cost=4)
    assert conf.read_text() == first
    conf.write_text(first + "# edited by hand\n")
    readme = out / "README.md"
    readme.unlink()
    with pytest.raises(Conflict, match=r"nats-server.conf exists with other content; pass "
                                       r"--force to overwrite \(passwords and the CA are kept"):
        render_topology(p, out, {}, bcrypt_cost=4)
    assert not readme.exists()
    render_topology(p, out, {}, force=True, bcrypt_cost=4)
    assert conf.read_text() == first and readme.exists()
