"""Load and validate a topology file (YAML). Every error names ``file:line`` and the field.

The YAML is composed into nodes first, so each value keeps the line it came from; the checks
run on the whole topology before anything is rendered or started:

- names: cluster, node and leaf-site names are letters, digits, ``_ -``; server names are
  unique across the whole supercluster and its leaf sites;
- gateways: only between clusters that exist (the gateway name is always the cluster name);
  with two or more clusters and no ``gateways:`` key, every cluster dials every other;
- leaf sites: the hub cluster and the bound account exist; JetStream domains are distinct from
  each other and from the hub's (``domain:`` at the top);
- ports: 1-65535 and unique per host across every listener a node opens;
- sizes and durations: what nats-server accepts; auth: plain accounts with users (passwords
  only by ``password_env`` or generated, never in clear) or ``operator:``;
- given certificates (``tls: {ca, certs}``): each covers its node's host in its SANs, is
  not expired, matches its key and chains to the CA (errors); near expiry is a warning;
  a CA to issue from (``generate`` with ``ca``/``ca_key``) is in date and matches its key;
- an even or single-node JetStream cluster is a warning, returned with the topology.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from natsops.errors import UsageError
from natsops.files import read_text
from natsops.topology.model import (
    Account,
    Auth,
    Cluster,
    JetStreamLimits,
    LameDuck,
    LeafSite,
    Node,
    Ports,
    TlsSpec,
    Topology,
    User,
)

__all__ = ["LoadedTopology", "TopologyError", "load_topology", "parse_topology"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
_HOST = re.compile(r"^[A-Za-z0-9_.:-]+$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PORT_KINDS = ("client", "cluster", "gateway", "leafnode", "monitor")


class TopologyError(UsageError):
    """A topology file that cannot be used: the message starts with ``file:line: field:``."""


@dataclass(frozen=True)
class LoadedTopology:
    """A validated topology and the warnings its checks found (``file:line: text``)."""

    topology: Topology
    warnings: tuple[str, ...] = ()


class _Src:
    """The composed YAML: values plus the line each path was written on."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[tuple[Any, ...], int] = {}

    def build(self, node: Any, path: tuple[Any, ...] = ()) -> Any:
        import yaml

        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for k, v in node.value:
                key = self.build(k, (*path, "<key>"))
                if not isinstance(key, str):
                    raise self.error(path, f"keys must be strings, not {key!r}",
                                     line=k.start_mark.line + 1)
                if key in out:
                    raise self.error((*path, key), "written twice", line=k.start_mark.line + 1)
                kpath = (*path, key)
                out[key] = self.build(v, kpath)
                self.lines[kpath] = k.start_mark.line + 1
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(v, (*path, i)) for i, v in enumerate(node.value)]
        return yaml.safe_load(yaml.serialize(node))

    def line(self, path: tuple[Any, ...]) -> int:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)

    def error(self, path: tuple[Any, ...], message: str, line: int | None = None) -> TopologyError:
        where = _dotted(path)
        return TopologyError(f"{self.file}:{line or self.line(path)}: "
                             f"{where + ': ' if where else ''}{message}")

    def warn(self, path: tuple[Any, ...], message: str) -> str:
        where = _dotted(path)
        return f"{self.file}:{self.line(path)}: {where + ': ' if where else ''}{message}"


