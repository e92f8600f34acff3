"""Why a local topology's JetStream elects no meta leader: the shape nats-server cannot elect in.

nats-server (seen with 2.15.1) sizes a new meta group from its configured routes and gateway
URLs. While no leader was ever elected it re-checks that size every second and, when it sees
core-only servers (a cluster without JetStream in the supercluster), resets it to the number of
JetStream servers it tracks over the system account: the log says ``Adjusting JetStream expected
peer set size to N from original M``. That count includes the JetStream servers of *other*
domains, i.e. the leaf sites that share the system account. On a first start every log is
empty, and an election with empty logs needs a vote from every one of the N expected peers:
with N above the servers that really run this JetStream, no leader is ever elected (the same
symptom as the open nats-server issue #6403, "expected cluster size is larger than real size").

It happens when the leaf sites (or, for a leaf site, the hub side) are seen before the meta
leader is elected, which is why :func:`natsops.cluster.deployment_ready.start_topology` starts
the clusters first and the leaf sites once the clusters' meta leader is elected. When an
election still does not happen, :func:`meta_stall` names this shape instead of a bare timeout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from natsops.cluster.deployment import Group, LocalDeployment
from natsops.errors import Timeout

__all__ = ["ADJUST_LINE", "MetaStall", "meta_stall"]

ADJUST_LINE = re.compile(r"Adjusting JetStream expected peer set size to (\d+) from original")


@dataclass(frozen=True)
class MetaStall:
    """The shape that stalls a meta election, and the server's own evidence (if logged)."""

    unit: tuple[str, ...]  # the clusters (or leaf site) of the JetStream without a leader
    js_servers: int  # servers that run this JetStream
    core: tuple[str, ...]  # core-only clusters of the supercluster
    others: tuple[str, ...]  # groups with JetStream in other domains that share $SYS
    expected: int | None = None  # the size a server adjusted the meta group to
    server: str | None = None  # ... in whose log

    def error(self, seconds: float) -> Timeout:
        """One line naming the shape, the evidence and the fix."""
        where = "+".join(self.unit)
        seen = (f"nats-server counted {self.expected} meta peers where {self.js_servers} "
                f"servers run JetStream (\"Adjusting JetStream expected peer set size to "
                f"{self.expected}\" in {self.server}'s log)" if self.expected else
                "nats-server cannot always elect one in this shape")
        return Timeout(
            f"no JetStream meta leader in {where} after {seconds:.0f}s: {seen}: with core-only "
            f"cluster(s) {', '.join(self.core)} in the supercluster it also counts the "
            f"JetStream servers of {', '.join(self.others)} (other JetStream domains seen "
            "over the system account)",
            hint=f"run JetStream on {', '.join(self.core)} (or make them leaf sites), or "
                 "bind the leaf sites without the system account (system: false)")


def _shares_sys(g: Group) -> bool:
    return g.is_leaf and g.leaf_connections >= 2  # the site's remote to the system account


def _log(dep: LocalDeployment, name: str) -> list[str]:
    """The lines of the server's current run (the whole log file when it is not running)."""
    proc = dep.cluster_of(name).process(name)
    if proc is not None:
        return proc.log_tail(100_000)
    try:
        return dep.cluster_of(name).log_path(name).read_text(errors="replace").splitlines()
    except OSError:
        return []


def meta_stall(dep: LocalDeployment, unit: list[Group]) -> MetaStall | None:
    """The stall shape ``unit`` (one JetStream of ``dep``) is in, or None when it is not."""
    core = tuple(g.name for g in dep.groups
                 if not g.is_leaf and not g.jetstream and g.gateways)
    names = {g.name for g in unit}
    if unit[0].is_leaf:  # a leaf site sees the hub side's JetStream servers
        others = tuple(g.name for g in dep.groups if g.jetstream and g.name not in names
                       and (not g.is_leaf or _shares_sys(g))) if _shares_sys(unit[0]) else ()
    else:
        others = tuple(g.name for g in dep.groups if _shares_sys(g) and g.jetstream)
    if not core or not others:
        return None
    nodes = [n.name for g in unit for n in dep.cluster(g.name).nodes]
    expected, server = None, None
    for name in nodes:
        for line in _log(dep, name):
            m = ADJUST_LINE.search(line)
            if m and int(m.group(1)) > len(nodes) and int(m.group(1)) > (expected or 0):
                expected, server = int(m.group(1)), name
    return MetaStall(tuple(g.name for g in unit), len(nodes), core, others, expected, server)
