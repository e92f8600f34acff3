"""Operators, accounts, users, creds and push: the nsc workflow in natsops' own code.

Keys are nkeys (:mod:`natsops.auth.nkey`), JWTs are encoded and verified here
(:mod:`natsops.auth.jwt`, claims with the server's field names in :mod:`natsops.auth.claims`),
state lives in a :class:`Store` in the nsc directory layout, :mod:`natsops.auth.ops` changes it,
:mod:`natsops.auth.push` pushes and pulls, and :mod:`natsops.auth.verify` proves what the
servers hold, through the system account (:mod:`natsops.auth.sysuser` chooses or mints its user,
:mod:`natsops.auth.sysreq` collects every server's reply); their reports end in findings.
"""

from __future__ import annotations

from natsops.auth.claims import AccountLimits, Permissions
from natsops.auth.creds import Creds, format_creds, parse_creds
from natsops.auth.jwt import Token, decode, encode, next_iat
from natsops.auth.nkey import KeyPair, generate, keypair_from_seed
from natsops.auth.store import Entity, Store, default_store_root

__all__ = [
    "AccountLimits",
    "Creds",
    "Entity",
    "KeyPair",
    "Permissions",
    "Store",
    "Token",
    "decode",
    "default_store_root",
    "encode",
    "format_creds",
    "generate",
    "keypair_from_seed",
    "next_iat",
    "parse_creds",
]
