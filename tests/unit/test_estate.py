"""The estate without a server: recipe loading and its errors, diffs, reports, NACK rendering."""

from __future__ import annotations

from pathlib import Path

import pytest

from natsops.errors import UsageError
from natsops.estate import Live, Op, load_resources
from natsops.estate.kinds import handler
from natsops.estate.model import Plan
from natsops.estate.nack import render_nack
from natsops.estate.report import plan_lines
from natsops.render import data_dir

ESTATE = data_dir("recipes") / "estate"


def write(tmp_path: Path, text: str, name: str = "r.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_guide_estate_loads_in_file_order() -> None:
    res = load_resources([ESTATE])
    assert [(r.kind, r.name) for r in res] == [
        ("ObjectStore", "FIRMWARE"), ("Stream", "ORDERS"), ("Consumer", "ORDERS/workers"),
        ("KeyValue", "SESSIONS")]
    orders = res[1].spec
    assert orders["max_age"] == 720 * 3600 * 10**9 and orders["max_bytes"] == 50 << 30
    assert res[3].spec == {"replicas": 3, "ttl": 24 * 3600 * 10**9}


@pytest.mark.parametrize(("text", "where", "says"), [
    ("kind: Stream\nmetadata: {name: A}\nspec:\n  subjects: [a]\n  max_agee: 1h\n",
     "r.yaml:5", "field 'spec.max_agee': unknown field (did you mean 'max_age'?)"),
    ("kind: Stream\nmetadata: {name: A}\nspec:\n  max_age: soon\n", "r.yaml:4", "'spec.max_age'"),
    ("kind: Stream\nmetadata: {name: A}\nspec:\n  storage: disk\n", "r.yaml:4",
     "'disk' is not one of file, memory"),
    ("kind: Strem\nmetadata: {name: A}\n", "r.yaml:1", "did you mean 'Stream'?"),
    ("kind: Stream\nspec: {subjects: [a]}\n", "r.yaml:1", "no name"),
    ("kind: Consumer\nmetadata: {name: c}\nspec: {}\n", "r.yaml:2", "no stream"),
    ("kind: KeyValue\nmetadata: {name: 'a.b'}\n", "r.yaml:2", "invalid bucket name"),
    ("kind: Stream\nmetadata: {name: A}\nspec: {subjects: [a]\n", "r.yaml:4", "not valid YAML"),
    ("kind: Stream\nmetadata: {name: A}\n---\nkind: Stream\nmetadata: {name: A}\n", "r.yaml:4",
     "also defined at"),
    ("spec: {}\n", "r.yaml:1", "no 'kind'"),
    ("# nothing\n", "", "no resources"),
])
def test_recipe_errors_name_file_line_and_field(tmp_path: Path, text: str, where: str,
                                                says: str) -> None:
    with pytest.raises(UsageError) as exc:
        load_resources([write(tmp_path, text)])
    assert says in str(exc.value)
    if where:
        assert str(exc.value).startswith(f"{tmp_path}/{where}:")


def _live(kind: str, name: str, cfg: dict[str, object], holds: int = 0) -> Live:
    return Live(kind, name, cfg, holds=holds)


def test_stream_diff_update_recreate_and_defaults(tmp_path: Path) -> None:
    (res,) = load_resources([write(tmp_path, "kind: Stream\nmetadata: {name: A}\n"
                                   "spec: {subjects: [a], max_age: 1h}\n")])
    h = handler("Stream")
    live = {"name": "A", "subjects": ["a"], "max_age": 3600 * 10**9, "storage": "file",
            "num_replicas": 1, "retention": "limits", "max_msgs": -1, "duplicate_window": 1,
            "metadata": {"_nats.ver": "2.12", "natsops.io/managed-by": "natsops"}}
    assert h.diff(res, _live("Stream", "A", live)).op is Op.NOOP
    drifted = {**live, "max_msgs": 10}  # a field the recipe leaves out: back to the default
    act = h.diff(res, _live("Stream", "A", drifted))
    assert act.op is Op.UPDATE and [(c.field, c.old, c.new) for c in act.changes] == [
        ("max_msgs", 10, -1)]
    act = h.diff(res, _live("Stream", "A", {**live, "storage": "memory"}, holds=3))
    assert act.op is Op.RECREATE and "storage cannot change" in act.reason
    lines = plan_lines(Plan((act,)))
    assert lines[0].startswith("-/+ Stream A  [must be recreated: storage cannot change")
    assert "holds 3 messages" in lines[0] and lines[1].strip() == "storage: memory -> file"
    assert lines[-1] == ("Plan: 0 to create, 0 to update, 1 to recreate, 0 to delete, "
                         "0 unchanged.")
    wq = h.diff(res, _live("Stream", "A", {**live, "retention": "workqueue"}))
    assert wq.op is Op.RECREATE and "workqueue" in wq.reason
    assert h.diff(res, None).op is Op.CREATE


def test_consumer_push_pull_switch_is_a_recreate(tmp_path: Path) -> None:
    (res,) = load_resources([write(tmp_path, "kind: Consumer\nmetadata: {name: c, stream: S}\n"
                                   "spec: {ack_policy: explicit, max_deliver: 5}\n")])
    live = {"name": "c", "durable_name": "c", "ack_policy": "explicit", "max_deliver": 5,
            "deliver_policy": "all", "replay_policy": "instant", "ack_wait": 30 * 10**9,
            "max_waiting": 512, "num_replicas": 0}
    h = handler("Consumer")
    assert res.name == "S/c" and h.diff(res, _live("Consumer", "S/c", live)).op is Op.NOOP
    act = h.diff(res, _live("Consumer", "S/c", {**live, "deliver_subject": "x"}))
    assert act.op is Op.RECREATE and "push and pull" in act.reason


def test_export_writes_human_units_and_no_defaults() -> None:
    h = handler("Stream")
    doc = h.export(_live("Stream", "A", {
        "name": "A", "subjects": ["a"], "max_age": 720 * 3600 * 10**9, "max_bytes": 50 << 30,
        "storage": "file", "num_replicas": 1, "discard": "old", "duplicate_window": 120 * 10**9,
        "sealed": False, "metadata": {"_nats.req.level": "0", "natsops.io/managed-by": "x",
                                      "team": "a"}}))
    assert doc == {"kind": "Stream", "metadata": {"name": "A"}, "spec": {
        "subjects": ["a"], "max_age": "720h", "max_bytes": "50GB", "duplicate_window": "2m",
        "metadata": {"team": "a"}}}


def test_nack_resources_use_the_crd_field_names() -> None:
    docs, skipped = render_nack(load_resources([ESTATE]))
    assert skipped == []
    by_kind = {d.document["kind"]: d.document for d in docs}
    assert all(d["apiVersion"] == "jetstream.nats.io/v1beta2" for d in by_kind.values())
    assert by_kind["Stream"]["metadata"] == {"name": "orders"}
    assert by_kind["Stream"]["spec"] == {
        "name": "ORDERS", "subjects": ["orders.>"], "storage": "file", "replicas": 3,
        "retention": "limits", "maxAge": "720h", "maxBytes": 50 << 30, "discard": "old",
        "duplicateWindow": "2m"}
    assert by_kind["Consumer"]["spec"] == {
        "durableName": "workers", "streamName": "ORDERS", "filterSubject": "orders.created.>",
        "ackPolicy": "explicit", "maxDeliver": 5, "replayPolicy": "instant",
        "deliverPolicy": "all"}
    assert by_kind["KeyValue"]["spec"] == {"bucket": "SESSIONS", "replicas": 3, "ttl": "24h"}
    assert by_kind["ObjectStore"]["spec"] == {"bucket": "FIRMWARE", "replicas": 3}


def test_nack_names_fields_it_cannot_hold(tmp_path: Path) -> None:
    (res,) = load_resources([write(tmp_path, "kind: KeyValue\nmetadata: {name: B}\n"
                                   "spec: {history: 5, metadata: {team: a}}\n")])
    (doc,), _ = render_nack([res])
    assert doc.dropped == ("metadata",) and doc.document["spec"] == {"bucket": "B",
                                                                      "history": 5}


def test_lint_reads_estate_recipes(tmp_path: Path) -> None:
    from natsops.conf.lint import lint_paths
    from natsops.findings import Severity

    clean = lint_paths(sorted(ESTATE.glob("*.yaml")))
    assert [f for f in clean.findings if f.severity >= Severity.WARN] == []
    bad = write(tmp_path, "kind: Stream\nmetadata: {name: A}\nspec:\n  subjects: [a]\n"
                "  max_age: 1h\n  num_replicas: 2\n---\nkind: Consumer\nmetadata: {name: c}\n")
    found = {(f.id, f.location.line if f.location else 0) for f in lint_paths([bad]).findings}
    assert found == {("stream/replicas", 6), ("estate/invalid", 9)}


def test_a_new_kind_is_one_registered_class(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from natsops.estate import kinds as registry
    from natsops.estate.kinds import Kind, handlers, register
    from natsops.estate.model import Doc, Resource

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry.kinds()))

    @register
    class Widget(Kind):
        kind = "Widget"
        order = -1  # before every registered kind (Account is 0)
        defaults = {"size": 1}  # noqa: RUF012 - a test kind

        def load(self, doc: Doc) -> Resource:
            return Resource(self.kind, str(doc.metadata["name"]), dict(doc.spec), doc.where())

    (res,) = load_resources([write(tmp_path, "kind: Widget\nmetadata: {name: w}\n"
                                   "spec: {colour: red}\n")])
    assert handlers()[0].kind == "Widget"
    act = Widget().diff(res, Live("Widget", "w", {"colour": "blue", "size": 2}))
    assert act.op is Op.UPDATE and [c.field for c in act.changes] == ["colour", "size"]


