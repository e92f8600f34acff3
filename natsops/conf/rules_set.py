"""Rules over several configs at once: the servers of one cluster or supercluster."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

from natsops.conf.parser import Config
from natsops.conf.registry import Hit, rule
from natsops.conf.values import jetstream_enabled
from natsops.findings import Severity


def _cluster_name(cfg: Config) -> str | None:
    name = cfg.get("cluster", "name")
    if cfg.get("cluster") is None:
        return None
    return str(name.value) if name is not None else "(unnamed)"


def _clusters(cfgs: Sequence[Config]) -> dict[str, list[Config]]:
    groups: dict[str, list[Config]] = defaultdict(list)
    for c in cfgs:
        name = _cluster_name(c)
        if name is not None:
            groups[name].append(c)
    return groups


@rule("set/server-name-unique", Severity.FAIL, "server_name unique across the set", scope="set")
def server_name_unique(cfgs: Sequence[Config]) -> Iterator[Hit]:
    seen: dict[str, Config] = {}
    for c in cfgs:
        sn = c.get("server_name")
        if sn is None or sn.kind != "string":
            continue
        if sn.value in seen:
            yield Hit(sn, f"server_name {sn.value!r} is also used by {seen[sn.value].file}: the "
                      "servers reject each other (Duplicate Server Name)",
                      "give every server its own name", subject="server_name")
        else:
            seen[sn.value] = c


@rule("set/cluster-size", Severity.WARN, "JetStream clusters have an odd size of 3 or more",
      scope="set")
def cluster_size(cfgs: Sequence[Config]) -> Iterator[Hit]:
    for name, members in _clusters(cfgs).items():
        js = [c for c in members if jetstream_enabled(c.get("jetstream"))]
        if not js or len(cfgs) < 2:
            continue
        n = len(members)
        if n % 2 == 0 or n < 3:
            first = members[0].get("cluster")
            yield Hit(first, f"cluster {name} has {n} servers: Raft needs a majority, so "
                      f"{n} servers tolerate {(n - 1) // 2} failure(s) — an odd count (3, 5) "
                      "is the guide's rule", "use 3 or 5 servers", subject=f"cluster {name}",
                      evidence={"servers": n})


@rule("set/jetstream-consistent", Severity.WARN, "JetStream on all or none of a cluster's nodes",
      scope="set")
def jetstream_consistent(cfgs: Sequence[Config]) -> Iterator[Hit]:
    for name, members in _clusters(cfgs).items():
        on = [c for c in members if jetstream_enabled(c.get("jetstream"))]
        if on and len(on) != len(members):
            for c in members:
                if c not in on:
                    yield Hit(c.get("cluster"), f"cluster {name}: JetStream is enabled on "
                              f"{len(on)} of {len(members)} servers, not on this one",
                              "enable JetStream on every node (the guide: keep Raft placement "
                              "predictable)", subject=f"cluster {name}")
        domains = {str(d.value) for c in on if (d := c.get("jetstream", "domain")) is not None}
        if len(domains) > 1:
            yield Hit(members[0].get("cluster"), f"cluster {name} mixes JetStream domains "
                      f"{sorted(domains)}", "one domain per cluster", subject=f"cluster {name}",
                      severity=Severity.FAIL)


@rule("set/routes", Severity.FAIL, "Clustered servers have routes; names and gateways agree",
      scope="set")
def routes(cfgs: Sequence[Config]) -> Iterator[Hit]:
    groups = _clusters(cfgs)
    if len(groups) > 1 and not any(c.get("gateway") for c in cfgs):
        yield Hit(cfgs[0].get("cluster"), f"the configs name {len(groups)} clusters "
                  f"({', '.join(sorted(groups))}) and define no gateways: servers routing to "
                  "each other with different names conflict (Cluster Name Conflict)",
                  "use one cluster.name, or connect the clusters with gateway {}",
                  subject="cluster.name", severity=Severity.WARN)
    for name, members in groups.items():
        if len(members) < 2:
            continue
        for c in members:
            r = c.get("cluster", "routes")
            if r is None or not r.elements():
                yield Hit(c.get("cluster"), f"{c.file} is in cluster {name} but has no routes",
                          "list the other servers in cluster { routes: [...] }",
                          subject="cluster.routes")
    payloads = {c.file: int(mp.value) for c in cfgs
                if (mp := c.get("max_payload")) is not None and mp.kind == "integer"}
    if len(set(payloads.values())) > 1:
        yield Hit(cfgs[0].get("max_payload"), f"max_payload differs between servers: {payloads}",
                  "use the same max_payload everywhere (clients see the server they hit)",
                  subject="max_payload", severity=Severity.WARN)
