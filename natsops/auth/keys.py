"""Which seeds the key store holds, where, and what each belongs to (public keys only).

Seeds sit where nsc keeps them, ``<root>/keys/keys/<O|A|U>/<chars 2-3>/<PUBKEY>.nk``. Every
key the store's JWTs name (operator and account identities, signing keys, users) is listed,
with or without a seed; seed files no JWT names are listed as orphans. A seed file is read only
to check that it holds the seed of the key its name says; the seed itself is never returned.

Orphan seeds (a key rotated or removed from its JWT, an account deleted from the store) are no
use for signing: :func:`prune_keys` moves them to ``<root>/keys/retired/`` (as a rotation does
with the key it replaced), outside the folder nsc and natsops sign from. nsc itself never
deletes a seed; moving instead of deleting keeps a key recoverable until every server has the
change.
"""

from __future__ import annotations

import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from natsops.auth.describe import key_index
from natsops.auth.nkey import is_public_key, keypair_from_seed
from natsops.auth.store import Store
from natsops.errors import NatsopsError
from natsops.files import read_text

__all__ = ["ORPHAN", "KeyEntry", "PruneReport", "list_keys", "prune_keys"]

ORPHAN = "orphan (no JWT of the store names it)"


@dataclass(frozen=True)
class KeyEntry:
    """A public key, its seed file (if any) and what it is."""

    public_key: str
    owner: str  # "operator DEMO (identity key)", "user APP/service", "orphan" ...
    operator: str | None
    seed: bool  # a seed file exists
    path: Path | None
    problem: str | None = None  # the seed file does not match, or is readable by others
    orphan: bool = False  # a seed file no JWT of the store names


@dataclass(frozen=True)
class PruneReport:
    """The orphan seeds moved (or, with ``dry_run``, that would be) and where they went."""

    orphans: tuple[KeyEntry, ...]
    retired_dir: Path
    dry_run: bool = False


def _seed_problem(path: Path, public_key: str) -> str | None:
    try:
        kp = keypair_from_seed(read_text(path, what="seed file").strip())
    except NatsopsError as exc:
        return f"not a seed file: {exc}"
    if kp.public_key != public_key:
        return "the seed belongs to another public key"
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        return f"mode {stat.S_IMODE(path.stat().st_mode):o}: readable by others (want 600)"
    return None


def _owners(store: Store) -> dict[str, tuple[str, str]]:
    """public key -> (owner, operator) for every key the store's JWTs name."""
    out = {k: (str(role), role.operator) for k, role in key_index(store).items()}
    for op in store.operators():
        for acc in store.account_names(op):
            for user in store.users(op, acc):
                out[user.public_key] = (f"user {acc}/{user.name}", op)
    return out


def list_keys(store: Store) -> list[KeyEntry]:
    """Every key the store names plus every seed file, sorted by owner."""
    owners: Mapping[str, tuple[str, str]] = _owners(store)
    files = {p.stem: p for p in (store.root / "keys" / "keys").glob("*/*/*.nk")
             if is_public_key(p.stem)}
    out = []
    for key in sorted(set(owners) | set(files)):
        path = files.get(key)
        owner, op = owners.get(key, (ORPHAN, ""))
        out.append(KeyEntry(key, owner, op or None, path is not None, path,
                            _seed_problem(path, key) if path else None, key not in owners))
    return sorted(out, key=lambda e: (e.operator or "~", e.owner))


def prune_keys(store: Store, *, dry_run: bool = False) -> PruneReport:
    """Move every orphan seed to ``keys/retired`` (0600); with ``dry_run`` only list them."""
    orphans = tuple(k for k in list_keys(store) if k.orphan)
    if not dry_run:
        for k in orphans:
            store.retire_key(k.public_key)
    return PruneReport(orphans, store.root / "keys" / "retired", dry_run)
