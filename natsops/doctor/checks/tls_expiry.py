"""TLS certificates near expiry, per listener, from varz ``tls_cert_not_after``.

nats-server 2.14 and later report the ``NotAfter`` of each listener's (first) certificate:
``tls_cert_not_after`` at the top of varz (client port) and in its ``cluster``, ``gateway``,
``leaf``, ``websocket`` and ``mqtt`` blocks. 2.10 to 2.12 report none of them (measured on
2.10.26, 2.11.10 and 2.12.1); for those servers this check says which listeners require TLS
with an unknown expiry (``tls_required`` is there on client, cluster, gateway and leafnode
listeners; websocket and MQTT TLS cannot be told from varz).

varz reports only each listener's own (leaf) certificate. Two more sources are read when they
exist: the certificate chain the HTTPS monitor presented in its TLS handshake (gathering over
``https://`` monitors: the monitor uses the top-level ``tls {}``, so its intermediates are the
client port's), and, for servers whose config file is known (a local cluster, ``--config-dir``),
every certificate in every ``cert_file`` of the config: intermediates of each listener and the
client certificates of leafnode remotes and gateway entries, which no endpoint reports
(measured on 2.15.1: varz ``leaf.remotes`` has no expiry; connz ``tls_peer_certs`` on the hub
gives subject and hashes only).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from natsops.doctor.checks._util import doc, server_time
from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import ServerView, Snapshot

ID = "tls-expiry"
WARN_DAYS, FAIL_DAYS = 30.0, 7.0
# listener -> where its block is in varz (None: the top level, the client port)
LISTENERS: tuple[tuple[str, str | None], ...] = (
    ("client", None), ("cluster", "cluster"), ("gateway", "gateway"), ("leafnode", "leaf"),
    ("websocket", "websocket"), ("mqtt", "mqtt"))
FIX = ("Renew the {listener} certificate of {server} and reload it (`natsops server config "
       "reload {server}`: TLS files are re-read on reload); automate renewal (cert-manager, "
       "ACME) well before {days:.0f} days are left.")
CA_FIX = ("Get the issuing CA {subject} renewed (or the server certificates reissued under a "
          "newer one), put the new chain in the cert_file of {server}, and reload it; every "
          "certificate it signed stops verifying when it expires.")


def _judge(server: str, what: str, not_after: str, now: float, fix: str,
           extra: Mapping[str, Any]) -> Finding | None:
    """A WARN/FAIL finding when ``not_after`` is within WARN_DAYS/FAIL_DAYS or past."""
    end = server_time(not_after)
    if end is None:
        return None
    days = (end - now) / 86400
    if days >= WARN_DAYS:
        return None
    ev = {"server": server, **extra, "not_after": not_after, "days_left": round(days, 1)}
    if days <= 0:
        return Finding.fail(ID, server, f"{server}: {what} expired {-days:.1f} days ago "
                            f"({not_after})", evidence=ev, fix=fix)
    return (Finding.fail if days < FAIL_DAYS else Finding.warn)(
        ID, server, f"{server}: {what} expires in {days:.1f} days ({not_after})",
        evidence=ev, fix=fix)


def _chain_findings(s: ServerView, now: float, snap: Snapshot) -> Iterator[Finding]:
    """Intermediates and the monitor's certificate (handshake), and every certificate of the
    config's cert_files (local config), each certificate once."""
    seen: set[tuple[str, str]] = set()
    reported = {str(doc(s.varz).get("tls_cert_not_after") or "")}
    for i, c in enumerate(s.monitor_tls or ()):
        c = doc(c)
        key = (str(c.get("subject")), str(c.get("not_after")))
        seen.add(key)
        if i == 0 and key[1][:19] in {r[:19] for r in reported}:
            continue  # the client port's own certificate: varz said it above
        role = "the HTTPS monitor's certificate" if i == 0 else (
            f"CA {key[0]} in the HTTPS monitor's chain")
        fix = (FIX.format(listener="monitor (top-level tls)", server=s.name, days=WARN_DAYS)
               if i == 0 else CA_FIX.format(subject=key[0], server=s.name))
        f = _judge(s.name, role, key[1], now, fix, {"listener": "monitor", "source":
                   "https handshake", "subject": key[0], "position": i})
        if f is not None:
            yield f
    for entry in doc(snap.config_files.get(s.name)).get("tls_files") or ():
        entry = doc(entry)
        where, path = str(entry.get("where")), str(entry.get("file"))
        for i, c in enumerate(entry.get("chain") or ()):
            c = doc(c)
            key = (str(c.get("subject")), str(c.get("not_after")))
            if key in seen:
                continue
            seen.add(key)
            remote = ".remotes[" in where or ".gateways[" in where
            if i == 0 and not remote:
                continue  # a listener's own certificate: varz reports it
            role = (f"the client certificate of {where.removesuffix('.tls')}" if i == 0
                    else f"intermediate CA {key[0]} in {path} ({where})")
            fix = (f"Renew {path} (the certificate {s.name} presents when it dials out, "
                   f"{where}) and reload `natsops server config reload {s.name}`."
                   if i == 0 else CA_FIX.format(subject=key[0], server=s.name))
            f = _judge(s.name, role, key[1], now, fix, {"listener": where, "source": path,
                                                        "subject": key[0], "position": i})
            if f is not None:
                yield f


def _block(varz: Mapping[str, Any], key: str | None) -> Mapping[str, Any]:
    return varz if key is None else doc(varz.get(key))


@check(ID, title="TLS certificates not near expiry", severity=Severity.FAIL, suite="server")
def tls_expiry(snap: Snapshot) -> Iterator[Finding]:
    for s in snap.servers:
        varz = doc(s.varz)
        if not varz:
            continue
        now = server_time(varz.get("now")) or snap.taken_at
        unknown: list[str] = []
        for listener, key in LISTENERS:
            block = _block(varz, key)
            not_after = server_time(block.get("tls_cert_not_after"))
            if not_after is None:
                if block.get("tls_required") and (key is None or block.get("port")
                                                  or block.get("cluster_port")):
                    unknown.append(listener)
                continue
            days = (not_after - now) / 86400
            if days >= WARN_DAYS:
                continue
            ev = {"server": s.name, "listener": listener,
                  "not_after": block.get("tls_cert_not_after"), "days_left": round(days, 1)}
            fix = FIX.format(listener=listener, server=s.name, days=WARN_DAYS)
            if days <= 0:
                yield Finding.fail(ID, s.name, f"{s.name}: the {listener} TLS certificate "
                                   f"expired {-days:.1f} days ago ({ev['not_after']})",
                                   evidence=ev, fix=fix)
            else:
                yield (Finding.fail if days < FAIL_DAYS else Finding.warn)(
                    ID, s.name, f"{s.name}: the {listener} TLS certificate expires in "
                    f"{days:.1f} days ({ev['not_after']})", evidence=ev, fix=fix)
        yield from _chain_findings(s, now, snap)
        if unknown:
            yield Finding.info(
                ID, s.name, f"{s.name} (nats-server {s.version or '?'}) requires TLS on its "
                f"{', '.join(unknown)} listener(s) but does not report certificate expiry "
                "(varz tls_cert_not_after needs 2.14 or later): not checked",
                evidence={"server": s.name, "version": s.version, "listeners": unknown},
                fix="Upgrade to nats-server 2.14+, or check the certificate files themselves: "
                    "`openssl x509 -noout -enddate -in CERT_FILE`.")
