"""Rules over several configs at once: the servers of one cluster or supercluster."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from natsops.conf.hosts import RESOLVE_TIMEOUT, HostMatcher, Listener, identity
from natsops.conf.parser import Config, Node
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


# ---- listeners and the URLs that dial them (routes, gateways, leaf remotes) -----------------
def _listener(cfg: Config, block: str) -> Listener | None:
    """The listener of a block (``listen: host:port`` or ``host``/``port``)."""
    node = cfg.get(block)
    if node is None or node.kind != "map":
        return None
    host, port = "", None
    listen = node.child("listen")
    if listen is not None:
        if listen.kind == "integer":
            port = int(listen.value)
        elif listen.kind == "string":
            h, _, p = str(listen.value).rpartition(":")
            host = h.strip("[]")
            port = int(p) if p.isdigit() else None
    p_node, h_node = node.child("port"), node.child("host", "net")
    if p_node is not None and p_node.kind == "integer":
        port = int(p_node.value)
    if h_node is not None and h_node.kind == "string":
        host = str(h_node.value)
    return Listener(cfg, block, host, port) if port is not None and port > 0 else None


def _target(url: str) -> tuple[str, int] | None:
    from urllib.parse import urlsplit

    try:
        u = urlsplit(url if "://" in url else "nats://" + url)
        port = u.port
    except ValueError:
        return None
    return (u.hostname or "", port) if port else None


@dataclass(frozen=True)
class _Reach:
    """The listeners a URL reaches, why the others on its port were ruled out, and a name
    that did not resolve (then "no listener" cannot be said)."""

    hits: list[Listener]
    how: list[dict[str, str]]
    unresolved: str | None


def _reach(hosts: HostMatcher, cfgs: Sequence[Config], block: str, target: tuple[str, int],
           only: Sequence[Config] | None = None, dialer: Config | None = None) -> _Reach:
    hits: list[Listener] = []
    how: list[dict[str, str]] = []
    unresolved = None
    for c in only if only is not None else cfgs:
        lst = _listener(c, block)
        if lst is None or lst.port != target[1]:
            continue
        v = hosts.reaches(target[0], lst, dialer)
        how.append({"file": c.file, "listener": lst.text, "match": "yes" if v.match else "no",
                    "how": v.how})
        if v.match:
            hits.append(lst)
        unresolved = unresolved or v.unresolved
    return _Reach(hits, how, None if hits else unresolved)


def _matcher(cfgs: Sequence[Config], blocks: Sequence[str]) -> HostMatcher:
    """One matcher with every name the configs dial or listen on resolved up front."""
    hosts = HostMatcher()
    names: set[str] = set()
    for c in cfgs:
        names |= set(identity(c))
        for b in blocks:
            lst = _listener(c, b)
            if lst is not None:
                names.add(lst.host)
        for _, t, _ in _all_targets(c):
            names.add(t[0])
    hosts.prime(names)
    return hosts


def _all_targets(cfg: Config) -> Iterator[tuple[Node, tuple[str, int], str]]:
    """Every URL the config dials: (its node, (host, port), the key it is listed under)."""
    routes = cfg.get("cluster", "routes")
    for r in routes.elements() if routes is not None else []:
        t = _target(str(r.value)) if r.kind == "string" else None
        if t is not None:
            yield r, t, "cluster.routes"
    for entry, _ in _gateway_entries(cfg):
        for u, t in _url_targets(entry):
            yield u, t, "gateway.gateways"
    remotes = cfg.get("leafnodes", "remotes")
    for rem in remotes.elements() if remotes is not None else []:
        for u, t in _url_targets(rem):
            yield u, t, "leafnodes.remotes"


def _unresolved_hit(u: Node, what: str, t: tuple[str, int], name: str,
                    how: list[dict[str, str]]) -> Hit:
    label = {"cluster.routes": "route to", "gateway.gateways": "gateway URL",
             "leafnodes.remotes": "leaf remote"}[what]
    return Hit(u, f"{label} {t[0]}:{t[1]}: {name} does not resolve here (within "
               f"{RESOLVE_TIMEOUT:g}s), so which listener it reaches cannot be told",
               f"check that {name} is in DNS (or /etc/hosts) where the servers run, or lint "
               "where it resolves", subject=what, severity=Severity.WARN,
               evidence={"host": name, "port": t[1], "listeners": how})


def _gateway_name(cfg: Config) -> str | None:
    n = cfg.get("gateway", "name")
    return str(n.value) if n is not None and n.kind == "string" else None


def _gateway_entries(cfg: Config) -> Iterator[tuple[Node, str]]:
    """Each ``gateway { gateways: [...] }`` entry with a name, and that name."""
    gws = cfg.get("gateway", "gateways")
    for entry in gws.elements() if gws is not None else []:
        name = entry.child("name")
        if name is not None and name.kind == "string":
            yield entry, str(name.value)


def _url_targets(entry: Node) -> Iterator[tuple[Node, tuple[str, int]]]:
    """The (host, port) each ``url``/``urls`` of a gateway entry or leaf remote dials."""
    for key in ("url", "urls"):
        n = entry.child(key)
        for u in (n.elements() if n.kind == "array" else [n]) if n is not None else []:
            t = _target(str(u.value)) if u.kind == "string" else None
            if t is not None:
                yield u, t


@rule("set/gateway-name", Severity.WARN, "Gateways are named after clusters of the set",
      scope="set")
def gateway_name(cfgs: Sequence[Config]) -> Iterator[Hit]:
    names = {g for c in cfgs if (g := _gateway_name(c)) is not None}
    for c in cfgs:
        own = _gateway_name(c)
        for entry, gw in _gateway_entries(c):
            if gw != own and gw not in names and len(names) > 1:
                yield Hit(entry.child("name"), f"gateway {gw!r} is not the gateway name of any "
                          f"config in this set ({', '.join(sorted(names))})", "use the remote "
                          "cluster's name, or lint its configs together with these",
                          subject="gateway.gateways", severity=Severity.WARN)


@rule("set/route-targets", Severity.FAIL, "Routes point at a cluster listener of the set",
      scope="set")
def route_targets(cfgs: Sequence[Config]) -> Iterator[Hit]:
    hosts: HostMatcher | None = None
    for name, members in _clusters(cfgs).items():
        if len(members) < 2:
            continue
        if not any(_listener(c, "cluster") for c in members):
            continue  # no member says where it listens: nothing to compare the routes with
        hosts = hosts or _matcher(cfgs, ("cluster",))
        for c in members:
            routes = c.get("cluster", "routes")
            for r in routes.elements() if routes is not None else []:
                t = _target(str(r.value)) if r.kind == "string" else None
                if t is None:
                    continue
                mine = _reach(hosts, cfgs, "cluster", t, only=members, dialer=c)
                if mine.hits:
                    continue
                if mine.unresolved:
                    yield _unresolved_hit(r, "cluster.routes", t, mine.unresolved, mine.how)
                    continue
                other = _reach(hosts, cfgs, "cluster", t, dialer=c)
                why = (f"that is the cluster port of {other.hits[0].cfg.file}, which is in "
                       "another cluster") if other.hits else "no config of cluster " + name + \
                    " listens there"
                yield Hit(r, f"route to {t[0]}:{t[1]}: {why}", "point the route at the "
                          "cluster { listen } of another member", subject="cluster.routes",
                          evidence={"target": f"{t[0]}:{t[1]}", "listeners": other.how})


@rule("set/gateway-targets", Severity.FAIL, "Gateway and leaf URLs point at real listeners",
      scope="set")
def gateway_targets(cfgs: Sequence[Config]) -> Iterator[Hit]:
    gw_names = {g for c in cfgs if (g := _gateway_name(c)) is not None}
    hubs = [c for c in cfgs if _listener(c, "leafnodes") is not None]
    if not gw_names and not hubs:
        return
    hosts = _matcher(cfgs, ("gateway", "leafnodes"))
    for c in cfgs:
        for entry, gw in _gateway_entries(c):
            if gw not in gw_names:
                continue
            peers = [o for o in cfgs if _gateway_name(o) == gw]
            for u, t in _url_targets(entry):
                r = _reach(hosts, cfgs, "gateway", t, only=peers, dialer=c)
                if r.unresolved:
                    yield _unresolved_hit(u, "gateway.gateways", t, r.unresolved, r.how)
                elif not r.hits:
                    yield Hit(u, f"gateway {gw}: no config of that gateway listens on "
                              f"{t[0]}:{t[1]}", "use the gateway { listen } port of a server "
                              f"of {gw}", subject="gateway.gateways",
                              evidence={"target": f"{t[0]}:{t[1]}", "listeners": r.how})
    if not hubs:
        return
    for c in cfgs:
        remotes = c.get("leafnodes", "remotes")
        for rem in remotes.elements() if remotes is not None else []:
            for u, t in _url_targets(rem):
                r = _reach(hosts, cfgs, "leafnodes", t, only=hubs, dialer=c)
                if r.unresolved:
                    yield _unresolved_hit(u, "leafnodes.remotes", t, r.unresolved, r.how)
                elif not r.hits:
                    yield Hit(u, f"leaf remote {t[0]}:{t[1]}: no config of this set accepts "
                              "leaf nodes there", "use the leafnodes { listen } port of a hub "
                              "server", subject="leafnodes.remotes", severity=Severity.WARN,
                              evidence={"target": f"{t[0]}:{t[1]}", "listeners": r.how})