@pytest.mark.parametrize(("value", "want"), [
    ("2027-06-30", "2027-06-30T00:00:00Z"), ("2027-06-30T12:00:00Z", "2027-06-30T12:00:00Z"),
    ("'2027-06-30T14:00:00+02:00'", "2027-06-30T12:00:00Z"),
    ("1814356800", "2027-06-30T12:00:00Z"), ("never", None)])
def test_user_expires_reads_dates_times_unix_and_never(tmp_path: Path, value: str,
                                                       want: str | None) -> None:
    [user] = load_resources([write(tmp_path, "kind: User\nmetadata: {name: u, account: A}\n"
                                             f"spec: {{expires: {value}}}\n")])
    assert user.spec["expires"] == want
    live = _live("User", "A/u", {"pub": {}, "expires": "2026-01-01T00:00:00Z"})
    action = handler("User").diff(user, live)
    assert [(c.field, c.new) for c in action.changes] == [("expires", want)]


def test_user_recipe_errors_for_expires_and_role(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"r.yaml:3: .*spec.expires.*2027-06-30T00:00:00Z"):
        load_resources([write(tmp_path, "kind: User\nmetadata: {name: u, account: A}\n"
                                        "spec: {expires: soon}\n")])
    with pytest.raises(UsageError, match="give only role, tags and expires"):
        load_resources([write(tmp_path, "kind: User\nmetadata: {name: u, account: A}\n"
                                        "spec: {role: ops, expires: 2027-06-30, bearer_token: "
                                        "true}\n")])


