"""``natsops lab`` commands that need no lab: the refusal without privileges (one line, exit
2), a missing lab, ``exec`` without a command, and the ``up --dry-run`` plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from natsops.cli.main import app
from natsops.lab import net

runner = CliRunner()


@pytest.mark.parametrize("args", [["up"], ["partition", "n1"], ["heal"], ["down"]])
def test_without_root_one_line_exit_2(args: list[str], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(net.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(net, "_cap_net_admin", lambda status: False)
    r = runner.invoke(app, ["lab", *args, "--dir", str(tmp_path / "L")])
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert lines[0] == ("error: natsops lab needs root or CAP_NET_ADMIN (it creates network "
                        "namespaces); run it with sudo"), r.stderr
    assert len(lines) == 1 and "Traceback" not in r.output
    assert not (tmp_path / "L").exists()


def test_no_lab_in_dir_is_not_found(tmp_path: Path) -> None:
    r = runner.invoke(app, ["lab", "status", "--dir", str(tmp_path)])
    assert r.exit_code == 4, r.output
    assert "no natsops lab in" in r.stderr and "natsops lab up" in r.stderr


def test_exec_without_a_command_is_a_usage_error(tmp_path: Path) -> None:
    r = runner.invoke(app, ["lab", "exec", "--dir", str(tmp_path)])
    assert r.exit_code == 2, r.output
    assert "give the command to run after --" in r.stderr


def test_up_dry_run_shows_namespaces_addresses_and_pings(tmp_path: Path) -> None:
    r = runner.invoke(app, ["lab", "up", "--dir", str(tmp_path / "L"), "--dry-run",
                            "--json"])
    assert r.exit_code == 0, r.output
    plan = json.loads(r.stdout)
    assert plan["action"] == "create the lab"
    assert [n["address"] for n in plan["nodes"]] == ["10.200.0.11", "10.200.0.12",
                                                     "10.200.0.13"]
    assert plan["namespaces"][:2] == [f"{plan['id']}-hub", f"{plan['id']}-cli"]
    assert (plan["route_ping_interval"], plan["route_ping_max"]) == ("1s", 3)
    assert not (tmp_path / "L").exists()


TOPOLOGY = """name: drysc
clusters:
  - name: east
    nodes: [{name: e1, host: e1.example.com}, {name: e2, host: e2.example.com},
            {name: e3, host: e3.example.com}]
  - name: west
    nodes: [{name: w1, host: w1.example.com}, {name: w2, host: w2.example.com}]
leafs:
  - {name: site, hub: west, account: APP, domain: edge, nodes: [{name: l1, host: l1.example.com}]}
auth:
  accounts:
    APP: {users: [{user: app}]}
"""


def test_up_topology_dry_run_numbers_the_servers_across_the_file(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(TOPOLOGY)
    r = runner.invoke(app, ["lab", "up", "--dir", str(tmp_path / "L"), "--topology",
                            str(tmp_path / "t.yaml"), "--dry-run", "--json"])
    assert r.exit_code == 0, r.output
    plan = json.loads(r.stdout)
    assert plan["topology"] == "drysc"
    assert [(n["name"], n["group"], n["address"], n["netns"]) for n in plan["nodes"]] == [
        (name, group, f"10.200.0.{10 + i}", f"{plan['id']}-n{i}") for i, (name, group) in
        enumerate([("e1", "east"), ("e2", "east"), ("e3", "east"), ("w1", "west"),
                   ("w2", "west"), ("l1", "site")], 1)]
    assert len(plan["namespaces"]) == 8
    assert not (tmp_path / "L").exists()


@pytest.mark.parametrize("extra", [["--nodes", "3"], ["--name", "x"]])
def test_up_topology_with_nodes_or_name_is_a_usage_error(extra: list[str],
                                                         tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(TOPOLOGY)
    r = runner.invoke(app, ["lab", "up", "--dir", str(tmp_path / "L"), "--topology",
                            str(tmp_path / "t.yaml"), *extra, "--dry-run"])
    assert r.exit_code == 2, r.output
    assert "and --topology: choose one" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
