"""Connections near their subscription limit.

``max_subscriptions`` (varz) limits each *connection*, not the server; an operator-mode
account's ``limits.subs`` applies to each of its connections too, and so does the user JWT's
own ``subs`` limit: connz with auth shows each connection's user JWT (operator mode), whose
limit gathering keeps as ``user_subs_limit`` (the JWT itself is not kept). Config-file users
have no subscription limit of their own. A connection past its
limit gets "maximum subscriptions exceeded" and the subscription is refused. The connections
are read from connz sorted by subscription count (the top ones per server).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from natsops.doctor.checks._util import as_int, doc
from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import ServerView, Snapshot

ID = "sub-limits"
WARN_PCT, FAIL_PCT = 80.0, 95.0


def _account_subs(s: ServerView) -> dict[str, tuple[str, int]]:
    """Account key or name -> (its name, the claim's per-connection subs limit) when set."""
    out: dict[str, tuple[str, int]] = {}
    for key, claim in s.account_claims.items():
        c = doc(claim)
        limit = as_int(doc(c.get("limits")).get("subs"), -1)
        if limit > 0:
            name = str(c.get("name") or key)
            out[key] = out[name] = (name, limit)
    return out


def _near(s: ServerView) -> Iterator[dict[str, Any]]:
    server_limit = as_int(doc(s.varz).get("max_subscriptions"))
    per_account = _account_subs(s)
    for conn in doc(s.connz_subs).get("connections") or ():
        if not isinstance(conn, Mapping):
            continue
        limits = [(server_limit, "max_subscriptions")] if server_limit > 0 else []
        acc = per_account.get(str(conn.get("account") or ""))
        if acc is not None:
            limits.append((acc[1], f"account {acc[0]} limits.subs"))
        user = as_int(conn.get("user_subs_limit"), -1)
        if user > 0:
            who = conn.get("name_tag") or conn.get("account") or "?"
            limits.append((user, f"user JWT limits.subs ({who} user "
                                 f"{str(conn.get('authorized_user') or '?')[:8]}…)"))
        if not limits:
            continue
        limit, source = min(limits)
        subs = as_int(conn.get("subscriptions"))
        pct = 100.0 * subs / limit
        if pct >= WARN_PCT:
            yield {"cid": conn.get("cid"), "name": conn.get("name") or "",
                   "account": conn.get("account"), "subscriptions": subs, "limit": limit,
                   "limit_from": source, "pct": round(pct, 1)}


@check(ID, title="Subscriptions below their limits", severity=Severity.FAIL, suite="server")
def sub_limits(snap: Snapshot) -> Iterator[Finding]:
    for s in snap.servers:
        near = sorted(_near(s), key=lambda c: -c["pct"])
        if not near:
            continue
        top = near[0]
        who = f"cid {top['cid']}" + (f" ({top['name']})" if top["name"] else "")
        more = f" and {len(near) - 1} more connection(s)" if len(near) > 1 else ""
        make = Finding.fail if top["pct"] >= FAIL_PCT else Finding.warn
        yield make(ID, s.name, f"{s.name}: {who} holds {top['subscriptions']} subscriptions, "
                   f"{top['pct']:.0f}% of its limit of {top['limit']} ({top['limit_from']})"
                   f"{more}", evidence={"server": s.name, "connections": near},
                   fix=f"Look at what the client subscribes to (`natsops server report "
                       f"connections --sort subs`): a subscription leak grows without bound; "
                       f"use wildcards instead of one subscription per subject, or raise "
                       f"`max_subscriptions` on {s.name} (or the account's subs limit, or "
                       f"the user's: `natsops auth user edit ACCOUNT USER --max-subs N`).")
