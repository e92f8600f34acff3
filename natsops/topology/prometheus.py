"""``natsops render prometheus TOPOLOGY``: exporter command lines, scrape config, alert rules.

One prometheus-nats-exporter per server, on the server's host (the monitor listens on
127.0.0.1), with the flags of its ``main.go`` (checked against nats-io/prometheus-nats-exporter):
``-varz -connz -routez -subz -healthz``, ``-gatewayz`` / ``-leafz`` where the server has
gateways / leaf nodes, ``-jsz=all`` with JetStream, ``-prefix=nats`` and
``-use_internal_server_name`` (the ``server_id`` label is the server's name). With TLS the
monitor is https and the exporter trusts the topology's CA through ``SSL_CERT_FILE``.

Alert rules use metric names the exporter builds (``<prefix>_<endpoint>_<field>``):
``nats_healthz_status`` (0 ok, 1 not ok), ``nats_healthz_status_value{value="unreachable"}``,
``nats_varz_slow_consumers``, ``nats_varz_routes``, ``nats_varz_leafnodes``; and the gauges
``natsops doctor --serve`` exposes: ``natsops_doctor_up`` and one
``natsops_doctor_finding{check,severity,subject}`` per current finding, one rule per doctor
check so an alert carries the check's title.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from natsops._version import __version__
from natsops.errors import UsageError
from natsops.files import check_output_dir, refuse_overwrite, write_atomic
from natsops.topology.load import load_topology
from natsops.topology.model import Cluster, LeafSite, Node, Topology

__all__ = ["EXPORTER_PORT", "ExporterCommand", "PrometheusResult", "alert_rules",
           "exporter_commands", "render_prometheus", "scrape_config"]

EXPORTER_PORT = 7777  # the Helm chart's promExporter.port
DOCTOR_TARGET = "localhost:9119"  # the port `natsops doctor --help` shows
RULES_FILE = "natsops-alerts.yml"


@dataclass(frozen=True)
class ExporterCommand:
    server: str
    host: str
    port: int
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()

    @property
    def command_line(self) -> str:
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env)
        return (env + " " if env else "") + " ".join(shlex.quote(a) for a in self.argv)


@dataclass(frozen=True)
class PrometheusResult:
    out: str
    files: tuple[str, ...]
    exporters: tuple[ExporterCommand, ...]
    dry_run: bool


def exporter_commands(topo: Topology, *, port: int = EXPORTER_PORT,
                      binary: str = "prometheus-nats-exporter",
                      ca_file: str = "/etc/nats/tls/ca.pem") -> tuple[ExporterCommand, ...]:
    """One exporter per server; servers sharing a host get consecutive exporter ports."""
    out = []
    per_host: dict[str, int] = {}
    for n in topo.all_nodes():
        p = port + per_host.get(n.host, 0)
        per_host[n.host] = per_host.get(n.host, 0) + 1
        taken = set(topo.used_ports(n).values())
        while p in taken:
            p += 1
        group = topo.group_of(n.name)
        flags = [f"-port={p}", "-addr=0.0.0.0", "-prefix=nats", "-use_internal_server_name",
                 "-varz", "-connz", "-routez", "-subz", "-healthz"]
        if isinstance(group, Cluster) and topo.has_gateway(group.name):
            flags.append("-gatewayz")
        if (isinstance(group, Cluster) and topo.leafs_of(group.name)) or \
                not isinstance(group, Cluster):
            flags.append("-leafz")
        if n.jetstream.enabled:
            flags.append("-jsz=all")
        scheme = "https" if topo.tls else "http"
        host = "localhost" if topo.tls else "127.0.0.1"  # the certificate names localhost
        env = (("SSL_CERT_FILE", ca_file),) if topo.tls else ()
        out.append(ExporterCommand(n.name, n.host, p, (binary, *flags,
                                                       f"{scheme}://{host}:{n.ports.monitor}"),
                                   env))
    return tuple(out)


def scrape_config(topo: Topology, exporters: tuple[ExporterCommand, ...], *,
                  doctor_target: str = DOCTOR_TARGET, interval: str = "15s") -> dict[str, Any]:
    """A prometheus.yml: the exporters (labelled with server and cluster) and natsops doctor."""
    targets = []
    for e in exporters:
        h = f"[{e.host}]" if ":" in e.host else e.host
        targets.append({"targets": [f"{h}:{e.port}"],
                        "labels": {"server": e.server, "nats_cluster":
                                   topo.group_of(e.server).name, "topology": topo.name}})
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [RULES_FILE],
        "scrape_configs": [
            {"job_name": "nats", "static_configs": targets},
            {"job_name": "natsops-doctor", "scrape_interval": "30s",
             "static_configs": [{"targets": [doctor_target],
                                 "labels": {"topology": topo.name}}]},
        ],
    }


def _names(nodes: list[Node]) -> str:
    return "|".join(n.name for n in nodes)


def alert_rules(topo: Topology) -> dict[str, Any]:
    """Alerting rules: exporter metrics that are certain, and one rule per doctor check."""
    from natsops.doctor.registry import all_checks

    groups: list[Cluster | LeafSite] = [*topo.clusters, *topo.leafs]
    clustered = [n for g in groups if len(g.nodes) > 1 for n in g.nodes]
    leaf_nodes = [n for s in topo.leafs for n in s.nodes]
    nats_rules: list[dict[str, Any]] = [
        {"alert": "NatsExporterDown", "expr": 'up{job="nats"} == 0', "for": "2m",
         "labels": {"severity": "warning"},
         "annotations": {"summary": "prometheus-nats-exporter for {{ $labels.server }} is not "
                                    "answering"}},
        {"alert": "NatsServerUnreachable",
         "expr": 'nats_healthz_status_value{value="unreachable"} == 0', "for": "1m",
         "labels": {"severity": "critical"},
         "annotations": {"summary": "NATS server {{ $labels.server_id }} does not answer its "
                                    "monitor (/healthz)"}},
        {"alert": "NatsServerUnhealthy", "expr": "nats_healthz_status == 1", "for": "5m",
         "labels": {"severity": "critical"},
         "annotations": {"summary": "NATS server {{ $labels.server_id }}: /healthz is not ok "
                                    "(JetStream not current, or catching up for 5m)"}},
        {"alert": "NatsSlowConsumers", "expr": "increase(nats_varz_slow_consumers[5m]) > 0",
         "labels": {"severity": "warning"},
         "annotations": {"summary": "NATS server {{ $labels.server_id }} cut off slow "
                                    "consumers in the last 5 minutes"}},
    ]
    if clustered:
        nats_rules.append(
            {"alert": "NatsNoRoutes",
             "expr": f'nats_varz_routes{{server_id=~"{_names(clustered)}"}} == 0', "for": "2m",
             "labels": {"severity": "critical"},
             "annotations": {"summary": "NATS server {{ $labels.server_id }} has no route to "
                                        "the rest of its cluster"}})
    if leaf_nodes:
        nats_rules.append(
            {"alert": "NatsLeafDisconnected",
             "expr": f'nats_varz_leafnodes{{server_id=~"{_names(leaf_nodes)}"}} == 0',
             "for": "2m", "labels": {"severity": "critical"},
             "annotations": {"summary": "leaf node {{ $labels.server_id }} is not connected "
                                        "to its hub"}})
    doctor_rules: list[dict[str, Any]] = [
        {"alert": "NatsopsDoctorDown",
         "expr": 'up{job="natsops-doctor"} == 0 or absent(natsops_doctor_up)', "for": "5m",
         "labels": {"severity": "warning"},
         "annotations": {"summary": "natsops doctor --serve is not being scraped: the doctor "
                                    "alerts below are blind"}},
        {"alert": "NatsopsDoctorGatherFailed", "expr": "natsops_doctor_up == 0", "for": "5m",
         "labels": {"severity": "critical"},
         "annotations": {"summary": "natsops doctor --serve reaches no NATS server: its last "
                                    "gathering got no answer"}},
    ]
    for c in all_checks():
        name = "NatsopsDoctor" + "".join(p.capitalize() for p in
                                         c.id.replace("/", "-").replace("_", "-").split("-"))
        doctor_rules.append({
            "alert": name,
            "expr": f'natsops_doctor_finding{{check="{c.id}",severity=~"warn|fail"}} == 1',
            "for": "2m",
            "labels": {"severity": "{{ if eq $labels.severity \"fail\" }}critical"
                                   "{{ else }}warning{{ end }}", "check": c.id},
            "annotations": {"summary": f"{c.title}: {{{{ $labels.subject }}}}",
                            "description": f"natsops doctor check {c.id} reports "
                                           "{{ $labels.severity }} for {{ $labels.subject }}; "
                                           "run `natsops doctor` for the explanation and fix."},
        })
    return {"groups": [{"name": f"nats-{topo.name}", "rules": nats_rules},
                       {"name": "natsops-doctor", "rules": doctor_rules}]}


def _exporters_text(topo: Topology, cmds: tuple[ExporterCommand, ...]) -> str:
    lines = [f"# prometheus-nats-exporter per server of topology {topo.name}, rendered by "
             f"natsops {__version__}.", "# Run each line on the server's host (the monitor "
             "listens on 127.0.0.1 there).", ""]
    for c in cmds:
        lines += [f"# {c.server} on {c.host}", c.command_line, ""]
    return "\n".join(lines)


def render_prometheus(path: str | Path, out: Path, env: Mapping[str, str], *,
                      exporter_port: int = EXPORTER_PORT, doctor_target: str = DOCTOR_TARGET,
                      dry_run: bool = False, force: bool = False) -> PrometheusResult:
    """Write ``exporters.sh``, ``prometheus.yml`` and the alert rules into ``out``."""
    import yaml

    if not 1 <= exporter_port <= 65535:
        raise UsageError(f"invalid --exporter-port {exporter_port}: use 1-65535")
    host, _, port = doctor_target.rpartition(":")
    if not host or any(c.isspace() for c in host) or not port.isdigit() or \
            not 1 <= int(port) <= 65535:
        raise UsageError(f"invalid --doctor {doctor_target!r}: give HOST:PORT of "
                         "`natsops doctor --serve` (port 1-65535)")
    topo = load_topology(path, env).topology
    cmds = exporter_commands(topo, port=exporter_port)
    head = f"# rendered by natsops {__version__} from {topo.file}\n"
    files = {
        "exporters.sh": _exporters_text(topo, cmds),
        "prometheus.yml": head + yaml.safe_dump(scrape_config(topo, cmds,
                                                              doctor_target=doctor_target),
                                                sort_keys=False),
        RULES_FILE: head + yaml.safe_dump(alert_rules(topo), sort_keys=False, width=120),
    }
    if not dry_run:
        check_output_dir(out, what="--out")
        refuse_overwrite(((out / f, text) for f, text in files.items()), force=force)
        out.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            write_atomic(out / name, text)
    return PrometheusResult(str(out), tuple(str(out / f) for f in files), cmds, dry_run)
