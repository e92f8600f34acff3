"""`bootstrap --topology` and `cluster` on a topology directory, without starting servers:
the plan, refused option mixes, bad files and a damaged ``topology.json``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from natsops.cli.main import app
from natsops.cluster.deployment import Group, LocalDeployment

runner = CliRunner()

TOPOLOGY = """name: demo
clusters:
  - name: east
    nodes:
      - {name: e1, host: e1.example.com}
      - {name: e2, host: e2.example.com}
      - {name: e3, host: e3.example.com}
  - name: west
    nodes:
      - {name: w1, host: w1.example.com}
      - {name: w2, host: w2.example.com}
      - {name: w3, host: w3.example.com}
leafs:
  - {name: shop, hub: east, account: APP, domain: shop, nodes: [{name: s1, host: shop.lan}]}
tls: {generate: true}
"""


def test_dry_run_plans_every_group_and_changes_nothing(tmp_path: Path) -> None:
    f = tmp_path / "t.yaml"
    f.write_text(TOPOLOGY)
    r = runner.invoke(app, ["bootstrap", "--topology", str(f), "--dir", str(tmp_path / "d"),
                            "--dry-run", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert (doc["action"], doc["name"], doc["tls"]) == ("create and start", "demo", True)
    assert [(g["name"], g["kind"], g["nodes"]) for g in doc["groups"]] == [
        ("east", "cluster", ["e1", "e2", "e3"]), ("west", "cluster", ["w1", "w2", "w3"]),
        ("shop", "leaf", ["s1"])]
    assert doc["groups"][0]["gateways"] == ["west"]
    assert (doc["groups"][2]["hub"], doc["groups"][2]["domain"]) == ("east", "shop")
    assert not (tmp_path / "d").exists()
    r = runner.invoke(app, ["bootstrap", "--topology", str(f), "--dir", str(tmp_path / "d"),
                            "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "gateways to west" in r.stdout


@pytest.mark.parametrize("extra", [["--nodes", "5"], ["--base-port", "auto"],
                                   ["--render-only"], ["--operator", "X"], ["--store", "s"]])
def test_options_of_a_single_cluster_are_refused(tmp_path: Path, extra: list[str]) -> None:
    f = tmp_path / "t.yaml"
    f.write_text(TOPOLOGY)
    r = runner.invoke(app, ["bootstrap", "--topology", str(f), *extra, "--dry-run"])
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith(f"error: {extra[0]} does not go with --topology"), r.stderr
    r = runner.invoke(app, ["bootstrap", "--topology", str(f), "--dry-run", "--json"],
                      env={"NATSOPS_STORE": str(tmp_path / "store")})
    assert r.exit_code == 0, r.output  # a variable is no option given


def test_an_invalid_topology_names_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "t.yaml"
    f.write_text(TOPOLOGY.replace("hub: east", "hub: north"))
    r = runner.invoke(app, ["bootstrap", "--topology", str(f), "--dir", str(tmp_path / "d")])
    assert r.exit_code == 2, r.output
    assert f"{f}:14:" in r.stderr and "north" in r.stderr
    assert not (tmp_path / "d").exists()


def test_a_failed_creation_leaves_no_directory(tmp_path: Path) -> None:
    f = tmp_path / "t.yaml"
    f.write_text(TOPOLOGY.replace("tls: {generate: true}",
                                  "auth: {accounts: {APP: {users: [{user: a, password_env: "
                                  "T_UNSET_PW}]}}}"))
    r = runner.invoke(app, ["bootstrap", "--topology", str(f), "--dir", str(tmp_path / "d")])
    assert r.exit_code == 2, r.output
    assert "T_UNSET_PW is not set" in r.stderr
    assert not (tmp_path / "d").exists()


def test_a_damaged_topology_state_is_one_line_exit_2(tmp_path: Path) -> None:
    (tmp_path / "topology.json").write_text('{"name": "x", "groups": [{"kind": "hub"}]}')
    for args in (["cluster", "status"], ["cluster", "down"], ["cluster", "start", "n1"]):
        r = runner.invoke(app, [*args, "--dir", str(tmp_path)])
        assert r.exit_code == 2, (args, r.output)
        assert r.stderr.strip().splitlines() == [
            f"error: {tmp_path / 'topology.json'} is damaged: a group without a name"]


def test_state_round_trip(tmp_path: Path) -> None:
    g = Group("shop", "leaf", domain="shop", hub="east", account="APP", leaf_connections=2,
              ports={"s1": {"leafnode": 7422}})
    dep = LocalDeployment(dir=tmp_path, name="demo", groups=(g,), binary=Path("/bin/x"),
                          version="2.15.1", tls_ca="/ca.pem", contexts=("natsops-shop",),
                          operator="DEMO", store="/store")
    dep.save()
    back = LocalDeployment.load(tmp_path)
    assert (back.groups, back.tls_ca, back.contexts) == ((g,), "/ca.pem", ("natsops-shop",))
    assert (back.operator, back.store) == ("DEMO", "/store")
    assert [[x.name for x in u] for u in back.js_units()] == [["shop"]]


# ---- operator mode (auth: {operator: NAME}): what is refused or planned, without servers ----

OPERATOR = """name: opdemo
clusters:
  - name: east
    nodes: [{name: e1, host: e1.example.com}]
