"""Two independent JetStreams answering for one domain (the apparent "split brain").

Replies are grouped by JetStream domain; within a domain each meta group (the meta peers of a
cluster or of the clusters of a supercluster, or a standalone server) is one JetStream. More
than one in a domain means API requests to ``$JS.<domain>.API`` reach several of them (leaf
sites that reuse a domain name stay two).
"""

from __future__ import annotations

from collections.abc import Iterator

from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import Snapshot

ID = "js-domains"


def _meta_groups(snap: Snapshot) -> dict[str, str]:
    """Server name -> its JetStream's label. Servers that name each other as meta peers (or
    the same meta leader) are one JetStream, even across gateways: the clusters of a
    supercluster share one meta group."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    js = [s for s in snap.servers if s.jetstream]
    for s in js:
        find(s.name)
        meta = s.meta
        peers = [r.get("name") for r in meta.get("replicas") or [] if isinstance(r, dict)]
        for peer in [*peers, meta.get("leader")]:
            if isinstance(peer, str) and peer:
                parent[find(peer)] = find(s.name)
    members: dict[str, list[str]] = {}
    for s in js:
        members.setdefault(find(s.name), []).append(s.name)
    by_name = {s.name: s for s in js}
    labels: dict[str, str] = {}
    for names in members.values():
        clusters = sorted({c for n in names if (c := by_name[n].cluster) and by_name[n].meta})
        label = f"cluster {'+'.join(clusters)}" if clusters else f"server {names[0]}"
        labels.update(dict.fromkeys(names, label))
    return labels


@check(ID, title="One JetStream per domain", severity=Severity.FAIL, suite="jetstream")
def js_domains(snap: Snapshot) -> Iterator[Finding]:
    domains: dict[str, dict[str, list[str]]] = {}
    labels = _meta_groups(snap)
    for s in snap.servers:
        if not s.jetstream:
            continue
        domains.setdefault(s.domain or "", {}).setdefault(labels[s.name], []).append(s.name)
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
