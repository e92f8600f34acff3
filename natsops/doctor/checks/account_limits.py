"""Accounts near their JetStream limits: storage, memory, streams, consumers.

jsz ``account_details`` carries each account's use (``memory``, ``storage``: the whole
deployment's, replicas included) and its limits as ``reserved_memory``/``reserved_storage``
(the account's ``max_mem``/``max_file``, config file or JWT). Past them a publish fails with
"resource limits exceeded for account" (10002). Stream and consumer count limits are
visible only in operator mode (the JWT's ``limits.streams``/``limits.consumer``); a
config-file account's ``max_streams``/``max_consumers`` answer only ``$JS.API.INFO`` as the
account itself.
Tiered JWT limits (``limits.tiered_limits``, per replica tier) leave ``reserved_*`` at 0 and
are the ``account-tiers`` check's. Account *connection* limits are the ``conn-limits`` check's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from natsops.doctor.checks._util import account_usage, as_int, doc, format_bytes, near_limit
from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import UNLIMITED, Snapshot

ID = "account-limits"
WARN_PCT, FAIL_PCT = 80.0, 95.0


def _accounts(snap: Snapshot) -> dict[str, Mapping[str, Any]]:
    """Account name -> the detail with the highest use (every server reports the totals)."""
    best: dict[str, Mapping[str, Any]] = {}
    for s in snap.servers:
        for acc in doc(s.jsz).get("account_details") or ():
            if not isinstance(acc, Mapping) or not acc.get("name"):
                continue
            name = str(acc["name"])
            use = as_int(acc.get("storage")) + as_int(acc.get("memory"))
            cur = best.get(name)
            if cur is None or use > as_int(cur.get("storage")) + as_int(cur.get("memory")):
                best[name] = acc
    return best


@check(ID, title="Accounts below their JetStream limits", severity=Severity.FAIL,
       suite="jetstream")
def account_limits(snap: Snapshot) -> Iterator[Finding]:
    for name, acc in sorted(_accounts(snap).items()):
        for kind, used_k, max_k, flag in (("file", "storage", "reserved_storage", "disk"),
                                          ("memory", "memory", "reserved_memory", "mem")):
            limit = as_int(acc.get(max_k))
            if limit >= UNLIMITED:
                continue
            f = near_limit(
                ID, name, as_int(acc.get(used_k)), limit, f"account {name}: JetStream {kind} "
                "storage", warn_pct=WARN_PCT, fail_pct=FAIL_PCT, show=format_bytes,
                evidence={"account": name, "id": acc.get("id"), "store": kind},
                fix=f"Publishes to {name}'s streams fail once it is full (\"resource limits "
                    "exceeded for account\"): give its streams limits (max_bytes/max_age) "
                    "or purge them, "
                    f"or raise the account's {kind} limit (config: `accounts {{ {name} "
                    f"{{ jetstream {{ max_{'file' if kind == 'file' else 'mem'}: N }} }} }}`; "
                    f"operator mode: `nsc edit account {name} --js-{flag}-storage N`, then "
                    "push).")
            if f is not None:
                yield f
    counts: dict[str, dict[str, int]] = {"streams": {}, "consumer": {}}
    for st in snap.streams:
        counts["streams"][st.account] = counts["streams"].get(st.account, 0) + 1
    for c in snap.consumers:
        counts["consumer"][c.account] = counts["consumer"].get(c.account, 0) + 1
    for limit_key, what in (("streams", "streams"), ("consumer", "consumers")):
        for key, name, _, limit, _ in account_usage(snap, "client_connections", limit_key):
            used = counts[limit_key].get(name, counts[limit_key].get(key, 0))
            f = near_limit(
                ID, name, used, limit, f"account {name}: {what}", warn_pct=WARN_PCT,
                fail_pct=FAIL_PCT, evidence={"account": key, "name": name, "kind": what},
                fix=f"Creating more {what} in {name} will fail (10027/10026): delete unused "
                    f"ones (`natsops stream find --empty`, `natsops consumer find --idle 24h`) "
                    f"or raise the limit (`nsc edit account {name} --js-{limit_key} N`, then "
                    "push).")
            if f is not None:
                yield f