leafs:
  - {name: shop, hub: east, account: EDGE, domain: shop, nodes: [{name: s1, host: shop.lan}]}
auth: {operator: DEMO}
"""


def _store_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.fixture
def op_store(tmp_path: Path) -> Path:
    from natsops.auth import ops
    from natsops.auth.store import Store

    store = Store(tmp_path / "store")
    ops.add_operator(store, "DEMO", sys=True)
    ops.add_account(store, "DEMO", "EDGE", jetstream=True)
    return store.root


def test_operator_topology_dry_run_names_the_store_and_changes_nothing(
        tmp_path: Path, op_store: Path) -> None:
    f = tmp_path / "op.yaml"
    f.write_text(OPERATOR)
    before = _store_files(op_store)
    r = runner.invoke(app, ["bootstrap", "--topology", str(f), "--dir", str(tmp_path / "d"),
                            "--store", str(op_store), "--dry-run", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert (doc["operator"], doc["store"]) == ("DEMO", str(op_store))
    assert doc["store_changes"] == ["APP", "EDGE/leaf-shop", "SYS/leaf-shop-sys", "APP/app",
                                    "EDGE/app"]
    r = runner.invoke(app, ["bootstrap", "--topology", str(f), "--dir", str(tmp_path / "d"),
                            "--dry-run"], env={"NATSOPS_STORE": str(op_store)})
    assert r.exit_code == 0, r.output
    assert f"operator DEMO of the auth store {op_store}" in r.stderr
    assert "would add to the auth store: APP, EDGE/leaf-shop," in r.stderr
    assert _store_files(op_store) == before and not (tmp_path / "d").exists()


def test_operator_topology_refusals_leave_the_store_alone(tmp_path: Path,
                                                          op_store: Path) -> None:
    f = tmp_path / "op.yaml"
    before = _store_files(op_store)
    f.write_text(OPERATOR.replace("account: EDGE", "account: NOPE"))
    r = runner.invoke(app, ["bootstrap", "--topology", str(f), "--dir", str(tmp_path / "d"),
                            "--store", str(op_store)])
    assert r.exit_code == 2, r.output  # checked before anything is added to the store
    assert "operator DEMO has no account 'NOPE'" in r.stderr
    f.write_text(OPERATOR.replace("operator: DEMO", "operator: OTHER"))
    r = runner.invoke(app, ["bootstrap", "--topology", str(f), "--dir", str(tmp_path / "d"),
                            "--store", str(op_store)])
    assert r.exit_code == 4, r.output
    assert "operator 'OTHER' not found" in r.stderr
    f.write_text(OPERATOR)  # a store inside the topology's folder: purging would delete it
    r = runner.invoke(app, ["bootstrap", "--topology", str(f), "--dir", str(tmp_path),
                            "--store", str(op_store)])
    assert r.exit_code == 2, r.output
    assert "is inside the topology folder" in r.stderr
    assert _store_files(op_store) == before
    assert not (tmp_path / "d").exists() and not (tmp_path / "topology.json").exists()


def test_a_store_inside_the_topology_is_never_purged(tmp_path: Path) -> None:
    from natsops.errors import Conflict

    store = tmp_path / "store"
    store.mkdir()
    dep = LocalDeployment(dir=tmp_path, name="demo", groups=(), binary=Path("/bin/x"),
                          version="2.15.1", operator="DEMO", store=str(store))
    dep.save()
    with pytest.raises(Conflict, match="holds the auth store"):
        dep.purge()
    assert store.is_dir() and (tmp_path / "topology.json").is_file()
