"""Pure parts of natsops.messages and natsops.events: payload display, flags, event kinds."""

from __future__ import annotations

import json

import pytest

from natsops.errors import UsageError
from natsops.events import event_of, parse_kinds
from natsops.messages import Message, parse_headers, render_body, safe_text, validate_subject


def test_safe_text_escapes_control_and_binary() -> None:
    assert safe_text("héllo\n".encode()) == "héllo\n"
    assert safe_text(b"a\x1b[2Jb") == "a\\x1b[2Jb"
    assert safe_text(b"\x00\xff") == "\\x00\\xff"


def test_message_json_is_base64_only_when_binary() -> None:
    assert Message("s", b"hi").to_dict()["encoding"] == "utf-8"
    d = Message("s", b"\xff").to_dict()
    assert (d["data"], d["encoding"], d["size"]) == ("/w==", "base64", 1)


def test_render_body_and_headers() -> None:
    assert render_body(b"n={{Count}}", 7) == b"n=7"
    assert render_body(b"{{Time}}", 1).startswith(b"20")
    assert parse_headers(["a:1", "b: two:x"]) == {"a": "1", "b": "two:x"}
    for bad in ("a", ":v", "a b:c"):
        with pytest.raises(UsageError):
            parse_headers([bad])


@pytest.mark.parametrize("subject", ["", "a..b", "a.>.b", "a b", "."])
def test_invalid_subjects(subject: str) -> None:
    with pytest.raises(UsageError):
        validate_subject(subject, wildcards=True)


def test_parse_kinds_globs_and_typos() -> None:
    assert parse_kinds(["stream_leader_elected,consumer_*", "slow_consumer"]) == (
        "stream_leader_elected", "consumer_*", "slow_consumer")
    with pytest.raises(UsageError, match="unknown event kind 'leader'"):
        parse_kinds(["leader"])


def _ev(subject: str, doc: dict[str, object]) -> tuple[str, str, str]:
    e = event_of(subject, json.dumps(doc).encode())
    return e.kind, e.who, e.what


def test_slow_consumer_is_a_disconnect_with_that_reason() -> None:
    doc = {"type": "io.nats.server.advisory.v1.client_disconnect",
           "server": {"name": "n1", "time": "2026-01-01T00:00:00Z"},
           "client": {"name": "stuck", "acc": "APP", "host": "127.0.0.1"},
           "reason": "Slow Consumer (Pending Bytes)"}
    assert _ev("$SYS.ACCOUNT.APP.DISCONNECT", doc) == (
        "slow_consumer", "stuck (APP@127.0.0.1)",
        "disconnected from n1: Slow Consumer (Pending Bytes)")
    doc["reason"] = "Client Closed"
    assert _ev("$SYS.ACCOUNT.APP.DISCONNECT", doc)[0] == "client_disconnect"


def test_api_audit_with_a_plain_server_name_and_an_error() -> None:
    """JetStream advisories name their server as a string, server events as an object."""
    resp = json.dumps({"error": {"code": 404, "err_code": 10059,
                                 "description": "stream not found"}})
    doc = {"type": "io.nats.jetstream.advisory.v1.api_audit", "server": "n2",
           "client": {"name": "app", "acc": "APP", "host": "h"},
           "subject": "$JS.API.STREAM.INFO.X", "response": resp}
    kind, who, what = _ev("$JS.EVENT.ADVISORY.API", doc)
    assert (kind, who) == ("api_error", "app (APP@h)")
    assert what == "$JS.API.STREAM.INFO.X: stream not found (err_code 10059)"


def test_leader_elected_shutdown_and_non_json() -> None:
    doc = {"type": "io.nats.jetstream.advisory.v1.consumer_leader_elected", "server": "n1",
           "stream": "S", "consumer": "C", "leader": "n3"}
    assert _ev("$JS.EVENT.ADVISORY.CONSUMER.LEADER_ELECTED.S.C", doc) == (
        "consumer_leader_elected", "n3", "consumer S > C: new leader n3")
    kind, who, _ = _ev("$SYS.SERVER.NABC.SHUTDOWN", {"server": {"name": "n2"}})
    assert (kind, who) == ("server_shutdown", "n2")
    assert event_of("$JS.EVENT.ADVISORY.X", b"\xffnot json").data["payload"]
