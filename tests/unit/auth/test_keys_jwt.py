"""nkeys, JWT encoding/verification and creds files, checked against the official nkeys package."""

from __future__ import annotations

import base64
import json

import nkeys
import pytest

from natsops.auth import jwt as jwtmod
from natsops.auth.claims import AccountLimits, account_claims, apply_limits, user_claims
from natsops.auth.creds import format_creds, parse_creds
from natsops.auth.nkey import generate, is_public_key, keypair_from_seed, role_of
from natsops.errors import UsageError


@pytest.mark.parametrize(("role", "letter"), [("operator", "O"), ("account", "A"), ("user", "U")])
def test_generated_keys_match_the_official_nkeys_package(role, letter) -> None:
    kp = generate(role)
    seed = kp.seed.reveal()
    assert seed.startswith("S" + letter)
    assert len(seed) == 58
    assert len(kp.public_key) == 56
    assert kp.public_key.startswith(letter)
    official = nkeys.from_seed(seed.encode())
    assert official.public_key.decode() == kp.public_key
    assert role_of(kp.public_key) == role


def test_seed_never_in_repr() -> None:
    kp = generate("user")
    assert kp.seed.reveal() not in repr(kp)
    assert kp.seed.reveal() not in str(kp)


def test_bad_keys_are_rejected() -> None:
    kp = generate("account")
    broken = kp.public_key[:-1] + ("A" if kp.public_key[-1] != "A" else "B")
    assert not is_public_key(broken)
    assert not is_public_key(kp.public_key, "user")
    with pytest.raises(UsageError, match="invalid nkey seed"):
        keypair_from_seed("SUNOTASEED")
    with pytest.raises(UsageError, match="expected a user seed"):
        keypair_from_seed(kp.seed.reveal(), "user")


def test_jwt_round_trip_and_signature_verifies_with_nkeys() -> None:
    op = generate("operator")
    acc = generate("account")
    claims = account_claims("APP", acc.public_key, 1_700_000_000)
    apply_limits(claims["nats"], AccountLimits(js_mem=1 << 20), js=True)
    token = jwtmod.encode(claims, op)
    h, p, s = token.split(".")
    assert json.loads(base64.urlsafe_b64decode(h + "==")) == {"typ": "JWT", "alg": "ed25519-nkey"}
    assert "=" not in token
    sig = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    assert nkeys.from_seed(op.seed.reveal().encode()).verify(f"{h}.{p}".encode(), sig)
    tok = jwtmod.decode(token, kind="account")
    assert tok.issuer == op.public_key
    assert tok.subject == acc.public_key
    assert tok.nats["limits"]["mem_storage"] == 1 << 20  # the server's name, not memory_storage
    assert tok.nats["limits"]["disk_storage"] == -1
    assert len(tok.jti) == 52
    assert tok.jti == jwtmod.compute_jti(tok.claims)
    # payload starts in Go field order
    assert list(json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))))[:5] == [
        "jti", "iat", "iss", "name", "sub"]


def test_tampered_or_misissued_jwts_are_rejected() -> None:
    op = generate("operator")
    acc = generate("account")
    token = jwtmod.encode(account_claims("APP", acc.public_key, 1), op)
    h, p, s = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    claims["name"] = "EVIL"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    with pytest.raises(UsageError, match="signature"):
        jwtmod.decode(f"{h}.{forged}.{s}")
    with pytest.raises(UsageError, match="3 parts"):
        jwtmod.decode("not-a-jwt")
    # an account JWT issued by an account key is not valid
    with pytest.raises(UsageError, match="operator key"):
        jwtmod.decode(jwtmod.encode(account_claims("X", acc.public_key, 1), generate("account")))
    with pytest.raises(UsageError, match="expected a user JWT"):
        jwtmod.decode(token, kind="user")


def test_same_second_edits_share_a_jti_unless_iat_moves() -> None:
    op = generate("operator")
    acc = generate("account")
    a = account_claims("APP", acc.public_key, 100)
    b = account_claims("APP", acc.public_key, 100)
    b["nats"]["limits"]["subs"] = 3
    assert jwtmod.decode(jwtmod.encode(a, op)).jti == jwtmod.decode(jwtmod.encode(b, op)).jti
    assert jwtmod.next_iat(100, now=100) == 101
    assert jwtmod.next_iat(100, now=50) == 101
    assert jwtmod.next_iat(100, now=200) == 200
    assert jwtmod.next_iat(None, now=7) == 7


def test_go_json_escaping_in_jti() -> None:
    claims = {"iat": 1, "iss": "O", "name": "a<b>&c", "sub": "A"}
    assert "\\u003c" in jwtmod._go_json(claims)
    assert len(jwtmod.compute_jti(claims)) == 52


def test_creds_round_trip_and_exact_layout() -> None:
    acc = generate("account")
    user = generate("user")
    token = jwtmod.encode(user_claims("svc", user.public_key, 1), acc)
    text = format_creds(token, user.seed)
    lines = text.splitlines()
    assert lines[0] == "-----BEGIN NATS USER JWT-----"
    assert lines[2] == "------END NATS USER JWT------"
    assert lines[4] == "*" * 25 + " IMPORTANT " + "*" * 25
    assert len(lines[4]) == 61
    assert "-----BEGIN USER NKEY SEED-----" in lines
    assert "------END USER NKEY SEED------" in lines
    parsed = parse_creds(text)
    assert parsed.user.subject == user.public_key
    assert parsed.seed.reveal() == user.seed.reveal()


def test_malformed_creds_are_rejected() -> None:
    acc = generate("account")
    user, other = generate("user"), generate("user")
    token = jwtmod.encode(user_claims("svc", user.public_key, 1), acc)
    with pytest.raises(UsageError, match="malformed creds"):
        parse_creds("hello")
    with pytest.raises(UsageError, match="does not belong"):
        parse_creds(format_creds(token, other.seed))
    with pytest.raises(UsageError, match="malformed creds file"):
        parse_creds(format_creds("a.b.c", user.seed))
