"""One node's nats-server config, rendered from the topology (a pure function: no I/O).

What a node gets:

- ``server_name``, client ``listen``, ``server_tags``, lame duck settings;
- the monitor on ``127.0.0.1`` (``monitor: public``: ``0.0.0.0``), served as ``https`` when
  TLS is on;
- ``jetstream {}`` with the node's limits (and the leaf site's or the topology's ``domain``);
- ``cluster {}`` when its cluster or leaf site has several nodes: routes to every other node;
- ``gateway {}`` (name = cluster name) with the urls of every node of each peer cluster;
- hubs: ``leafnodes { listen }`` accepting one user per leaf site, bound to the site's account
  (and one bound to the system account); leaf nodes: ``remotes`` to every hub node;
- TLS blocks on every listener and remote when TLS is on (routes, gateways and leaf
  connections verify their peer's certificate);
- plain accounts (users with bcrypt hashes) plus the system account, or the operator blocks;
- with ``ping`` (``natsops lab``): short pings on every connection (``ping_interval`` and
  ``ping_max`` at the top, which gateways, leafnodes and clients use, and in ``cluster {}``
  for the routes), so a link that goes silent is closed within seconds.

Accepted passwords are bcrypt hashes. A connection this node dials (a route, a gateway, a leaf
remote) must present the clear password in its URL: those URLs live in a separate include file
(``secrets``, 0600) as variables, so the config itself never holds a clear password.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from natsops._version import __version__
from natsops.topology.model import Cluster, LeafSite, Node, Topology
from natsops.topology.passwords import Passwords

__all__ = ["PRELOAD_INCLUDE", "SECRETS_INCLUDE", "OperatorBlocks", "ServerConfig", "TlsPaths",
           "render_server_config"]

SECRETS_INCLUDE = "nats-server.secrets"
# a MEMORY resolver's account JWTs, included by the config: ``auth push`` rewrites it on a local
# topology and reloads the servers; ``render`` writes it beside each config
PRELOAD_INCLUDE = "resolver-preload.conf"
ROUTE_USER = "route"
GATEWAY_USER = "gateway"


@dataclass(frozen=True)
class TlsPaths:
    """Where the node's CA, certificate and key are, as the config should name them (relative
    paths resolve against the server's working directory)."""

    ca: str
    cert: str
    key: str


@dataclass(frozen=True)
class OperatorBlocks:
    """Operator mode: the operator/resolver blocks (from :func:`natsops.auth.config.
    render_config`), account public keys by name, and the creds file paths a leaf site's
    remotes use (keys ``leaf:<site>`` and ``leaf-sys:<site>``)."""

    text: str
    account_keys: Mapping[str, str]
    system_account: str
    creds: Mapping[str, str] = field(default_factory=dict)
    preload: str | None = None  # MEMORY resolver: the text of PRELOAD_INCLUDE


@dataclass(frozen=True)
class ServerConfig:
    """A rendered node: the config text and, when it dials with passwords, the text of the
    include file holding those URLs (write it as ``secrets_name`` beside the config, 0600)."""

    server_name: str
    text: str
    secrets: str | None = field(default=None, repr=False)
    secrets_name: str = SECRETS_INCLUDE
    preload: str | None = field(default=None, repr=False)  # write as PRELOAD_INCLUDE


def q(value: object) -> str:
    """A double-quoted config string."""
    return json.dumps(str(value))


