"""`natsops plan|apply|export|render nack` input errors and rendering, without a server."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from natsops.cli.main import app
from natsops.render import data_dir
from tests.cli._helpers import one_line_error

runner = CliRunner()
ESTATE = str(data_dir("recipes") / "estate")


def test_render_nack_writes_one_resource_per_recipe(tmp_path: Path) -> None:
    out = tmp_path / "k8s"
    r = runner.invoke(app, ["render", "nack", ESTATE, "--out", str(out), "--dry-run"])
    assert r.exit_code == 0, r.stderr
    assert "stream-orders.yaml" in r.stdout and not out.exists()
    r = runner.invoke(app, ["render", "nack", ESTATE, "--out", str(out), "--json"])
    assert r.exit_code == 0, r.stderr
    files = json.loads(r.stdout)["files"]
    assert sorted(Path(f).name for f in files) == [
        "consumer-orders-workers.yaml", "keyvalue-sessions.yaml",
        "objectstore-firmware.yaml", "stream-orders.yaml"]
    doc = yaml.safe_load((out / "stream-orders.yaml").read_text())
    assert doc["kind"] == "Stream" and doc["spec"]["maxAge"] == "720h"


def test_bad_recipe_is_one_error_line_naming_file_line_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Stream\nmetadata: {name: A}\nspec:\n  subjects: [a]\n"
                   "  retention: forever\n")
    for cmd in ("plan", "apply"):
        # the recipe is checked before any connection: no server is needed to reject it
        line = one_line_error(runner.invoke(app, ["-s", "nats://127.0.0.1:1", cmd, str(bad)]), 2)
        assert f"{bad}:5: Stream A: field 'spec.retention'" in line


def test_plan_needs_files_and_export_needs_names_or_all(tmp_path: Path) -> None:
    assert runner.invoke(app, ["plan"]).exit_code == 2
    line = one_line_error(runner.invoke(app, ["plan", str(tmp_path / "nope.yaml")]), 2)
    assert "no such file or directory" in line
    for args in ([], ["ORDERS", "--all"]):
        line = one_line_error(runner.invoke(app, ["-s", "nats://127.0.0.1:1", "export", *args,
                                                  "--out", str(tmp_path)]), 2)
        assert "give stream or bucket names, or --all" in line


def test_render_nack_refuses_to_overwrite_a_file_that_differs(tmp_path: Path) -> None:
    out = tmp_path / "k8s"
    args = ["render", "nack", ESTATE, "--out", str(out)]
    assert runner.invoke(app, args).exit_code == 0
    assert runner.invoke(app, args).exit_code == 0  # the same files: a CI re-run is fine
    stream = out / "stream-orders.yaml"
    stream.write_text(stream.read_text() + "# edited by hand\n")
    kv = out / "keyvalue-sessions.yaml"
    kv.unlink()
    line = one_line_error(runner.invoke(app, args), 9)
    assert f"{stream} exists with other content; pass --force" in line
    assert "edited by hand" in stream.read_text() and not kv.exists()  # nothing written
    assert runner.invoke(app, [*args, "--force"]).exit_code == 0
    assert "edited by hand" not in stream.read_text() and kv.exists()