def test_account_import_without_token_keeps_the_held_token() -> None:
    from natsops.estate.kinds.account import desired_nats

    held = {"imports": [{"name": "f", "subject": "f.>", "account": "AKEY", "type": "stream",
                         "token": "eyJ.held.token"}]}
    spec = {"imports": [{"name": "f", "subject": "f.>", "account": "FEED", "type": "stream"}]}
    assert desired_nats(spec, held, {"FEED": "AKEY"})["imports"] == held["imports"]
    live = Live("Account", "APP", held, detail={"keys": {"FEED": "AKEY"}, "operator": "DEMO"})
    doc = handler("Account").export(live)
    assert doc["spec"]["imports"] == spec["imports"]  # by name, no token (a JWT)


def test_fields_newer_than_the_server_are_refused_at_their_line(tmp_path: Path) -> None:
    """2.10 ignores StreamConfig fields it does not know: applying allow_msg_ttl would
    "succeed" and every later plan would show the same update. The plan refuses it instead."""
    from natsops.estate.plan import _check_server_version

    res = load_resources([write(tmp_path, "kind: Stream\nmetadata: {name: A}\nspec:\n"
                                "  subjects: [a]\n  allow_msg_ttl: true\n---\nkind: Consumer\n"
                                "metadata: {name: c, stream: A}\nspec:\n  ack_policy: explicit\n"
                                "  priority_policy: none\n")])
    with pytest.raises(UsageError) as exc:
        _check_server_version("2.10.26", res)
    assert str(exc.value).startswith(f"{tmp_path}/r.yaml:5: Stream A: field "
                                     "'spec.allow_msg_ttl': needs nats-server 2.11 or newer")
    assert "2.10.26" in str(exc.value) and exc.value.hint
    for ok in ("2.11.0", "2.15.1", ""):  # new enough, or unknown: the server decides
        _check_server_version(ok, res)
    off = load_resources([write(tmp_path, "kind: Stream\nmetadata: {name: B}\nspec:\n"
                                "  allow_msg_ttl: false\n  persist_mode: default\n", "b.yaml")])
    _check_server_version("2.10.26", off)  # the defaults are what 2.10 does anyway
