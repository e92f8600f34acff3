"""Pure parts of natsops.jetstream.inspect: times, payload previews, headers, subject overlap."""

from __future__ import annotations

import pytest

from natsops.errors import UsageError
from natsops.jetstream.inspect import (
    StoredMsg,
    View,
    _overlaps,
    parse_header_block,
    parse_time,
)


def _msg(data: bytes) -> StoredMsg:
    return StoredMsg(stream="S", seq=1, subject="a", time="", headers={}, data=data)


def test_parse_time_nanoseconds_and_zones() -> None:
    base = parse_time("2026-12-02T05:00:00Z")
    assert base is not None
    assert parse_time("2026-12-02T05:00:00.123456789Z") == pytest.approx(base + 0.123456789)
    assert parse_time("2026-12-02T06:00:00.5+01:00") == pytest.approx(base + 0.5)
    assert parse_time("2026-12-02T04:00:00-01:00") == pytest.approx(base)
    assert parse_time("0001-01-01T00:00:00Z") is None
    assert parse_time("garbage") is None
    assert parse_time(None) is None


def test_preview_is_safe() -> None:
    assert _msg(b"hello\nworld").preview() == "hello\nworld"
    assert _msg(b"\x00\xff\x1b").preview() == "binary: 00 ff 1b"
    assert _msg(b"a\x1b[31mred").preview().startswith("binary: ")  # no terminal escapes
    long = _msg("€".encode() * 300).preview(limit=10)  # cut inside a character
    assert long.startswith("€€€") and long.endswith("(900 bytes)")
    assert _msg(b"\x00" * 600).preview(limit=4) == "binary: 00 00 00 00 ... (600 bytes)"


def test_header_block_keeps_repeats() -> None:
    raw = b"NATS/1.0\r\nX-A: 1\r\nX-A: 2\r\nX-B:  b \r\n\r\n"
    assert parse_header_block(raw) == {"X-A": ("1", "2"), "X-B": ("b",)}


@pytest.mark.parametrize(("a", "b", "want"), [
    ("orders.>", "orders.eu.new", True), ("orders.*", "orders.eu.new", False),
    ("orders.*.new", "orders.eu.*", True), ("a.b", "a.c", False), (">", "x", True),
    ("a", "a.b", False), ("a.*", "a.>", True),
])
def test_overlaps(a: str, b: str, want: bool) -> None:
    assert _overlaps(a, b) is want
    assert _overlaps(b, a) is want


def test_view_rejects_conflicts() -> None:
    with pytest.raises(UsageError):
        View(start_seq=2, since_s=60)
    with pytest.raises(UsageError):
        View(count=0)
