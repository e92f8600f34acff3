"""nsc compatibility: natsops reads a store in nsc's layout, and writes one nsc would resolve.

``tests/fixtures/nsc-store`` holds nsc's ``stores/`` tree (public JWTs only, signed by throwaway
keys that were dropped: see its ``regenerate.py``). The resolver below follows nsc's own rules
(``store.go``, ``keystore.go``): ``stores/<op>/<op>.jwt``, ``accounts/<A>/<A>.jwt``,
``accounts/<A>/users/<U>.jwt``, seeds at ``<NKEYS_PATH>/keys/<kind>/<pub[1:3]>/<pub>.nk``,
creds at ``<NKEYS_PATH>/creds/<op>/<acc>/<user>.creds``.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from natsops.auth import jwt, ops
from natsops.auth.creds import parse_creds
from natsops.auth.describe import describe_jwt
from natsops.auth.expiry import expirations
from natsops.auth.inventory import inventory
from natsops.auth.keys import list_keys
from natsops.auth.nkey import keypair_from_seed
from natsops.auth.store import Store

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "nsc-store"
NOW = 1767225600 + 3600  # an hour after the fixture was "issued"


@pytest.fixture
def nsc_store(tmp_path: Path) -> Store:
    shutil.copytree(FIXTURE / "stores", tmp_path / "stores")
    return Store(tmp_path)


def test_fixture_holds_no_seed() -> None:
    seed = re.compile(r"S[OAUNCX][A-Z2-7]{56}")
    files = [p for p in FIXTURE.rglob("*") if p.is_file()]
    assert len(files) == 10
    for path in files:
        assert not seed.search(path.read_text()), path
        assert not path.name.endswith((".nk", ".creds")), path


def test_natsops_lists_an_nsc_store(nsc_store: Store) -> None:
    assert nsc_store.operators() == ["DEMO"]
    assert json.loads((nsc_store.operator_dir("DEMO") / ".nsc").read_text())["kind"] == \
        "operator"
    items = {(i.kind, i.account, i.name): i for i in inventory(nsc_store, "DEMO")}
    assert set(items) == {("operator", None, "DEMO"), ("account", "APP", "APP"),
                          ("account", "SYS", "SYS"), ("user", "APP", "old"),
                          ("user", "APP", "service"), ("user", "APP", "signed"),
                          ("user", "SYS", "sys")}
    assert items[("account", "SYS", "SYS")].system


def test_describe_checks_nsc_chains(nsc_store: Store) -> None:
    users = nsc_store.operator_dir("DEMO") / "accounts" / "APP" / "users"
    for name, signer in (("service", "account APP (identity key)"),
                         ("signed", "signing key of account APP")):
        d = describe_jwt((users / f"{name}.jwt").read_text(), name, nsc_store, now=NOW)
        assert d.signer == signer
        assert {f.severity.label for f in d.findings} == {"ok"}, d.findings
    old = describe_jwt((users / "old.jwt").read_text(), "old", nsc_store, now=NOW + 2 * 86400)
    assert [f.id for f in old.findings if f.severity.label == "fail"] == ["AUTH041"]
    acc = nsc_store.account("DEMO", "APP")
    d = describe_jwt(acc.token.token, "APP.jwt", nsc_store, now=NOW)
    assert d.signer == "operator DEMO (identity key)"
    assert ("AUTH047", "ok") in {(f.id, f.severity.label) for f in d.findings}


def test_keys_expiry_and_revocations_read_nsc_claims(nsc_store: Store) -> None:
    keys = list_keys(nsc_store)
    assert keys and not any(k.seed for k in keys)  # public data only
    assert {k.owner for k in keys} >= {"operator DEMO (identity key)", "user APP/signed",
                                       "signing key of account APP"}
    items, checked = expirations(nsc_store, "DEMO", 30 * 86400, now=NOW)
    assert [(i.kind, i.name) for i in items] == [("user", "old")]
    assert checked == 7
    from natsops.auth.revocations import list_revocations

    [rev] = list_revocations(nsc_store, "DEMO")
    assert (rev.account, rev.kind, rev.name) == ("APP", "user", None)


def _nsc_resolve(root: Path, op: str) -> dict[str, object]:
    """What nsc would find in ``root`` (store dir ``root/stores``, NKEYS_PATH ``root/keys``)."""
    base = root / "stores" / op
    assert (base / ".nsc").is_file()
    keys_dir = root / "keys"

    def seed_for(pub: str) -> str:
        text = (keys_dir / "keys" / pub[0] / pub[1:3] / f"{pub}.nk").read_text().strip()
        assert keypair_from_seed(text).public_key == pub
        return text

    found: dict[str, object] = {}
    operator = jwt.decode((base / f"{op}.jwt").read_text(), kind="operator")
    seed_for(operator.subject)
    for acc_dir in sorted((base / "accounts").iterdir()):
        acc = jwt.decode((acc_dir / f"{acc_dir.name}.jwt").read_text(), kind="account")
        assert acc.name == acc_dir.name
        seed_for(acc.subject)
        for sk in acc.nats.get("signing_keys") or []:
            seed_for(sk if isinstance(sk, str) else sk["key"])
        for ufile in sorted((acc_dir / "users").glob("*.jwt")):
            user = jwt.decode(ufile.read_text(), kind="user")
            assert user.name == ufile.stem
            creds = keys_dir / "creds" / op / acc_dir.name / f"{ufile.stem}.creds"
            parsed = parse_creds(creds.read_text())
            assert parsed.user.subject == user.subject
            assert parsed.seed.reveal() == seed_for(user.subject)
            found[f"{acc_dir.name}/{ufile.stem}"] = user.issuer
    return found


def test_a_store_natsops_writes_resolves_as_nsc_would(tmp_path: Path) -> None:
    store = Store(tmp_path)
    ops.add_operator(store, "OP", sys=True)
    ops.add_account(store, "OP", "TEAM", signing_key=True)
    ops.add_user(store, "OP", "TEAM", "alice")
    found = _nsc_resolve(tmp_path, "OP")
    assert set(found) == {"SYS/sys", "TEAM/alice"}
    assert found["TEAM/alice"] == store.account("OP", "TEAM").signing_keys[0]


def test_a_user_jwt_nsc_generated_in_the_docs(nsc_store: Store) -> None:
    """``docs/MyUser.jwt``: the user JWT of the creds file nats.docs shows nsc writing to
    ``~/.nkeys/creds/MyOperator/MyAccount/MyUser.creds`` (its seed is not committed)."""
    from natsops.auth.claims import user_claims

    text = (FIXTURE / "docs" / "MyUser.jwt").read_text()
    tok = jwt.decode(text, kind="user")  # Go's signature verifies
    assert jwt.compute_jti(tok.claims) == tok.jti  # natsops' jti is nsc's
    mine = user_claims("MyUser", tok.subject, tok.iat)["nats"]
    assert list(mine.items()) == list(tok.nats.items())  # same defaults, same field order
    d = describe_jwt(text, "MyUser.jwt", nsc_store, now=NOW)
    assert d.signer == "unknown to the store"
    assert "AUTH044" in [f.id for f in d.findings if f.severity.label == "fail"]
