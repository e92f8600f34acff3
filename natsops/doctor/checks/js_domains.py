"""Two independent JetStreams answering for one domain (the apparent "split brain").

Replies are grouped by JetStream domain; within a domain each meta group (a cluster's meta
peers, or a standalone server) is one JetStream. More than one in a domain means API requests to
``$JS.<domain>.API`` reach several of them (leaf sites that reuse a domain name stay two).
"""

from __future__ import annotations

from collections.abc import Iterator

from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import Snapshot

ID = "js-domains"


@check(ID, title="One JetStream per domain", severity=Severity.FAIL, suite="jetstream")
def js_domains(snap: Snapshot) -> Iterator[Finding]:
    domains: dict[str, dict[str, list[str]]] = {}
    for s in snap.servers:
        if not s.jetstream:
            continue
        meta = s.meta
        group = f"cluster {s.cluster}" if meta and s.cluster else f"server {s.name}"
        domains.setdefault(s.domain or "", {}).setdefault(group, []).append(s.name)
    for domain, groups in sorted(domains.items()):
        if len(groups) < 2:
            continue
        label = f"domain {domain!r}" if domain else "the default (empty) domain"
        yield Finding.fail(
            ID, domain or "(default)", f"{label} is served by {len(groups)} independent "
            f"JetStreams: {', '.join(sorted(groups))}; this looks like split brain but is "
            "two leaf sites sharing a domain name",
            evidence={"domain": domain, "jetstreams": {k: sorted(v) for k, v in groups.items()}},
            fix="Give every site a unique `jetstream { domain: ... }` and address them with "
                "--js-domain / $JS.<domain>.API. If it is one cluster that split, check routes "
                "and step the meta leader down once connectivity is back.")
