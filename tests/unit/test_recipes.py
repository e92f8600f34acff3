"""The shipped recipes load as natsops configs and lint clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from natsops.conf.lint import lint_paths
from natsops.findings import Severity
from natsops.jetstream.spec import load_config_file
from natsops.render import data_dir

RECIPES = sorted(data_dir("recipes").glob("*.yaml"))


def test_recipes_ship() -> None:
    assert {p.name for p in RECIPES} >= {"orders-stream.yaml", "orders-workers-consumer.yaml"}


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_recipe_loads_and_lints_clean(path: Path) -> None:
    kind = "consumer" if "consumer" in path.name else "stream"
    cfg = load_config_file(path, kind)
    assert cfg
    if kind == "stream":
        assert cfg["max_age"] == 720 * 3600 * 10**9 and cfg["max_bytes"] == 50 << 30
        report = lint_paths([path])
        assert [f for f in report.findings if f.severity >= Severity.WARN] == []
