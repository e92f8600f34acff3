"""leaf-links on recorded shapes: remotes from varz, solicited connections from leafz."""

from __future__ import annotations

from typing import Any

from natsops.doctor.checks.leaf_links import leaf_links
from natsops.monitoring.snapshot import ServerView, Snapshot


def snap(remotes: list[dict[str, Any]], leafs: list[dict[str, Any]] | None) -> Snapshot:
    s = ServerView(name="l1", id="X", varz={"leaf": {"remotes": remotes}},
                   leafz=None if leafs is None else {"leafs": leafs})
    return Snapshot(servers=(s,), transport="http")


REMOTES = [{"local_account": "APP", "urls": ["h1:7422"]}, {"local_account": "SYS",
                                                           "urls": ["h1:7422"]}]


def test_connected_remotes_are_quiet() -> None:
    leafs = [{"account": "APP", "is_spoke": True}, {"account": "SYS", "is_spoke": True}]
    assert list(leaf_links(snap(REMOTES, leafs))) == []


def test_a_missing_remote_is_named_with_its_account_and_urls() -> None:
    # a hub-side connection (is_spoke false) of the same account does not count
    found = list(leaf_links(snap(REMOTES, [{"account": "APP", "is_spoke": False},
                                           {"account": "SYS", "is_spoke": True}])))
    assert [(f.subject, f.evidence["account"], f.evidence["hub_urls"]) for f in found] == [
        ("l1", "APP", ["h1:7422"])]


def test_no_account_means_the_global_one_and_no_leafz_means_no_verdict() -> None:
    assert [f.evidence["account"] for f in leaf_links(snap([{"urls": ["h:7422"]}], []))] == ["$G"]
    assert list(leaf_links(snap(REMOTES, None))) == []  # leafz not gathered: say nothing
