"""Subject mappings of an account: weighted, optionally per cluster.

An account's ``mappings`` claim maps a subject to destinations, each with a weight (percent of
the messages) and optionally a cluster (the mapping then applies to that cluster only). Per
cluster (and for the entries without one) the weights may add up to at most 100; what is left
keeps its original subject. The server applies a pushed mapping at once, without a restart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from natsops.auth.edit import Edited, claim_diff
from natsops.auth.ops import _update_account
from natsops.auth.store import Store
from natsops.errors import NotFound, UsageError
from natsops.validate import subject

__all__ = ["MappingTarget", "add_mapping", "list_mappings", "remove_mapping"]


@dataclass(frozen=True)
class MappingTarget:
    """One destination of a mapping: ``weight`` percent of the messages go to ``subject``."""

    source: str
    subject: str
    weight: int = 100
    cluster: str | None = None

    def __post_init__(self) -> None:
        subject(self.source, "--from")
        subject(self.subject, "--to")
        if not 1 <= self.weight <= 100:
            raise UsageError(f"--weight must be 1..100 (percent), not {self.weight}")

    def claim(self) -> dict[str, Any]:
        out: dict[str, Any] = {"subject": self.subject, "weight": self.weight}
        if self.cluster:
            out["cluster"] = self.cluster
        return out


def _weight(entry: Mapping[str, Any]) -> int:
    return int(entry.get("weight") or 100)  # the server reads an absent weight as 100


def _check_weights(source: str, entries: list[dict[str, Any]]) -> None:
    totals: dict[str | None, int] = {}
    for e in entries:
        c = e.get("cluster") or None
        totals[c] = totals.get(c, 0) + _weight(e)
    for cluster, total in totals.items():
        if total > 100:
            where = f" in cluster {cluster}" if cluster else ""
            raise UsageError(f"the weights of {source}{where} add up to {total}%: at most 100")


def add_mapping(store: Store, op: str, account: str, target: MappingTarget, *,
                dry_run: bool = False) -> Edited:
    """Add (or re-weight) one destination of the mapping of ``target.source``."""
    before = dict(store.account(op, account).token.claims)

    def mutate(nats: dict[str, Any]) -> None:
        mappings = {k: list(v) for k, v in (nats.get("mappings") or {}).items()}
        entries = [e for e in mappings.get(target.source, [])
                   if not (e.get("subject") == target.subject
                           and (e.get("cluster") or None) == (target.cluster or None))]
        entries.append(target.claim())
        _check_weights(target.source, entries)
        mappings[target.source] = entries
        nats["mappings"] = mappings

    ch = _update_account(store, op, account, mutate, dry_run)
    return Edited(ch, claim_diff(before, ch.claims))


def remove_mapping(store: Store, op: str, account: str, source: str, to: str | None = None, *,
                   cluster: str | None = None, dry_run: bool = False) -> Edited:
    """Remove the mapping of ``source`` (or only its destination ``to``, in ``cluster``)."""
    before = dict(store.account(op, account).token.claims)

    def mutate(nats: dict[str, Any]) -> None:
        mappings = {k: list(v) for k, v in (nats.get("mappings") or {}).items()}
        if source not in mappings:
            raise NotFound(f"account {account} has no mapping of {source}")
        if to is None:
            del mappings[source]
        else:
            kept = [e for e in mappings[source]
                    if not (e.get("subject") == to
                            and (cluster is None or (e.get("cluster") or None) == cluster))]
            if len(kept) == len(mappings[source]):
                raise NotFound(f"the mapping of {source} has no destination {to}")
            if kept:
                mappings[source] = kept
            else:
                del mappings[source]
        if mappings:
            nats["mappings"] = mappings
        else:
            nats.pop("mappings", None)

    ch = _update_account(store, op, account, mutate, dry_run)
    return Edited(ch, claim_diff(before, ch.claims))


def list_mappings(store: Store, op: str, account: str) -> list[MappingTarget]:
    """Every destination of every mapping of the account (as stored)."""
    out = []
    for source, entries in sorted((store.account(op, account).nats.get("mappings") or {}).items()):
        for e in entries:
            out.append(MappingTarget(source, str(e.get("subject")), _weight(e),
                                     e.get("cluster") or None))
    return out
