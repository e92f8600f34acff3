"""`natsops plan` / `apply` / `export` against real servers: the guide's estate, diffs,
immutable fields, prune, --check, export to a fresh server, and an interrupted apply."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest

from natsops.cluster.local import LocalCluster
from natsops.cluster.process import ServerProcess
from natsops.render import data_dir
from tests.cli._helpers import natsops
from tests.conftest import start_test_cluster

pytestmark = pytest.mark.integration


@pytest.fixture
def fresh_server(server_bin: Path, tmp_path: Path) -> Iterator[str]:
    """A JetStream server of this test alone (prune and "apply on a fresh server" need one)."""
    proc = ServerProcess.start(
        server_bin, ["-js", "-sd", str(tmp_path / "js"), "-a", "127.0.0.1", "-p", "-1",
                     "-m", "-1", "-n", "estate-fresh"], log_file=tmp_path / "server.log")
    try:
        proc.wait_ready(15)
        yield proc.client_url
    finally:
        proc.stop(grace=5)


TAGS = {"n1": ["a"], "n2": ["a", "b"], "n3": ["b"]}


@pytest.fixture(scope="module")
def tagged_cluster(server_bin: Path,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A 3-node cluster of this module whose servers carry the tags of ``TAGS``."""
    cluster = start_test_cluster(tmp_path_factory.mktemp("estate-tags"), server_bin,
                                 name="ETAGS", tags=TAGS)
    try:
        yield cluster
    finally:
        cluster.stop_all(grace=5)


def ok(url: str | list[str], *args: str) -> str:
    r = natsops(url, *args)
    assert r.exit_code == 0, (args, r.stdout, r.stderr)
    return r.stdout


def plan_json(url: str | list[str], path: Path, *extra: str) -> dict[str, Any]:
    return json.loads(ok(url, "plan", str(path), "--json", *extra))


def pending(plan: dict[str, Any]) -> list[tuple[str, str, str, list[str]]]:
    return [(a["kind"], a["name"], a["op"], [c["field"] for c in a["changes"]])
            for a in plan["actions"] if a["op"] != "no-change"]


def guide_estate(tmp_path: Path, tag: str) -> Path:
    """The shipped recipes/estate with names and subjects made unique to this test."""
    out = tmp_path / "estate"
    out.mkdir()
    for f in sorted((data_dir("recipes") / "estate").glob("*.yaml")):
        text = f.read_text()
        for old in ("ORDERS", "SESSIONS", "FIRMWARE"):
            text = text.replace(old, f"{old}_{tag}")
        (out / f.name).write_text(text.replace('"orders.', f'"{tag}.orders.'))
    return out


def stream_recipe(tmp_path: Path, name: str, field: str) -> Path:
    """A one-stream recipe: subjects ``NAME.>`` and ``field`` (``key: value``)."""
    recipe = tmp_path / "s.yaml"
    recipe.write_text(f"kind: Stream\nmetadata: {{name: {name}}}\n"
                      f"spec: {{subjects: ['{name}.>'], {field}}}\n")
    return recipe


def edit(recipe: Path, old: str, new: str) -> None:
    recipe.write_text(recipe.read_text().replace(old, new))


async def _infos(url: str | list[str], *streams: str) -> dict[str, Any]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        return {s: await js.stream_info(s) for s in streams}
    finally:
        await nc.close()


def infos(url: str | list[str], *streams: str) -> dict[str, Any]:
    return asyncio.run(_infos(url, *streams))


