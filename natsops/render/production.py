"""Production configs: one nats-server config and one systemd unit per host."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from natsops._version import __version__
from natsops.cluster.local import validate_cluster_name, validate_node_count
from natsops.context import write_private
from natsops.errors import Conflict, UsageError
from natsops.files import check_output_dir
from natsops.render import render
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
    sys_pw, app_pw, route_pw = (secrets.token_urlsafe(18) for _ in range(3))
    clustered = len(hosts) > 1
    stop_timeout = int(parse_duration(lame_duck_duration)) + 30
    written = []
    for h in hosts:
        conf = render(
            "server.conf.j2",
            purpose=f"production cluster {name}",
            natsops_version=__version__,
            server_name=h,
            listen_host=listen_host,
            client_port=client_port,
            http_host=listen_host,
            http_port=monitor_port,
            lame_duck_duration=lame_duck_duration,
            lame_duck_grace_period=lame_duck_grace_period,
            store_dir=store_dir,
            max_mem=max_mem,
            max_file=max_file,
            routes=[f"nats-route://route:{route_pw}@{o}:{cluster_port}" for o in hosts if o != h]
            if clustered else None,
            cluster_name=name,
            cluster_host=listen_host,
            cluster_port=cluster_port,
            route_user="route",
            route_password=route_pw,
            sys_password=sys_pw,
            app_password=app_pw,
            no_auth_user=False,
        )
        unit = render("nats-server.service.j2", natsops_version=__version__, server_name=h,
                      cluster_name=name, run_user=run_user, binary=server_bin,
                      config_path=config_path, stop_timeout=stop_timeout,
                      store_dir=str(Path(store_dir).parent))
        d = out / h
        d.mkdir(parents=True, exist_ok=True)
        write_private(d / "nats-server.conf", conf)
        (d / "nats-server.service").write_text(unit)
        written.append(RenderedHost(host=h, server_name=h, config=str(d / "nats-server.conf"),
                                    unit=str(d / "nats-server.service")))
    return written
