"""NKeys: Ed25519 key pairs in NATS' typed base32 text form.

A public key is ``base32(prefix || key32 || crc16)`` (56 characters, the first naming the role);
a seed packs ``S`` and the role letter into its first two bytes (58 characters). The CRC is
CRC-16/XMODEM, little endian. Seeds are held in :class:`~natsops.context.Secret` so they never
appear in a repr, a log line or an error message.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from typing import Literal

from natsops.context import Secret
from natsops.errors import UsageError

__all__ = [
    "ROLES",
    "KeyPair",
    "Role",
    "generate",
    "is_public_key",
    "keypair_from_seed",
    "role_of",
    "verify_signature",
]

Role = Literal["operator", "account", "user", "server", "cluster", "curve"]

ROLES: dict[Role, int] = {
    "operator": 14 << 3,
    "account": 0,
    "user": 20 << 3,
    "server": 13 << 3,
    "cluster": 2 << 3,
    "curve": 23 << 3,
}
_BY_PREFIX: dict[int, Role] = {v: k for k, v in ROLES.items()}
_SEED = 18 << 3


def _crc16(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def _encode(raw: bytes) -> str:
    raw += _crc16(raw).to_bytes(2, "little")
    return base64.b32encode(raw).decode().rstrip("=")


def _decode(text: str) -> bytes:
    pad = "=" * (-len(text) % 8)
    try:
        raw = base64.b32decode(text + pad)
    except (binascii.Error, ValueError):
        raise ValueError("not base32") from None
    if len(raw) < 4:
        raise ValueError("too short")
    body, crc = raw[:-2], int.from_bytes(raw[-2:], "little")
    if _crc16(body) != crc:
        raise ValueError("bad checksum")
    return body


def _decode_public(key: str) -> tuple[Role, bytes]:
    body = _decode(key)
    role = _BY_PREFIX.get(body[0])
    if role is None or len(body) != 33:
        raise ValueError("not a public nkey")
    return role, body[1:]


def role_of(key: str) -> Role:
    """The role of a public key (``A…`` → ``account``); UsageError if it is not one."""
    try:
        return _decode_public(key)[0]
    except ValueError as exc:
        raise UsageError(f"invalid public nkey {key[:8]!r}…: {exc}") from None


def is_public_key(key: str, role: Role | None = None) -> bool:
    """True when ``key`` is a valid public nkey (of ``role`` when given)."""
    try:
        got, _ = _decode_public(key)
    except ValueError:
        return False
    return role is None or got == role


def verify_signature(public_key: str, data: bytes, signature: bytes) -> bool:
    """Check an Ed25519 signature against a public nkey (no seed needed)."""
    from nacl.exceptions import BadSignatureError
    from nacl.signing import VerifyKey

    try:
        _, raw = _decode_public(public_key)
        VerifyKey(raw).verify(data, signature)
    except (ValueError, BadSignatureError):
        return False
    return True


@dataclass(frozen=True)
class KeyPair:
    """A seed (secret) and its public key."""

    seed: Secret
    public_key: str
    role: Role

    def sign(self, data: bytes) -> bytes:
        """Ed25519 signature of ``data`` (64 bytes)."""
        from nacl.signing import SigningKey

        return SigningKey(_seed_bytes(self.seed.reveal())[1]).sign(data).signature


def _seed_bytes(seed: str) -> tuple[Role, bytes]:
    body = _decode(seed.strip())
    if len(body) != 34 or body[0] & 0xF8 != _SEED:
        raise ValueError("not a seed")
    prefix = ((body[0] & 7) << 5) | ((body[1] & 0xF8) >> 3)
    role = _BY_PREFIX.get(prefix)
    if role is None:
        raise ValueError("unknown seed role")
    return role, body[2:]


def keypair_from_seed(seed: str, role: Role | None = None) -> KeyPair:
    """Decode a seed (``SA…``); UsageError if malformed or not of ``role``."""
    from nacl.signing import SigningKey

    try:
        got, raw = _seed_bytes(seed)
    except ValueError as exc:
        raise UsageError(f"invalid nkey seed ({exc})") from None
    if role is not None and got != role:
        raise UsageError(f"expected a {role} seed, got a {got} seed")
    pub = _encode(bytes([ROLES[got]]) + bytes(SigningKey(raw).verify_key))
    return KeyPair(seed=Secret(seed.strip()), public_key=pub, role=got)


def generate(role: Role) -> KeyPair:
    """A fresh random key pair of ``role``."""
    prefix = ROLES[role]
    b1 = _SEED | (prefix >> 5)
    b2 = (prefix & 0x1F) << 3
    seed = _encode(bytes([b1, b2]) + os.urandom(32))
    return keypair_from_seed(seed, role)
