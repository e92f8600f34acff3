"""NATS JWTs (v2): encode, sign, decode and verify, with the server's exact field names.

Wire form: ``b64url(header).b64url(claims).b64url(ed25519(header_b64 + "." + claims_b64))``
without padding. ``jti`` is base32(SHA-512/256) over the standard claims only, so two tokens
for one subject signed in the same second share a jti: callers must keep ``iat`` strictly
increasing per subject (see :func:`next_iat`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from natsops.auth.nkey import KeyPair, is_public_key, verify_signature
from natsops.errors import UsageError

__all__ = ["Token", "compute_jti", "decode", "encode", "next_iat"]

HEADER = {"typ": "JWT", "alg": "ed25519-nkey"}
# order of the Go ClaimsData struct: used for the jti hash and for the payload itself
_STD = ("aud", "exp", "jti", "iat", "iss", "name", "nbf", "sub")
_ISSUER_ROLE = {"operator": "operator", "account": "operator", "user": "account",
                "activation": "account", "generic": None}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise UsageError("malformed JWT (bad base64)") from None


def _go_json(obj: Any) -> str:
    """Compact JSON as Go's encoding/json writes it (HTML characters escaped)."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def _empty(v: Any) -> bool:
    return v is None or v == "" or v == 0 or v == [] or v == {}


def compute_jti(claims: Mapping[str, Any]) -> str:
    """base32(SHA-512/256(std claims JSON with jti empty)), no padding: 52 characters."""
    std = {k: claims[k] for k in _STD if k != "jti" and not _empty(claims.get(k))}
    digest = hashlib.new("sha512_256", _go_json(std).encode()).digest()
    return base64.b32encode(digest).decode().rstrip("=")


def next_iat(previous: int | None, now: float | None = None) -> int:
    """``max(now, previous + 1)``: a same-second edit still gets a new jti."""
    t = int(time.time() if now is None else now)
    return t if previous is None else max(t, previous + 1)


def encode(claims: Mapping[str, Any], signer: KeyPair) -> str:
    """Sign ``claims`` (``sub``, ``iat``, ``nats`` …) with ``signer``; sets ``iss`` and ``jti``."""
    body = {k: v for k, v in claims.items() if k not in ("iss", "jti")}
    body["iss"] = signer.public_key
    if "iat" not in body:
        body["iat"] = int(time.time())
    body["jti"] = compute_jti(body)
    ordered = {k: body[k] for k in _STD if not _empty(body.get(k))}
    ordered.update({k: v for k, v in body.items() if k not in _STD})
    signing_input = _b64(_go_json(HEADER).encode()) + "." + _b64(_go_json(ordered).encode())
    return signing_input + "." + _b64(signer.sign(signing_input.encode()))


@dataclass(frozen=True)
class Token:
    """A decoded, signature-checked JWT."""

    token: str = field(repr=False)
    claims: Mapping[str, Any]

    @property
    def kind(self) -> str:
        return str(self.nats.get("type", "generic"))

    @property
    def nats(self) -> Mapping[str, Any]:
        n = self.claims.get("nats")
        return n if isinstance(n, Mapping) else {}

    @property
    def subject(self) -> str:
        return str(self.claims.get("sub", ""))

    @property
    def issuer(self) -> str:
        return str(self.claims.get("iss", ""))

    @property
    def name(self) -> str:
        return str(self.claims.get("name", ""))

    @property
    def jti(self) -> str:
        return str(self.claims.get("jti", ""))

    @property
    def iat(self) -> int:
        return int(self.claims.get("iat", 0) or 0)

    @property
    def expires(self) -> int | None:
        exp = self.claims.get("exp")
        return int(exp) if exp else None


def decode(token: str, *, kind: str | None = None) -> Token:
    """Decode and verify a JWT (v2 ``h.p`` and legacy v1 ``p`` signatures); UsageError if bad."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise UsageError("malformed JWT (expected 3 parts)")
    try:
        header = json.loads(_unb64(parts[0]))
        claims = json.loads(_unb64(parts[1]))
    except ValueError:
        raise UsageError("malformed JWT (not JSON)") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise UsageError("malformed JWT (not a JSON object)")
    if str(header.get("typ", "")).upper() != "JWT":
        raise UsageError("malformed JWT (typ is not JWT)")
    alg = header.get("alg")
    if alg == "ed25519-nkey":
        signed = f"{parts[0]}.{parts[1]}".encode()
    elif alg == "ed25519":
        signed = parts[1].encode()
    else:
        raise UsageError(f"unsupported JWT algorithm {alg!r}")
    iss = str(claims.get("iss", ""))
    if not is_public_key(iss):
        raise UsageError("malformed JWT (iss is not a public nkey)")
    if not verify_signature(iss, signed, _unb64(parts[2])):
        raise UsageError("JWT signature does not verify against its issuer")
    tok = Token(token=token.strip(), claims=claims)
    if kind is not None and tok.kind != kind:
        raise UsageError(f"expected a {kind} JWT, got a {tok.kind} JWT")
    want = _ISSUER_ROLE.get(tok.kind)
    if want is not None and not is_public_key(iss, want):  # type: ignore[arg-type]
        raise UsageError(f"a {tok.kind} JWT must be issued by an {want} key")
    return tok
