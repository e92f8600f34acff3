"""`auth verify --json` prints the one findings document (see test_findings_contract.py)."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from natsops.cli.main import app
from tests.integration.test_findings_contract import assert_findings_document

runner = CliRunner()


def test_auth_verify(operator_cluster: Any, auth_store: Any) -> None:
    oc = operator_cluster(nodes=1)
    base = ["-s", oc.url("a1"), "auth", "--store", str(auth_store.root)]
    _ok([*base, "push", "--all"])
    doc = json.loads(_ok([*base, "verify", "--json"]))
    assert_findings_document(doc, 0)
    assert doc["findings"] and {f["severity"] for f in doc["findings"]} == {"ok"}


def _ok(args: list[str]) -> str:
    r = runner.invoke(app, args)
    assert r.exit_code == 0, (args, r.stdout, r.stderr)
    return r.stdout
