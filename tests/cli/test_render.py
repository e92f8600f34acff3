"""`natsops render`: exit codes, --json, --dry-run writes nothing, errors name file:line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from natsops.cli.main import app
from natsops.render import data_dir

runner = CliRunner()
HUB_LEAF = str(data_dir("recipes") / "topologies" / "hub-leaf.yaml")


def test_dry_run_lists_files_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = runner.invoke(app, ["render", HUB_LEAF, "--out", str(out), "--dry-run", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["dry_run"] is True and not out.exists()
    paths = {f["path"] for f in doc["files"]}
    assert {"README.md", "natsops-secrets.json", "hub-1/nats-server.conf",
            "store17-1/nats-server.secrets", "helm/hub.values.yaml"} <= paths
    human = runner.invoke(app, ["render", HUB_LEAF, "--out", str(out), "--dry-run",
                                "--tls", "generate"])
    assert human.exit_code == 0 and "hub-1/tls/server-key.pem" in human.stdout
    assert "0600" in human.stdout and not out.exists()


def test_bad_topology_is_one_error_line_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nclusters:\n  - name: c\n    nodes:\n      - {name: n1}\n")
    r = runner.invoke(app, ["render", str(bad), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2
    assert f"{bad}:5: clusters[0].nodes[0]: host: missing" in r.stderr
    assert "Traceback" not in r.output and not (tmp_path / "o").exists()
    r = runner.invoke(app, ["render", HUB_LEAF, "--tls", "yes", "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "--tls takes 'generate'" in r.stderr
    r = runner.invoke(app, ["render", str(tmp_path / "missing.yaml")])
    assert r.exit_code == 2


def test_render_prometheus_json_and_conflict(tmp_path: Path) -> None:
    out = tmp_path / "prom"
    r = runner.invoke(app, ["render", "prometheus", HUB_LEAF, "--out", str(out), "--json",
                            "--doctor", "ops:9999", "--dry-run"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert [e["server"] for e in doc["exporters"]] == ["hub-1", "hub-2", "hub-3", "store17-1"]
    assert "-jsz=all" in doc["exporters"][0]["command"] and not out.exists()
    r = runner.invoke(app, ["render", "prometheus", HUB_LEAF, "--out", str(out)])
    assert r.exit_code == 0 and "localhost:9119" in (out / "prometheus.yml").read_text()
    again = runner.invoke(app, ["render", "prometheus", HUB_LEAF, "--out", str(out)])
    assert again.exit_code == 0, again.output  # the same files: a re-run changes nothing
    other = runner.invoke(app, ["render", "prometheus", HUB_LEAF, "--out", str(out),
                                "--doctor", "ops:9999"])
    assert other.exit_code == 9 and "other content; pass --force" in other.stderr
    assert "localhost:9119" in (out / "prometheus.yml").read_text()  # nothing written

