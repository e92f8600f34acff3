"""Decisions behind ``auth push/verify``: which credentials connect, which results fail (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from natsops.access import system_access
from natsops.auth import ops
from natsops.auth.claims import AccountLimits, parse_limits
from natsops.auth.push import AccountPush, PushReport, ServerReply
from natsops.auth.store import Store
from natsops.auth.sysuser import auth_access
from natsops.auth.verify import VerifyReport
from natsops.context import Secret, Settings
from natsops.errors import ExitCode, UsageError
from natsops.findings import Finding, Severity, exit_code


def _push(*replies: ServerReply, account: str = "APP") -> AccountPush:
    return AccountPush(account, "AKEY", "jti1", 100, replies)


def _report(*pushes: AccountPush, refused: tuple[Finding, ...] = (),
            verified: tuple[Finding, ...] | None = None) -> PushReport:
    verification = None if verified is None else VerifyReport(("a1",), (), verified)
    return PushReport(("a1", "a2"), pushes, verification, refused)


def test_accepted_push_with_clean_verification_exits_ok() -> None:
    ok = Finding.ok("AUTH010", "APP@a1", "a1 holds the current JWT of APP")
    report = _report(_push(ServerReply("a1", "accepted", "jwt updated"),
                           ServerReply("a2", "skipped", "jwt update cache skipped")),
                     verified=(ok,))
    assert report.findings == (ok,)
    assert exit_code(report.findings) == ExitCode.OK


@pytest.mark.parametrize(("status", "message"), [
    ("error", "jwt validation failed"),
    ("no answer", ""),
    ("skipped", "jwt update skipped"),  # a memory resolver keeps serving its preload
])
def test_a_reply_that_is_not_accepted_fails(status: str, message: str) -> None:
    report = _report(_push(ServerReply("a1", "accepted", "jwt updated"),
                           ServerReply("a2", status, message)), verified=())
    [f] = report.findings
    assert (f.id, f.severity, f.subject) == ("AUTH019", Severity.FAIL, "APP@a2")
    assert status in f.message
    assert f.fix is not None and "--account APP" in f.fix
    assert f.evidence["status"] == status
    assert exit_code(report.findings) == ExitCode.FAILED


def test_dry_run_replies_are_fine_but_a_refusal_fails() -> None:
    dry = _report(_push(ServerReply("a1", "would push", ""), ServerReply("a2", "would push", "")))
    assert dry.findings == ()
    refusal = Finding.fail("AUTH003", "APP", "a server holds a newer JWT for APP")
    refused = _report(_push(ServerReply("a1", "would push", "")), refused=(refusal,))
    assert refused.findings == (refusal,)
    assert exit_code(refused.findings) == ExitCode.FAILED


def test_findings_keep_refusals_replies_then_verification() -> None:
    refusal = Finding.fail("AUTH002", "APP@a1", "not trusted")
    stale = Finding.fail("AUTH011", "APP@a2", "stale")
    report = _report(_push(ServerReply("a2", "error", "x")), refused=(refusal,),
                     verified=(stale,))
    assert [f.id for f in report.findings] == ["AUTH002", "AUTH019", "AUTH011"]


# ---- which credentials push connects with ---------------------------------------------------
@pytest.fixture
def creds_file(tmp_path: Path) -> Path:
    store = Store(tmp_path / "store")
    ops.add_operator(store, "DEMO", sys=True)
    return store.creds_path("DEMO", "SYS", "sys")


def _store(creds_file: Path) -> Store:
    return Store(creds_file.parents[4])


def test_without_credentials_a_system_user_is_minted_last(creds_file: Path) -> None:
    s = Settings(servers=("nats://h:4222",), sources={"servers": "context:app"})
    access = auth_access(_store(creds_file), "DEMO", s)
    *_, minted = access.logins
    assert minted.label == "a system user minted from the store (operator DEMO)"
    assert minted.settings.servers == ("nats://h:4222",)  # the URL is kept
    assert minted.settings.user_jwt and minted.settings.user_seed and not minted.settings.user


def test_credentials_given_are_the_only_login(creds_file: Path) -> None:
    s = Settings(user="admin", token=Secret("t"), sources={"user": "flag", "token": "flag"})
    access = auth_access(_store(creds_file), "DEMO", s)
    assert [lg.settings for lg in access.logins] == [s]
    found = system_access(s, {}, sys_creds=creds_file)
    [login] = auth_access(_store(creds_file), "DEMO", found).logins
    out = login.settings
    assert (out.creds, out.user, out.token) == (str(creds_file), None, None)


def test_unreadable_or_malformed_creds_are_usage_errors(tmp_path: Path, creds_file: Path) -> None:
    store = _store(creds_file)
    with pytest.raises(UsageError, match="cannot read creds file"):
        auth_access(store, "DEMO", system_access(Settings(), {},
                                                 sys_creds=tmp_path / "missing.creds"))
    bad = tmp_path / "bad.creds"
    bad.write_text("-----BEGIN NATS USER JWT-----\nnot-a-jwt\n------END NATS USER JWT------\n")
    with pytest.raises(UsageError, match="malformed creds"):
        auth_access(store, "DEMO", system_access(Settings(), {}, sys_creds=bad))


# ---- account limits from option values ------------------------------------------------------
def test_parse_limits_reads_sizes_and_counts() -> None:
    assert parse_limits(conn=10, payload="1MB", js_disk="-1", js_mem=None) == AccountLimits(
        conn=10, payload=1024 * 1024, js_disk=-1)
    assert parse_limits() == AccountLimits()


def test_parse_limits_names_the_option_of_a_bad_size() -> None:
    with pytest.raises(UsageError, match="--max-payload"):
        parse_limits(payload="lots")


# ---- pre-push checks ------------------------------------------------------------------------
def test_preflight_names_why_a_push_would_break(tmp_path: Path) -> None:
    from natsops.auth.push import preflight
    from natsops.auth.sysreq import ServerInfo

    store = Store(tmp_path / "store")
    ops.add_operator(store, "DEMO", sys=True)
    ops.add_account(store, "DEMO", "APP")
    acc = store.account("DEMO", "APP")
    running = ServerInfo("a1", "N1", None, (store.operator("DEMO").token.token,))
    assert preflight(store, "DEMO", acc, [running], []) == []
    plain = ServerInfo("a2", "N2", None)
    [f] = preflight(store, "DEMO", acc, [plain], [])
    assert (f.id, f.subject) == ("AUTH001", "APP@a2") and "not in operator mode" in f.message
    # a signing key the running operator JWT does not list yet
    ops.edit_operator(store, "DEMO", add_signing_key=True)
    ops.edit_account(store, "DEMO", "APP", limits=AccountLimits(subs=5))
    signed_by_new_key = store.account("DEMO", "APP")
    [f] = preflight(store, "DEMO", signed_by_new_key, [running], [])
    assert f.id == "AUTH002" and "does not trust" in f.message
    # a server stores a newer JWT than the store: pushing would roll it back
    [f] = preflight(store, "DEMO", acc, [running], [signed_by_new_key.token])
    assert f.id == "AUTH003" and f.fix is not None and "--force" in f.fix
