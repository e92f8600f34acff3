"""A local cluster's files without servers: contexts written and removed, logs, options."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from natsops.bootstrap import BootstrapPlan
from natsops.cluster import contexts
from natsops.cluster.local import LocalCluster, NodeSpec, parse_base_port
from natsops.context import config_root, selected_context
from natsops.errors import Conflict, NotFound, UsageError


def _cluster(tmp_path: Path, name: str = "C9") -> LocalCluster:
    c = LocalCluster(dir=tmp_path / name, name=name,
                     nodes=(NodeSpec("n1", 4222, 6222, 8222), NodeSpec("n2", 4223, 6223, 8223)),
                     binary=Path("/nonexistent/nats-server"), version="2.99.0")
    c.dir.mkdir(parents=True)
    c.secrets_path.write_text(json.dumps({"app": "app-pw", "sys": "sys-pw"}))
    c.save()
    return c


def test_contexts_written_private_selected_once_and_removed(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    c = _cluster(tmp_path)
    names = contexts.write_contexts(c, env, select=None)
    assert names == ("natsops-C9", "natsops-C9-sys")
    folder = config_root(env) / "nats" / "context"
    app = json.loads((folder / "natsops-C9.json").read_text())
    assert app["url"] == "nats://127.0.0.1:4222,nats://127.0.0.1:4223"
    assert (app["user"], app["password"]) == ("app", "app-pw")
    assert json.loads((folder / "natsops-C9-sys.json").read_text())["user"] == "sys"
    assert all(stat.S_IMODE((folder / f"{n}.json").stat().st_mode) == 0o600 for n in names)
    assert selected_context(env) == "natsops-C9"

    # a second cluster does not take the selection unless asked
    other = _cluster(tmp_path, "C8")
    contexts.write_contexts(other, env, select=None)
    assert selected_context(env) == "natsops-C9"
    contexts.write_contexts(other, env, select=True)
    assert selected_context(env) == "natsops-C8"

    # removal deletes exactly the named files, reports what existed, never leaves the folder
    (tmp_path / "cfg" / "nats" / "outside.json").write_text("{}")
    removed = contexts.remove_contexts(["natsops-C9", "natsops-C9-sys", "gone", "../outside"],
                                       env)
    assert removed == ("natsops-C9", "natsops-C9-sys")
    assert sorted(p.stem for p in folder.glob("*.json")) == ["natsops-C8", "natsops-C8-sys"]
    assert (tmp_path / "cfg" / "nats" / "outside.json").exists()


def test_purge_removes_directory_and_contexts(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    c = _cluster(tmp_path)
    c.contexts = contexts.write_contexts(c, env, select=False)
    assert contexts.purge(c, env) == c.contexts
    assert not c.dir.exists()
    assert not list((config_root(env) / "nats" / "context").glob("*.json"))


def test_purge_ignores_a_stale_pid_file(tmp_path: Path) -> None:
    import os

    c = _cluster(tmp_path)
    c.node_dir("n1").mkdir()
    c.pid_path("n1").write_text(f"{os.getpid()}\n")  # alive, but not this node's nats-server
    assert c.running_nodes() == []
    contexts.purge(c, {"XDG_CONFIG_HOME": str(tmp_path / "cfg")})
    assert not c.dir.exists()


def test_create_refuses_an_existing_cluster(tmp_path: Path) -> None:
    c = _cluster(tmp_path)
    with pytest.raises(Conflict, match="already exists"):
        LocalCluster.create(c.dir, name="C9", nodes=list(c.nodes), binary=c.binary)


def test_log_lines_tail_and_missing_log(tmp_path: Path) -> None:
    c = _cluster(tmp_path)
    with pytest.raises(NotFound, match="no log for n1 yet"):
        list(c.log_lines("n1"))
    with pytest.raises(NotFound, match="no node 'n7'"):
        list(c.log_lines("n7"))
    c.node_dir("n1").mkdir()
    c.log_path("n1").write_text("".join(f"line {i}\n" for i in range(10)))
    assert list(c.log_lines("n1", 3)) == ["line 7\n", "line 8\n", "line 9\n"]
    assert list(c.log_lines("n1", 0)) == []


def test_base_port_option() -> None:
    assert parse_base_port("auto") is None
    assert parse_base_port("5222") == 5222
    with pytest.raises(UsageError, match="--base-port"):
        parse_base_port("lots")


def test_plan_document_keeps_running_only_for_an_existing_cluster() -> None:
    new = BootstrapPlan("create and start", "C1", "d", "b", "2.12.0",
                        ({"name": "n1", "client": 1, "cluster": 2, "monitor": 3},))
    assert "running" not in new.to_dict()
    old = BootstrapPlan("report or restart existing cluster", "C1", "d", "b", "2.12.0", (), ())
    assert old.to_dict()["running"] == ()


def test_local_cluster_in_use_is_found_like_doctor_finds_it(tmp_path: Path) -> None:
    """`upgrade --rolling` without --dir uses the one local cluster in ./.natsops (it demanded
    --dir although doctor and server find the cluster there)."""
    from natsops.access import local_cluster_in_use
    from natsops.context import Settings

    search = tmp_path / ".natsops"
    assert local_cluster_in_use(Settings(), search) is None  # no folder
    search.mkdir()
    one = _cluster(search, "C1")
    assert local_cluster_in_use(Settings(), search) == one.dir
    other = LocalCluster(dir=search / "C2", name="C2", nodes=(NodeSpec("n1", 5222, 7222, 9222),),
                         binary=Path("/nonexistent/nats-server"), version="2.99.0")
    other.dir.mkdir()
    other.save()
    assert local_cluster_in_use(Settings(), search) is None  # two: the user must choose
    chosen = Settings(servers=(one.client_urls[0],), sources={"servers": "flag"})
    assert local_cluster_in_use(chosen, search) == one.dir


def test_cluster_commands_find_the_only_local_cluster_or_topology(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from natsops.cluster.target import DEFAULT_DIR, default_local_dir
    from natsops.errors import UsageError

    monkeypatch.chdir(tmp_path)
    assert default_local_dir() == DEFAULT_DIR  # nothing there: the default, reported missing
    (tmp_path / ".natsops/retail").mkdir(parents=True)
    (tmp_path / ".natsops/retail/topology.json").write_text("{}")
    assert default_local_dir() == Path(".natsops/retail")
    (tmp_path / ".natsops/B2").mkdir()
    (tmp_path / ".natsops/B2/cluster.json").write_text("{}")
    with pytest.raises(UsageError, match=r"2 local clusters in \.natsops: B2, retail"):
        default_local_dir()
    (tmp_path / ".natsops/C1").mkdir()
    (tmp_path / ".natsops/C1/cluster.json").write_text("{}")
    assert default_local_dir() == DEFAULT_DIR  # bootstrap's default folder wins
