"""TLS certificates near expiry, per listener, from varz ``tls_cert_not_after``.

nats-server 2.14 and later report the ``NotAfter`` of each listener's (first) certificate:
``tls_cert_not_after`` at the top of varz (client port) and in its ``cluster``, ``gateway``,
``leaf``, ``websocket`` and ``mqtt`` blocks. 2.10 to 2.12 report none of them (measured on
2.10.26, 2.11.10 and 2.12.1); for those servers this check says which listeners require TLS
with an unknown expiry (``tls_required`` is there on client, cluster, gateway and leafnode
listeners; websocket and MQTT TLS cannot be told from varz). Only the leaf certificate is
reported: an expiring intermediate or CA, and leafnode remotes' client certificates, are not.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from natsops.doctor.checks._util import doc, server_time
from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import Snapshot

ID = "tls-expiry"
WARN_DAYS, FAIL_DAYS = 30.0, 7.0
# listener -> where its block is in varz (None: the top level, the client port)
LISTENERS: tuple[tuple[str, str | None], ...] = (
    ("client", None), ("cluster", "cluster"), ("gateway", "gateway"), ("leafnode", "leaf"),
    ("websocket", "websocket"), ("mqtt", "mqtt"))
FIX = ("Renew the {listener} certificate of {server} and reload it (`natsops server config "
       "reload {server}`: TLS files are re-read on reload); automate renewal (cert-manager, "
       "ACME) well before {days:.0f} days are left.")


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
        if unknown:
            yield Finding.info(
                ID, s.name, f"{s.name} (nats-server {s.version or '?'}) requires TLS on its "
                f"{', '.join(unknown)} listener(s) but does not report certificate expiry "
                "(varz tls_cert_not_after needs 2.14 or later): not checked",
                evidence={"server": s.name, "version": s.version, "listeners": unknown},
                fix="Upgrade to nats-server 2.14+, or check the certificate files themselves: "
                    "`openssl x509 -noout -enddate -in CERT_FILE`.")