@pytest.mark.cluster
def test_guide_estate_apply_plan_edit_check(nats_cluster, unique, tmp_path: Path) -> None:
    urls = nats_cluster.urls
    tag = unique("E")
    estate = guide_estate(tmp_path, tag)
    out = ok(urls, "apply", str(estate), "--yes")
    assert "create Stream ORDERS_" in out and "create KeyValue SESSIONS_" in out
    r = natsops(urls, "plan", str(estate), "--check")
    assert r.exit_code == 0 and "No changes: 4 resource(s)" in r.stdout, (r.stdout, r.stderr)
    si = infos(urls, f"ORDERS_{tag}", f"KV_SESSIONS_{tag}", f"OBJ_FIRMWARE_{tag}")
    assert all(s.config.num_replicas == 3 for s in si.values())
    assert si[f"KV_SESSIONS_{tag}"].config.max_age == 24 * 3600
    orders = estate / "orders.yaml"
    edit(orders, "max_age: 720h", "max_age: 24h")
    assert pending(plan_json(urls, estate)) == [("Stream", f"ORDERS_{tag}", "update",
                                                  ["max_age"])]
    r = natsops(urls, "plan", str(estate), "--check")
    assert r.exit_code == 5, r.stderr  # ExitCode.PENDING
    assert "max_age: 720h -> 24h" in r.stdout and "1 to update" in r.stdout
    ok(urls, "apply", str(estate))  # an update needs no confirmation
    assert pending(plan_json(urls, estate, "--check")) == []
    edit(orders, "max_deliver: 5", "max_deliver: 7")
    assert pending(plan_json(urls, estate)) == [("Consumer", f"ORDERS_{tag}/workers", "update",
                                                  ["max_deliver"])]
    assert "update Consumer" in ok(urls, "apply", str(estate))
    assert pending(plan_json(urls, estate, "--check")) == []


@pytest.mark.cluster
def test_replicas_one_to_three_waits_for_current_replicas(nats_cluster, unique,
                                                         tmp_path: Path) -> None:
    urls = nats_cluster.urls
    name = unique("SCALE")
    recipe = stream_recipe(tmp_path, name, "num_replicas: 1")
    with recipe.open("a") as fh:  # a bucket scales the same way
        fh.write(f"---\nkind: KeyValue\nmetadata: {{name: {name}}}\nspec: {{replicas: 1}}\n")
    ok(urls, "apply", str(recipe))
    edit(recipe, "replicas: 1", "replicas: 3")
    out = ok(urls, "apply", str(recipe))
    assert "num_replicas: 1 -> 3" in out and "      replicas: 1 -> 3" in out
    assert out.count("R3 current") == 2
    for stream in (name, f"KV_{name}"):
        cl = infos(urls, stream)[stream].cluster
        assert len(cl.replicas) == 2 and all(p.current for p in cl.replicas)


def test_immutable_field_refused_then_recreated_with_backup(nats_server, unique,
                                                            tmp_path: Path) -> None:
    url = nats_server.url
    name = unique("IMM")
    recipe = stream_recipe(tmp_path, name, "storage: file")
    ok(url, "apply", str(recipe))
    ok(url, "pub", f"{name}.a", "hello")
    before = infos(url, name)[name]
    edit(recipe, "storage: file", "storage: memory")
    plan = plan_json(url, recipe)
    (act,) = [a for a in plan["actions"] if a["op"] != "no-change"]
    assert act["op"] == "recreate" and "storage cannot change" in act["reason"]
    assert act["holds"] == 1
    r = natsops(url, "apply", str(recipe))  # refused before any question is asked
    assert r.exit_code == 9, (r.stdout, r.stderr)  # CONFLICT: holds messages, nothing done
    assert "holds 1 messages" in r.stderr and "--allow-recreate" in r.stderr
    assert infos(url, name)[name].state.last_seq == before.state.last_seq
    backups = tmp_path / "backups"
    out = ok(url, "apply", str(recipe), "--yes", "--allow-recreate", "--backup-dir",
             str(backups))
    (archive,) = backups.glob(f"{name}-*.tar")
    assert f"backup of 1 messages at {archive} (verified)" in out
    storage = infos(url, name)[name].config.storage
    assert getattr(storage, "value", storage) == "memory"
    assert pending(plan_json(url, recipe)) == []


