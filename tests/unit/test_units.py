from __future__ import annotations

import pytest

from natsops.errors import UsageError
from natsops.units import format_bytes, format_duration, parse_duration, parse_size


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5s", 5), ("500ms", 0.5), ("2m", 120), ("720h", 2592000), ("1h30m", 5400), ("1d", 86400),
     ("1w", 604800), ("1.5s", 1.5), ("7", 7), ("0", 0), ("250us", 0.00025)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5x", "s", "-1s", "1h-2m", "abc", "5 s"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "n"),
    [("50GB", 50 << 30), ("1MiB", 1 << 20), ("512k", 512 << 10), ("1024", 1024), ("-1", -1),
     ("", -1), ("2T", 2 << 40), ("1 GB", 1 << 30)],
)
def test_parse_size_natscli_semantics(text: str, n: int) -> None:
    assert parse_size(text) == n


@pytest.mark.parametrize("text", ["1PB", "1.5GB", "GB", "ten", "-5GB", "-5", "-1GB"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        parse_size(text)


def test_formatting() -> None:
    assert format_bytes(50 << 30) == "50 GiB"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(-1) == "unlimited"
    assert format_duration(3723) == "1h2m3s"
    assert format_duration(0.25) == "250ms"


def test_negative_size_typo_is_not_unlimited() -> None:
    with pytest.raises(UsageError, match="use -1 for unlimited"):
        parse_size("-5GB", what="--js-disk")
    assert parse_size(-5) == -1  # a JSON document's negative number is still unlimited
