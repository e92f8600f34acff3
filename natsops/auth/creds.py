"""Creds files: a user JWT and its ``SU…`` seed in the decorated layout nsc writes."""

from __future__ import annotations

import re
from dataclasses import dataclass

from natsops.auth.jwt import Token, decode
from natsops.auth.nkey import keypair_from_seed
from natsops.context import Secret
from natsops.errors import UsageError

__all__ = ["Creds", "format_creds", "parse_creds"]

_BANNER = "*" * 25 + " IMPORTANT " + "*" * 25
_BLOCK = re.compile(r"^\s*-{3,}[^\n]*-{3,}\s*\n([^\n]+)\n\s*-{3,}[^\n]*-{3,}\s*$", re.MULTILINE)


def format_creds(jwt: str, seed: Secret) -> str:
    """The creds text (BEGIN markers with 5 dashes, END with 6, as nsc writes them)."""
    return (
        "-----BEGIN NATS USER JWT-----\n"
        f"{jwt}\n"
        "------END NATS USER JWT------\n\n"
        f"{_BANNER}\n"
        "NKEY Seed printed below can be used to sign and prove identity.\n"
        "NKEYs are sensitive and should be treated as secrets.\n\n"
        "-----BEGIN USER NKEY SEED-----\n"
        f"{seed.reveal()}\n"
        "------END USER NKEY SEED------\n\n"
        f"{'*' * 61}\n"
    )


@dataclass(frozen=True)
class Creds:
    """A parsed creds file: the decoded user JWT and the seed (kept secret)."""

    user: Token
    seed: Secret


def parse_creds(text: str, *, source: str = "creds") -> Creds:
    """Parse and check a creds file: a user JWT plus the ``SU`` seed of its subject."""
    blocks = [m.group(1).strip() for m in _BLOCK.finditer(text)]
    if len(blocks) < 2:
        raise UsageError(f"{source}: malformed creds file (expected a JWT block and a seed block)")
    try:
        user = decode(blocks[0], kind="user")
        kp = keypair_from_seed(blocks[1], "user")
    except UsageError as exc:
        raise UsageError(f"{source}: malformed creds file: {exc}") from None
    if kp.public_key != user.subject:
        raise UsageError(f"{source}: malformed creds file: the seed does not belong to the JWT")
    return Creds(user=user, seed=kp.seed)