def test_prune_deletes_only_owned(fresh_server: str, unique, tmp_path: Path) -> None:
    url = fresh_server
    a, b, hand = unique("A"), unique("B"), unique("HAND")
    recipe = tmp_path / "r.yaml"
    docs = [f"kind: Stream\nmetadata: {{name: {n}}}\nspec: {{subjects: ['{n}.>']}}\n"
            for n in (a, b)]
    recipe.write_text("---\n".join(docs))
    ok(url, "apply", str(recipe))
    ok(url, "stream", "add", hand, "--subjects", f"{hand}.>", "--defaults")
    ok(url, "kv", "add", unique("KVHAND"))
    recipe.write_text(docs[0])
    assert pending(plan_json(url, recipe)) == []  # without --prune nothing is deleted
    assert pending(plan_json(url, recipe, "--prune")) == [("Stream", b, "delete", [])]
    r = natsops(url, "apply", str(recipe), "--prune")
    assert r.exit_code == 2 and "--force" in r.stderr  # asks; no terminal: refused
    ok(url, "apply", str(recipe), "--prune", "--yes")
    names = json.loads(ok(url, "stream", "ls", "--json", "--all"))
    assert a in names and hand in names and b not in names
    assert len(names) == 3


def test_export_then_apply_on_fresh_server(nats_server, fresh_server: str, unique,
                                           tmp_path: Path) -> None:
    src = nats_server.url
    s, kv, obj = unique("HB"), unique("HBKV"), unique("HBOBJ")
    ok(src, "stream", "add", s, "--subjects", f"{s}.>", "--max-age", "36h", "--max-bytes",
       "1GB", "--dupe-window", "5m", "--description", "hand built", "--defaults")
    ok(src, "consumer", "add", s, "w", "--pull", "--filter", f"{s}.in.>", "--ack", "explicit",
       "--max-deliver", "7", "--wait", "45s", "--defaults")
    ok(src, "kv", "add", kv, "--history", "5", "--ttl", "2h")
    ok(src, "object", "add", obj, "--max-bucket-size", "64MB")
    out = tmp_path / "exported"
    dry = natsops(src, "export", s, kv, "--out", str(out), "--dry-run", "--json")
    assert dry.exit_code == 0 and json.loads(dry.stdout) == [
        str(out / f"stream-{s}.yaml"), str(out / f"keyvalue-{kv}.yaml")], dry.output
    assert not out.exists()
    ok(src, "export", s, kv, obj, "--out", str(out))
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"stream-{s}.yaml", f"keyvalue-{kv}.yaml", f"objectstore-{obj}.yaml"])
    r = natsops(src, "plan", str(out), "--check")
    assert r.exit_code == 0 and "No changes: 4" in r.stdout, (r.stdout, r.stderr)
    ok(fresh_server, "apply", str(out))
    streams = (s, f"KV_{kv}", f"OBJ_{obj}")
    a, b = infos(src, *streams), infos(fresh_server, *streams)
    for n in streams:
        ca, cb = a[n].config.as_dict(), b[n].config.as_dict()
        ma, mb = ca.pop("metadata", None) or {}, cb.pop("metadata", None) or {}
        assert ca == cb, n
        assert {k: v for k, v in mb.items() if not k.startswith("_nats")} == {
            **{k: v for k, v in ma.items() if not k.startswith("_nats")},
            "natsops.io/managed-by": "natsops"}
    ca, cb = (asyncio.run(_consumer(u, s)) for u in (src, fresh_server))
    assert {k: v for k, v in ca.items() if k != "metadata"} == {
        k: v for k, v in cb.items() if k != "metadata"}


async def _consumer(url: str, stream: str) -> dict[str, Any]:
    nc = await nats.connect(url)
    try:
        return dict((await nc.jetstream().consumer_info(stream, "w")).config.as_dict())
    finally:
        await nc.close()


