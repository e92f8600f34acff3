"""Operator mode: servers running different JWTs for one account (a push that missed a server).

Every server holding an account must run the same claim (``decoded_jwt.jti``); the ones with the
older ``iat`` are stale. ``update_time`` is when a server (re)loaded the claim, not the JWT's
age: a stale server that restarted has the *newer* update_time (it re-read its old preload).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from natsops.doctor.checks._util import as_int, doc
from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import Snapshot

ID = "jwt-mismatch"


@check(ID, title="Account JWTs identical on every server", severity=Severity.FAIL, suite="auth")
def jwt_mismatch(snap: Snapshot) -> Iterator[Finding]:
    by_account: dict[str, dict[str, dict[str, Any]]] = {}
    for s in snap.servers:
        for key, claim in s.account_claims.items():
            by_account.setdefault(key, {})[s.name] = dict(doc(claim))
    for key, servers in sorted(by_account.items()):
        name = next((c.get("name") for c in servers.values() if c.get("name")), None) or key
        label = f"{name} ({key[:8]}…)" if name != key else key
        expired = sorted(n for n, c in servers.items() if c.get("expired"))
        if expired:
            yield Finding.fail(ID, label, f"account {label} has an expired JWT on "
                               f"{', '.join(expired)}: its users cannot connect",
                               evidence={"account": key, "name": name, "servers": expired},
                               fix=f"Issue a new account JWT without expiry and push it: "
                                   f"`natsops auth account edit {name} && natsops auth push "
                                   f"--account {name}` (natsops account JWTs do not expire; "
                                   f"nsc: `nsc edit account {name} --expiry 0 && nsc push -a "
                                   f"{name}`).")
        jtis = {c.get("jti") for c in servers.values() if c.get("jti")}
        if len(jtis) < 2:
            continue
        newest = max(as_int(c.get("iat")) for c in servers.values())
        stale = sorted(n for n, c in servers.items() if as_int(c.get("iat")) < newest)
        yield Finding.fail(
            ID, label, f"servers run different JWTs for account {label}: "
            f"{', '.join(stale) or '?'} {'has' if len(stale) == 1 else 'have'} an older one",
            evidence={"account": key, "name": name, "stale": stale,
                      "claims": {n: {"jti": c.get("jti"), "iat": c.get("iat"),
                                     "update_time": c.get("update_time")}
                                 for n, c in sorted(servers.items())}},
            fix=(f"Push the current JWT again: `natsops auth push --account {name}` (nsc: "
                 f"`nsc push -a {name}`; or publish it to "
                 f"$SYS.REQ.ACCOUNT.{key}.CLAIMS.UPDATE). With `resolver: MEMORY` also update "
                 "resolver_preload in every server's config (a restart reloads the preload); "
                 "with the full resolver check its `dir` and the routes to the stale server."))
