"""tls-expiry beyond varz, on a real server: the HTTPS monitor's chain (an intermediate CA
expiring in 10 days, read from the TLS handshake) and, from the config file (--config-dir),
a leaf remote's client certificate expiring in 4 days, which no endpoint reports."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from natsops.cli.main import app
from natsops.cluster.process import free_port
from natsops.tls import CertKey, generate_ca, issue_cert, write_pair
from tests.integration.test_doctor_audit import start_server

pytestmark = [pytest.mark.integration]


def test_monitor_chain_and_leaf_remote_client_cert(server_bin: Path, tmp_path: Path) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    root = generate_ca("root", path_length=1)
    inter = generate_ca("inter", parent=root, not_after=now + dt.timedelta(days=10))
    srv = issue_cert(inter, "tlsn", ip_addresses=["127.0.0.1"],
                     not_after=now + dt.timedelta(days=200))
    cli = issue_cert(inter, "leafcli", ip_addresses=["127.0.0.1"],
                     not_after=now + dt.timedelta(days=4))
    write_pair(root, tmp_path / "ca.pem", tmp_path / "ca-key.pem")
    write_pair(CertKey(srv.cert_pem + inter.cert_pem, srv.key_pem), tmp_path / "srv.pem",
               tmp_path / "srv-key.pem")
    write_pair(CertKey(cli.cert_pem + inter.cert_pem, cli.key_pem), tmp_path / "cli.pem",
               tmp_path / "cli-key.pem")
    https, nowhere = free_port(), free_port()
    tls = (f'cert_file: "{tmp_path}/srv.pem", key_file: "{tmp_path}/srv-key.pem", '
           f'ca_file: "{tmp_path}/ca.pem"')
    conf = (f'server_name: tlsn\nlisten: "127.0.0.1:-1"\nhttps: "127.0.0.1:{https}"\n'
            f"tls {{ {tls} }}\nleafnodes {{ remotes: [ {{ url: \"tls://127.0.0.1:{nowhere}\", "
            f'tls {{ cert_file: "{tmp_path}/cli.pem", key_file: "{tmp_path}/cli-key.pem", '
            f'ca_file: "{tmp_path}/ca.pem" }} }} ] }}\n')
    proc = start_server(server_bin, tmp_path / "tlsn", conf)
    try:
        (tmp_path / "configs").mkdir()
        (tmp_path / "configs" / "tlsn.conf").write_text(conf)
        res = CliRunner().invoke(app, [
            "--tlsca", str(tmp_path / "ca.pem"), "doctor", "--monitor",
            f"https://127.0.0.1:{https}", "--config-dir", str(tmp_path / "configs"),
            "--only", "tls-expiry", "--format", "json"])
        assert res.exit_code == 6, res.output
        found = [f for f in json.loads(res.stdout)["findings"] if f["id"] == "tls-expiry"]
        by = {(f["evidence"]["source"], f["evidence"]["subject"]): f for f in found}
        mon = by[("https handshake", "CN=inter")]
        assert mon["severity"] == "warn" and 9.5 < mon["evidence"]["days_left"] < 10.1
        leaf = by[(f"{tmp_path}/cli.pem", "CN=leafcli")]
        assert leaf["severity"] == "fail" and leaf["evidence"]["listener"] == \
            "leafnodes.remotes[0].tls"
        assert "cli.pem" in leaf["fix"]
        # the intermediate is reported once (handshake first), not again from the files
        assert [k for k in by if k[1] == "CN=inter"] == [("https handshake", "CN=inter")]
        assert not any(k[1] == "CN=tlsn" for k in by)  # 200 days: quiet
    finally:
        proc.stop(grace=5)
