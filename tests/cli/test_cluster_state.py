"""A damaged ``cluster.json``: one line naming the file and what is wrong, exit 2 (bad input)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from natsops.cli.main import app
from natsops.cluster.local import LocalCluster, NodeSpec

NODE = '{"name": "n1", "client_port": 4222, "cluster_port": 6222, "http_port": 8222}'


@pytest.mark.parametrize(("content", "says"), [
    (b"", "not JSON (Expecting value at line 1, column 1)"),
    (b'{"name": "x",', "not JSON"),
    (b"[1, 2]", "not a JSON object"),
    (b"\xff\xfe{}", "not UTF-8 text"),
    (b'{"name": "x"}', "no 'nodes'"),
    (b'{"name": "x", "nodes": [5], "binary": "/b", "version": "2"}', "node 1 is not a JSON"),
    (b'{"name": "x", "nodes": [{"name": "n1", "client_port": "a"}], "binary": "/b", '
     b'"version": "2"}', "node 1: 'client_port' is \"a\", not an integer"),
    (b'{"name": 7, "nodes": [], "binary": "/b", "version": "2"}', "'name' is 7, not a string"),
    (('{"name": "x", "nodes": [' + NODE + '], "binary": "/b", "version": "2", '
      '"created": "yesterday"}').encode(), "a value has the wrong type"),
])
def test_damaged_state_file_is_one_line_exit_2(tmp_path: Path, content: bytes, says: str) -> None:
    (tmp_path / "cluster.json").write_bytes(content)
    for args in (["cluster", "status"], ["cluster", "start", "n1"], ["cluster", "down"]):
        r = CliRunner().invoke(app, [*args, "--dir", str(tmp_path)])
        assert r.exit_code == 2, (args, r.output)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, r.stderr
        assert lines[0].startswith(f"error: {tmp_path / 'cluster.json'} is damaged") or \
            "cannot read" in lines[0]
        assert says in lines[0]
        assert "Traceback" not in r.output
        assert "internal error" not in r.output


def test_load_by_relative_path_knows_its_absolute_dir(tmp_path: Path, monkeypatch) -> None:
    """A relative --dir finds the pids of nodes started with the absolute config path."""
    c = LocalCluster(dir=tmp_path.resolve() / "c", name="R", binary=Path("/bin/true"),
                     version="2", nodes=(NodeSpec("n1", 1, 2, 3),))
    c.save()
    monkeypatch.chdir(tmp_path)
    loaded = LocalCluster.load(Path("c"))
    assert loaded.dir == (tmp_path / "c").resolve()
    assert loaded.config_path("n1").is_absolute()
    assert os.path.isabs(str(loaded.log_path("n1")))
