"""Slow consumers: connections falling behind now, recently cut off, and the server counters.

``slow_consumers`` counts events, not clients, since the server started: a
cumulative count alone is INFO; a delta between two samples (``--sample``) is a WARN for
clients and a FAIL for routes, gateways and leafnodes (a saturated inter-server link).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from natsops.doctor.checks._util import as_int, doc, format_bytes, server_time
from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import ServerView, Snapshot

ID = "slow-consumers"
RECENT = 600.0  # a slow-consumer disconnect in the last 10 minutes is current news
DEFAULT_MAX_PENDING = 64 * 1024 * 1024
CLIENT_FIX = ("Make the subscriber faster or spread the load: a queue group with more workers, "
              "handlers off the read loop (async processing), check the network/TLS to that "
              "client. For JetStream use pull consumers with bounded batches and max_ack_pending "
              "instead of fire-hose push subscriptions. Raising max_pending/write_deadline only "
              "buys time and costs server memory. Live view: `natsops top --sort pending`.")
LINK_FIX = ("A route/gateway/leafnode is a slow consumer: the inter-server link is saturated. "
            "Check `routez` pending_size, bandwidth and latency between the servers, route "
            "`compression` and `pool_size`.")


def _who(c: Mapping[str, Any]) -> dict[str, Any]:
    return {"name": c.get("name") or "", "cid": c.get("cid"),
            "account": c.get("account") or "", "user": c.get("authorized_user") or "",
            "ip": f"{c.get('ip', '')}:{c.get('port', '')}", "lang": c.get("lang") or ""}


def _label(c: Mapping[str, Any]) -> str:
    name = c.get("name") or "(unnamed)"
    acc = f", account {c['account']}" if c.get("account") else ""
    return f"connection {name!r} (cid {c.get('cid')}{acc})"


def _server_findings(s: ServerView, prev: ServerView | None) -> Iterator[Finding]:
    varz = doc(s.varz)
    max_pending = as_int(varz.get("max_pending"), DEFAULT_MAX_PENDING) or DEFAULT_MAX_PENDING
    now = server_time(varz.get("now")) or server_time(doc(s.connz).get("now"))
    reported: set[Any] = set()
    for c in doc(s.connz_closed).get("connections") or ():
        c = doc(c)
        if not str(c.get("reason", "")).startswith("Slow Consumer"):
            continue
        stop = server_time(c.get("stop"))
        age = (now - stop) if (now and stop) else None
        recent = age is not None and age <= RECENT
        reported.add(c.get("cid"))
        ev = {**_who(c), "server": s.name, "reason": c.get("reason"), "stop": c.get("stop"),
              "seconds_ago": round(age, 1) if age is not None else None,
              "pending_bytes": as_int(c.get("pending_bytes")), "max_pending": max_pending,
              "stalls": as_int(c.get("stalls"))}
        msg = (f"{_label(c)} on {s.name} was disconnected: {c.get('reason')}"
               + (f" {age:.0f}s ago" if age is not None else ""))
        yield (Finding.fail if recent else Finding.info)(
            ID, c.get("name") or f"cid {c.get('cid')}", msg, evidence=ev, fix=CLIENT_FIX)
    before = {doc(c).get("cid"): doc(c) for c in doc(prev.connz if prev else None)
              .get("connections") or ()}
    for c in doc(s.connz).get("connections") or ():
        c = doc(c)
        pending = as_int(c.get("pending_bytes"))
        old = before.get(c.get("cid"))
        if c.get("cid") not in reported and pending > 0 and old is not None \
                and as_int(old.get("pending_bytes")) == pending \
                and pending <= max_pending * 0.5:
            # not draining at all between samples: the write deadline will cut it (seen: 16 MiB
            # stuck below max_pending for 10 s, then closed as `Slow Consumer (Write Deadline)`)
            yield Finding.warn(ID, c.get("name") or f"cid {c.get('cid')}",
                               f"{_label(c)} on {s.name} has {format_bytes(pending)} queued "
                               "that did not drain during the sample: the write deadline "
                               "will disconnect it", fix=CLIENT_FIX,
                               evidence={**_who(c), "server": s.name, "pending_bytes": pending,
                                         "idle": c.get("idle")})
            continue
        if c.get("cid") in reported or pending <= max_pending * 0.5:
            continue
        pct = 100.0 * pending / max_pending
        ev = {**_who(c), "server": s.name, "pending_bytes": pending, "max_pending": max_pending,
              "pending_pct": round(pct, 1), "stalls": as_int(c.get("stalls")),
              "idle": c.get("idle"), "subscriptions": as_int(c.get("subscriptions"))}
        msg = (f"{_label(c)} on {s.name} cannot keep up: {format_bytes(pending)} queued "
               f"({pct:.0f}% of max_pending {format_bytes(max_pending)})")
        yield (Finding.fail if pct > 75 else Finding.warn)(
            ID, c.get("name") or f"cid {c.get('cid')}", msg, evidence=ev, fix=CLIENT_FIX)
    yield from _counters(s, prev, varz)


def _counters(s: ServerView, prev: ServerView | None, varz: Mapping[str, Any]
              ) -> Iterator[Finding]:
    stats = doc(varz.get("slow_consumer_stats"))
    pv = doc(prev.varz) if prev is not None else {}
    same_run = bool(pv) and pv.get("start") == varz.get("start")
    pstats = doc(pv.get("slow_consumer_stats"))
    for kind in ("routes", "gateways", "leafs"):
        n = as_int(stats.get(kind))
        if same_run:
            delta = n - as_int(pstats.get(kind))
            if delta > 0:
                yield Finding.fail(ID, s.name, f"{delta} {kind[:-1]} slow-consumer event(s) on "
                                   f"{s.name} during the sample", fix=LINK_FIX,
                                   evidence={"server": s.name, "kind": kind, "delta": delta,
                                             "total": n})
        elif n > 0:
            yield Finding.warn(ID, s.name, f"{n} {kind[:-1]} slow-consumer event(s) on {s.name} "
                               "since it started", fix=LINK_FIX,
                               evidence={"server": s.name, "kind": kind, "total": n,
                                         "since": varz.get("start")})
    clients = as_int(stats.get("clients", varz.get("slow_consumers")))
    stalled = as_int(varz.get("stalled_clients"))
    ev: dict[str, Any] = {"server": s.name, "slow_consumer_clients": clients,
                          "stalled_clients": stalled, "since": varz.get("start")}
    if same_run:
        d_sc = clients - as_int(pstats.get("clients", pv.get("slow_consumers")))
        d_st = stalled - as_int(pv.get("stalled_clients"))
        if d_sc > 0 or d_st > 0:
            ev.update(delta_slow_consumers=d_sc, delta_stalled_clients=d_st)
            yield Finding.warn(ID, s.name, f"{s.name}: {d_sc} client slow-consumer event(s) and "
                               f"{d_st} producer stall(s) during the sample", evidence=ev,
                               fix=CLIENT_FIX)
    elif clients > 0 or stalled > 0:
        yield Finding.info(ID, s.name, f"{s.name}: {clients} client slow-consumer event(s) and "
                           f"{stalled} producer stall(s) since it started (cumulative; "
                           "--sample shows whether it is still happening)", evidence=ev,
                           fix=CLIENT_FIX)


@check(ID, title="Slow consumers", severity=Severity.FAIL)
def slow_consumers(snap: Snapshot) -> Iterator[Finding]:
    for s in snap.servers:
        prev = snap.previous.server(s.name) if snap.previous is not None else None
        yield from _server_findings(s, prev)
