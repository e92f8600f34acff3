"""A new user's first run of the newer commands with bad input (no server needed).

Each case is what someone types on a fresh machine, stdin not a terminal: it must end with one
``error:`` line (and maybe a ``hint:``), the documented exit code, no traceback, nothing written,
and with ``--json`` a stdout that is empty or one JSON document. ``-s nats://127.0.0.1:1`` (a
port nothing listens on) proves the input is refused before any connection is tried.
"""

from __future__ import annotations

import json
import os
import shlex
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from natsops.cli.main import app

runner = CliRunner()
NO = "-s nats://127.0.0.1:1"  # nothing listens there: exit 3 if natsops tried to connect

TOPOLOGY = """name: single
clusters:
  - name: C1
    nodes:
      - {name: nats-1, host: 10.0.0.11}
      - {name: nats-2, host: 10.0.0.12}
      - {name: nats-3, host: 10.0.0.13}
"""
OK_RECIPE = """kind: Stream
metadata: {name: OK1}
spec: {subjects: ["ok1.>"], storage: memory, num_replicas: 1}
"""
FILES = {
    "empty.yaml": "",
    "list.yaml": "- a\n- b\n",
    "scalar.yaml": "hello\n",
    "broken.yaml": "name: x\nclusters: [\n",
    "topo.yaml": TOPOLOGY,
    "unknown-topo.yaml": TOPOLOGY + "unknownfield: 2\n",
    "badsize-topo.yaml": TOPOLOGY + "defaults:\n  jetstream: {max_memory: -4GB}\n",
    "spaces-topo.yaml": TOPOLOGY.replace("name: single", "name: my topo"),
    "ok.yaml": OK_RECIPE,
    "widget.yaml": "kind: Widget\nmetadata: {name: X}\nspec: {}\n",
    "baddur.yaml": OK_RECIPE.replace("num_replicas: 1", "num_replicas: 1, max_age: 5x"),
    "negbytes.yaml": OK_RECIPE.replace("num_replicas: 1", "num_replicas: 1, max_bytes: -5"),
    "bigreplicas.yaml": OK_RECIPE.replace("num_replicas: 1", "num_replicas: 9"),
    "spacename.yaml": OK_RECIPE.replace("name: OK1", 'name: "OR DERS"'),
    "dotname.yaml": OK_RECIPE.replace("name: OK1", 'name: "A.B"'),
    "wildname.yaml": OK_RECIPE.replace("name: OK1", 'name: "A*"'),
    # header {"alg":"ed25519-nkey","typ":"JWT"}, claims {"sub":"x"}: no issuer
    "noiss.jwt": "eyJhbGciOiJlZDI1NTE5LW5rZXkiLCJ0eXAiOiJKV1QifQ.eyJzdWIiOiJ4In0.AAAA\n",
    "twoparts.jwt": "eyJhbGciOiJlZDI1NTE5LW5rZXkiLCJ0eXAiOiJKV1QifQ.eyJzdWIiOiJ4In0\n",
    "dupnode-topo.yaml": TOPOLOGY.replace("name: nats-2", "name: nats-1"),
    "nonodes-topo.yaml": "name: t\nclusters:\n  - name: C1\n    nodes: []\n",
}

