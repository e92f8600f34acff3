"""``cluster start NODE`` and start-up errors: the lines of THIS start, never an old run's."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from natsops.cli.main import app
from natsops.cluster.local import LocalCluster, plan_nodes
from natsops.cluster.process import ServerProcess
from natsops.errors import NatsopsError

OLD = "[1] 2020/01/01 00:00:00.000000 [FTL] an old run's fatal line\n"


def test_start_error_quotes_this_start_not_the_old_log(server_bin: Path, tmp_path: Path) -> None:
    log = tmp_path / "n.log"
    log.write_text(OLD + "[1] 2020/01/01 00:00:01.000000 [INF] Server is ready\n")
    proc = ServerProcess.start(server_bin, ["-c", str(tmp_path / "missing.conf")], log_file=log)
    with pytest.raises(NatsopsError) as exc:
        proc.wait_ready(10)  # an earlier run's "Server is ready" does not count either
    assert "exited during start-up" in str(exc.value)
    assert "missing.conf" in str(exc.value)
    assert "old run" not in str(exc.value)
    assert all("old run" not in line for line in proc.log_tail(40))


def test_start_one_node_of_a_stopped_cluster_is_refused(server_bin: Path, tmp_path: Path) -> None:
    c = LocalCluster.create(tmp_path / "c", name="S1", nodes=plan_nodes(3, None),
                            binary=server_bin)
    for n in c.nodes:  # logs of an earlier run, as a stopped cluster has
        c.log_path(n.name).parent.mkdir(parents=True, exist_ok=True)
        c.log_path(n.name).write_text(OLD)
    r = CliRunner().invoke(app, ["cluster", "start", "n1", "--dir", str(c.dir), "--wait", "5s"])
    assert r.exit_code == 2, r.output
    assert "n2, n3 are stopped too" in r.stderr
    assert "natsops cluster start --dir" in r.stderr
    assert "old run" not in r.output
    assert LocalCluster.load(c.dir).running_nodes() == []  # nothing was started


def test_restart_with_other_nodes_stopped_leaves_the_node_running(server_bin: Path,
                                                                   tmp_path: Path) -> None:
    c = LocalCluster.create(tmp_path / "c", name="S2", nodes=plan_nodes(3, None),
                            binary=server_bin)
    proc = c.start_node("n1")
    assert proc is not None
    try:
        r = CliRunner().invoke(app, ["cluster", "restart", "n1", "--dir", str(c.dir)])
        assert r.exit_code == 2, r.output
        assert "n2, n3 are stopped too" in r.stderr
        assert LocalCluster.load(c.dir).pid("n1") == proc.pid  # refused before stopping it
    finally:
        c.stop_all(grace=5)
