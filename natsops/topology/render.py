"""``natsops render TOPOLOGY --out DIR``: every file a topology needs, per node and per cluster.

Layout of ``DIR``::

    README.md                      what to copy where, and what to run
    natsops-secrets.json           generated passwords and hashes (0600; reused on re-render)
    tls/ca.pem, tls/ca-key.pem     the CA (--tls generate; the key 0600, keep it offline)
    <server>/nats-server.conf      the server config (0600: bcrypt hashes)
    <server>/nats-server.secrets   URLs it dials with clear passwords (0600), when any
    <server>/nats-server.service   systemd unit (WorkingDirectory=/etc/nats)
    <server>/tls/                  ca.pem, server.pem, server-key.pem (0600)
    <server>/*.creds               leaf remotes' credentials (operator mode, 0600)
    <server>/resolver-preload.conf the account JWTs a MEMORY resolver serves (operator mode;
                                   included by the config: re-render and deploy it after an
                                   account change, then reload the servers)
    helm/<cluster>.values.yaml     values for the official nats Helm chart, per cluster

On a host, ``<server>/`` is copied to ``/etc/nats/``: paths inside the config are relative to
it (the unit runs the server from there).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from natsops._version import __version__
from natsops.errors import UsageError
from natsops.files import (
    check_output_dir,
    read_bytes,
    refuse_overwrite,
    write_atomic,
    write_private,
)
from natsops.topology.load import load_topology
from natsops.topology.model import Cluster, Node, TlsSpec, Topology
from natsops.topology.passwords import (
    BCRYPT_COST,
    SECRETS_FILE,
    Passwords,
    resolve_passwords,
    save_passwords,
)
from natsops.topology.server_conf import (
    PRELOAD_INCLUDE,
    OperatorBlocks,
    TlsPaths,
    render_server_config,
)

__all__ = ["HOST_DIR", "RenderResult", "RenderedFile", "helm_values", "node_sans",
           "render_topology", "result_json", "systemd_unit", "write_topology"]

HOST_DIR = "/etc/nats"
CONFIG = "nats-server.conf"
UNIT = "nats-server.service"
NODE_TLS = TlsPaths("tls/ca.pem", "tls/server.pem", "tls/server-key.pem")


@dataclass(frozen=True)
class RenderedFile:
    """One file of the output: its path relative to DIR, what it is, whose, and its mode."""

    path: str
    kind: str  # readme secrets config include preload unit ca ca-key cert key creds helm
    server: str | None = None
    private: bool = False


@dataclass(frozen=True)
class RenderResult:
    out: str
    topology: str
    files: tuple[RenderedFile, ...]
    warnings: tuple[str, ...]
    dry_run: bool


class _Plan:
    def __init__(self) -> None:
        self.items: list[tuple[RenderedFile, bytes]] = []

    def add(self, path: str, data: str | bytes, kind: str, server: str | None = None,
            private: bool = False) -> None:
        raw = data.encode() if isinstance(data, str) else data
        self.items.append((RenderedFile(path, kind, server, private), raw))


def node_sans(node: Node) -> tuple[list[str], list[str]]:
    """(DNS names, IPs) a node's certificate must carry: its host, its name when it is a DNS
    label, and localhost (the monitor and local checks on the host itself)."""
    from natsops.tls import is_ip

    dns, ips = [], ["127.0.0.1"]
    for h in (node.host, node.listen):
        if is_ip(h):
            if h not in ("0.0.0.0", "::"):
                ips.append(h)
        else:
            dns.append(h)
    if "_" not in node.name:
        dns.append(node.name)
    dns.append("localhost")
    return list(dict.fromkeys(dns)), list(dict.fromkeys(ips))


def _tls_files(topo: Topology, out: Path, plan: _Plan) -> None:
    from natsops.tls import generate_ca, issue_cert, load_pair

    spec = topo.tls
    assert spec is not None
    if spec.generate:
        if spec.ca and spec.ca_key:
            ca = load_pair(spec.ca, spec.ca_key)
        elif (out / "tls" / "ca.pem").exists() and (out / "tls" / "ca-key.pem").exists():
            ca = load_pair(out / "tls" / "ca.pem", out / "tls" / "ca-key.pem")  # keep the CA
        else:
            ca = generate_ca(f"natsops {topo.name} CA")
        plan.add("tls/ca.pem", ca.cert_pem, "ca")
        if not spec.ca:
            plan.add("tls/ca-key.pem", ca.key_pem, "ca-key", private=True)
        for n in topo.all_nodes():
            dns, ips = node_sans(n)
            pair = issue_cert(ca, n.name, dns_names=dns, ip_addresses=ips)
            plan.add(f"{n.name}/{NODE_TLS.ca}", ca.cert_pem, "ca", n.name)
            plan.add(f"{n.name}/{NODE_TLS.cert}", pair.cert_pem, "cert", n.name)
            plan.add(f"{n.name}/{NODE_TLS.key}", pair.key_pem, "key", n.name, private=True)
        return
    assert spec.ca is not None
    ca_pem = read_bytes(spec.ca, what="CA certificate")
    for n in topo.all_nodes():
        ck = spec.cert_for(n.name)
        assert ck is not None
        pair = load_pair(*ck)
        plan.add(f"{n.name}/{NODE_TLS.ca}", ca_pem, "ca", n.name)
        plan.add(f"{n.name}/{NODE_TLS.cert}", pair.cert_pem, "cert", n.name)
        plan.add(f"{n.name}/{NODE_TLS.key}", pair.key_pem, "key", n.name, private=True)


def _operator(topo: Topology, store_root: Path | None, env: Mapping[str, str], plan: _Plan,
              dry_run: bool) -> tuple[dict[str, OperatorBlocks], dict[str, Any]]:
    """Per node: the operator blocks (and creds files of leaf sites, users made if missing);
    and the Helm chart's ``config`` entries for the same operator (public JWTs only)."""
    from natsops.auth.store import Store, default_store_root
    from natsops.topology.operator import store_operator

    so = store_operator(topo, Store(store_root or default_store_root(env)), dry_run=dry_run)
    store, op = so.store, so.op
    sys_key = so.account_keys[so.system_account]
    helm: dict[str, Any] = {"merge": {
        "operator": store.operator(op).token.token, "system_account": sys_key,
        "resolver_preload": {a.public_key: a.token.token for a in store.accounts(op)}}}
    if topo.auth.resolver == "full":
        helm["resolver"] = {"enabled": True, "merge": {"type": "full", "allow_delete": True,
                                                       "interval": "2m"}}
    else:
        helm["merge"]["resolver"] = "MEMORY"
    blocks = {}
    for n in topo.all_nodes():
        blocks[n.name] = so.blocks(topo, n)
        for c in so.creds_for(topo, n):
            plan.add(f"{n.name}/{c.file}", so.creds_text(c), "creds", n.name, private=True)
    return blocks, helm


