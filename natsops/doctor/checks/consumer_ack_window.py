"""Consumers stalled on a full ack window: num_ack_pending >= max_ack_pending."""

from __future__ import annotations

from collections.abc import Iterator

from natsops.doctor.checks._util import as_int, doc
from natsops.doctor.registry import check
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import Snapshot

ID = "consumer-ack-window"


@check(ID, title="Consumers not stalled on their ack window", severity=Severity.FAIL,
       suite="jetstream")
def consumer_ack_window(snap: Snapshot) -> Iterator[Finding]:
    for c in snap.consumers:
        limit = as_int(c.config.get("max_ack_pending"))
        acked = as_int(c.info.get("num_ack_pending"))
        if limit <= 0 or acked < limit:
            continue
        pending = as_int(c.info.get("num_pending"))
        floor = doc(c.info.get("ack_floor"))
        delivered = doc(c.info.get("delivered"))
        ev = {"account": c.account, "stream": c.stream, "consumer": c.name,
              "num_ack_pending": acked, "max_ack_pending": limit, "num_pending": pending,
              "num_redelivered": as_int(c.info.get("num_redelivered")),
              "num_waiting": as_int(c.info.get("num_waiting")),
              "delivered_stream_seq": as_int(delivered.get("stream_seq")),
              "ack_floor_stream_seq": as_int(floor.get("stream_seq")),
              "last_ack": floor.get("last_active")}
        msg = (f"consumer {c.account} > {c.stream} > {c.name} has {acked} unacknowledged "
               f"messages = max_ack_pending {limit}: delivery is paused"
               + (f" with {pending} messages waiting" if pending else ""))
        fix = (f"The application receives but does not acknowledge: check its ack calls and "
               f"errors (`natsops consumer info {c.stream} {c.name}`). Raise the window only if "
               f"it processes in parallel: `natsops consumer edit {c.stream} {c.name} "
               f"--max-pending {limit * 4}`.")
        yield (Finding.fail if pending else Finding.warn)(
            ID, f"{c.account} > {c.stream} > {c.name}", msg, evidence=ev, fix=fix)
