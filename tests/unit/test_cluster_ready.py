"""Readiness logic without servers: the deadline and the meta-group verdict."""

from __future__ import annotations

import pytest

from natsops.cluster.ready import Deadline, meta_verdict
from natsops.errors import Timeout


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_deadline_counts_down_and_names_what_is_pending() -> None:
    clock = Clock()
    d = Deadline(3, "cluster C1", hint="see the logs", clock=clock)
    assert d.remaining() == 3 and not d.expired
    clock.now += 2.5
    assert d.cap(2.0) == pytest.approx(0.5)
    assert d.cap(0.1) == 0.1
    d.pending["n1"] = "not healthy"
    d.pending["meta"] = "n2 not current in the meta leader's view"
    clock.now += 0.5
    assert d.expired
    with pytest.raises(Timeout) as exc:
        d.remaining()
    assert str(exc.value) == ("cluster C1 not usable after 3s (meta: n2 not current in the meta "
                              "leader's view; n1: not healthy)")
    assert exc.value.hint == "see the logs"
    assert "no answer" in str(Deadline(0, "x", clock=clock).error())


def _replica(name: str, current: bool = True, offline: bool = False) -> dict[str, object]:
    return {"name": name, "current": current, "offline": offline}


def test_meta_ready_only_when_the_leaders_view_has_every_peer_current() -> None:
    leader_view = {"leader": "n1", "replicas": [_replica("n2"), _replica("n3")]}
    follower = {"leader": "n1"}  # a follower's own view: it thinks all is well
    v = meta_verdict({"n1": leader_view, "n2": follower, "n3": follower})
    assert v.ready and v.leader == "n1" and v.behind == ()

    # n3's /healthz may say ok, but the leader has it behind: not ready, n3 named
    leader_view = {"leader": "n1", "replicas": [_replica("n2"), _replica("n3", current=False)]}
    v = meta_verdict({"n1": leader_view, "n2": follower, "n3": follower})
    assert not v.ready and v.behind == ("n3",)
    assert v.reason == "n3 not current in the meta leader's view"

    # offline counts as behind, and a peer missing from the leader's list too
    leader_view = {"leader": "n1", "replicas": [_replica("n2", offline=True)]}
    v = meta_verdict({"n1": leader_view, "n2": follower, "n3": follower})
    assert v.behind == ("n2", "n3")
    assert v.reason == ("n2 not current in the meta leader's view; n3 not in the meta group "
                        "(its leader counts 2 peers for 3 servers)")
    # 2.10 can form the meta group without a server that started with the others
    leader_view = {"leader": "n1", "cluster_size": 2, "replicas": [_replica("n2")]}
    v = meta_verdict({"n1": leader_view, "n2": follower, "n3": follower})
    assert v.reason == "n3 not in the meta group (its leader counts 2 peers for 3 servers)"


def test_meta_without_a_leader_or_with_two() -> None:
    v = meta_verdict({"n1": {"leader": "n1", "replicas": []}, "n2": {}, "n3": {"leader": ""}})
    assert not v.ready and v.behind == ("n2", "n3") and v.leader is None
    assert v.reason == "n2, n3 not in contact with the meta leader"
    v = meta_verdict({"n1": {"leader": "n1"}, "n2": {"leader": "n2"}, "n3": {"leader": "n1"}})
    assert not v.ready and v.behind == ()
    assert v.reason == "nodes disagree on the meta leader"