# (command line, exit code, text the error line must hold). {F}: the fixtures folder, {S}: an
# auth store with operator DEMO, account APP and user svc.
CASES: list[tuple[str, int, str]] = [
    # ---- render topology / prometheus / nack ---------------------------------------------
    ("render topology {F}/missing.yaml --out {F}/o", 2, "no such file or directory"),
    ("render topology {F}/adir --out {F}/o", 2, "it is a directory"),
    ("render topology {F}/empty.yaml --out {F}/o", 2, "the topology file is empty"),
    ("render topology {F}/list.yaml --out {F}/o", 2, "expected a mapping, got a list"),
    ("render topology {F}/scalar.yaml --out {F}/o", 2, "expected a mapping, got a string"),
    ("render topology {F}/binary.yaml --out {F}/o", 2, "is not UTF-8 text"),
    ("render topology {F}/broken.yaml --out {F}/o", 2, "invalid YAML"),
    ("render topology {F}/unknown-topo.yaml --out {F}/o", 2, "unknownfield: unknown field"),
    ("render topology {F}/badsize-topo.yaml --out {F}/o", 2, "use a positive size"),
    ("render topology {F}/spaces-topo.yaml --out {F}/o", 2, "invalid topology name"),
    ("render topology {F}/topo.yaml --out /dev/null", 2, "is not a directory"),
    ("render topology {F}/tlsjunk.yaml --out {F}/o", 2,
     "not a PEM certificate (no -----BEGIN ...----- block)"),
    ("render topology {F}/tlsmissing.yaml --out {F}/o --json", 2, "no-cert.pem: cannot read"),
    ("render topology {F}/dupnode-topo.yaml --out {F}/o", 2, "server names must be unique"),
    ("render topology {F}/nonodes-topo.yaml --out {F}/o", 2, "at least one node is needed"),
    ("render topology {F}/topo.yaml --out {F}/topo.yaml", 2, "is not a directory"),
    ("render topology {F}/topo.yaml --out {F}/o --tls bogus", 2, "--tls takes 'generate'"),
    ("render topology {F}/missing.yaml --out {F}/o --json", 2, "no such file"),
    ("render {F}/missing.yaml", 2, "no such file"),
    ("render prometheus {F}/missing.yaml", 2, "no such file"),
    ("render prometheus {F}/list.yaml --out {F}/o", 2, "expected a mapping"),
    ("render prometheus {F}/empty.yaml --json", 2, "the topology file is empty"),
    ("render prometheus {F}/topo.yaml --exporter-port 0", 2, "use 1-65535"),
    ("render prometheus {F}/topo.yaml --exporter-port 70000", 2, "use 1-65535"),
    ("render prometheus {F}/topo.yaml --doctor nohostport --dry-run", 2, "give HOST:PORT"),
    ("render prometheus {F}/topo.yaml --doctor h:99999 --dry-run", 2, "port 1-65535"),
    ("render prometheus {F}/topo.yaml --doctor 'a b:9119' --dry-run", 2, "give HOST:PORT"),
    ("render nack {F}/ok.yaml", 2, "Missing option '--out'"),
    ("render nack {F}/missing.yaml --out {F}/o", 2, "no such file"),
    ("render nack {F}/list.yaml --out {F}/o", 2, "a recipe document is a mapping"),
    ("render nack {F}/widget.yaml --out {F}/o", 2, "unknown kind 'Widget'"),
    ("render nack {F}/baddur.yaml --out {F}/o", 2, "invalid config field 'max_age' '5x'"),
    ("render nack {F}/negbytes.yaml --out {F}/o", 2, "-5 is too small: use -1 (unlimited)"),
    ("render nack {F}/bigreplicas.yaml --out {F}/o", 2, "9 is out of range: use 1..5"),
    ("render nack {F}/spacename.yaml --out {F}/o --json", 2, "invalid stream name"),
    ("render nack {F}/dotname.yaml --out {F}/o", 2, "invalid stream name 'A.B'"),
    ("render nack {F}/wildname.yaml --out {F}/o", 2, "invalid stream name 'A*'"),
    ("render nack {F}/adir --out {F}/o", 2, "no *.yaml recipe files"),
    ("render nack {F}/empty.yaml --out {F}/o", 2, "no resources in the recipe files"),
    ("render nack {F}/binary.yaml --out {F}/o", 2, "is not UTF-8 text"),
    ("render nack {F}/ok.yaml --out /dev/null", 2, "is not a directory"),
    # ---- bootstrap -------------------------------------------------------------------------
    ("bootstrap --topology {F}/missing.yaml", 2, "no such file or directory"),
    ("bootstrap --topology {F}/list.yaml", 2, "expected a mapping"),
    ("bootstrap --topology {F}/empty.yaml --json", 2, "the topology file is empty"),
    ("bootstrap --topology {F}/adir", 2, "it is a directory"),
    ("bootstrap --topology {F}/binary.yaml", 2, "is not UTF-8 text"),
    ("bootstrap --topology {F}/unknown-topo.yaml --dry-run", 2, "unknown field"),
    ("bootstrap --topology {F}/topo.yaml --nodes 5 --dry-run", 2, "--nodes"),
    ("bootstrap --nodes -1 --dry-run", 2, "--nodes must be at least 1"),
    ("bootstrap --nodes 0 --dry-run", 2, "--nodes must be at least 1"),
    ("bootstrap --nodes 2 --dry-run", 2, "pass --allow-even"),
    ("bootstrap --nodes 99999 --dry-run", 2, "max is 65535"),
    ("bootstrap --wait 5x --dry-run", 2, "invalid --wait '5x'"),
    ("bootstrap --wait -5s --dry-run", 2, "must not be negative"),
    ("bootstrap --base-port 99999 --dry-run", 2, "--base-port 99999: give a port between 1"),
    ("bootstrap --base-port -1 --dry-run", 2, "--base-port -1: give a port between 1"),
    ("bootstrap --base-port 0 --dry-run", 2, "give a port between 1 and 65535, or 'auto'"),
    ("bootstrap --base-port abc --dry-run", 2, "a port number or 'auto', not 'abc'"),
    ("bootstrap --max-mem -1GB --dry-run", 2, "invalid --max-mem '-1GB'"),
    ("bootstrap --max-mem 1XB --dry-run", 2, "invalid --max-mem '1XB'"),
    ("bootstrap --name 'a b' --dry-run", 2, "invalid cluster name 'a b'"),
    ("bootstrap --name a.b --dry-run", 2, "invalid cluster name 'a.b'"),
    ("bootstrap --name 'a*' --dry-run --json", 2, "invalid cluster name 'a*'"),
    ("bootstrap --name " + "A" * 64 + " --dry-run", 2, "64 bytes long, at most 63"),
    ("bootstrap --operator NOPE --dry-run", 4, "operator 'NOPE' not found"),
    ("bootstrap --render-only", 2, "--render-only and --hosts go together"),
    ("bootstrap --render-only --hosts a,b,c --out /dev/null", 2, "is not a directory"),
    ("bootstrap --dir /dev/null --dry-run", 2, "is not a directory"),
    # ---- plan / apply / export: the recipes are checked before connecting ------------------
    (f"plan {NO} {{F}}/missing.yaml", 2, "no such file or directory"),
    (f"plan {NO} {{F}}/adir", 2, "no *.yaml recipe files"),
    (f"plan {NO} {{F}}/empty.yaml", 2, "no resources"),
    (f"plan {NO} {{F}}/list.yaml --json", 2, "a recipe document is a mapping"),
    (f"plan {NO} {{F}}/scalar.yaml", 2, "a recipe document is a mapping"),
    (f"plan {NO} {{F}}/binary.yaml", 2, "is not UTF-8 text"),
    (f"plan {NO} {{F}}/broken.yaml", 2, "not valid YAML"),
    (f"plan {NO} {{F}}/widget.yaml", 2, "unknown kind 'Widget'"),
    (f"plan {NO} {{F}}/baddur.yaml --check", 2, "'5x'"),
    (f"plan {NO} {{F}}/negbytes.yaml --json", 2, "use -1 (unlimited) or more"),
    (f"plan {NO} {{F}}/spacename.yaml", 2, "invalid stream name"),
    (f"plan {NO} {{F}}/ok.yaml --json", 3, "connection refused"),
    (f"apply {NO} {{F}}/baddur.yaml --dry-run", 2, "'5x'"),
    (f"apply {NO} {{F}}/empty.yaml --dry-run --json", 2, "no resources"),
    (f"apply {NO} {{F}}/widget.yaml --yes", 2, "unknown kind"),
    (f"apply {NO} {{F}}/ok.yaml --json", 3, "connection refused"),
    (f"export {NO}", 2, "give stream or bucket names, or --all"),
    (f"export {NO} A --all", 2, "give stream or bucket names, or --all"),
    (f"export {NO} --all --out /dev/null", 2, "is not a directory"),
    (f"export {NO} --all --out {{F}}/topo.yaml --json", 2, "is not a directory"),
    # ---- lab (no lab, bad values; nothing here needs root) ---------------------------------
    ("lab status --dir {F}/nolab", 4, "no natsops lab in"),
    ("lab status --dir {F}/nolab --json", 4, "no natsops lab in"),
    ("lab down --dir {F}/nolab", 4, "no natsops lab in"),
    ("lab down --dir {F}/nolab --purge", 4, "no natsops lab in"),
    ("lab down --dir {F}/nolab --purge --json", 4, "no natsops lab in"),
    ("lab exec --dir {F}/nolab -- true", 4, "no natsops lab in"),
    ("lab exec --dir {F}/nolab", 2, "give the command to run after --"),
    ("lab partition n1 --dir {F}/nolab", 4, "no natsops lab in"),
    ("lab heal --dir {F}/nolab", 4, "no natsops lab in"),
    ("lab isolate n1 --from n2 --dir {F}/nolab", 4, "no natsops lab in"),
    ("lab kill n1 --dir {F}/nolab", 4, "no natsops lab in"),
    ("lab freeze n1 --dir {F}/nolab", 4, "no natsops lab in"),
    ("lab thaw n1 --dir {F}/nolab", 4, "no natsops lab in"),
    ("lab restart n1 --dir {F}/nolab --dry-run", 4, "no natsops lab in"),
    ("lab up --dir {F}/L --nodes 0 --dry-run", 2, "--nodes must be at least 1"),
    ("lab up --dir {F}/L --nodes 2 --dry-run", 2, "pass --allow-even"),
    ("lab up --dir {F}/L --nodes 11 --dry-run", 2, "at most 9 nodes"),
    ("lab up --dir {F}/L --name 'a b' --dry-run", 2, "invalid cluster name 'a b'"),
    ("lab up --dir {F}/L --name a.b --dry-run --json", 2, "invalid cluster name 'a.b'"),
    ("lab up --dir {F}/L --name " + "B" * 300 + " --dry-run", 2, "at most 63"),
    ("lab up --dir /dev/null --dry-run", 2, "is not a directory"),
    ("lab up --dir {F}/L --wait 5x", 2, "invalid --wait '5x'"),
    ("lab up --dir {F}/L --topology {F}/missing.yaml", 2, "no such file"),
    ("lab up --dir {F}/L --topology {F}/list.yaml --json", 2, "expected a mapping"),
    ("lab up --dir {F}/L --topology {F}/topo.yaml --name x --dry-run", 2, "choose one"),
    # ---- damaged state files ---------------------------------------------------------------
    ("lab status --dir {F}/labbad --json", 2, "lab.json is damaged"),
    ("lab down --dir {F}/labbad", 2, "lab.json is damaged"),
    ("lab up --dir {F}/labbad --dry-run", 2, "lab.json is damaged"),
    ("bootstrap --dir {F}/clbad --dry-run", 2, "cluster.json is damaged: not a JSON object"),
    ("doctor --from {F}/notdoctor.tgz --json", 2, "not a natsops doctor archive (no natsops"),
    (f"stream restore {NO} --all {{F}}/bkbad --dry-run", 2, "is not a natsops backup archive"),
    # ---- context ----------------------------------------------------------------------------
    ("context show nope", 4, "context 'nope' not found"),
    ("context show nope --json", 4, "context 'nope' not found"),
    ("context select nope", 4, "context 'nope' not found"),
    ("context rm nope --force", 4, "context 'nope' not found"),
    ("context validate nope --json", 4, "context 'nope' not found"),
    ("context show {F}/list.yaml", 2, "invalid context name"),
    ("context add a/b -s nats://x:4222", 2, "invalid context name 'a/b'"),
    ("context add ../x -s nats://x:4222", 2, "invalid context name"),
    ("context add ok -s 'not a url::'", 2, "invalid server URL"),
    ("context add ok -s nats://x:99999", 2, "Port out of range"),
    ("context add ok -s a:4222,nats://b:0 --json", 2, "port 0"),
    ("context add ok -s http://x:4222", 2, "scheme must be nats, tls, ws or wss"),
    ("context add ok --creds {F}/missing.creds", 2, "--creds {F}/missing.creds: no such file"),
    ("context add ok --creds {F}/adir", 2, "is a directory, not a file"),
    ("context add ok --tlscert {F}/missing.pem", 2, "--tlscert {F}/missing.pem: no such"),
    ("context add ok --user u --creds {F}/topo.yaml", 2, "too many types of credentials"),
    # ---- auth: store, describe, edits, revocations ------------------------------------------
    ("auth --store {F}/nostore ls", 4, "no operator in"),
    ("auth --store {F}/nostore ls --json", 4, "no operator in"),
    ("auth --store {F}/nostore expirations", 4, "no operator in"),
    ("auth --store {S} expirations --within 5x", 2, "invalid --within '5x'"),
    ("auth --store {S} expirations --within -1d", 2, "must not be negative"),
    ("auth --store {S} expirations --within 99999999d", 2, "at most 292y"),
    ("auth --store {S} describe jwt {F}/missing.jwt", 2, "no such file or directory"),
    ("auth --store {S} describe jwt {F}/adir", 2, "it is a directory"),
    ("auth --store {S} describe jwt {F}/empty.yaml", 2, "not a JWT or a creds file"),
    ("auth --store {S} describe jwt {F}/binary.yaml --json", 2, "is not UTF-8 text"),
    ("auth --store {S} describe jwt -", 2, "stdin: not a JWT or a creds file"),
    # the reason is not taken for a secret and masked ("JWT: iss" looked like a key: value)
    ("auth --store {S} describe jwt {F}/noiss.jwt", 2, "(iss is not a public nkey)"),
    ("auth --store {S} describe jwt {F}/twoparts.jwt --json", 2, "not a JWT or a creds file"),
    ("auth --store {S} describe widget x", 2, "describe what?"),
    ("auth --store {S} describe account NOPE", 4, "account 'NOPE'"),
    ("auth --store {S} revocations ls --account NOPE --json", 4, "account 'NOPE'"),
    ("auth --store {S} revocations add -a APP -n nobody", 4, "user 'nobody'"),
    ("auth --store {S} revocations add -a NOPE -n svc", 4, "account 'NOPE'"),
    ("auth --store {S} revocations add -a APP -n svc", 2, "stdin is not a terminal"),
    ("auth --store {S} revocations add -a APP -n svc --at notatime", 2, "invalid --at"),
    ("auth --store {S} revocations rm -a APP -n svc", 4, "has no revocation"),
    ("auth --store {S} user edit svc -a APP --allow-pubsub 'a b' --dry-run", 2, "white space"),
    ("auth --store {S} user edit svc -a APP --allow-pubsub a..b --dry-run", 2, "empty token"),
    ("auth --store {S} user edit svc -a APP --expiry 5x --dry-run", 2, "invalid --expiry"),
    ("auth --store {S} user edit nobody -a APP --dry-run", 4, "user 'nobody'"),
    ("auth --store {S} user edit svc -a NOPE --dry-run --json", 4, "account 'NOPE'"),
    ("auth --store {S} user add 'a b' -a APP", 2, "invalid user name 'a b'"),
    ("auth --store {S} user add '*' -a APP", 2, "invalid user name '*'"),
    ("auth --store {S} account add 'A B'", 2, "invalid account name"),
    ("auth --store {S} account add APP", 9, "already exists"),
    ("auth --store {S} account edit APP --js-disk 5XB --dry-run", 2, "invalid --js-disk"),
    ("auth --store {S} account edit APP --js-tier R7 --js-disk 1GB --dry-run", 2, "R1..R5"),
    ("auth --store {S} account edit APP --max-conns -5 --dry-run", 2,
     "invalid --max-conns -5: use at least -1"),
    ("auth --store {S} account edit APP --js-streams -2 --dry-run --json", 2,
     "invalid --js-streams -2"),
    ("auth --store {S} account edit APP --js-disable --js-disk 1GB --dry-run", 2,
     "--js-disable drops the JetStream limits"),
    ("auth --store {S} account edit NOPE --dry-run", 4, "account 'NOPE'"),
    ("auth --store {S} account mapping add APP --from 'a b' --to x", 2, "white space"),
    ("auth --store {S} account signing-key add APP --role 'a b'", 2, "invalid role name"),
    ("auth --store {S} push --wait 5x", 2, "invalid --wait '5x'"),
    # ---- doctor: archives and --serve --------------------------------------------------------
    ("doctor --archive {F}/adir --monitor http://127.0.0.1:1", 2, "it is a directory"),
    ("doctor --from {F}/missing.tgz", 2, "no such file"),
    ("doctor --from {F}/empty.yaml", 2, "not a natsops doctor archive"),
    ("doctor --from {F}/adir --json", 2, "is a folder, not an archive file"),
    ("doctor --from {F}/binary.yaml --json", 2, "not a natsops doctor archive"),
    ("doctor --from {F}/empty.yaml --serve :0", 2, "exclude each other"),
    ("doctor --serve abc", 2, "expected HOST:PORT"),
    ("doctor --serve 99999", 2, "is not between 0 and 65535"),
    ("doctor --interval 5s", 2, "--interval goes with --serve"),
    ("doctor --serve :0 --interval 5x", 2, "invalid --interval '5x'"),
    ("doctor --format bogus", 2, "unknown --format 'bogus'"),
    ("doctor --sample 5x", 2, "invalid --sample '5x'"),
    # ---- stream restore --all, kv/object edit (refused before connecting) -------------------
    (f"stream restore {NO} --all {{F}}/missing", 2, "not a folder"),
    (f"stream restore {NO} --all {{F}}/adir --json", 2, "no backups in"),
    (f"stream restore {NO} --all {{F}}/empty.yaml", 2, "not a folder"),
    (f"stream restore {NO} --all {{F}}/adir --name X", 2, "--all takes a folder"),
    (f"stream restore {NO} --dry-run {{F}}/missing.tgz", 2, "--dry-run goes with --all"),
    (f"stream restore {NO} --skip-existing {{F}}/x.tgz", 2, "--skip-existing goes with --all"),
    (f"stream restore {NO} {{F}}/binary.yaml", 2, "not a natsops backup archive"),
    (f"stream restore {NO} {{F}}/adir", 2, "is not a natscli backup"),
    (f"stream restore {NO} --all {{F}}/adir --replicas 0", 2, "--replicas must be between"),
    (f"stream restore {NO} --all {{F}}/adir --wait 5x", 2, "invalid --wait '5x'"),
    (f"kv edit {NO} 'a b' --history 2", 2, "invalid bucket name 'a b'"),
    (f"object edit {NO} a.b --ttl 1h", 2, "invalid bucket name 'a.b'"),
    (f"kv edit {NO} KV1", 2, "nothing to change"),
    (f"kv edit {NO} KV1 --history 65", 2, "invalid --history 65: use 1 to 64"),
    (f"kv edit {NO} KV1 --ttl 5x", 2, "invalid --ttl '5x'"),
    (f"kv edit {NO} KV1 --max-value-size 1XB --json", 2, "invalid --max-value-size '1XB'"),
    (f"kv edit {NO} KV1 --max-bucket-size 99999999TB", 2, "invalid --max-bucket-size"),
    (f"kv edit {NO} KV1 --storage bogus", 2, "invalid --storage 'bogus'"),
    (f"object edit {NO} OB1 --max-bucket-size 1XB", 2, "invalid --max-bucket-size '1XB'"),
    (f"object edit {NO} OB1 --ttl -5s", 2, "invalid --ttl '-5s'"),
]


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    f = tmp_path_factory.mktemp("first-run")
    for name, text in FILES.items():
        (f / name).write_text(text)
    (f / "binary.yaml").write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)))
    (f / "adir").mkdir()
    for folder, name, text in (("labbad", "lab.json", '{"id": 1'), ("clbad", "cluster.json", "[]"),
                               ("bkbad", "S1.tar", "x" * 1000)):
        (f / folder).mkdir()
        (f / folder / name).write_text(text)
    one = "name: t\nclusters: [{name: C1, nodes: [{name: n1, host: 10.0.0.1}]}]\n"
    for name, ca, cert in (("tlsjunk.yaml", f / "topo.yaml", f / "topo.yaml"),  # not PEM
                           ("tlsmissing.yaml", f / "no-ca.pem", f / "no-cert.pem")):
        (f / name).write_text(one + f"tls:\n  ca: {ca}\n  certs: {{n1: {{cert: {cert}, "
                              f"key: {cert}}}}}\n")
    with tarfile.open(f / "notdoctor.tgz", "w:gz") as tar:
        tar.add(f / "topo.yaml", arcname="topo.yaml")
    store = f / "store"
    for args in (["operator", "add", "DEMO", "--sys"], ["account", "add", "APP"],
                 ["user", "add", "svc", "--account", "APP"]):
        r = runner.invoke(app, ["auth", "--store", str(store), *args])
        assert r.exit_code == 0, r.output
    return {"F": str(f), "S": str(store)}