def systemd_unit(topo: Topology, node: Node, *, server_bin: str = "/usr/local/bin/nats-server",
                 run_user: str = "nats") -> str:
    """The systemd unit of one node (runs the server from ``/etc/nats``)."""
    from natsops.render import render
    from natsops.units import parse_duration

    group = topo.group_of(node.name)
    return render("nats-server.service.j2", natsops_version=__version__, server_name=node.name,
                  cluster_name=group.name, run_user=run_user, binary=server_bin,
                  config_path=f"{HOST_DIR}/{CONFIG}", working_dir=HOST_DIR,
                  stop_timeout=int(parse_duration(topo.lame_duck.duration)) + 30,
                  store_dir=str(Path(node.jetstream.store_dir).parent))


def _gib(size: str) -> float:
    from natsops.units import parse_size

    return parse_size(size, what="size") / 2**30


def helm_values(topo: Topology, cluster: Cluster, pw: Passwords | None,
                operator: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Values for the official nats Helm chart (nats-io/k8s, chart 1.x) for one cluster.

    The StatefulSet is named after the cluster, so the chart's cluster and gateway name (both
    the StatefulSet's name) equal the cluster's; replicas = its node count; JetStream on a
    file-store PVC 20% above max_file (headroom for compaction); Parallel pod management; the
    chart's probes made explicit (startup on the full /healthz, liveness on
    js-enabled-only); a PodDisruptionBudget; the termination grace period covers lame duck
    mode; no autoscaling. Accounts carry bcrypt hashes only; in operator mode ``operator``
    holds the chart entries of the operator, system account and resolver (public JWTs).
    """
    from natsops.conf.values import go_duration

    first = cluster.nodes[0]
    js = first.jetstream
    ldm = go_duration(topo.lame_duck.duration) or 120.0
    config: dict[str, Any] = {
        "cluster": {"enabled": len(cluster.nodes) > 1, "replicas": len(cluster.nodes),
                    "port": first.ports.cluster},
        "nats": {"port": first.ports.client},
        "monitor": {"enabled": True, "port": first.ports.monitor},
        "jetstream": {"enabled": js.enabled},
    }
    if js.enabled:
        pvc_gi = max(1, math.ceil(_gib(js.max_file) * 1.2))
        config["jetstream"] = {
            "enabled": True,
            "fileStore": {"enabled": True, "dir": "/data", "maxSize": js.max_file,
                          "pvc": {"enabled": True, "size": f"{pvc_gi}Gi"}},
            "memoryStore": {"enabled": True, "maxSize": js.max_memory},
        }
        if topo.domain:
            config["jetstream"]["merge"] = {"domain": topo.domain}
    if topo.has_gateway(cluster.name):
        gws = []
        for peer in topo.gateway_peers(cluster.name):
            other = topo.cluster(peer)
            assert other is not None
            scheme = "tls" if topo.tls else "nats"
            gws.append({"name": peer, "urls": [f"{scheme}://{o.host}:{o.ports.gateway}"
                                               for o in other.nodes]})
        config["gateway"] = {"enabled": True, "port": first.ports.gateway,
                             "merge": {"gateways": gws}}
    sites = topo.leafs_of(cluster.name)
    if sites:
        config["leafnodes"] = {"enabled": True, "port": first.ports.leafnode}
        if pw is not None and operator is None:
            users = []
            for s in sites:
                users.append({"user": s.leaf_user, "password": pw.hash(f"leaf:{s.name}"),
                              "account": s.account})
                if s.system:
                    users.append({"user": s.leaf_user + "-sys",
                                  "password": pw.hash(f"leaf-sys:{s.name}"),
                                  "account": topo.auth.system_account})
            config["leafnodes"]["merge"] = {"authorization": {"users": users}}
    if topo.tls:
        for block in ("nats", "cluster", "gateway", "leafnodes"):
            if block in config:
                config[block]["tls"] = {"enabled": True,
                                        "secretName": f"{cluster.name}-{block}-tls"}
        config["monitor"]["tls"] = {"enabled": True}
    merge: dict[str, Any] = {"lame_duck_duration": topo.lame_duck.duration,
                             "lame_duck_grace_period": topo.lame_duck.grace_period}
    if operator is not None:
        merge.update(operator["merge"])
        if "resolver" in operator:
            config["resolver"] = operator["resolver"]
    elif pw is not None:
        sys_acc = topo.auth.system_account
        accounts: dict[str, Any] = {sys_acc: {"users": [{"user": "sys",
                                                         "password": pw.hash("sys")}]}}
        for acc in topo.auth.accounts:
            entry: dict[str, Any] = {"users": [
                {"user": u.name, "password": pw.hash(f"user:{acc.name}:{u.name}")}
                for u in acc.users]}
            if acc.jetstream:
                entry["jetstream"] = "enabled"
            accounts[acc.name] = entry
        merge.update(accounts=accounts, system_account=sys_acc)
    config["merge"] = merge
    probe = {"port": "monitor"} | ({"scheme": "HTTPS"} if topo.tls else {})
    values: dict[str, Any] = {
        "statefulSet": {"name": cluster.name,
                        "merge": {"spec": {"podManagementPolicy": "Parallel"}}},
        "headlessService": {"name": f"{cluster.name}-headless"},
        "config": config,
        "container": {"merge": {
            "startupProbe": {"httpGet": {"path": "/healthz", **probe},
                             "initialDelaySeconds": 10, "periodSeconds": 10,
                             "failureThreshold": 90},
            "readinessProbe": {"httpGet": {"path": "/healthz?js-server-only=true", **probe},
                               "periodSeconds": 10, "failureThreshold": 3},
            "livenessProbe": {"httpGet": {"path": "/healthz?js-enabled-only=true", **probe},
                              "periodSeconds": 30, "failureThreshold": 3},
        }},
        "podTemplate": {"merge": {"spec": {
            "terminationGracePeriodSeconds": int(ldm) + 30}}},
        "podDisruptionBudget": {"enabled": True},
        "promExporter": {"enabled": True},
    }
    return values


def _helm_text(topo: Topology, cluster: Cluster, pw: Passwords,
               operator: Mapping[str, Any] | None) -> str:
    import yaml

    head = (f"# Values for the official nats Helm chart (https://github.com/nats-io/k8s), "
            f"cluster {cluster.name}\n# of topology {topo.name}, rendered by natsops "
            f"{__version__}. Install:\n#   helm upgrade --install {cluster.name} nats/nats "
            f"-f {cluster.name}.values.yaml\n# Server names are the pods' ({cluster.name}-0, "
            f"{cluster.name}-1, ...). Routes carry no password:\n# keep the cluster port "
            "inside the namespace (NetworkPolicy) or enable TLS.\n")
    return head + yaml.safe_dump(helm_values(topo, cluster, pw, operator), sort_keys=False,
                                 width=1 << 16)


def _readme(topo: Topology, out: Path) -> str:
    again = (f"`natsops render {topo.file} --out {out} --force`" if topo.file else
             "the same command with `--force`")
    lines = [f"# Topology {topo.name}", "",
             f"Rendered by natsops {__version__}"
             + (f" from `{topo.file}`" if topo.file else "") + f". Render again with {again}: "
             f"passwords and the CA are kept (`{SECRETS_FILE}`, `tls/`).", "",
             "## Servers", "",
             "| server | group | host | client | cluster | gateway | leafnode | monitor |",
             "|---|---|---|---|---|---|---|---|"]
    for n in topo.all_nodes():
        used = topo.used_ports(n)
        group = topo.group_of(n.name)
        cells = [str(used.get(k, "-")) for k in ("client", "cluster", "gateway", "leafnode",
                                                  "monitor")]
        lines.append(f"| {n.name} | {group.name} | {n.host} | {' | '.join(cells)} |")
    lines += ["", "## On each host", "",
              "1. Copy `<server>/` to the host as `/etc/nats/` (keep the modes: the config, "
              "`nats-server.secrets`, keys and creds are 0600), owned by the `nats` user.",
              "2. Check it there: `cd /etc/nats && nats-server -t -c nats-server.conf`.",
              "3. Install the unit: `cp /etc/nats/nats-server.service /etc/systemd/system/ && "
              "systemctl daemon-reload && systemctl enable --now nats-server`.",
              "4. Start every server of a cluster before judging its health; then "
              f"`natsops doctor --monitor {'https' if topo.tls else 'http'}://HOST:PORT ...` "
              "(the monitor listens on "
              + ("0.0.0.0" if topo.monitor == "public" else "127.0.0.1: run it on the host or "
                 "through an SSH tunnel") + ").",
              "", "Lint the set before deploying: `natsops lint " + str(out) + "` "
              "(cross-file checks: unique server names, gateway names, routes and gateways "
              "that point at real listeners).", ""]
    if topo.gateways:
        lines += ["## Gateways", ""]
        lines += [f"- {a} <-> {b}" for a, b in topo.gateways]
        lines.append("")
    if topo.leafs:
        lines += ["## Leaf sites", ""]
        for s in topo.leafs:
            lines.append(f"- {s.name}: dials every node of {s.hub} on its leafnode port, "
                         f"bound to account {s.account}"
                         + (f", JetStream domain {s.domain}" if s.domain else "")
                         + (" (and the system account)" if s.system else ""))
        lines.append("")
    lines += ["## Secrets", "",
              f"- `{SECRETS_FILE}`: generated passwords (users, the `sys` user of the system "
              "account, route, gateway and leaf users). Server configs hold bcrypt hashes only;"
              " the URLs a server dials with a password are in its `nats-server.secrets`.",
              ]
    if topo.tls and topo.tls.generate:
        lines.append("- `tls/ca-key.pem`: the CA's key. Keep it offline; it is reused when "
                     "you render again.")
    if topo.clusters:
        lines += ["", "## Kubernetes", "",
                  "`helm/<cluster>.values.yaml` per cluster, for the official chart: "
                  "`helm repo add nats https://nats-io.github.io/k8s/helm/charts/`, then "
                  "`helm upgrade --install <cluster> nats/nats -f helm/<cluster>.values.yaml`."]
        if topo.tls:
            lines.append("Create the TLS secrets it names (`<cluster>-<listener>-tls`, with "
                         "tls.crt/tls.key/ca.crt for the pods' DNS names) first, e.g. with "
                         "cert-manager.")
    if topo.file:
        lines += ["", "## Monitoring", "",
                  f"`natsops render prometheus {topo.file} --out DIR` writes the exporter "
                  "command lines, a Prometheus scrape config and alerting rules.", ""]
    return "\n".join(lines)


def render_topology(path: str | Path, out: Path, env: Mapping[str, str], *,
                    tls_generate: bool = False, dry_run: bool = False, force: bool = False,
                    store: Path | None = None, bcrypt_cost: int = BCRYPT_COST) -> RenderResult:
    """Render every file of a topology file into ``out`` (nothing written with ``dry_run``)."""
    loaded = load_topology(path, env)
    topo = loaded.topology
    if tls_generate and (topo.tls is None or not topo.tls.generate):
        if topo.tls is not None:
            raise UsageError(f"{topo.file}: the topology names its own certificates; "
                             "drop --tls generate or its tls: section")
        topo = replace(topo, tls=TlsSpec(generate=True))
    return write_topology(topo, out, env, warnings=loaded.warnings, dry_run=dry_run,
                          force=force, store=store, bcrypt_cost=bcrypt_cost)


def write_topology(topo: Topology, out: Path, env: Mapping[str, str], *,
                   warnings: tuple[str, ...] = (), dry_run: bool = False, force: bool = False,
                   store: Path | None = None, bcrypt_cost: int = BCRYPT_COST,
                   server_bin: str = "/usr/local/bin/nats-server",
                   run_user: str = "nats", absolute: bool = False) -> RenderResult:
    """Render a validated topology into ``out`` (the layout in this module's docstring).

    With ``absolute`` the configs name their TLS and creds files by absolute paths under
    ``out`` (for servers started right there, from any working directory, as on loopback)."""
    out = Path(out)
    if not dry_run:
        check_output_dir(out, what="--out")
    plan = _Plan()
    pw = resolve_passwords(topo, env, saved=out / SECRETS_FILE, cost=bcrypt_cost)
    plan.add(SECRETS_FILE, "", "secrets", private=True)  # content written by save_passwords
    if topo.tls:
        _tls_files(topo, out, plan)
    operator: dict[str, OperatorBlocks] = {}
    helm_operator: dict[str, Any] | None = None
    if topo.auth.operator_mode:
        operator, helm_operator = _operator(topo, store, env, plan, dry_run)
    for n in topo.all_nodes():
        tls = NODE_TLS
        ob = operator.get(n.name)
        if absolute:
            base = out.resolve() / n.name
            tls = TlsPaths(*(str(base / p) for p in (tls.ca, tls.cert, tls.key)))
            if ob is not None:
                ob = replace(ob, creds={k: str(base / v) for k, v in ob.creds.items()})
        conf = render_server_config(topo, n.name, pw, tls=tls if topo.tls else None,
                                    operator=ob)
        plan.add(f"{n.name}/{CONFIG}", conf.text, "config", n.name, private=True)
        if conf.secrets:
            plan.add(f"{n.name}/{conf.secrets_name}", conf.secrets, "include", n.name,
                     private=True)
        if conf.preload:
            plan.add(f"{n.name}/{PRELOAD_INCLUDE}", conf.preload, "preload", n.name,
                     private=True)
        plan.add(f"{n.name}/{UNIT}", systemd_unit(topo, n, server_bin=server_bin,
                                                  run_user=run_user), "unit", n.name)
    for c in topo.clusters:
        plan.add(f"helm/{c.name}.values.yaml", _helm_text(topo, c, pw, helm_operator), "helm")
    plan.add("README.md", _readme(topo, out), "readme")
    files = tuple(sorted((f for f, _ in plan.items), key=lambda f: (f.server or "", f.path)))
    if not dry_run:
        # a file already holding what is rendered is fine (generated node certificates are
        # new on every render: a TLS topology differs and needs --force)
        refuse_overwrite(((out / f.path, data) for f, data in plan.items
                          if f.kind != "secrets"), force=force,
                         note="passwords and the CA are kept")
        for f, data in plan.items:
            target = out / f.path
            target.parent.mkdir(parents=True, exist_ok=True)
            if f.kind == "secrets":
                continue
            (write_private if f.private else write_atomic)(target, data)
        save_passwords(pw, out / SECRETS_FILE)
    return RenderResult(str(out), topo.file, files, warnings, dry_run)


def result_json(r: RenderResult) -> dict[str, Any]:
    """The JSON document of ``natsops render --json``."""
    return {"out": r.out, "topology": r.topology, "dry_run": r.dry_run,
            "warnings": list(r.warnings),
            "files": [{"path": f.path, "kind": f.kind, "server": f.server,
                       "private": f.private} for f in r.files]}
