"""`natsops lint` through Typer's runner: outputs and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from natsops.cli.main import app

runner = CliRunner()
CLEAN = ('server_name: n1\nlisten: "127.0.0.1:4222"\njetstream { store_dir: "/var/lib/nats", '
         "max_memory_store: 1GB, max_file_store: 10GB }\n")


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {"clean": CLEAN, "bad": "server_name: n1\nping_interval: 2m\n",
           "warn": CLEAN + "write_deadline: \"1ms\"\n",
           "broken": "server_name: n1\nmax_payload: 2 MB\n"}
    paths = {}
    for name, text in out.items():
        p = tmp_path / f"{name}.conf"
        p.write_text(text)
        paths[name] = p
    return paths


def test_clean_exits_0(files: dict[str, Path]) -> None:
    r = runner.invoke(app, ["lint", str(files["clean"])])
    assert r.exit_code == 0, r.output
    assert "no findings" in r.stderr


def test_fail_exits_6_with_location_source_and_fix(files: dict[str, Path]) -> None:
    r = runner.invoke(app, ["lint", str(files["bad"])])
    assert r.exit_code == 6
    assert "2:1" in r.stdout
    assert "conf/duration-integer" in r.stdout
    assert "2 | ping_interval: 2m" in r.stdout
    assert 'fix: quote it as a duration: ping_interval: "2m"' in r.stdout


def test_warn_exits_0_or_6_with_strict(files: dict[str, Path]) -> None:
    assert runner.invoke(app, ["lint", str(files["warn"])]).exit_code == 0
    assert runner.invoke(app, ["lint", "--strict", str(files["warn"])]).exit_code == 6
    r = runner.invoke(app, ["lint", "--strict", "--disable", "conf/write-deadline",
                            str(files["warn"])])
    assert r.exit_code == 0


def test_json_is_one_document(files: dict[str, Path]) -> None:
    r = runner.invoke(app, ["lint", "--json", str(files["bad"]), str(files["clean"])])
    assert r.exit_code == 6
    doc = json.loads(r.stdout)
    assert doc["exit_code"] == 6
    f = next(f for f in doc["findings"] if f["id"] == "conf/duration-integer")
    assert f["severity"] == "fail"
    assert f["location"]["line"] == 2
    assert f["fix"]


def test_sarif(files: dict[str, Path]) -> None:
    r = runner.invoke(app, ["lint", "--format", "sarif", str(files["bad"])])
    assert r.exit_code == 6
    doc = json.loads(r.stdout)
    assert doc["version"] == "2.1.0"
    res = doc["runs"][0]["results"]
    hit = next(x for x in res if x["ruleId"] == "conf/duration-integer")
    assert hit["level"] == "error"
    assert hit["locations"][0]["physicalLocation"]["region"] == {"startLine": 2, "startColumn": 1}
    rules = doc["runs"][0]["tool"]["driver"]["rules"]
    assert rules[hit["ruleIndex"]]["id"] == "conf/duration-integer"
    assert runner.invoke(app, ["lint", "--sarif", str(files["bad"])]).stdout == r.stdout


@pytest.mark.parametrize("fmt", ["human", "json", "sarif"])
def test_syntax_error_is_a_finding_and_every_file_is_linted(files: dict[str, Path],
                                                            fmt: str) -> None:
    r = runner.invoke(app, ["lint", "--format", fmt, str(files["broken"]), str(files["bad"]),
                            str(files["broken"].parent / "missing.conf")])
    assert r.exit_code == 6, r.output
    assert "Traceback" not in r.output
    if fmt == "human":
        assert f"conf/parse-error {files['broken']}:2:" in r.stdout
        assert "conf/duration-integer" in r.stdout and "file/unreadable" in r.stdout
        return
    doc = json.loads(r.stdout)
    if fmt == "json":
        got = {(f["id"], f["location"]["file"], f["location"]["line"]) for f in doc["findings"]}
        assert ("conf/parse-error", str(files["broken"]), 2) in got
        assert ("conf/duration-integer", str(files["bad"]), 2) in got
        assert doc["files"][str(files["broken"])] == "unparsable"
    else:
        rules = [x["id"] for x in doc["runs"][0]["tool"]["driver"]["rules"]]
        res = doc["runs"][0]["results"]
        parse = [x for x in res if rules[x["ruleIndex"]] == "conf/parse-error"]
        assert parse[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 2


SECRET_CONF = """authorization {
  user: admin
  password: "Sup3r-s3cret-PW"
  token: tok-AbCdEf123
}
cluster { routes: ["nats://ruser:R0ute-pw@n2:6222"] }
accounts { A { users: [{user: u, pass: P4ss-xyz#not-a-comment}] } }
leafnodes { remotes: [{url: "leaf-user:L3af-pw@hub:7422"}] }
seed: SUAAVVJ2BIBXG5FBLR5NBZXLNCQCQLHFWCKGQUWDLTBQRDA4T2TE2HOXOQ
ping_interval: 2m
"""


@pytest.mark.parametrize("fmt", ["human", "json", "sarif"])
def test_secrets_never_printed(tmp_path: Path, fmt: str) -> None:
    conf = tmp_path / "secret.conf"
    conf.write_text(SECRET_CONF)
    r = runner.invoke(app, ["lint", "--format", fmt, str(conf)])
    assert r.exit_code == 6, r.output
    assert "password" in r.output or fmt != "human"
    for secret in ("Sup3r-s3cret-PW", "tok-AbCdEf123", "R0ute-pw", "P4ss-xyz", "L3af-pw",
                   "SUAAVVJ2BIBXG5FB"):
        assert secret not in r.output, (secret, r.output)
    if fmt == "human":
        assert 'password: "•••"' in r.stdout


@pytest.mark.parametrize("args", [["lint"], ["lint", "/nonexistent/x.conf"],  # nothing readable
                                  ["lint", "--min-severity", "loud", "x"],
                                  ["lint", "--format", "xml", "x"]])
def test_usage_errors_exit_2(args: list[str], files: dict[str, Path]) -> None:
    if args[-1] == "x":
        args = [*args[:-1], str(files["clean"])]
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output


def test_min_severity_hides_info(files: dict[str, Path]) -> None:
    r = runner.invoke(app, ["lint", "--json", "--min-severity", "fail", str(files["warn"])])
    assert json.loads(r.stdout)["findings"] == []


def test_digest_matches_server_format(files: dict[str, Path]) -> None:
    r = runner.invoke(app, ["lint", "--digest", str(files["clean"])])
    assert r.exit_code == 0
    assert r.stdout.startswith("sha256:")
    assert str(files["clean"]) in r.stdout


def test_list_rules() -> None:
    r = runner.invoke(app, ["lint", "--list-rules", "--json"])
    assert r.exit_code == 0
    rules = {x["id"] for x in json.loads(r.stdout)}
    assert {"conf/unknown-field", "set/server-name-unique", "stream/replicas",
            "helm/liveness"} <= rules


def test_cluster_set_cross_file(tmp_path: Path) -> None:
    paths = []
    for i in (1, 2):
        p = tmp_path / f"n{i}.conf"
        p.write_text(f"server_name: same\n{CLEAN.split(chr(10), 1)[1]}"
                     "cluster { name: C1, no_advertise: true, routes: [nats://a:6222] }\n")
        paths.append(str(p))
    r = runner.invoke(app, ["lint", "--json", *paths])
    ids = {f["id"] for f in json.loads(r.stdout)["findings"]}
    assert {"set/server-name-unique", "set/cluster-size"} <= ids
    assert r.exit_code == 6


def test_import_of_cli_main_stays_light() -> None:
    import subprocess
    import sys

    code = ("import sys, natsops.cli.main; bad = [m for m in ('yaml', 'jinja2', 'httpx', 'nats') "
            "if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_directory_means_its_conf_files(tmp_path: Path) -> None:
    for i in (1, 2, 3):
        (tmp_path / f"n{i}").mkdir()
        (tmp_path / f"n{i}" / "nats-server.conf").write_text(f"server_name: n{i}\n")
    r = runner.invoke(app, ["lint", "--json", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.stdout)["files"]) == 3
    empty = tmp_path / "empty"
    empty.mkdir()
    assert runner.invoke(app, ["lint", str(empty)]).exit_code == 2
