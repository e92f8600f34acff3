"""``auth push`` / ``auth verify`` with one of three servers frozen (SIGSTOP): a FAIL naming it.

Proving every server holds the JWT is the commands' point: a server the cluster knows (a
JetStream meta peer, a route peer) that does not answer is a finding, never silence.
"""

from __future__ import annotations

import json
import signal

from typer.testing import CliRunner

from natsops.auth import ops
from natsops.cli.main import app


def _cli(store: object, url: str, *args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, ["-s", url, "auth", "--store", str(store), *args])
    return r.exit_code, r.stdout, r.stderr


def test_push_and_verify_name_a_frozen_server(operator_cluster, auth_store) -> None:
    ops.add_account(auth_store, "DEMO", "GONE")
    oc = operator_cluster(nodes=3)
    store, url = auth_store.root, oc.url("a1")
    code, out, err = _cli(store, url, "push", "--all", "--json")
    assert code == 0, (out, err)
    assert json.loads(out).get("missing", []) == []

    oc.wait_meta_peers()
    frozen = oc.procs["a3"]
    frozen.signal(signal.SIGSTOP)
    try:
        code, out, err = _cli(store, url, "push", "--all", "--json")
        assert code == 6, (out, err)
        doc = json.loads(out)
        assert doc["missing"] == ["a3"]
        assert doc["exit_code"] == 6
        fails = [f for f in doc["findings"] if f["severity"] == "fail"]
        assert [(f["id"], f["subject"]) for f in fails] == [("AUTH016", "a3")]
        assert "a3 did not answer" in fails[0]["message"]
        rows = {(r["server"], r["status"]) for p in doc["pushes"] for r in p["replies"]}
        assert ("a3", "no answer") in rows
        assert doc["verification"]["missing"] == ["a3"]

        code, out, err = _cli(store, url, "push", "--all")
        assert code == 6, (out, err)
        assert "server a3 did not answer" in out
        assert "every server holds" not in out + err

        code, out, err = _cli(store, url, "verify", "--json")
        assert code == 6, (out, err)
        doc = json.loads(out)
        assert doc["missing"] == ["a3"]
        assert [(f["id"], f["subject"]) for f in doc["findings"]
                if f["severity"] == "fail"] == [("AUTH016", "a3")]
        assert {(c["server"], c["status"]) for c in doc["copies"]} >= {("a3", "no answer")}

        code, out, err = _cli(store, url, "verify")
        assert code == 6, (out, err)
        assert "server a3 did not answer" in out

        # deleting from the servers is not done while one of them did not answer
        code, out, err = _cli(store, url, "account", "rm", "GONE", "--from-servers", "--force")
        assert code == 10, (out, err)
        assert "a3 did not delete GONE" in err
        assert "GONE" in auth_store.account_names("DEMO")  # the store was left as it was
    finally:
        frozen.signal(signal.SIGCONT)
