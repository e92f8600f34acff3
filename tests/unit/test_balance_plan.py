"""plan_moves: the pure leader-balancing plan, on synthetic groups."""

from __future__ import annotations

from natsops.jetstream.balance import Group, plan_moves


def g(name: str, leader: str, peers: str = "n1 n2 n3", current: str | None = None) -> Group:
    members = tuple(sorted(peers.split()))
    cur = tuple(current.split()) if current is not None else tuple(
        p for p in members if p != leader)
    return Group(stream=name, consumer=None, leader=leader, peers=members, current=cur)


def test_all_leaders_on_one_server_are_spread_evenly() -> None:
    plan = plan_moves("stream", [g(f"S{i}", "n1") for i in range(9)])
    assert plan.share == 3 and plan.before == {"n1": 9, "n2": 0, "n3": 0}
    assert plan.after == {"n1": 3, "n2": 3, "n3": 3}
    assert len(plan.moves) == 6 and {m.from_ for m in plan.moves} == {"n1"}
    assert plan.balanced


def test_plan_is_deterministic_whatever_the_input_order() -> None:
    groups = [g(f"S{i}", "n2") for i in range(7)]
    a = plan_moves("stream", groups)
    b = plan_moves("stream", list(reversed(groups)))
    assert a.moves == b.moves
    assert [m.group for m in a.moves] == ["S0", "S1", "S2", "S3"]
    assert a.after == {"n1": 2, "n2": 3, "n3": 2}  # share ceil(7/3) = 3


def test_balanced_cluster_needs_no_moves() -> None:
    plan = plan_moves("stream", [g("A", "n1"), g("B", "n2"), g("C", "n3"), g("D", "n1")])
    assert plan.moves == () and plan.share == 2 and plan.balanced


def test_only_current_followers_are_targets() -> None:
    # n3 is behind in every group: the leaders can only go to n2
    plan = plan_moves("stream", [g(f"S{i}", "n1", current="n2") for i in range(6)])
    assert {m.to for m in plan.moves} == {"n2"}
    assert plan.after == {"n1": 4, "n2": 2, "n3": 0}
    assert not plan.balanced  # 4 > share 2 + 1


def test_leaderless_groups_count_but_do_not_move() -> None:
    plan = plan_moves("stream", [g("A", ""), g("B", "n1"), g("C", "n1"), g("D", "n1")])
    assert plan.leaderless == ("A",)
    assert plan.share == 2 and len(plan.moves) == 1 and plan.after["n1"] == 2


def test_share_counts_only_servers_that_host_groups() -> None:
    # R3 groups on n1..n3 of a 5-node cluster: n4/n5 never appear
    plan = plan_moves("stream", [g(f"S{i}", "n3") for i in range(3)])
    assert set(plan.before) == {"n1", "n2", "n3"} and plan.share == 1
    assert plan.after == {"n1": 1, "n2": 1, "n3": 1}


def test_consumer_group_names() -> None:
    grp = Group(stream="S", consumer="C", leader="n1", peers=("n1", "n2"), current=("n2",))
    plan = plan_moves("consumer", [grp, Group("S", "D", "n1", ("n1", "n2"), ("n2",))])
    assert [m.group for m in plan.moves] == ["S > C"] and plan.moves[0].consumer == "C"


def test_doctor_fixes_name_natsops_raft_commands() -> None:
    from pathlib import Path

    import natsops.doctor.checks as checks

    text = "".join(p.read_text() for p in Path(checks.__file__).parent.glob("*.py"))
    assert "`nats server raft" not in text
    assert "`natsops server raft step-down`" in text
    assert "`natsops server raft peer-remove" in text
