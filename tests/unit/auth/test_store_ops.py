"""The store and its operations: layout, modes, signing rules, monotonic iat, dry runs."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from natsops.auth import jwt as jwtmod
from natsops.auth import ops
from natsops.auth.archive import backup_store, restore_store
from natsops.auth.claims import AccountLimits, Permissions
from natsops.auth.config import ResolverOptions, render_config
from natsops.auth.inventory import describe, inventory
from natsops.auth.store import Store, default_store_root
from natsops.errors import Conflict, NotFound, UsageError


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "store")
    ops.add_operator(s, "DEMO", sys=True)
    ops.add_account(s, "DEMO", "APP", jetstream=True)
    ops.add_user(s, "DEMO", "APP", "service")
    return s


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_default_root_respects_env(tmp_path: Path) -> None:
    assert default_store_root({"NATSOPS_STORE": "/x/y"}) == Path("/x/y")
    assert default_store_root({"XDG_DATA_HOME": "/d", "HOME": "/h"}) == Path("/d/natsops")
    assert default_store_root({"HOME": "/h"}) == Path("/h/.local/share/natsops")


def test_nsc_layout_and_private_modes(store: Store) -> None:
    root = store.root
    assert (root / "stores/DEMO/DEMO.jwt").is_file()
    marker = json.loads((root / "stores/DEMO/.nsc").read_text())
    assert marker == {"managed": False, "name": "DEMO", "kind": "operator", "version": "1"}
    assert (root / "stores/DEMO/accounts/APP/APP.jwt").is_file()
    assert (root / "stores/DEMO/accounts/APP/users/service.jwt").is_file()
    creds = root / "keys/creds/DEMO/APP/service.creds"
    assert _mode(creds) == 0o600
    seeds = list((root / "keys/keys").rglob("*.nk"))
    # operator, SYS + its signing key, sys user, APP, service
    assert len(seeds) == 6
    for nk in seeds:
        assert _mode(nk) == 0o600
        assert nk.read_text().startswith("S")
        assert "\n" not in nk.read_text()
        assert nk.parent.parent.name == nk.stem[0]
        assert nk.parent.name == nk.stem[1:3]
        assert _mode(nk.parent) == 0o700
    for d in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        assert _mode(d) == 0o700, d


def test_sys_account_as_nsc_creates_it(store: Store) -> None:
    op = store.operator("DEMO")
    sys_acc = store.system_account("DEMO")
    assert op.nats["system_account"] == sys_acc.public_key
    assert [e["subject"] for e in sys_acc.nats["exports"]] == ["$SYS.REQ.ACCOUNT.*.*",
                                                               "$SYS.ACCOUNT.*.>"]
    sys_user = store.user("DEMO", "SYS", "sys")
    assert sys_user.token.issuer == sys_acc.signing_keys[0]
    assert sys_user.nats["issuer_account"] == sys_acc.public_key


def test_iat_strictly_increases_on_same_second_edits(store: Store) -> None:
    jtis, iats = set(), []
    for subs in (10, 20, 30):
        ops.edit_account(store, "DEMO", "APP", limits=AccountLimits(subs=subs))
        tok = store.account("DEMO", "APP").token
        jtis.add(tok.jti)
        iats.append(tok.iat)
    assert len(jtis) == 3
    assert iats == sorted(set(iats))


def test_edit_sets_limits_permissions_and_disables_js(store: Store) -> None:
    ops.edit_account(store, "DEMO", "APP", limits=AccountLimits(js_streams=1, conn=5),
                     allow=Permissions(deny_pub=("forbidden.>",)))
    nats = store.account("DEMO", "APP").nats
    assert nats["limits"]["streams"] == 1
    assert nats["limits"]["conn"] == 5
    assert nats["default_permissions"]["pub"]["deny"] == ["forbidden.>"]
    ops.edit_account(store, "DEMO", "APP", jetstream=False,
                     remove=Permissions(deny_pub=("forbidden.>",)))
    nats = store.account("DEMO", "APP").nats
    assert "mem_storage" not in nats["limits"]
    assert "streams" not in nats["limits"]
    assert "deny" not in nats["default_permissions"]["pub"]


def test_dry_run_writes_nothing(store: Store) -> None:
    before = sorted(p for p in store.root.rglob("*"))
    before_jwt = store.account("DEMO", "APP").token.token
    change = ops.add_account(store, "DEMO", "NEW", dry_run=True)
    assert change.dry_run
    assert change.claims["name"] == "NEW"
    ops.edit_account(store, "DEMO", "APP", limits=AccountLimits(subs=1), dry_run=True)
    ops.add_user(store, "DEMO", "APP", "u2", dry_run=True)
    ops.revoke_user(store, "DEMO", "APP", "service", dry_run=True)
    ops.add_operator(store, "OTHER", dry_run=True)
    assert sorted(p for p in store.root.rglob("*")) == before
    assert store.account("DEMO", "APP").token.token == before_jwt


def test_bad_input_errors(store: Store) -> None:
    with pytest.raises(Conflict):
        ops.add_account(store, "DEMO", "APP")
    with pytest.raises(Conflict):
        ops.add_user(store, "DEMO", "APP", "service")
    with pytest.raises(Conflict):
        ops.add_operator(store, "DEMO")
    with pytest.raises(NotFound):
        ops.add_user(store, "DEMO", "NOPE", "x")
    with pytest.raises(NotFound):
        store.resolve_operator("NOPE")
    with pytest.raises(UsageError):
        ops.add_account(store, "DEMO", "../evil")
    with pytest.raises(UsageError):
        ops.add_operator(store, "X", strict=True)
    with pytest.raises(UsageError):
        ops.remove_account(store, "DEMO", "SYS")


def test_strict_operator_signs_with_signing_keys(tmp_path: Path) -> None:
    s = Store(tmp_path / "strict")
    ops.add_operator(s, "OP", signing_key=True, strict=True)
    op = s.operator("OP")
    assert op.nats["strict_signing_key_usage"] is True
    ops.add_account(s, "OP", "APP")
    app = s.account("OP", "APP")
    assert app.token.issuer == op.signing_keys[0]
    assert app.signing_keys  # strict: users need an account signing key
    ops.add_user(s, "OP", "APP", "u")
    u = s.user("OP", "APP", "u")
    assert u.token.issuer == app.signing_keys[0]
    assert u.nats["issuer_account"] == app.public_key
    assert s.system_account("OP").token.issuer == op.signing_keys[0]


def test_revoke_marks_user_and_needs_iat_cover(store: Store) -> None:
    user = store.user("DEMO", "APP", "service")
    ops.revoke_user(store, "DEMO", "APP", "service")
    revs = store.account("DEMO", "APP").nats["revocations"]
    assert revs[user.public_key] >= user.token.iat
    assert describe(store, "DEMO", "user", "service", "APP").revoked


def test_exports_imports_and_activation(store: Store) -> None:
    ops.add_account(store, "DEMO", "OTHER")
    ops.add_export(store, "DEMO", "APP", ops.ExportSpec("svc.private", "service", private=True))
    with pytest.raises(Conflict):
        ops.add_export(store, "DEMO", "APP", ops.ExportSpec("svc.private"))
    token = ops.generate_activation(store, "DEMO", "APP", "svc.private", "OTHER")
    act = jwtmod.decode(token, kind="activation")
    assert act.subject == store.account("DEMO", "OTHER").public_key
    assert act.nats["subject"] == "svc.private"
    ops.add_import(store, "DEMO", "OTHER",
                   ops.ImportSpec("svc.private", "APP", "service", token=token))
    imp = store.account("DEMO", "OTHER").nats["imports"][0]
    assert imp["account"] == store.account("DEMO", "APP").public_key
    assert imp["token"] == token
    with pytest.raises(UsageError, match="another account"):
        ops.add_import(store, "DEMO", "SYS", ops.ImportSpec("svc.x", "APP", token=token))
    ops.remove_import(store, "DEMO", "OTHER", "svc.private")
    ops.remove_export(store, "DEMO", "APP", "svc.private")
    assert "exports" not in store.account("DEMO", "APP").nats
    with pytest.raises(NotFound):
        ops.remove_export(store, "DEMO", "APP", "svc.private")


def test_inventory_and_describe_hold_no_seed(store: Store) -> None:
    seeds = [p.read_text().strip() for p in store.root.rglob("*.nk")]
    items = inventory(store, "DEMO")
    assert [i.kind for i in items] == ["operator", "account", "user", "account", "user"]
    text = repr(items) + repr([i.claims for i in items])
    for seed in seeds:
        assert seed not in text


def test_render_config_blocks(store: Store) -> None:
    text = render_config(store, "DEMO")
    sys_acc = store.system_account("DEMO")
    assert f"system_account: {sys_acc.public_key}" in text
    assert "type: full" in text
    assert f"{sys_acc.public_key}: {sys_acc.token.token}" in text
    assert store.account("DEMO", "APP").token.token not in text
    mem = render_config(store, "DEMO", ResolverOptions(type="memory"))
    assert "resolver: MEMORY" in mem
    assert store.account("DEMO", "APP").token.token in mem
    with pytest.raises(UsageError):
        render_config(store, "DEMO", ResolverOptions(type="url"))


def test_backup_and_restore(store: Store, tmp_path: Path) -> None:
    archive = tmp_path / "auth.tar.gz"
    result = backup_store(store, archive)
    assert _mode(archive) == 0o600
    assert result.seeds == 6
    with pytest.raises(Conflict):
        backup_store(store, archive)
    with pytest.raises(Conflict):
        restore_store(store, archive)
    other = Store(tmp_path / "restored")
    restore_store(other, archive)
    assert other.account("DEMO", "APP").token.token == store.account("DEMO", "APP").token.token
    assert _mode(next(other.root.rglob("*.nk"))) == 0o600
    assert (other.root / "stores/DEMO/.nsc").is_file()
    bad = tmp_path / "bad.tar.gz"
    bad.write_text("nope")
    with pytest.raises(UsageError):
        restore_store(Store(tmp_path / "x"), bad)