def _listing(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*")}


@pytest.mark.parametrize(("line", "code", "needle"), CASES, ids=[c[0][:60] for c in CASES])
def test_bad_input_is_one_error_line_and_its_exit_code(line: str, code: int, needle: str,
                                                       fixtures: dict[str, str]) -> None:
    folder = Path(fixtures["F"])
    before = _listing(folder)
    r = runner.invoke(app, shlex.split(line.format(**fixtures)))
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    assert "Traceback" not in r.stdout + r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines and lines[0].startswith("error: "), r.stderr
    assert all(ln.startswith("hint: ") for ln in lines[1:]), r.stderr
    assert needle.format(**fixtures) in lines[0], lines[0]
    if "--json" in line and r.stdout.strip():
        json.loads(r.stdout)
    assert _listing(folder) == before  # nothing half-written next to the inputs


def test_lab_up_dry_run_is_a_table_unless_json(tmp_path: Path) -> None:
    r = runner.invoke(app, ["lab", "up", "--dir", str(tmp_path / "L"), "--dry-run"])
    assert r.exit_code == 0, r.output
    assert not r.stdout.lstrip().startswith("{")
    assert "n1" in r.stdout and "10.200.0.11" in r.stdout
    assert "would create the lab" in r.stderr
    assert not (tmp_path / "L").exists()


@pytest.mark.parametrize("flag", ["--force", "--yes"])
def test_a_question_without_a_terminal_names_the_flag_that_skips_it(flag: str) -> None:
    from natsops.cli.prompt import confirm
    from natsops.errors import UsageError

    # auth push --prune and upgrade: their --force means something else, so the hint is --yes
    with pytest.raises(UsageError) as err:
        confirm("delete it?", force=False, flag=flag)
    assert err.value.hint == f"pass {flag} to go ahead without asking"


@pytest.mark.parametrize(("text", "needle"), [
    ("[1, 2]", "is not a JSON object"),
    ("{bad json", "is not valid JSON"),
    ('{"url": 5}', "url is 5, expected a string"),
    ('{"url": "nats://127.0.0.1:1", "tls_first": "yes"}', "expected true or false"),
])
def test_a_damaged_context_is_named_with_its_file(text: str, needle: str) -> None:
    folder = Path(os.environ["XDG_CONFIG_HOME"]) / "nats" / "context"
    folder.mkdir(parents=True)
    (folder / "bad.json").write_text(text)
    for args in (["context", "show", "bad", "--json"], ["--context", "bad", "stream", "ls"],
                 ["context", "validate", "bad"]):
        r = runner.invoke(app, args)
        assert r.exit_code == 2, (args, r.output)
        assert r.stdout == ""
        assert r.stderr.startswith("error: context 'bad' in ") and needle in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1


def test_a_field_natsops_does_not_know_is_a_warning_naming_its_line(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from natsops.estate import load_resources

    (tmp_path / "r.yaml").write_text(OK_RECIPE.replace("num_replicas: 1", "num_replicas: 1, bogus: 1"))
    with caplog.at_level("WARNING", logger="natsops"):
        (res,) = load_resources([tmp_path / "r.yaml"])
    assert res.spec["bogus"] == 1  # still sent: a newer server may know it
    assert [r.getMessage() for r in caplog.records] == [
        f"warning: {tmp_path / 'r.yaml'}:3: Stream OK1: spec.bogus is not a field natsops "
        "knows; it is sent as written (a newer server's field, or one the server refuses)"]


def test_doctor_timeout_is_the_monitor_deadline() -> None:
    import socket

    with socket.socket() as silent:  # accepts connections (backlog), never answers: a frozen server
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        r = runner.invoke(app, ["doctor", "--monitor", url, "--timeout", "300ms", "--json"])
    assert r.exit_code == 3, r.output
    assert r.stdout == ""
    assert r.stderr.startswith("error: no server answered") and "within 0.3s" in r.stderr