def _dotted(path: tuple[Any, ...]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def load_topology(path: str | Path, env: Mapping[str, str] | None = None) -> LoadedTopology:
    """Read and validate a topology file."""
    p = Path(path)
    return parse_topology(read_text(p, what="topology file"), str(p), env=env)


def parse_topology(text: str, file: str = "topology.yaml",
                   env: Mapping[str, str] | None = None) -> LoadedTopology:
    """Validate topology YAML given as text; ``file`` names it in errors."""
    import yaml

    src = _Src(file)
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise TopologyError(f"{file}:{line}: invalid YAML: "
                            f"{getattr(exc, 'problem', None) or exc}") from None
    if root is None:
        raise TopologyError(f"{file}:1: the topology file is empty")
    data = src.build(root)
    return _Builder(src, data).topology()


_TOP_KEYS = {"name", "defaults", "clusters", "gateways", "leafs", "tls", "auth", "domain",
             "monitor", "lame_duck", "description"}


class _Builder:
    def __init__(self, src: _Src, data: Any) -> None:
        self.src = src
        self.data = data
        self.warnings: list[str] = []

    # ---- typed getters ----------------------------------------------------------------------
    def mapping(self, value: Any, path: tuple[Any, ...], keys: set[str]) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.src.error(path, f"expected a mapping, got {_kind(value)}")
        unknown = sorted(set(value) - keys)
        if unknown:
            raise self.src.error((*path, unknown[0]), f"unknown field (known: "
                                 f"{', '.join(sorted(keys))})")
        return value

    def name(self, value: Any, path: tuple[Any, ...], what: str) -> str:
        if not isinstance(value, str) or not _NAME.match(value):
            raise self.src.error(path, f"invalid {what} name {value!r}: use letters, digits, "
                                 "'_' and '-' (at most 63)")
        return value

    def string(self, value: Any, path: tuple[Any, ...]) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self.src.error(path, f"expected a string, got {_kind(value)}")
        return str(value)

    def boolean(self, value: Any, path: tuple[Any, ...]) -> bool:
        if not isinstance(value, bool):
            raise self.src.error(path, f"expected true or false, got {value!r}")
        return value

    def size(self, value: Any, path: tuple[Any, ...]) -> str:
        from natsops.validate import server_size

        try:
            return server_size(self.string(value, path), _dotted(path))
        except TopologyError:
            raise
        except UsageError as exc:
            raise self.src.error(path, str(exc)) from None

    def duration(self, value: Any, path: tuple[Any, ...]) -> str:
        from natsops.conf.values import go_duration

        s = self.string(value, path)
        if isinstance(value, (int, float)) or go_duration(s) is None:
            raise self.src.error(path, f"invalid duration {value!r}: use a Go duration such "
                                 "as 30s, 2m, 1h30m")
        return s

    # ---- sections ---------------------------------------------------------------------------
    def topology(self) -> LoadedTopology:
        d = self.mapping(self.data, (), _TOP_KEYS)
        if "name" not in d:
            raise self.src.error((), "name: missing (the topology's name)")
        name = self.name(d["name"], ("name",), "topology")
        defaults = self.mapping(d.get("defaults"), ("defaults",),
                                {"ports", "jetstream", "tags", "listen"})
        base_node = self.node_settings(defaults, ("defaults",), Node("", ""))
        if not isinstance(d.get("clusters"), list) or not d["clusters"]:
            raise self.src.error(("clusters",), "at least one cluster is needed "
                                 "(clusters: - name: ... nodes: [...])")
        clusters = tuple(self.cluster(c, ("clusters", i), base_node)
                         for i, c in enumerate(d["clusters"]))
        leafs_raw = d.get("leafs") or []
        if not isinstance(leafs_raw, list):
            raise self.src.error(("leafs",), f"expected a list, got {_kind(leafs_raw)}")
        leafs = tuple(self.leaf(s, ("leafs", i), base_node) for i, s in enumerate(leafs_raw))
        monitor = self.string(d.get("monitor", "local"), ("monitor",))
        if monitor not in ("local", "public"):
            raise self.src.error(("monitor",), f"use local (127.0.0.1) or public (0.0.0.0), "
                                 f"not {monitor!r}")
        ld = self.mapping(d.get("lame_duck"), ("lame_duck",), {"duration", "grace_period"})
        lame = LameDuck(self.duration(ld.get("duration", "2m"), ("lame_duck", "duration")),
                        self.duration(ld.get("grace_period", "10s"),
                                      ("lame_duck", "grace_period")))
        domain = None
        if d.get("domain") is not None:
            domain = self.name(d["domain"], ("domain",), "JetStream domain")
        topo = Topology(
            name=name, clusters=clusters, gateways=self.gateways(d, clusters), leafs=leafs,
            tls=self.tls(d.get("tls")), auth=self.auth(d.get("auth")), domain=domain,
            monitor=monitor, lame_duck=lame, file=self.src.file)
        self.check(topo)
        return LoadedTopology(topo, tuple(self.warnings))

    def node_settings(self, d: dict[str, Any], path: tuple[Any, ...], base: Node) -> Node:
        """Ports, JetStream limits, tags and listen address over ``base`` (inheritance)."""
        ports = base.ports
        if "ports" in d:
            pd = self.mapping(d["ports"], (*path, "ports"), set(_PORT_KINDS))
            vals = ports.as_dict()
            for k, v in pd.items():
                if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 65535:
                    raise self.src.error((*path, "ports", k), f"invalid port {v!r}: use 1-65535")
                vals[k] = v
            ports = Ports(**vals)
        js = base.jetstream
        if "jetstream" in d:
            jv = d["jetstream"]
            if isinstance(jv, bool):
                js = JetStreamLimits(enabled=jv, max_memory=js.max_memory,
                                     max_file=js.max_file, store_dir=js.store_dir)
            else:
                jd = self.mapping(jv, (*path, "jetstream"),
                                  {"max_memory", "max_file", "store_dir", "enabled"})
                js = JetStreamLimits(
                    enabled=self.boolean(jd.get("enabled", js.enabled), (*path, "jetstream",
                                                                         "enabled")),
                    max_memory=self.size(jd.get("max_memory", js.max_memory),
                                         (*path, "jetstream", "max_memory")),
                    max_file=self.size(jd.get("max_file", js.max_file),
                                       (*path, "jetstream", "max_file")),
                    store_dir=self.string(jd.get("store_dir", js.store_dir),
                                          (*path, "jetstream", "store_dir")))
        tags = base.tags
        if "tags" in d:
            tv = d["tags"]
            if not isinstance(tv, list) or not all(isinstance(t, str) and t.strip()
                                                   for t in tv):
                raise self.src.error((*path, "tags"), "expected a list of strings "
                                     "(server tags such as az:1)")
            tags = tuple(tv)
        listen = base.listen
        if "listen" in d:
            listen = self.host(d["listen"], (*path, "listen"))
        return Node(base.name, base.host, ports, js, tags, listen, base.line)

    def path(self, value: Any, path: tuple[Any, ...]) -> str:
        """A file path; a relative one is relative to the topology file's folder."""
        p = Path(self.string(value, path)).expanduser()
        return str(p if p.is_absolute() else Path(self.src.file).parent / p)

    def host(self, value: Any, path: tuple[Any, ...]) -> str:
        h = self.string(value, path)
        if not _HOST.match(h) or h.count(":") == 1:
            raise self.src.error(path, f"invalid host {h!r}: give a host name or IP, "
                                 "without a port")
        return h

    def nodes(self, value: Any, path: tuple[Any, ...], base: Node) -> tuple[Node, ...]:
        if not isinstance(value, list) or not value:
            raise self.src.error(path, "at least one node is needed (- name: n1, host: ...)")
        out = []
        for i, nd in enumerate(value):
            p = (*path, i)
            d = self.mapping(nd, p, {"name", "host", "ports", "jetstream", "tags", "listen"})
            for req in ("name", "host"):
                if req not in d:
                    raise self.src.error(p, f"{req}: missing")
            n = self.node_settings(d, p, base)
            out.append(Node(self.name(d["name"], (*p, "name"), "server"),
                            self.host(d["host"], (*p, "host")), n.ports, n.jetstream, n.tags,
                            n.listen, self.src.line(p)))
        return tuple(out)

    def cluster(self, value: Any, path: tuple[Any, ...], base: Node) -> Cluster:
        d = self.mapping(value, path, {"name", "nodes", "ports", "jetstream", "tags", "listen"})
        if "name" not in d:
            raise self.src.error(path, "name: missing")
        name = self.name(d["name"], (*path, "name"), "cluster")
        group_base = self.node_settings(d, path, base)
        return Cluster(name, self.nodes(d.get("nodes"), (*path, "nodes"), group_base),
                       self.src.line(path))

    def leaf(self, value: Any, path: tuple[Any, ...], base: Node) -> LeafSite:
        d = self.mapping(value, path, {"name", "hub", "account", "domain", "nodes", "ports",
                                       "jetstream", "tags", "listen", "system", "user"})
        for req in ("name", "hub", "account"):
            if req not in d:
                raise self.src.error(path, f"{req}: missing")
        group_base = self.node_settings(d, path, base)
        nodes = self.nodes(d.get("nodes"), (*path, "nodes"), group_base)
        domain = None
        if d.get("domain") is not None:
            domain = self.name(d["domain"], (*path, "domain"), "JetStream domain")
        elif any(n.jetstream.enabled for n in nodes):
            raise self.src.error((*path, "domain"), "missing: a leaf site that runs JetStream "
                                 "needs its own JetStream domain (else it joins the hub's "
                                 "meta group over the leaf connection)")
        user = None
        if d.get("user") is not None:
            user = self.name(d["user"], (*path, "user"), "user")
        return LeafSite(
            name=self.name(d["name"], (*path, "name"), "leaf site"),
            hub=self.name(d["hub"], (*path, "hub"), "cluster"),
            account=self.name(d["account"], (*path, "account"), "account"),
            domain=domain, nodes=nodes,
            system=self.boolean(d.get("system", True), (*path, "system")), user=user,
            line=self.src.line(path))

    def gateways(self, d: dict[str, Any], clusters: tuple[Cluster, ...]
                 ) -> tuple[tuple[str, str], ...]:
        names = [c.name for c in clusters]
        value = d.get("gateways", "all")
        if value in ("all", None):
            return tuple((a, b) for i, a in enumerate(names) for b in names[i + 1:])
        if not isinstance(value, list):
            raise self.src.error(("gateways",), "use all (every cluster with every other) or "
                                 "a list of cluster pairs such as [east, west]")
        pairs: set[tuple[str, str]] = set()
        for i, pair in enumerate(value):
            p = ("gateways", i)
            if (not isinstance(pair, list) or len(pair) != 2
                    or not all(isinstance(x, str) for x in pair)):
                raise self.src.error(p, "a gateway is a pair of cluster names: [east, west]")
            for x in pair:
                if x not in names:
                    raise self.src.error(p, f"no cluster named {x!r} (clusters: "
                                         f"{', '.join(names)}); a gateway's name is always "
                                         "its cluster's name")
            if pair[0] == pair[1]:
                raise self.src.error(p, f"a gateway joins two different clusters, not "
                                     f"{pair[0]} with itself")
            a, b = sorted(pair, key=names.index)
            pairs.add((a, b))
        return tuple(sorted(pairs, key=lambda ab: (names.index(ab[0]), names.index(ab[1]))))

    def tls(self, value: Any) -> TlsSpec | None:
        if value is None or value is False:
            return None
        path: tuple[Any, ...] = ("tls",)
        d = self.mapping(value, path, {"generate", "ca", "ca_key", "certs"})
        generate = self.boolean(d.get("generate", False), (*path, "generate"))
        if generate:
            if "certs" in d:
                raise self.src.error((*path, "certs"), "give either generate: true or "
                                     "existing certs, not both")
            ca, ca_key = d.get("ca"), d.get("ca_key")
            if (ca is None) != (ca_key is None):
                raise self.src.error((*path, "ca"), "to issue from an existing CA give both "
                                     "ca and ca_key")
            return TlsSpec(generate=True,
                           ca=None if ca is None else self.path(ca, (*path, "ca")),
                           ca_key=None if ca_key is None else self.path(ca_key,
                                                                        (*path, "ca_key")))
        if "ca" not in d or "certs" not in d:
            raise self.src.error(path, "use generate: true, or ca: CA.pem with certs: "
                                 "{server: {cert: ..., key: ...}} for every server")
        cd = self.mapping(d["certs"], (*path, "certs"), set(d["certs"] or {}))
        certs = []
        for server, ck in cd.items():
            p = (*path, "certs", server)
            e = self.mapping(ck, p, {"cert", "key"})
            if "cert" not in e or "key" not in e:
                raise self.src.error(p, "give cert and key paths")
            certs.append((server, self.path(e["cert"], (*p, "cert")),
                          self.path(e["key"], (*p, "key"))))
        return TlsSpec(ca=self.path(d["ca"], (*path, "ca")), certs=tuple(certs))

    def auth(self, value: Any) -> Auth:
        path: tuple[Any, ...] = ("auth",)
        d = self.mapping(value, path, {"accounts", "system_account", "operator", "resolver"})
        if d.get("operator") is not None:
            if "accounts" in d:
                raise self.src.error((*path, "accounts"), "with operator: the accounts and "
                                     "users come from the natsops auth store; remove accounts")
            resolver = self.string(d.get("resolver", "full"), (*path, "resolver"))
            if resolver not in ("full", "memory"):
                raise self.src.error((*path, "resolver"), f"use full or memory, not "
                                     f"{resolver!r}")
            return Auth(operator=self.name(d["operator"], (*path, "operator"), "operator"),
                        resolver=resolver)
        if "resolver" in d:
            raise self.src.error((*path, "resolver"), "resolver goes with operator:")
        system = self.name(d.get("system_account", "SYS"), (*path, "system_account"), "account")
        accs_raw = d.get("accounts")
        if accs_raw is None:
            accs_raw = {"APP": {"users": [{"user": "app"}]}}
        ad = self.mapping(accs_raw, (*path, "accounts"), set(accs_raw or {}))
        accounts = []
        for acc_name, acc in ad.items():
            p = (*path, "accounts", acc_name)
            self.name(acc_name, p, "account")
            if acc_name == system:
                raise self.src.error(p, f"{acc_name} is the system account: natsops defines "
                                     "it (with a sys user for monitoring tools)")
            e = self.mapping(acc, p, {"users", "jetstream"})
            users_raw = e.get("users") or []
            if not isinstance(users_raw, list):
                raise self.src.error((*p, "users"), "expected a list of users")
            users = []
            for i, u in enumerate(users_raw):
                up = (*p, "users", i)
                if isinstance(u, dict) and "password" in u:
                    raise self.src.error((*up, "password"), "passwords are never written in "
                                         "the topology: use password_env: VAR, or leave it "
                                         "out to have one generated")
                ud = self.mapping(u, up, {"user", "password_env"})
                if "user" not in ud:
                    raise self.src.error(up, "user: missing")
                pe = ud.get("password_env")
                if pe is not None and (not isinstance(pe, str) or not _ENV.match(pe)):
                    raise self.src.error((*up, "password_env"), f"invalid environment "
                                         f"variable name {pe!r}")
                users.append(User(self.name(ud["user"], (*up, "user"), "user"), pe,
                                  self.src.line(up)))
            accounts.append(Account(acc_name, tuple(users),
                                    self.boolean(e.get("jetstream", True), (*p, "jetstream")),
                                    self.src.line(p)))
        return Auth(accounts=tuple(accounts), system_account=system)

    # ---- whole-topology checks --------------------------------------------------------------
    def check(self, t: Topology) -> None:
        seen: dict[str, tuple[Any, ...]] = {}
        groups: list[tuple[tuple[Any, ...], Cluster | LeafSite]] = [
            (("clusters", i), c) for i, c in enumerate(t.clusters)] + [
            (("leafs", i), s) for i, s in enumerate(t.leafs)]
        group_names: dict[str, tuple[Any, ...]] = {}
        for gpath, g in groups:
            if g.name in group_names:
                raise self.src.error((*gpath, "name"), f"{g.name!r} is already the name of "
                                     f"{_dotted(group_names[g.name])} (line "
                                     f"{self.src.line(group_names[g.name])}): cluster and leaf "
                                     "site names must be unique")
            group_names[g.name] = gpath
            for j, n in enumerate(g.nodes):
                npath = (*gpath, "nodes", j, "name")
                if n.name in seen:
                    raise self.src.error(npath, f"server name {n.name!r} is already used at "
                                         f"line {self.src.line(seen[n.name])}: server names "
                                         "must be unique across the whole supercluster")
                seen[n.name] = npath
        self.check_ports(t, groups)
        self.check_leafs(t)
        for i, c in enumerate(t.clusters):
            js = any(n.jetstream.enabled for n in c.nodes)
            if js and len(c.nodes) == 1 and t.has_gateway(c.name):
                raise self.src.error(("clusters", i, "nodes"), f"cluster {c.name} has one "
                                     "node and joins gateways with JetStream on: nats-server "
                                     "then runs clustered JetStream, which needs routes "
                                     "(use 3 nodes, or jetstream: false)")
            if js and (len(c.nodes) % 2 == 0 or len(c.nodes) < 3) and len(c.nodes) != 1:
                self.warnings.append(self.src.warn(
                    ("clusters", i, "nodes"), f"cluster {c.name} has {len(c.nodes)} nodes: "
                    f"Raft needs a majority, so it tolerates {(len(c.nodes) - 1) // 2} "
                    "failure(s); use an odd count (3, 5)"))
        js_clusters = [c.name for c in t.clusters if any(n.jetstream.enabled for n in c.nodes)]
        for i, c in enumerate(t.clusters):
            if js_clusters and c.name not in js_clusters and t.has_gateway(c.name):
                self.warnings.append(self.src.warn(
                    ("clusters", i, "nodes"), f"cluster {c.name} runs without JetStream in a "
                    f"supercluster whose cluster(s) {', '.join(js_clusters)} run it: at first "
                    "start nats-server may count its servers in the JetStream meta group's "
                    "expected size and never elect a meta leader (seen with 2.15.1); enable "
                    "JetStream on every cluster, or make the core-only servers a leaf site"))
        for i, s in enumerate(t.leafs):
            if len(s.nodes) % 2 == 0 and any(n.jetstream.enabled for n in s.nodes):
                self.warnings.append(self.src.warn(
                    ("leafs", i, "nodes"), f"leaf site {s.name} has {len(s.nodes)} nodes: "
                    "use 1, 3 or 5 for its JetStream domain"))
        if len(t.clusters) > 1:
            self.check_connected(t)
        if t.tls is not None and t.tls.generate:
            self.check_certs(t, t.tls)
        if t.tls is not None and not t.tls.generate:
            for server, _, _ in t.tls.certs:
                if server not in seen:
                    raise self.src.error(("tls", "certs", server), f"no server named "
                                         f"{server!r} in this topology")
            missing = [n for n in seen if t.tls.cert_for(n) is None]
            if missing:
                raise self.src.error(("tls", "certs"), f"no certificate for server "
                                     f"{missing[0]!r}: every server needs its cert and key")
            self.check_certs(t, t.tls)

    def check_certs(self, t: Topology, spec: TlsSpec) -> None:
        """Each given certificate: covers its node's host (what routes, gateways, leaf remotes
        and clients dial), not expired (a warning within 30 days), its key, the CA's chain."""
        from natsops.tls import check_server_cert

        if spec.generate and spec.ca and spec.ca_key:  # the CA certificates are issued from
            for p in check_server_cert(spec.ca, spec.ca_key, None):
                path: tuple[str, ...] = ("tls", "ca_key" if p.file == spec.ca_key else "ca")
                if p.fatal:
                    raise self.src.error(path, f"{p.file}: {p.message} (the CA to issue from)")
                self.warnings.append(self.src.warn(path, f"{p.file}: {p.message}"))
        for server, cert, key in spec.certs:
            fatal = []
            for p in check_server_cert(cert, key, spec.ca, [t.node(server).host]):
                field = "ca" if p.file == spec.ca else ("key" if p.file == key else "cert")
                path = ("tls", "ca") if field == "ca" else ("tls", "certs", server, field)
                if p.fatal:
                    fatal.append((path, f"{p.file}: {p.message}"))
                else:
                    self.warnings.append(self.src.warn(path, f"{p.file}: {p.message}"))
            if fatal:
                more = "".join(f"; {self.src.warn(p, m)}" for p, m in fatal[1:])
                raise self.src.error(fatal[0][0], f"{fatal[0][1]} ({server}){more}")

    def check_ports(self, t: Topology,
                    groups: list[tuple[tuple[Any, ...], Cluster | LeafSite]]) -> None:
        taken: dict[tuple[str, int], tuple[str, str, tuple[Any, ...]]] = {}
        for gpath, g in groups:
            for j, n in enumerate(g.nodes):
                npath = (*gpath, "nodes", j)
                for kind, port in t.used_ports(n).items():
                    key = (n.host, port)
                    if key in taken:
                        other, okind, opath = taken[key]
                        raise self.src.error((*npath, "ports"), f"port {port} on host "
                                             f"{n.host} is already the {okind} port of "
                                             f"{other} (line {self.src.line(opath)}); "
                                             f"{n.name} needs it for {kind}: ports must be "
                                             "unique per host")
                    taken[key] = (n.name, kind, npath)

    def check_leafs(self, t: Topology) -> None:
        domains: dict[str, str] = {}
        if t.domain:
            domains[t.domain] = "the clusters (domain: at the top)"
        for i, s in enumerate(t.leafs):
            p = ("leafs", i)
            if t.cluster(s.hub) is None:
                names = ", ".join(c.name for c in t.clusters)
                raise self.src.error((*p, "hub"), f"no cluster named {s.hub!r} (clusters: "
                                     f"{names})")
            if not t.auth.operator_mode and t.auth.account(s.account) is None:
                raise self.src.error((*p, "account"), f"no account {s.account!r} in "
                                     "auth.accounts: the leaf connection is bound to it")
            if s.domain is not None:
                if s.domain in domains:
                    raise self.src.error((*p, "domain"), f"JetStream domain {s.domain!r} is "
                                         f"already used by {domains[s.domain]}: every leaf "
                                         "site needs its own domain, distinct from the hub's")
                domains[s.domain] = f"leaf site {s.name}"

    def check_connected(self, t: Topology) -> None:
        reach = {t.clusters[0].name}
        changed = True
        while changed:
            changed = False
            for a, b in t.gateways:
                if (a in reach) != (b in reach):
                    reach |= {a, b}
                    changed = True
        lost = [c.name for c in t.clusters if c.name not in reach]
        if lost:
            raise self.src.error(("gateways",), f"cluster {lost[0]} is not joined to "
                                 f"{t.clusters[0].name} by any gateway: a topology is one "
                                 "supercluster (add a pair, or use gateways: all)")


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
            int: "a number", float: "a number", type(None): "nothing"}.get(type(value),
                                                                        type(value).__name__)


