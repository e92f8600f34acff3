"""Config parsing, flag application and diffs (no server)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pytest

from natsops.errors import UsageError
from natsops.jetstream.consumers import (
    ConsumerFlags,
    ConsumerListing,
    ack_reply,
    apply_consumer_flags,
    consumer_add_config,
    fill_consumer_config,
    linear_backoff,
)
from natsops.jetstream.models import ClusterView
from natsops.jetstream.questions import Ask, Question
from natsops.jetstream.spec import diff_configs, load_config_file, strip_server_metadata
from natsops.jetstream.streams import (
    PROMPTED,
    Purge,
    StepDown,
    StreamFlags,
    apply_stream_flags,
    fill_stream_config,
    report_streams,
    stream_add_config,
    stream_config_for_add,
    visible_names,
)

if TYPE_CHECKING:
    from natsops.connection import Conn

GB = 1024**3
NS = 10**9


def test_guide_flags_give_natscli_values() -> None:
    cfg = stream_config_for_add("ORDERS", {}, StreamFlags(
        subjects=("orders.>",), storage="file", replicas=3, retention="limits", max_age="720h",
        max_bytes="50GB", discard="old", dupe_window="2m"), defaults=True)
    assert cfg["max_age"] == 720 * 3600 * NS
    assert cfg["max_bytes"] == 50 * GB
    assert cfg["duplicate_window"] == 120 * NS
    assert cfg["num_replicas"] == 3
    assert cfg["subjects"] == ["orders.>"]
    assert cfg["max_msgs"] == -1
    assert cfg["allow_direct"] is True
    assert cfg["compression"] == "none"


def test_sizes_durations_and_lists() -> None:
    cfg = apply_stream_flags({}, StreamFlags(subjects=("a, b", "c"), max_bytes="-1",
                                             max_age="1d", max_msg_size="1MiB",
                                             retention="work", tags=("az:1,ssd",)))
    assert cfg["subjects"] == ["a", "b", "c"]
    assert cfg["max_bytes"] == -1
    assert cfg["max_age"] == 86400 * NS
    assert cfg["max_msg_size"] == 1024**2
    assert cfg["retention"] == "workqueue"
    assert cfg["placement"] == {"tags": ["az:1", "ssd"]}
    with pytest.raises(UsageError, match="50XB"):
        apply_stream_flags({}, StreamFlags(max_bytes="50XB"))
    with pytest.raises(UsageError, match="discard"):
        apply_stream_flags({}, StreamFlags(discard_per_subject=True, discard="old"))


def test_load_config_accepts_info_json_and_yaml(tmp_path: Path) -> None:
    info = {"config": {"name": "S", "subjects": ["s"], "max_age": 0,
                       "metadata": {"_nats.ver": "2.15.1", "_nats.level": "5"}},
            "state": {"messages": 1}, "created": "x"}
    f = tmp_path / "i.json"
    f.write_text(json.dumps(info))
    assert load_config_file(f) == {"name": "S", "subjects": ["s"], "max_age": 0}
    y = tmp_path / "c.yaml"
    y.write_text("name: S\nmax_age: 2h\nduplicate_window: 30s\nmax_bytes: 1GB\n")
    assert load_config_file(y) == {"name": "S", "max_age": 7200 * NS,
                                   "duplicate_window": 30 * NS, "max_bytes": GB}
    bad = tmp_path / "b.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(UsageError, match="expected a stream config"):
        load_config_file(bad)
    c = tmp_path / "c.json"
    c.write_text('{"name": "C", "ack_wait": "30s", "backoff": ["1s", 2000000000]}')
    assert load_config_file(c, "consumer") == {"name": "C", "ack_wait": 30 * NS,
                                               "backoff": [NS, 2 * NS]}


def test_diff_ignores_server_metadata_and_zero_values() -> None:
    old = {"name": "S", "max_age": 0, "sealed": False, "metadata": {"_nats.ver": "2.15"},
           "placement": {"cluster": "C1"}}
    new = strip_server_metadata({"name": "S", "max_age": 5, "placement": {"cluster": "C2"}})
    ch = [(c.field, c.old, c.new) for c in diff_configs(old, new)]
    assert ch == [("max_age", 0, 5), ("placement.cluster", "C1", "C2")]


def test_consumer_flags() -> None:
    cfg = apply_consumer_flags({}, ConsumerFlags(pull=True, filters=("a.>",), deliver="100",
                                                 wait="1m", sample=50))
    assert cfg["filter_subject"] == "a.>"
    assert cfg["deliver_policy"] == "by_start_sequence"
    assert cfg["opt_start_seq"] == 100
    assert cfg["ack_wait"] == 60 * NS
    assert cfg["sample_freq"] == "50%"
    cfg = apply_consumer_flags({}, ConsumerFlags(deliver="1h"))
    assert cfg["deliver_policy"] == "by_start_time"
    assert cfg["opt_start_time"].endswith("Z")
    assert linear_backoff(3, 1, 3) == [NS, 2 * NS, 3 * NS]
    with pytest.raises(UsageError, match="max-deliver"):
        apply_consumer_flags({}, ConsumerFlags(backoff="linear", max_deliver=5))


def test_cluster_view_health() -> None:
    cv = ClusterView.parse({"name": "C1", "leader": "n1", "replicas": [
        {"name": "n2", "current": True, "active": 100},
        {"name": "n3", "current": True, "offline": True, "active": 5 * NS}]})
    assert cv is not None
    assert [p.name for p in cv.peers] == ["n1", "n2", "n3"]
    assert [p.name for p in cv.unhealthy] == ["n3"]
    assert not cv.healthy
    leaderless = ClusterView.parse({"name": "C1", "replicas": [{"name": "n1", "current": True}]})
    assert leaderless is not None
    assert not leaderless.healthy


def _no_questions(q: Question) -> str:
    raise AssertionError(f"asked {q.key}")


def test_flags_from_option_values_make_lists_tuples() -> None:
    f = StreamFlags.from_values({"subjects": ["a", "b"], "replicas": 3, "tags": None})
    assert f == StreamFlags(subjects=("a", "b"), replicas=3)
    assert ConsumerFlags.from_values({"filters": ["x.>"], "pull": True}) == ConsumerFlags(
        pull=True, filters=("x.>",))


def test_stream_questions_in_natscli_order_with_defaults() -> None:
    asked: list[Question] = []

    def ask(q: Question) -> str:
        asked.append(q)
        return {"storage": "memory", "max_bytes": "10MB", "max_age": "1h"}.get(q.key, q.default)

    cfg = fill_stream_config({"name": "P"}, ask)
    assert [q.key for q in asked] == list(PROMPTED)
    assert [(q.text, q.default) for q in asked[:3]] == [
        ("subjects", "P"), ("storage", "file"), ("replicas", "1")]
    assert cfg["subjects"] == ["P"]
    assert cfg["storage"] == "memory"
    assert cfg["num_replicas"] == 1
    assert cfg["max_bytes"] == 10 * 1024**2
    assert cfg["max_age"] == 3600 * NS
    assert cfg["max_msgs"] == -1


def test_stream_questions_without_a_terminal_name_the_flags() -> None:
    with pytest.raises(UsageError, match="missing --storage, --replicas") as e:
        fill_stream_config({"name": "P", "subjects": ["p"]}, None)
    assert "--subjects" not in str(e.value)
    assert e.value.hint and "--defaults" in e.value.hint
    with pytest.raises(UsageError, match="not a whole number"):
        fill_stream_config({"name": "P", "subjects": ["p"]},
                           lambda q: "three" if q.key == "num_replicas" else q.default)
    mirror = {"name": "M", "mirror": {"name": "A"}, **{k: 1 for k in PROMPTED if k != "subjects"}}
    assert fill_stream_config(mirror, None) == mirror  # a mirror has no subjects to ask for


def test_stream_add_config_asks_only_without_defaults_or_config(tmp_path: Path) -> None:
    cfg = stream_add_config("S", StreamFlags(subjects=("s",)), defaults=True, ask=_no_questions)
    assert cfg["storage"] == "file"
    f = tmp_path / "s.json"
    f.write_text('{"name": "S", "subjects": ["s"]}')
    assert stream_add_config(None, StreamFlags(), config=f, ask=_no_questions) == {
        "name": "S", "subjects": ["s"]}
    with pytest.raises(UsageError, match="missing"):
        stream_add_config("S", StreamFlags(), ask=None)


def test_consumer_questions_pull_or_push_first() -> None:
    def answers(mode: str) -> Ask:
        def ask(q: Question) -> str:
            assert q.key != "mode" or (q.default == "" and not q.show_default)
            return mode if q.key == "mode" else q.default
        return ask

    pull = fill_consumer_config({"name": "c"}, answers(""))
    assert "deliver_subject" not in pull
    assert (pull["ack_policy"], pull["deliver_policy"], pull["max_deliver"]) == (
        "explicit", "all", -1)
    push = fill_consumer_config({"name": "c"}, answers("out.c"))
    assert (push["deliver_subject"], push["ack_policy"]) == ("out.c", "none")
    with pytest.raises(UsageError, match="missing --pull or --target, --deliver"):
        fill_consumer_config({"name": "c"}, None)
    cfg = consumer_add_config("c", ConsumerFlags(pull=True), defaults=True, ask=_no_questions)
    assert cfg["durable_name"] == "c"
    assert cfg["ack_policy"] == "explicit"


def test_listing_filters_internal_streams() -> None:
    names = ["A", "KV_b", "OBJ_c", "$MQTT_sess", "Z"]
    assert visible_names(names) == ["A", "Z"]
    assert visible_names(names, show_all=True) == names


def test_report_checks_sort_before_connecting() -> None:
    import asyncio

    with pytest.raises(UsageError, match="invalid sort"):
        asyncio.run(report_streams(cast("Conn", None), sort="colour"))


def test_purge_request() -> None:
    assert Purge().body() is None
    assert Purge(subject="a.b", keep=2).body() == {"filter": "a.b", "keep": 2}
    assert Purge(seq=10).body() == {"seq": 10}
    with pytest.raises(UsageError, match="cannot be combined"):
        Purge(seq=1, keep=1)


def test_step_down_outcomes() -> None:
    assert StepDown("S", "n1", "n1", 0.0).single_replica
    assert not StepDown("S", "n1", "n1", 0.0).moved
    assert StepDown("S", "n1", "n2", 0.3, "n3").moved
    assert StepDown("S", "n1", "n2", 0.3, "n3").preferred_honoured is False
    timed_out = StepDown("S", "n1", "", 5.0)
    assert not timed_out.moved
    assert not timed_out.single_replica


def test_next_ack_reply_and_unprocessed_share() -> None:
    assert ack_reply() == "+ACK"
    assert ack_reply(ack=False) is None
    assert ack_reply(nak=True) == "-NAK"
    assert ack_reply(term=True) == "+TERM"
    with pytest.raises(UsageError, match="cannot be combined"):
        ack_reply(nak=True, term=True)
    listing = ConsumerListing("S", 200, (), (), {})
    assert [listing.unprocessed_pct(n) for n in (0, 1, 50, 500)] == [0, 0, 25, 100]
    assert ConsumerListing("S", 0, (), (), {}).unprocessed_pct(5) == 0
