"""The shape that stalls a first meta election is named, with the server's own log line."""

from __future__ import annotations

from pathlib import Path

from natsops.cluster.meta_stall import meta_stall
from natsops.topology.load import load_topology
from natsops.topology.local import LaunchOptions, create

SHAPE = """name: stall
clusters:
  - name: east
    nodes: [{name: e1, host: e1.lan}, {name: e2, host: e2.lan}]
  - name: west
    nodes: [{name: w1, host: w1.lan, jetstream: {enabled: false}}]
leafs:
  - {name: site, hub: east, account: EDGE, domain: edge, nodes: [{name: l1, host: l1.lan}]}
auth:
  accounts:
    EDGE:
      users: [{user: edge}]
"""


def _dep(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    f = tmp_path / "t.yaml"
    f.write_text(text)
    topo = load_topology(f, {}).topology
    d = tmp_path / "d"
    return create(topo, d, LaunchOptions(dir=d, write_contexts=False), {"HOME": str(tmp_path)})


def test_the_stall_is_named_with_the_adjusted_size_from_the_log(tmp_path: Path) -> None:
    dep = _dep(tmp_path, SHAPE)
    east = dep.cluster("east")
    east.log_path("e2").write_text(
        "[1] 2026/12/02 09:56:38.838218 [INF] Adjusting JetStream expected peer set size to 3 "
        "from original 2\n")
    stall = meta_stall(dep, [dep.group("east")])
    assert stall is not None
    assert (stall.core, stall.others, stall.expected, stall.server) == (
        ("west",), ("site",), 3, "e2")
    err = stall.error(20)
    assert str(err).startswith("no JetStream meta leader in east after 20s: nats-server "
                               "counted 3 meta peers where 2 servers run JetStream")
    assert "core-only cluster(s) west" in str(err) and "site" in str(err)
    assert err.hint is not None and "system: false" in err.hint


def test_without_leaf_sites_sharing_the_system_account_there_is_no_such_shape(
        tmp_path: Path) -> None:
    dep = _dep(tmp_path, SHAPE.replace("domain: edge,", "domain: edge, system: false,"))
    assert meta_stall(dep, [dep.group("east")]) is None
