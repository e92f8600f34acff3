"""`natsops bench` authenticates with a creds file on an operator-mode server (signed nonce)."""

from __future__ import annotations

import asyncio

from typer.testing import CliRunner

from natsops.bench import BenchOptions, run_bench
from natsops.cli.main import app
from natsops.context import Settings


def test_bench_with_creds(operator_cluster, auth_store, unique) -> None:  # type: ignore[no-untyped-def]
    oc = operator_cluster(nodes=1)
    r = CliRunner().invoke(app, ["-s", oc.url("a1"), "auth", "--store", str(auth_store.root),
                                 "push", "--all"])
    assert r.exit_code == 0, r.output
    creds = auth_store.creds_path("DEMO", "APP", "service")
    settings = Settings(servers=(oc.url("a1"),), creds=str(creds), timeout=5.0)
    res = asyncio.run(run_bench(settings, BenchOptions(subject=unique("credsbench"), pubs=1,
                                                       subs=1, msgs=2_000, size=64)))
    assert res.published == 2_000 and res.received == 2_000 and res.lost == 0
    # the same run through the CLI with --creds
    r = CliRunner().invoke(app, ["-s", oc.url("a1"), "--creds", str(creds), "bench",
                                 unique("credscli"), "--msgs", "500", "--no-progress", "--json"])
    assert r.exit_code == 0, r.output
    # without credentials the operator-mode server refuses: an auth error, exit 7
    r = CliRunner().invoke(app, ["-s", oc.url("a1"), "bench", "x", "--msgs", "10",
                                 "--no-progress"])
    assert r.exit_code == 7, r.output
