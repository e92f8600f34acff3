"""Every lint rule: one config that triggers it and one that does not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from natsops.conf import RULES, lint_paths, lint_texts
from natsops.errors import UsageError
from natsops.findings import Finding, Severity

GOOD_JS = 'jetstream { store_dir: "/var/lib/nats", max_memory_store: 1GB, max_file_store: 10GB }\n'

# rule id -> (config that triggers it, config that does not)
CONF_CASES: dict[str, tuple[str, str]] = {
    "conf/unknown-field": ("prevent_gateway_dial_through_routes: true\n", "max_payload: 1MB\n"),
    "conf/duration-integer": ("ping_interval: 2m\n", 'ping_interval: "2m"\n'),
    "conf/duration-invalid": ('ping_interval: "1d"\n', 'ping_interval: "24h"\n'),
    "conf/duration-unquoted": ("write_deadline: 10s\n", 'write_deadline: "10s"\n'),
    "conf/size-decimal-suffix": ("max_payload: 1M\n", "max_payload: 1MB\n"),
    "conf/size-quoted": ('max_payload: "2MB"\n', "max_payload: 2MB\n"),
    "conf/max-payload": ("max_payload: 8MB\nmax_pending: 4MB\n", "max_payload: 1MB\n"),
    "conf/write-deadline": ('write_deadline: "1ms"\n', 'write_deadline: "5s"\n'),
    "conf/lame-duck": ('lame_duck_duration: "30s"\nlame_duck_grace_period: "30s"\n',
                       'lame_duck_duration: "30s"\nlame_duck_grace_period: "10s"\n'),
    "conf/server-name": ("server_name: a.b*c\n", "server_name: n1\n"),
    "conf/cluster-name": (f"server_name: n1\n{GOOD_JS}cluster {{ routes: [nats://a:6222] }}\n",
                          f"server_name: n1\n{GOOD_JS}cluster {{ name: C1, routes: "
                          "[nats://a:6222], no_advertise: true }\n"),
    "conf/cluster-settings": ("cluster { name: C1, pool_size: -1, no_advertise: true }\n",
                              "cluster { name: C1, pool_size: 3, no_advertise: true }\n"),
    "conf/leaf-remote-url": ("leafnodes { remotes: [{ url: \"myhost:7422\" }] }\n",
                             "leafnodes { remotes: [{ url: \"nats-leaf://myhost:7422\" }] }\n"),
    "conf/jetstream-limits": ('jetstream { store_dir: "/var/lib/nats" }\n', GOOD_JS),
    "conf/store-dir": ('jetstream { store_dir: "/tmp/js", max_memory_store: 1GB, '
                       "max_file_store: 1GB }\n", GOOD_JS),
    "conf/jetstream-domain": ('jetstream { domain: "a.b" }\n', 'jetstream { domain: "hub" }\n'),
    "conf/system-account": ("accounts { APP { users: [{user: a, password: b}] } }\n",
                            "accounts { SYS {}, APP {} }\nsystem_account: SYS\n"),
    "conf/tls": ('tls { cipher_suites: ["TLS_RSA_WITH_AES_128_CBC_SHA"] }\n',
                 'tls { cipher_suites: ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"] }\n'),
    "conf/monitor": ("https: 8222\n", 'http: "127.0.0.1:8222"\n'),
    "conf/websocket-mqtt": ("websocket { port: 8080 }\n",
                            "websocket { port: 8080, no_tls: true }\n"),
    "conf/write-timeout": ("write_timeout: Close\n", "write_timeout: close\n"),
    "conf/duplicate-key": ("max_payload: 1MB\nmax_payload: 2MB\n", "max_payload: 2MB\n"),
    "conf/comment-in-value": ("server_name: abc#comment\n", "server_name: abc # comment\n"),
    "conf/resolver-memory": ("resolver: MEMORY\n", "max_payload: 1MB\n"),
    "conf/plaintext-password": ("authorization { user: a, password: secret }\n",
                                'authorization { user: a, password: "$2a$11$abcdefghijkl" }\n'),
    "conf/empty": ("# nothing\n", "max_payload: 1MB\n"),
    "conf/quoted-scalar": ('port: "4222"\ndebug: "true"\n', "port: 4222\ndebug: true\n"),
}


def ids(findings: list[Finding]) -> set[str]:
    return {f.id for f in findings}


def test_every_rule_is_tested() -> None:
    covered = set(CONF_CASES) | set(STREAM_CASES) | set(HELM_CASES) | set(SET_CASES) | {
        "set/streams-fit",  # test_streams_fit_the_servers
        "conf/parse-error", "file/parse-error", "file/unreadable",  # test_file_type_errors_...
        "stream/invalid-value", "consumer/invalid-value",  # test_..._parsed_as_add_does
        "estate/invalid",  # tests/unit/test_estate.py::test_lint_reads_estate_recipes
        "conf/tls-files", "set/tls-sans"}  # tests/unit/test_tls_lint.py
    assert covered == set(RULES)


@pytest.mark.parametrize("rule_id", sorted(CONF_CASES))
def test_conf_rule(rule_id: str) -> None:
    bad, good = CONF_CASES[rule_id]
    hits = [f for f in lint_texts({"s.conf": bad}, env={}).findings if f.id == rule_id]
    assert hits, f"{rule_id} did not fire on {bad!r}"
    assert hits[0].location is not None
    assert hits[0].location.file == "s.conf"
    assert hits[0].fix
    assert rule_id not in ids(lint_texts({"s.conf": good}, env={}).findings)


def test_ping_interval_finding_text() -> None:
    [f] = [f for f in lint_texts({"s.conf": "a: 1\nping_interval: 2m\n"}, env={}).findings
           if f.id == "conf/duration-integer"]
    assert f.severity is Severity.FAIL
    assert str(f.location) == "s.conf:2:1"
    assert "2,000,000 seconds" in f.message
    assert '"2m"' in (f.fix or "")


def test_second_cluster_block_is_fail() -> None:
    r = lint_texts({"s.conf": "cluster { name: a }\ncluster { pool_size: 5 }\n"}, env={})
    dup = [f for f in r.findings if f.id == "conf/duplicate-key"]
    assert dup
    assert dup[0].severity is Severity.FAIL
    assert "s.conf:1:1" in dup[0].message


def test_case_variants_are_fail() -> None:
    r = lint_texts({"s.conf": "max_payload: 1009\nMAX_PAYLOAD: 1010\n"}, env={})
    assert any(f.id == "conf/duplicate-key" and f.severity is Severity.FAIL for f in r.findings)


def test_inline_and_run_disable() -> None:
    text = "ping_interval: 2m # natsops:disable=conf/duration-integer\n"
    assert "conf/duration-integer" not in ids(lint_texts({"s.conf": text}, env={}).findings)
    text = "# natsops:disable=conf/duration-integer\nping_interval: 2m\n"
    assert "conf/duration-integer" not in ids(lint_texts({"s.conf": text}, env={}).findings)
    text = "# natsops:disable-file=conf/*\nping_interval: 2m\n"
    assert not lint_texts({"s.conf": text}, env={}).findings
    r = lint_texts({"s.conf": "ping_interval: 2m\n"}, disable=["conf/duration-integer"], env={})
    assert "conf/duration-integer" not in ids(r.findings)
    with pytest.raises(UsageError, match="unknown rule id"):
        lint_texts({"s.conf": "a: 1\n"}, disable=["conf/nope"], env={})


def test_min_severity() -> None:
    r = lint_texts({"s.conf": "write_deadline: 10s\n"}, min_severity=Severity.WARN, env={})
    assert "conf/duration-unquoted" not in ids(r.findings)


def test_unused_variable_is_unknown_field_but_used_one_is_not() -> None:
    r = lint_texts({"s.conf": "UNUSED = 1\nMP = 2000\nmax_payload: $MP\n"}, env={})
    unknown = [f for f in r.findings if f.id == "conf/unknown-field"]
    assert [f.subject for f in unknown] == ["UNUSED"]


def _node(name: str, extra: str = "", js: bool = True, cluster: str = "C1") -> str:
    return (f"server_name: {name}\n" + (GOOD_JS if js else "") +
            f"cluster {{ name: {cluster}, no_advertise: true, routes: [nats://a:6222, "
            "nats://b:6222, nats://c:6222] }\n" + extra)


def _routed(name: str, i: int, bad_port: int = 0) -> str:
    """A member of a 3-node cluster on 10.0.0.1-3, listening on 6222, routing to the others."""
    routes = [f"nats://10.0.0.{j}:{bad_port or 6222}" for j in (1, 2, 3) if j != i]
    return (f"server_name: {name}\ncluster {{ name: C1, listen: \"10.0.0.{i}:6222\", "
            f"routes: [{', '.join(routes)}] }}\n")


def _gw(name: str, peer: str, peer_port: int) -> str:
    """A one-server cluster ``name`` with a gateway on 7222 (A) / 7223 (B) dialing ``peer``."""
    port = 7222 if name == "A" else 7223
    return (f"server_name: s{name}\ngateway {{ name: {name}, listen: \"127.0.0.1:{port}\", "
            f"gateways: [{{ name: {peer}, urls: [\"nats://127.0.0.1:{peer_port}\"] }}] }}\n")


SET_CASES: dict[str, tuple[list[str], list[str]]] = {
    "set/server-name-unique": ([_node("n1"), _node("n1"), _node("n3")],
                               [_node("n1"), _node("n2"), _node("n3")]),
    "set/cluster-size": ([_node("n1"), _node("n2")], [_node("n1"), _node("n2"), _node("n3")]),
    "set/jetstream-consistent": ([_node("n1"), _node("n2"), _node("n3", js=False)],
                                 [_node("n1"), _node("n2"), _node("n3")]),
    "set/routes": ([_node("n1"), _node("n2"), _node("n3", cluster="C2")],
                   [_node("n1"), _node("n2"), _node("n3")]),
    "set/route-targets": ([_routed("n1", 1, 6299), _routed("n2", 2), _routed("n3", 3)],
                          [_routed("n1", 1), _routed("n2", 2), _routed("n3", 3)]),
    "set/gateway-name": ([_gw("A", "B", 7223), _gw("B", "C", 7222)],
                         [_gw("A", "B", 7223), _gw("B", "A", 7222)]),
    "set/gateway-targets": ([_gw("A", "B", 7299), _gw("B", "A", 7222)],
                            [_gw("A", "B", 7223), _gw("B", "A", 7222)]),
}


@pytest.mark.parametrize("rule_id", sorted(SET_CASES))
def test_set_rule(rule_id: str) -> None:
    bad, good = SET_CASES[rule_id]
    as_files = lambda texts: {f"n{i}.conf": t for i, t in enumerate(texts, 1)}  # noqa: E731
    assert rule_id in ids(lint_texts(as_files(bad), env={}).findings)
    assert rule_id not in ids(lint_texts(as_files(good), env={}).findings)


STREAM_CASES: dict[str, tuple[dict[str, object], dict[str, object]]] = {
    "stream/retention": ({"name": "ORDERS", "subjects": ["orders.>"], "num_replicas": 3},
                         {"name": "ORDERS", "subjects": ["orders.>"], "num_replicas": 3,
                          "max_age": 604800000000000}),
    "stream/replicas": ({"name": "O", "subjects": ["o.>"], "num_replicas": 2, "max_age": 1},
                        {"name": "O", "subjects": ["o.>"], "num_replicas": 3, "max_age": 1}),
    "stream/subjects": ({"name": "U", "subjects": ["users.email.>", "eu.orders.new",
                                                   "orders.eu.new"], "max_age": 1,
                         "num_replicas": 3},
                        {"name": "U", "subjects": ["eu.acme.orders.created.>"], "max_age": 1,
                         "num_replicas": 3}),
}


@pytest.mark.parametrize("rule_id", sorted(STREAM_CASES))
def test_stream_rule(rule_id: str) -> None:
    bad, good = STREAM_CASES[rule_id]
    assert rule_id in ids(lint_texts({"s.json": json.dumps(bad, indent=2)}).findings)
    assert rule_id not in ids(lint_texts({"s.json": json.dumps(good, indent=2)}).findings)


def test_stream_yaml_recipe_with_several_streams() -> None:
    text = ("streams:\n  - name: A\n    subjects: [a.>]\n    replicas: 4\n    max_age: 1h\n"
            "  - name: B\n    subjects: [b.>]\n    replicas: 3\n")
    r = lint_texts({"recipe.yaml": text})
    assert r.files == {"recipe.yaml": "stream"}
    rep = [f for f in r.findings if f.id == "stream/replicas"]
    assert rep
    assert rep[0].location is not None
    assert rep[0].location.line == 4
    assert any(f.id == "stream/retention" and "B" in f.message for f in r.findings)


HELM_CASES: dict[str, tuple[str, str]] = {
    "helm/lame-duck": (
        "config:\n  merge:\n    lame_duck_duration: 2m\npodTemplate:\n  merge:\n    spec:\n"
        "      terminationGracePeriodSeconds: 60\n",
        "config:\n  merge:\n    lame_duck_duration: 30s\npodTemplate:\n  merge: {}\n"),
    "helm/jetstream-cluster": (
        "config:\n  cluster:\n    enabled: true\n    replicas: 2\n"
        "  jetstream:\n    enabled: true\n",
        "config:\n  cluster:\n    enabled: true\n    replicas: 3\n  jetstream:\n    enabled: true\n"
        "    fileStore:\n      maxSize: 9Gi\n"),
    "helm/jetstream-hpa": (
        "config:\n  jetstream:\n    enabled: true\nextraResources:\n"
        "  - kind: HorizontalPodAutoscaler\n    apiVersion: autoscaling/v2\n",
        "config:\n  jetstream:\n    enabled: false\nextraResources:\n"
        "  - kind: HorizontalPodAutoscaler\n"),
    "helm/pod-management": (
        "config:\n  cluster:\n    enabled: true\nstatefulSet:\n  merge:\n    spec:\n"
        "      podManagementPolicy: OrderedReady\n",
        "config:\n  cluster:\n    enabled: true\nstatefulSet:\n  merge: {}\n"),
    "helm/liveness": (
        "config:\n  jetstream:\n    enabled: true\ncontainer:\n  patch:\n"
        "    - op: add\n      path: /livenessProbe/httpGet/path\n      value: /healthz\n",
        "config:\n  jetstream:\n    enabled: true\ncontainer:\n  patch: []\n"),
}


@pytest.mark.parametrize("rule_id", sorted(HELM_CASES))
def test_helm_rule(rule_id: str) -> None:
    bad, good = HELM_CASES[rule_id]
    r = lint_texts({"values.yaml": bad})
    assert r.files == {"values.yaml": "helm"}
    assert rule_id in ids(r.findings)
    assert rule_id not in ids(lint_texts({"values.yaml": good}).findings)


def _one(report: object, rule_id: str) -> Finding:
    found = [f for f in report.findings if f.id == rule_id]  # type: ignore[attr-defined]
    assert len(found) == 1, found
    return found[0]


def test_file_type_errors_are_findings_and_the_other_files_are_linted(tmp_path: Path) -> None:
    r = lint_texts({"s.json": "{\n  nope", "s.yaml": "foo: bar\n",
                    "s.conf": "server_name: n1\nmax_payload: 2 MB\n",
                    "ok.conf": "ping_interval: 2m\n"}, env={})
    bad_json = next(f for f in r.findings if f.location and f.location.file == "s.json")
    assert bad_json.id == "file/parse-error" and "invalid JSON" in bad_json.message
    assert (bad_json.location.line, bad_json.location.column) == (2, 3)  # type: ignore[union-attr]
    assert [f.id for f in r.findings if f.location and f.location.file == "s.yaml"] == [
        "file/parse-error"]
    parse = _one(r, "conf/parse-error")
    assert str(parse.location).startswith("s.conf:2:") and parse.severity == Severity.FAIL
    assert "conf/duration-integer" in ids(r.findings)  # ok.conf still linted
    assert r.files["s.conf"] == "unparsable" and r.files["ok.conf"] == "conf"


def test_unreadable_file_is_a_finding_unless_no_file_can_be_read(tmp_path: Path) -> None:
    good = tmp_path / "good.conf"
    good.write_text("ping_interval: 2m\n")
    r = lint_paths([tmp_path / "missing.conf", good])
    assert "cannot read" in _one(r, "file/unreadable").message
    assert "conf/duration-integer" in ids(r.findings)
    with pytest.raises(UsageError, match=r"missing\.conf: cannot read"):
        lint_paths([tmp_path / "missing.conf"])


def test_stream_info_document_is_linted_as_its_config() -> None:
    info = {"config": {"name": "ORDERS", "subjects": ["orders.>"], "retention": "limits",
                       "max_age": 2592000000000000, "max_bytes": 53687091200,
                       "storage": "file", "num_replicas": 3, "discard": "old"},
            "state": {"messages": 0, "bytes": 0}, "created": "2026-01-01T00:00:00Z",
            "cluster": {"name": "C1", "leader": "n1"}}
    r = lint_texts({"orders.json": json.dumps(info, indent=2)}, env={})
    assert r.files == {"orders.json": "stream"}
    assert [f for f in r.findings if f.severity >= Severity.WARN] == []
    listing = lint_texts({"ls.json": json.dumps([info, {**info, "config": {
        **info["config"], "name": "R2", "num_replicas": 2}}])}, env={})
    assert ids(listing.findings) == {"stream/replicas"}


def test_stream_recipe_values_parsed_as_stream_add_does() -> None:
    r = lint_texts({"o.yaml": "name: O\nsubjects: [o.>]\nmax_bytes: 50XB\nmax_age: 720h\n"
                              "duplicate_window: 2q\n"}, env={})
    bad = sorted((f.location.line, f.message) for f in r.findings  # type: ignore[union-attr]
                 if f.id == "stream/invalid-value")
    assert [line for line, _ in bad] == [3, 5]
    assert "'50XB'" in bad[0][1] and all(f.severity == Severity.FAIL for f in r.findings
                                         if f.id == "stream/invalid-value")


def test_consumer_recipes_are_consumers() -> None:
    from natsops.render import data_dir

    recipe = data_dir("recipes") / "orders-workers-consumer.yaml"
    r = lint_texts({str(recipe): recipe.read_text()}, env={})
    assert r.files == {str(recipe): "consumer"} and r.findings == []
    bad = lint_texts({"c.yaml": "durable_name: w\nack_policy: explicit\nack_wait: 30q\n"})
    assert [(f.id, f.location.line) for f in bad.findings] == [  # type: ignore[union-attr]
        ("consumer/invalid-value", 3)]


def test_json_server_config_is_linted_as_conf() -> None:
    r = lint_texts({"server.json": '{"ping_interval": 45, "server_name": "n1"}'}, env={})
    assert r.files == {"server.json": "conf"}
    assert "conf/duration-integer" in ids(r.findings)


def test_guide_orders_recipe_is_clean() -> None:
    # the guide's `nats stream add ORDERS ...` recipe as YAML: R3, max_age dominant, max_bytes net
    text = ("name: ORDERS\nsubjects: [orders.>]\nstorage: file\nreplicas: 3\nretention: limits\n"
            "max_age: 720h\nmax_bytes: 50GB\ndiscard: old\nduplicate_window: 2m\n")
    r = lint_texts({"orders.yaml": text})
    assert r.files == {"orders.yaml": "stream"}
    assert not [f for f in r.findings if f.severity >= Severity.WARN]


def test_positions_point_into_each_stream_entry() -> None:
    text = json.dumps({"streams": [
        {"name": "A", "subjects": ["a.>"], "num_replicas": 3, "max_age": 1},
        {"name": "B", "subjects": ["b.>"], "num_replicas": 2, "max_age": 1}]}, indent=2)
    [f] = [f for f in lint_texts({"s.json": text}).findings if f.id == "stream/replicas"]
    line = text.splitlines()[f.location.line - 1]  # type: ignore[union-attr]
    assert '"num_replicas": 2' in line


def test_guide_spelling_max_memory_is_unknown() -> None:
    r = lint_texts({"s.conf": "jetstream { max_memory: 1GB, max_file: 1GB }\n"}, env={})
    [f] = [f for f in r.findings if f.id == "conf/unknown-field"]
    assert "max_memory_store" in (f.fix or "") and "guide" in f.message


def test_streams_fit_the_servers() -> None:
    servers = {f"n{i}.conf": _node(f"n{i}") for i in (1, 2, 3)}  # max_file_store 10GB each
    big = {"name": "BIG", "subjects": ["big.>"], "num_replicas": 3, "max_bytes": 11 * 2**30}
    ok = {"name": "OK", "subjects": ["ok.>"], "num_replicas": 3, "max_bytes": "5GB"}
    r = lint_texts({**servers, "s.json": json.dumps(big, indent=2)}, env={})
    assert any(f.id == "set/streams-fit" and "BIG" in f.message for f in r.findings)
    r = lint_texts({**servers, "s.json": json.dumps(ok, indent=2)}, env={})
    assert "set/streams-fit" not in ids(r.findings)
    many = {"streams": [{**ok, "name": f"S{i}"} for i in range(3)]}  # 3 x 5 GB x R3 > 30 GB
    r = lint_texts({**servers, "s.json": json.dumps(many, indent=2)}, env={})
    assert any(f.id == "set/streams-fit" and "more than" in f.message for f in r.findings)


def test_empty_js_size_and_negative_duration_are_warned() -> None:
    r = lint_texts({"s.conf": 'jetstream { max_memory_store: "" }\nping_interval: "-5s"\n'},
                   env={})
    found = {(f.id, f.severity) for f in r.findings}
    assert ("conf/size-quoted", Severity.WARN) in found
    assert ("conf/duration-invalid", Severity.WARN) in found
