"""Golden test: the nsc-made sample creds published in the NATS docs (``nsc`` tutorial).

These are the docs' public example keys, not secrets. natsops must decode the token, recompute
its jti, derive the same public keys from the seeds, and re-encode the claims byte for byte.
"""

from __future__ import annotations

from natsops.auth import jwt as jwtmod
from natsops.auth.creds import parse_creds
from natsops.auth.nkey import keypair_from_seed

DOCS_USER_JWT = (
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJqdGkiOiI0NUc3MkhIQUVCRFBQV05ZWktMTUhQNUFY"
    "WFRSSUVDQlNVQUI2VDZRUjdVM1JZUFZaM05BIiwiaWF0IjoxNjM1Mzc1NTYxLCJpc3MiOiJBRDJNMzRXQk5HUUZZSzM3"
    "SURYNTNEUFJHNzRSTExUN0ZGV0JPQk1CVVhNQVZCQ1ZBVTVWS1dJWSIsIm5hbWUiOiJNeVVzZXIiLCJzdWIiOiJVQVdC"
    "WExTWlZaSE5ESVVSWTUyRjZXRVRGQ0ZaTFhZVUVGSkFIUlhEVzdEMks0NDQ1SVk0QlZYUCIsIm5hdHMiOnsicHViIjp7"
    "fSwic3ViIjp7fSwic3VicyI6LTEsImRhdGEiOi0xLCJwYXlsb2FkIjotMSwidHlwZSI6InVzZXIiLCJ2ZXJzaW9uIjoy"
    "fX0.CGymhGYHfdZyhUeucxNs9TthSjy_27LVZikqxvm-pPLili8KNe1xyOVnk_w-xPWdrCx_t3Se2lgXmoy3wBcVCw"
)
DOCS_USER_SEED = "SUAP2AY6UAWHOXJBWDNRNKJ2DHNC5VA2DFJZTF6C6PMLKUCOS2H2E2BA2E"
DOCS_ACCOUNT_SEED = "SAAACXWSQIKJ4L2SEAUZJR3BCNSRCN32V5UJSABCSEP35Q7LQRPV6F4JPI"
DOCS_OPERATOR_SEED = "SOAJ3JDZBE6JKJO277CQP5RIAA7I7HBI44RDCMTIV3TQRYQX35OTXSMHAE"

DOCS_CREDS = f"""-----BEGIN NATS USER JWT-----
{DOCS_USER_JWT}
------END NATS USER JWT------

************************* IMPORTANT *************************
NKEY Seed printed below can be used to sign and prove identity.
NKEYs are sensitive and should be treated as secrets.

-----BEGIN USER NKEY SEED-----
{DOCS_USER_SEED}
------END USER NKEY SEED------

*************************************************************
"""


def test_docs_seeds_give_the_docs_public_keys() -> None:
    assert keypair_from_seed(DOCS_OPERATOR_SEED).public_key == (
        "ODSWWTKZLRDFBPXNMNAY7XB2BIJ45SV756BHUT7GX6JQH6W7AHVAFX6C")
    assert keypair_from_seed(DOCS_ACCOUNT_SEED).public_key == (
        "AD2M34WBNGQFYK37IDX53DPRG74RLLT7FFWBOBMBUXMAVBCVAU5VKWIY")
    assert keypair_from_seed(DOCS_USER_SEED).public_key == (
        "UAWBXLSZVZHNDIURY52F6WETFCFZLXYUEFJAHRXDW7D2K4445IY4BVXP")


def test_docs_creds_parse_and_jti_recomputes() -> None:
    creds = parse_creds(DOCS_CREDS)
    tok = creds.user
    assert tok.name == "MyUser"
    assert tok.issuer == "AD2M34WBNGQFYK37IDX53DPRG74RLLT7FFWBOBMBUXMAVBCVAU5VKWIY"
    assert tok.jti == jwtmod.compute_jti(tok.claims)
    assert dict(tok.nats) == {"pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1,
                              "type": "user", "version": 2}


def test_reencoding_the_docs_claims_is_byte_identical() -> None:
    tok = jwtmod.decode(DOCS_USER_JWT, kind="user")
    again = jwtmod.encode(dict(tok.claims), keypair_from_seed(DOCS_ACCOUNT_SEED, "account"))
    assert again == DOCS_USER_JWT
