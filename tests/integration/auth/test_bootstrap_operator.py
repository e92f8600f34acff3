"""``natsops bootstrap --operator DEMO``: the recipe locally in two commands."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from natsops.cli.main import app
from natsops.cluster.local import LocalCluster
from natsops.context import load_context


# bootstrap leaves its servers running on purpose (they are stopped by pid in `finally`), so the
# Popen objects it dropped complain when collected.
@pytest.mark.filterwarnings(
    "ignore:Exception ignored in.*Popen.__del__:pytest.PytestUnraisableExceptionWarning")
def test_bootstrap_operator_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATSOPS_STORE", str(tmp_path / "store"))
    runner = CliRunner()
    r = runner.invoke(app, ["auth", "operator", "add", "DEMO", "--sys"])
    assert r.exit_code == 0, r.stderr
    d = tmp_path / "c1"
    try:
        r = runner.invoke(app, ["bootstrap", "--operator", "DEMO", "--dir", str(d), "--nodes",
                                "3", "--base-port", "auto", "--name", "OPT", "--json"])
        assert r.exit_code == 0, (r.stdout, r.stderr)
        doc = json.loads(r.stdout)
        assert doc["contexts"] == ["natsops-OPT", "natsops-OPT-sys"]
        assert doc["probe_replicas"] == 3
        _, ctx = load_context("natsops-OPT")
        assert ctx["creds"].endswith("keys/creds/DEMO/APP/app.creds")
        assert "password" not in {k for k, v in ctx.items() if v}
        conf = (d / "n1" / "nats-server.conf").read_text()
        assert "resolver {" in conf
        assert "type: full" in conf

        async def use() -> None:
            import nats

            nc = await nats.connect(ctx["url"].split(","), user_credentials=ctx["creds"])
            try:
                info = await nc.jetstream().account_info()
                assert info.limits.max_streams == -1
            finally:
                await nc.close()

        asyncio.run(use())
        # the pushed path works too, and verify sees every node current
        r = runner.invoke(app, ["--context", "natsops-OPT-sys", "auth", "push", "--all",
                                "--expect", "3", "--json"])
        assert r.exit_code == 0, (r.stdout, r.stderr)
        statuses = {c["status"] for c in json.loads(r.stdout)["verification"]["copies"]}
        assert statuses == {"current"}
        # the selected context (APP/app) gives the URL; a system user is minted from the store
        r = runner.invoke(app, ["auth", "verify", "--expect", "3", "--json"])
        assert r.exit_code == 0, (r.stdout, r.stderr)
        # an explicitly chosen application context: the -sys context beside it is found
        r = runner.invoke(app, ["--context", "natsops-OPT", "auth", "verify"])
        assert r.exit_code == 0, (r.stdout, r.stderr)
        # explicit application credentials are the only login: one clear error
        creds = str(ctx["creds"])
        r = runner.invoke(app, ["--creds", creds, "auth", "verify"])
        assert r.exit_code == 7, (r.stdout, r.stderr)
        assert "not a system-account user" in r.stderr and r.stderr.count("error:") == 1
    finally:
        if LocalCluster.exists(d):
            LocalCluster.load(d).stop_all(grace=5)
