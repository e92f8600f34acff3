"""Accounts near their tiered JetStream limits (operator mode, per replica tier R1, R3...).

A JWT's ``limits.tiered_limits`` leaves jsz ``reserved_*`` at 0 and jsz reports no per-tier
use (measured on 2.15.1; only ``$JS.API.INFO`` as the account itself has ``tiers``). So each
tier's use is summed from the gathered streams of that replica count (stored bytes times
replicas, as the server counts clustered use; a stream's ``max_bytes`` counts in full, as the
server reserves it at creation) and their consumers, and compared with the
tier's ``disk_storage``/``mem_storage``/``streams``/``consumer`` from the account claim.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from natsops.doctor.checks._util import as_int, doc, format_bytes, near_limit
from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import Snapshot

WARN_PCT, FAIL_PCT = 80.0, 95.0


def _tier_use(snap: Snapshot, key: str, name: str) -> dict[str, dict[str, int]]:
    """Per tier "R<n>": committed file/memory bytes, streams, consumers of an account.

    A stream with ``max_bytes`` reserves it (times replicas) from the tier when created; the
    others count what they store (times replicas). ``*_used`` is the stored bytes alone."""
    use: dict[str, dict[str, int]] = {}
    tiers: dict[str, str] = {}
    for st in snap.streams:
        if st.account not in (key, name):
            continue
        tier = f"R{st.replicas}"
        tiers[st.name] = tier
        u = use.setdefault(tier, {"disk_storage": 0, "mem_storage": 0, "streams": 0,
                                  "consumer": 0, "disk_storage_used": 0,
                                  "mem_storage_used": 0})
        store = "mem_storage" if st.config.get("storage") == "memory" else "disk_storage"
        stored, reserved = as_int(st.state.get("bytes")), as_int(st.config.get("max_bytes"))
        u[store] += (reserved if reserved > 0 else stored) * st.replicas
        u[f"{store}_used"] += stored * st.replicas
        u["streams"] += 1
    for c in snap.consumers:
        if c.account in (key, name) and c.stream in tiers:
            use[tiers[c.stream]]["consumer"] += 1
    return use


_TIER_WHAT = {"disk_storage": ("file storage", True, "--js-disk"),
              "mem_storage": ("memory storage", True, "--js-mem"),
              "streams": ("streams", False, "--js-streams"),
              "consumer": ("consumers", False, "--js-consumers")}


@check("account-tiers", title="Accounts below their tiered JetStream limits (R1, R3...)",
       severity=Severity.FAIL, suite="jetstream")
def account_tiers(snap: Snapshot) -> Iterator[Finding]:
    claims: dict[str, Mapping[str, Any]] = {}
    for s in snap.servers:
        for key, claim in s.account_claims.items():
            if doc(claim).get("tiered_limits"):
                claims.setdefault(key, doc(claim))
    for key, claim in sorted(claims.items()):
        name = str(claim.get("name") or key)
        use = _tier_use(snap, key, name)
        for tier, lim in sorted(doc(claim.get("tiered_limits")).items()):
            for limit_key, (what, size, flag) in _TIER_WHAT.items():
                limit = as_int(doc(lim).get(limit_key), -1)
                used = use.get(tier, {}).get(limit_key, 0)
                f = near_limit(
                    "account-tiers", name, used, limit, f"account {name} tier {tier}: "
                    f"JetStream {what}", warn_pct=WARN_PCT, fail_pct=FAIL_PCT,
                    show=format_bytes if size else str,
                    evidence={"account": key, "name": name, "tier": tier, "kind": limit_key,
                              **({"stored": use.get(tier, {}).get(f"{limit_key}_used", 0)}
                                 if size else {}),
                              "source": "streams from jsz (max_bytes reservations, else "
                                        "stored bytes, times replicas); limit from the "
                                        "account JWT's tiered_limits"},
                    fix=f"Creating or growing {tier} streams in {name} fails at the tier "
                        f"limit: free space in its {tier} streams, or raise the tier's limit "
                        f"(`natsops auth account edit {name} --js-tier {tier} {flag} N`, "
                        "then `natsops auth push`).")
                if f is not None:
                    yield f
