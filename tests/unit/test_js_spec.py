"""Config parsing, flag application and diffs (no server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from natsops.errors import UsageError
from natsops.jetstream.consumers import ConsumerFlags, apply_consumer_flags, linear_backoff
from natsops.jetstream.models import ClusterView
from natsops.jetstream.spec import diff_configs, load_config_file, strip_server_metadata
from natsops.jetstream.streams import StreamFlags, apply_stream_flags, stream_config_for_add

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
