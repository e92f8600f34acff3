"""The key and JWT store on disk, in the nsc directory layout.

::

    <root>/stores/<OP>/.nsc                              nsc's marker of an operator folder
    <root>/stores/<OP>/<OP>.jwt                          operator JWT
    <root>/stores/<OP>/accounts/<ACC>/<ACC>.jwt          account JWTs
    <root>/stores/<OP>/accounts/<ACC>/users/<U>.jwt      user JWTs
    <root>/keys/keys/<O|A|U>/<chars 2-3>/<PUBKEY>.nk     one seed per file (0600)
    <root>/keys/creds/<OP>/<ACC>/<U>.creds               creds files (0600)
    <root>/keys/retired/<O|A|U>/<chars 2-3>/<PUBKEY>.nk  seeds no JWT names any more (0600)

``<root>`` is ``--store`` / ``NATSOPS_STORE``, else ``$XDG_DATA_HOME/natsops``, else
``~/.local/share/natsops``. Every file is written atomically with mode 0600 in 0700 folders.
The JWTs on disk are the only state: the previous JWT of a subject gives the next ``iat``.

This is the layout of nsc's data folder (``stores/`` plus the ``keys/`` key store, seeds sharded
by the 2nd-3rd characters of the public key, creds under ``keys/creds``), so ``--store`` can
point at the folder that holds nsc's ``stores/`` and ``keys/``, and nsc can be pointed at this
one (its store dir ``<root>/stores``, ``NKEYS_PATH=<root>/keys``). The layout was checked
against nsc's source and its published sample tokens, not against an nsc binary.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from natsops.auth.jwt import Token, decode
from natsops.auth.nkey import KeyPair, Role, keypair_from_seed
from natsops.context import write_private
from natsops.errors import NotFound, UsageError
from natsops.files import mkdir_private, read_text

__all__ = ["Entity", "Store", "default_store_root", "valid_name"]

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_KIND_LETTER = {"operator": "O", "account": "A", "user": "U"}


def default_store_root(env: Mapping[str, str] | None = None) -> Path:
    """``NATSOPS_STORE`` > ``$XDG_DATA_HOME/natsops`` > ``~/.local/share/natsops``."""
    env = os.environ if env is None else env
    if env.get("NATSOPS_STORE"):
        return Path(env["NATSOPS_STORE"]).expanduser()
    if env.get("XDG_DATA_HOME"):
        return Path(env["XDG_DATA_HOME"]) / "natsops"
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    return home / ".local" / "share" / "natsops"


def valid_name(name: str, what: str) -> str:
    """Names become folder names: letters, digits, ``_ . -``; UsageError otherwise."""
    if not _NAME_RE.match(name) or ".." in name:
        raise UsageError(f"invalid {what} name {name!r}: use letters, digits, '_', '.', '-'")
    return name


@dataclass(frozen=True)
class Entity:
    """An operator, account or user as stored: its name, where it sits, and its decoded JWT."""

    kind: str
    name: str
    operator: str
    token: Token = field(repr=False)
    path: Path
    account: str | None = None

    @property
    def public_key(self) -> str:
        return self.token.subject

    @property
    def nats(self) -> Mapping[str, Any]:
        return self.token.nats

    @property
    def signing_keys(self) -> list[str]:
        """Signing keys (scoped ones by their key)."""
        out = []
        for sk in self.nats.get("signing_keys") or []:
            out.append(sk["key"] if isinstance(sk, Mapping) else str(sk))
        return out


class Store:
    """Read and write operators, accounts, users, keys and creds under one root folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    # ---- paths -------------------------------------------------------------------------------
    def operator_dir(self, op: str) -> Path:
        return self.root / "stores" / op

    def operator_path(self, op: str) -> Path:
        return self.operator_dir(op) / f"{op}.jwt"

    def account_path(self, op: str, acc: str) -> Path:
        return self.operator_dir(op) / "accounts" / acc / f"{acc}.jwt"

    def user_path(self, op: str, acc: str, user: str) -> Path:
        return self.operator_dir(op) / "accounts" / acc / "users" / f"{user}.jwt"

    def creds_path(self, op: str, acc: str, user: str) -> Path:
        return self.root / "keys" / "creds" / op / acc / f"{user}.creds"

    def key_path(self, public_key: str) -> Path:
        return self.root / "keys" / "keys" / public_key[0] / public_key[1:3] / f"{public_key}.nk"

    def retired_key_path(self, public_key: str) -> Path:
        """Where a retired seed goes: beside nsc's key store, so neither tool signs with it."""
        return self.root / "keys" / "retired" / public_key[0] / public_key[1:3] / \
            f"{public_key}.nk"

    # ---- keys --------------------------------------------------------------------------------
    def retire_key(self, public_key: str) -> Path | None:
        """Move a seed out of the key store into ``keys/retired`` (0600); None if absent.

        Retired, not deleted: a key rotated away can be moved back by hand while servers that
        were not pushed to still trust it; delete the folder once every server has the change.
        """
        src = self.key_path(public_key)
        if not src.is_file():
            return None
        dst = self.retired_key_path(public_key)
        self._mkdirs(dst.parent)
        os.replace(src, dst)
        dst.chmod(0o600)
        return dst

    def save_key(self, kp: KeyPair) -> Path:
        path = self.key_path(kp.public_key)
        self._mkdirs(path.parent)
        write_private(path, kp.seed.reveal())  # one seed, no newline: as nsc writes it
        return path

    def has_key(self, public_key: str) -> bool:
        return self.key_path(public_key).is_file()

    def load_key(self, public_key: str, role: Role | None = None) -> KeyPair:
        path = self.key_path(public_key)
        if not path.exists():
            raise NotFound(f"no seed for key {public_key} in the store ({self.root})")
        seed = read_text(path, what="seed file").strip()
        kp = keypair_from_seed(seed, role)
        if kp.public_key != public_key:
            raise UsageError(f"seed file {path} does not match its public key")
        return kp

    # ---- JWTs --------------------------------------------------------------------------------
    def _mkdirs(self, path: Path) -> None:
        """Create ``path`` and its missing parents (the root's too, on a fresh home), 0700."""
        mkdir_private(path)

    def write_jwt(self, path: Path, token: str) -> None:
        self._mkdirs(path.parent)
        write_private(path, token + "\n")

    def write_nsc_marker(self, op: str) -> None:
        """The ``.nsc`` file nsc looks for to accept ``stores/<op>`` as an operator folder."""
        doc = {"managed": False, "name": op, "kind": "operator", "version": "1"}
        self.write_text_private(self.operator_dir(op) / ".nsc", json.dumps(doc))

    def write_text_private(self, path: Path, text: str) -> None:
        self._mkdirs(path.parent)
        write_private(path, text)

    def _read(self, path: Path, kind: str, name: str, what: str) -> Token:
        if not path.exists():
            raise NotFound(f"{what} not found")
        text = read_text(path, what=f"JWT file of {what}")
        try:
            return decode(text, kind=kind)
        except UsageError as exc:
            raise UsageError(f"{path}: {exc}") from None

    # ---- reading -----------------------------------------------------------------------------
    def operators(self) -> list[str]:
        d = self.root / "stores"
        if not d.is_dir():
            return []
        return sorted(p.name for p in d.iterdir() if (p / f"{p.name}.jwt").is_file())

    def resolve_operator(self, name: str | None) -> str:
        """The named operator, or the only one in the store."""
        ops = self.operators()
        if name:
            if name not in ops:
                raise NotFound(f"operator '{name}' not found in {self.root}",
                               hint=f"operators: {', '.join(ops)}" if ops else
                               f"create it with: natsops auth operator add {name} --sys")
            return name
        if not ops:
            raise NotFound(f"no operator in {self.root}",
                           hint="create one with: natsops auth operator add NAME --sys")
        if len(ops) > 1:
            raise UsageError(f"several operators in the store ({', '.join(ops)}): pass --operator")
        return ops[0]

    def operator(self, op: str) -> Entity:
        tok = self._read(self.operator_path(op), "operator", op, f"operator '{op}'")
        return Entity("operator", op, op, tok, self.operator_path(op))

    def account_names(self, op: str) -> list[str]:
        d = self.operator_dir(op) / "accounts"
        if not d.is_dir():
            return []
        return sorted(p.name for p in d.iterdir() if (p / f"{p.name}.jwt").is_file())

    def account(self, op: str, acc: str) -> Entity:
        path = self.account_path(op, acc)
        tok = self._read(path, "account", acc, f"account '{acc}' (operator {op})")
        return Entity("account", acc, op, tok, path, account=acc)

    def accounts(self, op: str) -> list[Entity]:
        return [self.account(op, a) for a in self.account_names(op)]

    def account_by_key(self, op: str, public_key: str) -> Entity:
        for a in self.accounts(op):
            if a.public_key == public_key:
                return a
        raise NotFound(f"no account with key {public_key} under operator {op}")

    def user_names(self, op: str, acc: str) -> list[str]:
        d = self.operator_dir(op) / "accounts" / acc / "users"
        if not d.is_dir():
            return []
        return sorted(p.stem for p in d.glob("*.jwt"))

    def user(self, op: str, acc: str, name: str) -> Entity:
        path = self.user_path(op, acc, name)
        tok = self._read(path, "user", name, f"user '{name}' in account '{acc}'")
        return Entity("user", name, op, tok, path, account=acc)

    def users(self, op: str, acc: str) -> list[Entity]:
        return [self.user(op, acc, u) for u in self.user_names(op, acc)]

    def system_account(self, op: str) -> Entity:
        sys_key = self.operator(op).nats.get("system_account")
        if not sys_key:
            raise NotFound(f"operator {op} has no system account",
                           hint="create the operator with --sys")
        return self.account_by_key(op, str(sys_key))
