"""Small helpers shared by the checks (not a check: modules starting with ``_`` hold none)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from natsops.findings import Finding
from natsops.monitoring.snapshot import Snapshot, as_int, as_map
from natsops.units import format_bytes, format_duration

__all__ = ["account_usage", "as_int", "doc", "format_bytes", "format_duration", "near_limit",
           "ns_to_s", "server_time"]


doc = as_map


def ns_to_s(value: Any) -> float:
    return as_int(value) / 1e9


def server_time(value: Any) -> float | None:
    """Epoch seconds of a server timestamp (RFC 3339, nanoseconds); None if unset or bad."""
    if not isinstance(value, str) or value.startswith("0001-"):
        return None
    try:
        text = value.replace("Z", "+00:00")
        if "." in text:  # Go prints nanoseconds; Python parses microseconds
            head, tail = text.split(".", 1)
            frac, _, zone = tail.partition("+")
            text = f"{head}.{frac[:6]}+{zone}" if zone else f"{head}.{frac[:6]}"
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def near_limit(id: str, subject: str, used: int, limit: int, what: str, *,
               warn_pct: float, fail_pct: float, evidence: Mapping[str, Any], fix: str,
               show: Callable[[int], str] = str) -> Finding | None:
    """A WARN/FAIL finding when ``used`` is at least ``warn_pct``/``fail_pct`` % of ``limit``.

    ``what`` names the limit in the message ("connections of n1"); ``show`` formats the
    numbers (``format_bytes`` for sizes). A limit of 0 or below means unlimited: no finding.
    """
    if limit <= 0:
        return None
    pct = 100.0 * used / limit
    if pct < warn_pct:
        return None
    make = Finding.fail if pct >= fail_pct else Finding.warn
    return make(id, subject, f"{what} at {pct:.0f}% of the limit ({show(used)} of "
                f"{show(limit)})", evidence={**evidence, "used": used, "limit": limit,
                                             "pct": round(pct, 1)}, fix=fix)


def account_usage(snap: Snapshot, used_key: str, limit_key: str
                  ) -> Iterator[tuple[str, str, int, int, dict[str, int]]]:
    """(key, name, used, limit, per-server use) for operator-mode accounts whose JWT sets
    ``limits.<limit_key>``; ``used`` sums ``used_key`` of the servers' account details."""
    claims: dict[str, dict[str, Mapping[str, Any]]] = {}
    for s in snap.servers:
        for key, claim in s.account_claims.items():
            claims.setdefault(key, {})[s.name] = doc(claim)
    for key, per in sorted(claims.items()):
        limit = max((as_int(doc(c.get("limits")).get(limit_key), -1) for c in per.values()),
                    default=-1)
        if limit <= 0:
            continue
        use = {n: as_int(c.get(used_key)) for n, c in sorted(per.items())}
        name = next((str(c["name"]) for c in per.values() if c.get("name")), key)
        yield key, name, sum(use.values()), limit, use
