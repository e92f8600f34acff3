"""restore --all without a server: the order, placement, limits and the checks of the folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from natsops.backup import placement_override, plan_restore_all
from natsops.backup.restore_all import dependency_order
from natsops.errors import UsageError
from tests.unit.test_backup import SNAPSHOT, make_archive


def archive(d: Path, config: dict[str, Any], snapshot: bytes = SNAPSHOT) -> Path:
    d.mkdir(exist_ok=True)
    return make_archive(d / f"{config['name']}.tar", snapshot, config=config,
                        sha256_of=SNAPSHOT)


def test_origins_come_before_their_mirrors_and_sources_cycles_last() -> None:
    order = dependency_order({"Z_MIRROR": ["A"], "A": [], "B_AGG": ["A", "Z_MIRROR", "ELSEWHERE"],
                              "C": [], "LOOP1": ["LOOP2"], "LOOP2": ["LOOP1"]})
    assert order == ["A", "C", "Z_MIRROR", "B_AGG", "LOOP1", "LOOP2"]


def test_placement_replaces_the_backed_up_one() -> None:
    assert placement_override(None, None) == {}
    assert placement_override("east", ["ssd, az:1", "fast"]) == {
        "placement": {"cluster": "east", "tags": ["ssd", "az:1", "fast"]}}
    assert placement_override(None, ["ssd"]) == {"placement": {"tags": ["ssd"]}}


def test_plan_reads_the_folder_orders_and_applies_overrides(tmp_path: Path) -> None:
    d = tmp_path / "bk"
    archive(d, {"name": "ORD", "subjects": ["ord.>"], "num_replicas": 3,
                "placement": {"cluster": "old"}})
    archive(d, {"name": "AAA_COPY", "mirror": {"name": "ORD"}, "num_replicas": 1})
    archive(d, {"name": "KV_cfg", "subjects": ["$KV.cfg.>"]})
    archive(d, {"name": "OBJ_files", "subjects": ["$O.files.C.>", "$O.files.M.>"]})
    (d / ".ORD.tar.tmp").write_bytes(b"half")  # a backup's temp file is not a backup
    plan = plan_restore_all(d, replicas=1, max_bytes="1MB", cluster="new", tags=["t"])
    assert [(s.stream, s.kind, s.origins) for s in plan.steps] == [
        ("KV_cfg", "kv", ()), ("OBJ_files", "object", ()), ("ORD", "stream", ()),
        ("AAA_COPY", "mirror", ("ORD",))]
    assert [s.bucket for s in plan.steps] == ["cfg", "files", None, None]
    assert {s.replicas for s in plan.steps} == {1}
    assert plan.steps[2].overrides == {"max_bytes": 1024 * 1024,
                                       "placement": {"cluster": "new", "tags": ["t"]}}
    assert plan_restore_all(d).steps[2].replicas == 3 and plan_restore_all(d).steps[2].overrides == {}


def test_plan_refuses_before_anything_is_restored(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a folder"):
        plan_restore_all(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no backups"):
        plan_restore_all(tmp_path / "empty")
    d = tmp_path / "bk"
    archive(d, {"name": "ORD", "subjects": ["ord.>"]})
    with pytest.raises(UsageError, match="smaller than"):
        plan_restore_all(d, max_bytes="100")
    with pytest.raises(UsageError, match="--replicas"):
        plan_restore_all(d, replicas=7)
    archive(d, {"name": "BAD", "subjects": ["bad.>"]}, snapshot=SNAPSHOT[:-1] + b"x")
    with pytest.raises(UsageError, match=r"BAD\.tar: snapshot SHA-256 does not match"):
        plan_restore_all(d)