class _Vars:
    """Variables of the secrets include: name -> (URL with a clear password, comment)."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str, str]] = []

    def add(self, name: str, url: str, comment: str) -> str:
        self.items.append((name, url, comment))
        return "$" + name

    def text(self, server: str) -> str | None:
        if not self.items:
            return None
        lines = [f"# Secrets of {server}: URLs this server dials, with clear passwords.",
                 "# Included by nats-server.conf; keep it 0600, never commit it."]
        for name, url, comment in self.items:
            lines.append(f"# {comment}")
            lines.append(f"{name}: {q(url)}")
        return "\n".join(lines) + "\n"


def _url(scheme: str, host: str, port: int, user: str | None = None,
         password: str | None = None) -> str:
    from urllib.parse import quote

    h = f"[{host}]" if ":" in host else host
    auth = f"{quote(user, safe='')}:{quote(password or '', safe='')}@" if user else ""
    return f"{scheme}://{auth}{h}:{port}"


def _addr(host: str, port: int) -> str:
    return q(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")


def _tls_block(tls: TlsPaths, indent: str, *, verify: bool) -> list[str]:
    lines = [f"{indent}tls {{", f"{indent}  cert_file: {q(tls.cert)}",
             f"{indent}  key_file: {q(tls.key)}", f"{indent}  ca_file: {q(tls.ca)}"]
    if verify:
        lines.append(f"{indent}  verify: true")
    lines += [f"{indent}  timeout: 2", f"{indent}}}"]
    return lines


def render_server_config(topo: Topology, node: str | Node, passwords: Passwords, *,
                         tls: TlsPaths | None = None, operator: OperatorBlocks | None = None,
                         secrets_name: str = SECRETS_INCLUDE,
                         ping: tuple[str, int] | None = None) -> ServerConfig:
    """The nats-server config of one node of ``topo`` (by name or Node).

    ``passwords`` come from :func:`natsops.topology.passwords.resolve_passwords`; ``tls`` is
    required when the topology has TLS; ``operator`` when it runs an operator; ``ping``
    (interval, max outstanding) shortens the pings of every connection (see the module doc).
    """
    n = topo.node(node if isinstance(node, str) else node.name)
    group = topo.group_of(n.name)
    if topo.tls is not None and tls is None:
        raise ValueError(f"{n.name}: the topology has TLS: give its TlsPaths")
    if topo.auth.operator_mode and operator is None:
        raise ValueError(f"{n.name}: the topology runs operator {topo.auth.operator}: give "
                         "its OperatorBlocks")
    v = _Vars()
    scheme = "tls" if tls else "nats"
    kind = f"cluster {group.name}" if isinstance(group, Cluster) else \
        f"leaf site {group.name} (hub {group.hub})"
    out = [f"# nats-server config for {n.name}: {kind} of topology {topo.name}.",
           f"# Rendered by natsops {__version__}; check it from its folder with:",
           "#   nats-server -t -c nats-server.conf", ""]
    body: list[str] = [f"server_name: {q(n.name)}", f"listen: {_addr(n.listen, n.ports.client)}"]
    mon_host = "0.0.0.0" if topo.monitor == "public" else "127.0.0.1"
    body.append(f"{'https' if tls else 'http'}: {_addr(mon_host, n.ports.monitor)}")
    if n.tags:
        body.append(f"server_tags: [{', '.join(q(t) for t in n.tags)}]")
    body += ["", "# Lame duck mode (SIGUSR2): clients are moved off over this period.",
             f"lame_duck_duration: {q(topo.lame_duck.duration)}",
             f"lame_duck_grace_period: {q(topo.lame_duck.grace_period)}"]
    if ping:
        body += ["", "# Short pings: a gateway, leafnode or client link that goes silent is "
                 "closed within seconds.", f"ping_interval: {q(ping[0])}",
                 f"ping_max: {ping[1]}"]
    if tls:
        body += ["", "# TLS for clients (and the https monitor)",
                 *_tls_block(tls, "", verify=False)]
    if n.jetstream.enabled:
        domain = group.domain if isinstance(group, LeafSite) else topo.domain
        body += ["", "jetstream {", f"  store_dir: {q(n.jetstream.store_dir)}",
                 f"  max_memory_store: {n.jetstream.max_memory}",
                 f"  max_file_store: {n.jetstream.max_file}"]
        if domain:
            body.append(f"  domain: {q(domain)}")
        body.append("}")
    if len(group.nodes) > 1:
        body += ["", *_cluster_block(group, n, passwords, v, tls, ping)]
    if isinstance(group, Cluster) and topo.has_gateway(group.name):
        body += ["", *_gateway_block(topo, group, n, passwords, v, tls, scheme)]
    if isinstance(group, Cluster) and topo.leafs_of(group.name):
        body += ["", *_hub_block(topo, group, n, passwords, tls, operator)]
    if isinstance(group, LeafSite):
        body += ["", *_leaf_block(topo, group, passwords, v, tls, operator)]
    body += ["", *_auth_blocks(topo, passwords, operator)]
    secrets = v.text(n.name)
    head = [f"include {q(secrets_name)}", ""] if secrets else []
    return ServerConfig(n.name, "\n".join(out + head + body) + "\n", secrets, secrets_name,
                        operator.preload if operator else None)


def _cluster_block(group: Cluster | LeafSite, n: Node, pw: Passwords, v: _Vars,
                   tls: TlsPaths | None, ping: tuple[str, int] | None) -> list[str]:
    key = f"route:{group.name}"
    lines = ["cluster {", f"  name: {q(group.name)}",
             f"  listen: {_addr(n.listen, n.ports.cluster)}",
             f"  authorization {{ user: {q(ROUTE_USER)}, password: {q(pw.hash(key))} }}"]
    routes = []
    for i, o in enumerate((o for o in group.nodes if o.name != n.name), start=1):
        scheme = "tls" if tls else "nats-route"
        routes.append(v.add(f"ROUTE_{i}", _url(scheme, o.host, o.ports.cluster, ROUTE_USER,
                                               pw.password(key)), f"route to {o.name}"))
    lines.append(f"  routes: [{', '.join(routes)}]")
    if ping:
        lines += [f"  ping_interval: {q(ping[0])}", f"  ping_max: {ping[1]}"]
    if tls:
        lines += _tls_block(tls, "  ", verify=True)
    lines.append("}")
    return lines


def _gateway_block(topo: Topology, c: Cluster, n: Node, pw: Passwords, v: _Vars,
                   tls: TlsPaths | None, scheme: str) -> list[str]:
    lines = ["# Gateway: its name is always the cluster's name.", "gateway {",
             f"  name: {q(c.name)}", f"  listen: {_addr(n.listen, n.ports.gateway)}",
             f"  authorization {{ user: {q(GATEWAY_USER)}, password: {q(pw.hash('gateway'))} }}",
             "  gateways: ["]
    for gi, peer in enumerate(topo.gateway_peers(c.name), start=1):
        other = topo.cluster(peer)
        assert other is not None
        urls = [v.add(f"GATEWAY_{gi}_{j}", _url(scheme, o.host, o.ports.gateway, GATEWAY_USER,
                                                pw.password("gateway")),
                      f"gateway {peer}: {o.name}")
                for j, o in enumerate(other.nodes, start=1)]
        lines.append(f"    {{ name: {q(peer)}, urls: [{', '.join(urls)}] }}")
    lines.append("  ]")
    if tls:
        lines += _tls_block(tls, "  ", verify=True)
    lines.append("}")
    return lines


def _hub_block(topo: Topology, c: Cluster, n: Node, pw: Passwords, tls: TlsPaths | None,
               operator: OperatorBlocks | None) -> list[str]:
    sites = topo.leafs_of(c.name)
    lines = [f"# Leaf nodes of {', '.join(s.name for s in sites)} connect here, each bound to "
             "one account.", "leafnodes {", f"  listen: {_addr(n.listen, n.ports.leafnode)}"]
    if operator is None:
        lines += ["  authorization {", "    users: ["]
        for s in sites:
            lines.append(f"      {{ user: {q(s.leaf_user)}, password: "
                         f"{q(pw.hash('leaf:' + s.name))}, account: {q(s.account)} }}")
            if s.system:
                lines.append(f"      {{ user: {q(s.leaf_user + '-sys')}, password: "
                             f"{q(pw.hash('leaf-sys:' + s.name))}, account: "
                             f"{q(topo.auth.system_account)} }}")
        lines += ["    ]", "  }"]
    if tls:
        lines += _tls_block(tls, "  ", verify=True)
    lines.append("}")
    return lines


def _leaf_block(topo: Topology, s: LeafSite, pw: Passwords, v: _Vars, tls: TlsPaths | None,
                operator: OperatorBlocks | None) -> list[str]:
    hub = topo.cluster(s.hub)
    assert hub is not None
    scheme = "tls" if tls else "nats-leaf"
    lines = [f"# This leaf site dials every node of hub cluster {hub.name}.", "leafnodes {",
             "  remotes: ["]
    binds = [("leaf", s.account, s.leaf_user, "LEAF")]
    if s.system:
        sys_acc = operator.system_account if operator else topo.auth.system_account
        binds.append(("leaf-sys", sys_acc, s.leaf_user + "-sys", "LEAF_SYS"))
    for key, account, user, var in binds:
        if operator is None:
            urls = [v.add(f"{var}_{j}", _url(scheme, o.host, o.ports.leafnode, user,
                                             pw.password(f"{key}:{s.name}")),
                          f"leaf remote ({account}) to {o.name}")
                    for j, o in enumerate(hub.nodes, start=1)]
            extra = ""
            local = account
        else:
            urls = [q(_url(scheme, o.host, o.ports.leafnode)) for o in hub.nodes]
            extra = f", credentials: {q(operator.creds[f'{key}:{s.name}'])}"
            local = operator.account_keys.get(account, account)
        tls_part = ""
        if tls:
            tls_part = (f", tls: {{ cert_file: {q(tls.cert)}, key_file: {q(tls.key)}, "
                        f"ca_file: {q(tls.ca)}, timeout: 2 }}")
        lines.append(f"    {{ urls: [{', '.join(urls)}], account: {q(local)}{extra}"
                     f"{tls_part} }}")
    lines += ["  ]", "}"]
    return lines


def _auth_blocks(topo: Topology, pw: Passwords, operator: OperatorBlocks | None) -> list[str]:
    if operator is not None:
        return ["# Operator mode: accounts come from the resolver.", operator.text.rstrip("\n")]
    sys_acc = topo.auth.system_account
    lines = [f"# Accounts: {sys_acc} is the system account (its sys user is for monitoring "
             "tools). Passwords are bcrypt hashes.", "accounts {",
             f"  {sys_acc} {{", "    users: [",
             f"      {{ user: \"sys\", password: {q(pw.hash('sys'))} }}", "    ]", "  }"]
    for acc in topo.auth.accounts:
        lines.append(f"  {acc.name} {{")
        if acc.jetstream:
            lines.append("    jetstream: enabled")
        lines.append("    users: [")
        for u in acc.users:
            lines.append(f"      {{ user: {q(u.name)}, password: "
                         f"{q(pw.hash(f'user:{acc.name}:{u.name}'))} }}")
        lines += ["    ]", "  }"]
    lines += ["}", f"system_account: {sys_acc}"]
    return lines
