"""Production configs for one cluster (``bootstrap --render-only --hosts``): a one-cluster
topology rendered by :mod:`natsops.topology.render` (configs with bcrypt hashes, secrets
includes, systemd units, Helm values, README, ``natsops-secrets.json``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from natsops.cluster.local import validate_cluster_name, validate_node_count
from natsops.errors import Conflict, UsageError
from natsops.files import check_output_dir
from natsops.units import parse_duration
from natsops.validate import server_size

__all__ = ["RenderedHost", "render_production"]


@dataclass(frozen=True)
class RenderedHost:
    """Files written for one production host."""

    host: str
    server_name: str
    config: str
    unit: str


def render_production(
    hosts: list[str],
    out: Path,
    *,
    name: str = "C1",
    client_port: int = 4222,
    cluster_port: int = 6222,
    monitor_port: int = 8222,
    store_dir: str = "/var/lib/nats/jetstream",
    config_path: str = "/etc/nats/nats-server.conf",
    server_bin: str = "/usr/local/bin/nats-server",
    run_user: str = "nats",
    max_mem: str = "4GB",
    max_file: str = "100GB",
    lame_duck_duration: str = "2m",
    lame_duck_grace_period: str = "10s",
    allow_even: bool = False,
    force: bool = False,
    listen_host: str = "0.0.0.0",
) -> list[RenderedHost]:
    """Write ``OUT/<host>/nats-server.conf`` and ``nats-server.service`` for every host."""
    hosts = [h.strip() for h in hosts if h.strip()]
    if not hosts:
        raise UsageError("--hosts needs at least one host name")
    if len(set(hosts)) != len(hosts):
        raise UsageError("--hosts lists a host twice")
    validate_node_count(len(hosts), allow_even)
    validate_cluster_name(name)
    server_size(max_mem, "--max-mem")
    server_size(max_file, "--max-file")
    check_output_dir(out, what="--out")
    for h in hosts:
        if any(c.isspace() for c in h) or "/" in h or ":" in h:
            raise UsageError(f"invalid host {h!r}: give a host name or IP, without a port")
    if parse_duration(lame_duck_grace_period) >= parse_duration(lame_duck_duration):
        raise UsageError("lame duck grace period must be shorter than the lame duck duration")
    if parse_duration(lame_duck_duration) < 30:
        raise UsageError("lame duck duration must be at least 30s (nats-server refuses less)")
    existing = [h for h in hosts if (out / h / "nats-server.conf").exists()]
    if existing and not force:
        raise Conflict(f"{out / existing[0] / 'nats-server.conf'} exists; pass --force to "
                       "overwrite")
    from natsops.topology.model import (
        Account,
        Cluster,
        JetStreamLimits,
        LameDuck,
        Node,
        Ports,
        Topology,
        User,
    )
    from natsops.topology.render import CONFIG, UNIT, write_topology

    ports = Ports(client=client_port, cluster=cluster_port, monitor=monitor_port)
    js = JetStreamLimits(max_memory=max_mem, max_file=max_file, store_dir=store_dir)
    nodes = tuple(Node(h, h, ports, js, listen=listen_host) for h in hosts)
    topo = Topology(name=name, clusters=(Cluster(name, nodes),),
                    lame_duck=LameDuck(lame_duck_duration, lame_duck_grace_period))
    topo = replace(topo, auth=replace(topo.auth, accounts=(Account("APP", (User("app"),)),)))
    write_topology(topo, out, {}, force=True, server_bin=server_bin, run_user=run_user)
    return [RenderedHost(host=h, server_name=h, config=str(out / h / CONFIG),
                         unit=str(out / h / UNIT)) for h in hosts]
