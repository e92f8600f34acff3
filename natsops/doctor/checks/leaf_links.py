"""Leafnode remotes that are not connected: a leaf site cut off from its hub.

A server with ``leafnodes { remotes: [...] }`` in its config lists them in varz
(``leaf.remotes``: the local account each binds and the hub URLs); every connected remote is a
leafz connection that this server solicited (``is_spoke``) for that account. A remote with no
such connection means the site runs alone: its clients see only local traffic, and its
JetStream domain is unreachable from the hub. (The hub side cannot tell: it only sees the
connections that did arrive.)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

from natsops.doctor.checks._util import doc
from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import ServerView, Snapshot

ID = "leaf-links"


def _remotes(s: ServerView) -> list[Mapping[str, Any]]:
    return [r for r in doc(doc(s.varz).get("leaf")).get("remotes") or () if isinstance(r, Mapping)]


def _solicited(s: ServerView) -> Counter[str]:
    """Connected leafnode connections this server made, per local account."""
    found: Counter[str] = Counter()
    for c in doc(s.leafz).get("leafs") or ():
        if isinstance(c, Mapping) and c.get("is_spoke", True):
            found[str(c.get("account") or "")] += 1
    return found


@check(ID, title="Leafnode remotes connected", severity=Severity.FAIL)
def leaf_links(snap: Snapshot) -> Iterator[Finding]:
    for s in snap.servers:
        remotes = _remotes(s)
        if not remotes or s.leafz is None:
            continue
        want = Counter(str(r.get("local_account") or "$G") for r in remotes)
        have = _solicited(s)
        for account, n in sorted(want.items()):
            if have.get(account, 0) >= n:
                continue
            urls = sorted({str(u) for r in remotes if str(r.get("local_account") or "$G")
                           == account for u in r.get("urls") or ()})
            yield Finding.fail(
                ID, s.name,
                f"{s.name}: {n - have.get(account, 0)} of {n} leafnode remote(s) for account "
                f"{account} not connected: the site is cut off from its hub for that account",
                evidence={"server": s.name, "account": account, "remotes": n,
                          "connected": have.get(account, 0), "hub_urls": urls},
                fix=f"Check the network from {s.name} to {', '.join(urls) or 'the hub'} "
                    "(port 7422 by default), the hub's leafnodes listener and the remote's "
                    f"credentials; the log of {s.name} names the refusal "
                    "(`natsops cluster logs` for a local deployment).")
