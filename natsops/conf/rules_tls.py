"""Rules on the certificate files a config names: readable, in date, key and chain right, and
(across a set) SANs that cover the host each route, gateway and leaf URL dials.

Paths are read relative to the config file's folder (rendered configs run from there). A file
that cannot be read here is an INFO finding: lint often runs away from the servers' disks.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from natsops.conf.parser import Config, Node
from natsops.conf.registry import Hit, rule
from natsops.conf.rules_set import _all_targets, _matcher, _reach
from natsops.findings import Severity

_BLOCKS = ("", "cluster", "gateway", "leafnodes", "websocket", "mqtt")


def _tls_nodes(cfg: Config) -> Iterator[tuple[str, Node]]:
    """(where, tls map) for every tls block: listeners, leaf remotes and gateway entries."""
    for block in _BLOCKS:
        tls = cfg.get(block, "tls") if block else cfg.get("tls")
        if tls is not None and tls.kind == "map":
            yield (f"{block}.tls" if block else "tls"), tls
    for block, key in (("leafnodes", "remotes"), ("gateway", "gateways")):
        arr = cfg.get(block, key)
        for i, e in enumerate(arr.elements() if arr is not None else []):
            tls = e.child("tls") if e.kind == "map" else None
            if tls is not None and tls.kind == "map":
                yield f"{block}.{key}[{i}].tls", tls


def _path(cfg: Config, tls: Node, key: str) -> tuple[Node, str] | None:
    n = tls.child(key)
    if n is None or n.kind != "string" or not str(n.value):
        return None
    p = str(n.value)
    return n, p if posixpath.isabs(p) else posixpath.join(posixpath.dirname(cfg.file) or ".", p)


def cert_files(cfg: Config) -> list[dict[str, Any]]:
    """Each tls block's cert_file as read here: where, path, and each certificate of the file
    (leaf first, then intermediates: subject, is_ca, not_after); unreadable ones say why."""
    from natsops.tls import chain_infos

    out: list[dict[str, Any]] = []
    for where, tls in _tls_nodes(cfg):
        cert = _path(cfg, tls, "cert_file")
        if cert is None:
            continue
        entry: dict[str, Any] = {"where": where, "file": cert[1]}
        try:
            entry["chain"] = [{"subject": i.subject, "is_ca": i.is_ca,
                               "not_after": i.not_after.strftime("%Y-%m-%dT%H:%M:%SZ")}
                              for i in chain_infos(Path(cert[1]).read_bytes())]
        except (OSError, ValueError) as exc:
            entry["error"] = getattr(exc, "strerror", None) or str(exc)
        out.append(entry)
    return out


def listener_cert(cfg: Config, block: str) -> tuple[Node, str] | None:
    """The cert_file of a listener block's tls (the certificate peers see there)."""
    tls = cfg.get(block, "tls")
    return _path(cfg, tls, "cert_file") if tls is not None and tls.kind == "map" else None


@rule("conf/tls-files", Severity.FAIL, "TLS certificate files: in date, key and CA chain match")
def tls_files(cfg: Config) -> Iterator[Hit]:
    from natsops.tls import check_server_cert

    for where, tls in _tls_nodes(cfg):
        cert = _path(cfg, tls, "cert_file")
        if cert is None:
            continue
        key, ca = _path(cfg, tls, "key_file"), _path(cfg, tls, "ca_file")
        nodes = {cert[1]: cert[0], **({key[1]: key[0]} if key else {}),
                 **({ca[1]: ca[0]} if ca else {})}
        for p in check_server_cert(cert[1], key[1] if key else None, ca[1] if ca else None):
            ev = {"file": p.file, "problem": p.kind}
            if p.kind == "unreadable":
                yield Hit(nodes.get(p.file, cert[0]), f"{where}: {p.file}: {p.message}: not "
                          "checked here", "lint where the files are (paths are relative to "
                          "the config's folder) to check them", subject=f"{where}",
                          severity=Severity.INFO, evidence=ev)
                continue
            fix = {"expired": "renew the certificate and reload the server",
                   "expiring": "renew the certificate before it expires, then reload",
                   "key": "give the key_file that was generated with this certificate",
                   "chain": "give the ca_file of the CA that issued it (or put the "
                            "intermediates after the certificate in cert_file)"}.get(
                p.kind, "fix the certificate")
            severity = None if p.fatal else Severity.WARN
            message = f"{where}: {p.file}: {p.message}"
            if p.kind == "chain" and where != "cluster.tls":
                # ca_file verifies the *peers'* certificates: a listener's own certificate may
                # come from another CA (a public one for clients); within a cluster's routes
                # the nodes share one CA, so there it is an error
                severity = Severity.WARN
                message += (" (ca_file verifies the peers; fine if they trust the CA that "
                            "issued this certificate)")
            yield Hit(nodes.get(p.file, cert[0]), message, fix, subject=where,
                      severity=severity, evidence=ev)


@rule("set/tls-sans", Severity.FAIL, "Certificates cover the hosts their peers dial",
      scope="set")
def tls_sans(cfgs: Sequence[Config]) -> Iterator[Hit]:
    from natsops.tls import cert_info, covers

    blocks = {"cluster.routes": "cluster", "gateway.gateways": "gateway",
              "leafnodes.remotes": "leafnodes"}
    if not any(listener_cert(c, b) for c in cfgs for b in blocks.values()):
        return
    hosts = _matcher(cfgs, tuple(blocks.values()))
    for c in cfgs:
        for u, t, kind in _all_targets(c):
            block = blocks[kind]
            # several listeners reached (a wildcard bind matched by port only): the URL is
            # fine when any of their certificates covers its host
            seen: list[tuple[str, str, list[str]]] = []
            for lst in _reach(hosts, cfgs, block, t, dialer=c).hits:
                cert = listener_cert(lst.cfg, block)
                if cert is None:
                    continue
                try:
                    info = cert_info(Path(cert[1]).read_bytes())
                except (OSError, ValueError):
                    continue  # conf/tls-files says so
                if covers(info, t[0]):
                    break
                seen.append((lst.cfg.file, cert[1], [f"DNS:{d}" for d in info.dns_names]
                             + [f"IP:{i}" for i in info.ip_addresses]))
            else:
                if not seen:
                    continue
                file, path, sans = seen[0]
                yield Hit(u, f"{kind} URL {t[0]}:{t[1]} reaches the {block} listener of "
                          f"{file}, whose certificate {path} does not cover {t[0]}: the TLS "
                          f"handshake fails", f"reissue {path} with {t[0]} in its SANs, or "
                          "dial a name it covers", subject=kind,
                          evidence={"target": f"{t[0]}:{t[1]}", "certificate": path,
                                    "sans": sans, "listeners": [x[0] for x in seen]})