def test_interrupted_apply_reports_and_rerun_continues(nats_server, unique,
                                                        tmp_path: Path) -> None:
    url = nats_server.url
    n1, n2, n3, n4 = (unique(p) for p in ("I1", "I2", "I3", "I4"))
    recipe = tmp_path / "r.yaml"

    def write(third_subject: str) -> None:
        subjects = {n1: f"{n1}.>", n2: f"{n2}.>", n3: third_subject, n4: f"{n4}.>"}
        recipe.write_text("---\n".join(
            f"kind: Stream\nmetadata: {{name: {n}}}\nspec: {{subjects: ['{subj}']}}\n"
            for n, subj in subjects.items()))

    write(f"{n1}.x")  # overlaps the first stream's subjects: the server refuses it
    r = natsops(url, "apply", str(recipe))
    assert r.exit_code == 9, (r.stdout, r.stderr)  # CONFLICT: the server's "subjects overlap"
    assert f"ok  create Stream {n1}: created" in r.stdout
    assert f"ok  create Stream {n2}: created" in r.stdout
    assert f"FAILED  create Stream {n3}" in r.stdout
    assert f"not run  create Stream {n4}" in r.stdout
    assert "2 step(s) applied and kept, 1 not run" in r.stderr
    ok(url, "pub", f"{n1}.a", "kept")
    before = infos(url, n1, n2)
    write(f"{n3}.>")
    out = ok(url, "apply", str(recipe))
    assert f"create Stream {n3}" in out and f"create Stream {n4}" in out
    assert n1 not in out and n2 not in out  # untouched: not even planned as a change
    after = infos(url, n1, n2)
    for n in (n1, n2):
        assert after[n].created == before[n].created
        assert after[n].state.last_seq == before[n].state.last_seq
    assert after[n1].state.last_seq == 1


@pytest.mark.cluster
def test_placement_tags_change_moves_the_stream(tagged_cluster: LocalCluster, unique,
                                                tmp_path: Path) -> None:
    urls = tagged_cluster.client_urls
    name = unique("MOVE")
    recipe = stream_recipe(tmp_path, name, "num_replicas: 2, placement: {tags: [a]}")
    ok(urls, "apply", str(recipe))

    def peers() -> set[str]:
        cl = infos(urls, name)[name].cluster
        assert cl is not None and all(p.current for p in cl.replicas or []), cl
        return {cl.leader or "", *(p.name for p in cl.replicas or [])}

    assert peers() == {"n1", "n2"}
    for i in range(50):
        ok(urls, "pub", f"{name}.x", f"m{i}")
    edit(recipe, "tags: [a]", "tags: [b]")
    plan = plan_json(urls, recipe)
    assert pending(plan) == [("Stream", name, "update", ["placement.tags"])], plan
    r = natsops(urls, "plan", str(recipe))
    assert "placement.tags: ['a'] -> ['b']" in r.stdout, r.stdout
    out = ok(urls, "apply", str(recipe))
    assert "R2 current" in out, out
    moved = peers()  # right after apply: it waited for the move
    assert moved == {"n2", "n3"}, moved
    assert all("b" in TAGS[p] for p in moved)
    state = infos(urls, name)[name].state
    assert (state.messages, state.first_seq, state.last_seq) == (50, 1, 50)
    assert pending(plan_json(urls, recipe)) == []
    ok(urls, "stream", "edit", name, "--tag", "a", "--force")  # the same wait in stream edit
    assert peers() == {"n1", "n2"}


def test_export_all_without_operator_mode_says_accounts_were_not_exported(
        nats_server, unique, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from natsops.auth import ops
    from natsops.auth.store import Store

    s = unique("NOOP")
    ok(nats_server.url, "stream", "add", s, "--subjects", f"{s}.>", "--defaults")
    ops.add_operator(Store(tmp_path / "data" / "natsops"), "DEMO", sys=True)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # a store, another deployment
    out = tmp_path / "estate"
    r = natsops(nats_server.url, "export", "--all", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert [ln for ln in r.stderr.splitlines() if "not exported" in ln] == [
        "accounts and users not exported: the servers do not run in operator mode (their "
        "accounts are in config files, not in an auth store)"]
    assert (out / f"stream-{s}.yaml").is_file() and not list(out.glob("account-*"))
