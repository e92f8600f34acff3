"""Deployment topologies: one YAML file describing clusters, gateways, leaf sites, TLS and auth.

API (stable for ``bootstrap --topology``, the lab and ``natsops render``)::

    from natsops.topology import (load_topology, resolve_passwords, render_server_config,
                                  relocate, TlsPaths, OperatorBlocks)

    loaded = load_topology("prod.yaml", env)      # LoadedTopology(topology, warnings)
    topo = loaded.topology                        # Topology (frozen dataclasses, model.py)
    # errors: TopologyError (a UsageError, exit 2) "file:line: field.path: message"

    local = relocate(topo, host="127.0.0.1", ports=None, root=Path("/tmp/x"))
    #   every node on host (listen + advertised), free ports unless ports={server: Ports(...)},
    #   store_dir -> root/<server>/jetstream. Same names, gateways, leafs, TLS, auth.

    pw = resolve_passwords(topo, env, saved=Path("out/natsops-secrets.json"), cost=11)
    #   Passwords: pw.password(key) clear, pw.hash(key) bcrypt "$2a$..."; keys:
    #   "sys", "user:<ACC>:<user>", "route:<cluster|site>", "gateway", "leaf:<site>",
    #   "leaf-sys:<site>". save_passwords(pw, path) keeps generated ones (0600).
    #   Tests may pass cost=4 (bcrypt's minimum) to stay fast.

    conf = render_server_config(topo, "east-1", pw, tls=TlsPaths(ca, cert, key) | None,
                                operator=OperatorBlocks(...) | None)
    #   ServerConfig(server_name, text, secrets, secrets_name="nats-server.secrets"):
    #   write conf.text as <dir>/nats-server.conf and, when conf.secrets is not None,
    #   conf.secrets as <dir>/<conf.secrets_name> (0600): the config includes it by a relative
    #   path (URLs with clear passwords for routes/gateways/leaf remotes, as variables).
    #   TLS paths are written verbatim: relative ones resolve against the server's working
    #   directory (run nats-server from the node's folder), absolute ones anywhere.

Everything at once (what ``natsops render`` writes; render.py's docstring has the layout)::

    from natsops.topology.render import write_topology
    result = write_topology(local, out_dir, env, store=auth_store_root, absolute=True)
    #   out_dir/<server>/nats-server.conf (+ nats-server.secrets, tls/, *.creds in operator
    #   mode, leaf users created in the store when missing), natsops-secrets.json (read back
    #   with resolve_passwords(local, env, saved=out_dir / SECRETS_FILE)), helm/, README.md.
    #   absolute=True: TLS and creds paths in the configs are absolute (start the servers from
    #   any working directory); the secrets include is always relative to the config file.

Model lookups (model.py): ``topo.all_nodes()``, ``topo.node(name)``, ``topo.group_of(name)``
(Cluster or LeafSite), ``topo.cluster(name)``, ``topo.leaf_site(name)``,
``topo.gateway_peers(cluster)``, ``topo.leafs_of(hub)``, ``topo.used_ports(node)`` ({kind:
port} of the listeners a node opens: client, monitor, cluster, gateway, leafnode).

Only :func:`load_topology` validates: a Topology built or changed in code (for instance two
leaf sites given the same domain with ``dataclasses.replace``, to see doctor flag it) renders
as it is.

Users connect as ``user``/``pw.password("user:<ACC>:<user>")``; the system account's user is
``sys``/``pw.password("sys")``. Monitors listen on 127.0.0.1 (``https`` when the topology has
TLS). Leaf sites bind their account (and, with ``system: true``, the default, the system
account) to the hub, and run JetStream in their own domain.

Certificates: :mod:`natsops.tls` (``generate_ca``, ``issue_cert``, ``write_pair``).

Operator mode (``auth: {operator: NAME}``): :func:`natsops.topology.operator.store_operator`
gives the store's operator as the servers run it (``.blocks(topo, node)`` -> OperatorBlocks,
leaf users created when missing); :mod:`natsops.topology.local_operator` adds the users a local
run logs in as (``bootstrap --topology``).
"""

from __future__ import annotations

from natsops.topology.load import LoadedTopology, TopologyError, load_topology, parse_topology
from natsops.topology.model import (
    DEFAULT_PORTS,
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
from natsops.topology.passwords import (
    SECRETS_FILE,
    Passwords,
    needed_keys,
    resolve_passwords,
    save_passwords,
)
from natsops.topology.relocate import free_ports, relocate
from natsops.topology.server_conf import (
    SECRETS_INCLUDE,
    OperatorBlocks,
    ServerConfig,
    TlsPaths,
    render_server_config,
)

__all__ = [
    "DEFAULT_PORTS",
    "SECRETS_FILE",
    "SECRETS_INCLUDE",
    "Account",
    "Auth",
    "Cluster",
    "JetStreamLimits",
    "LameDuck",
    "LeafSite",
    "LoadedTopology",
    "Node",
    "OperatorBlocks",
    "Passwords",
    "Ports",
    "ServerConfig",
    "TlsPaths",
    "TlsSpec",
    "Topology",
    "TopologyError",
    "User",
    "free_ports",
    "load_topology",
    "needed_keys",
    "parse_topology",
    "relocate",
    "render_server_config",
    "resolve_passwords",
    "save_passwords",
]
