"""The passwords a topology needs, resolved once: clear text for the dialing side, bcrypt
hashes for the accepting side.

Keys name what a password is for:

- ``sys`` — the ``sys`` user of the system account (monitoring tools);
- ``user:<ACCOUNT>:<user>`` — a user of a plain account;
- ``route:<cluster or leaf site>`` — the route user of that cluster;
- ``gateway`` — the gateway user (every cluster accepts it);
- ``leaf:<site>`` / ``leaf-sys:<site>`` — the user a leaf site logs in with at its hub
  (bound to the site's account / to the system account).

A password comes from the user's ``password_env`` (read at render time) or is generated and
kept in a secrets file (JSON, 0600) beside the output, so rendering again keeps every
password and hash: configs change only when the topology does.
"""

from __future__ import annotations

import json
import secrets as _random
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from natsops.errors import UsageError
from natsops.files import read_text, write_private
from natsops.topology.model import Cluster, LeafSite, Topology

__all__ = ["SECRETS_FILE", "Passwords", "needed_keys", "resolve_passwords", "save_passwords"]

SECRETS_FILE = "natsops-secrets.json"
BCRYPT_COST = 11  # what `nats server passwd` uses


@dataclass(frozen=True)
class Passwords:
    """Clear passwords and their bcrypt hashes, by key (never printed: no repr)."""

    clear: Mapping[str, str] = field(repr=False)
    hashes: Mapping[str, str] = field(repr=False)
    generated: frozenset[str] = frozenset()  # keys whose password natsops generated

    def password(self, key: str) -> str:
        return self.clear[key]

    def hash(self, key: str) -> str:
        return self.hashes[key]


def needed_keys(topo: Topology) -> dict[str, str | None]:
    """Every password key the topology needs -> the environment variable it comes from
    (None: generated)."""
    keys: dict[str, str | None] = {}
    if not topo.auth.operator_mode:
        keys["sys"] = None
        for acc in topo.auth.accounts:
            for u in acc.users:
                keys[f"user:{acc.name}:{u.name}"] = u.password_env
    groups: list[Cluster | LeafSite] = [*topo.clusters, *topo.leafs]
    for group in groups:
        if len(group.nodes) > 1:
            keys[f"route:{group.name}"] = None
    if topo.gateways:
        keys["gateway"] = None
    if not topo.auth.operator_mode:
        for s in topo.leafs:
            keys[f"leaf:{s.name}"] = None
            if s.system:
                keys[f"leaf-sys:{s.name}"] = None
    return keys


def _hash(password: str, cost: int) -> str:
    import bcrypt

    # "$2a$": the prefix Go's bcrypt writes, which nats-server recognises as a hash
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(cost, prefix=b"2a")).decode()


def _matches(password: str, hashed: str) -> bool:
    import bcrypt

    try:
        return bcrypt.checkpw(password.encode(), hashed.encode())
    except ValueError:
        return False


def _read_saved(path: Path | None) -> dict[str, dict[str, str]]:
    if path is None or not path.exists():
        return {"passwords": {}, "hashes": {}}
    try:
        doc = json.loads(read_text(path, what="secrets file"))
    except ValueError as exc:
        raise UsageError(f"{path}: not a natsops secrets file ({exc})") from None
    if not isinstance(doc, dict):
        raise UsageError(f"{path}: not a natsops secrets file")
    return {"passwords": dict(doc.get("passwords") or {}), "hashes": dict(doc.get("hashes") or {})}


def resolve_passwords(topo: Topology, env: Mapping[str, str], *, saved: Path | None = None,
                      cost: int = BCRYPT_COST) -> Passwords:
    """Every password the topology needs: from the environment (``password_env``), from the
    secrets file ``saved`` (when it exists), else generated; each with its bcrypt hash (a
    saved hash is kept while it still matches)."""
    old = _read_saved(saved)
    clear: dict[str, str] = {}
    hashes: dict[str, str] = {}
    generated: set[str] = set()
    for key, var in needed_keys(topo).items():
        if var is not None:
            value = env.get(var)
            if not value:
                line = _user_line(topo, key)
                raise UsageError(f"{topo.file or 'topology'}:{line}: {key.split(':', 1)[1]}: "
                                 f"password_env {var} is not set in the environment")
            clear[key] = value
        else:
            clear[key] = old["passwords"].get(key) or _random.token_urlsafe(24)
            generated.add(key)
        prev = old["hashes"].get(key)
        hashes[key] = prev if prev and _matches(clear[key], prev) else _hash(clear[key], cost)
    return Passwords(clear, hashes, frozenset(generated))


def _user_line(topo: Topology, key: str) -> int:
    _, acc, user = key.split(":", 2)
    a = topo.auth.account(acc)
    u = next((u for u in a.users if u.name == user), None) if a else None
    return u.line if u else 1


def save_passwords(pw: Passwords, path: Path) -> None:
    """Write the generated passwords and every hash to the secrets file (0600).

    Passwords taken from the environment are not written (only their hashes, so an unchanged
    password keeps its hash)."""
    doc = {"comment": "natsops topology secrets: generated passwords (keep private)",
           "passwords": {k: v for k, v in sorted(pw.clear.items()) if k in pw.generated},
           "hashes": dict(sorted(pw.hashes.items()))}
    write_private(path, json.dumps(doc, indent=2) + "\n")
