from __future__ import annotations

import pytest

from natsops.subjects import covers


@pytest.mark.parametrize(
    ("pattern", "subject", "expected"),
    [
        ("orders.>", "orders.x", True),
        ("orders.>", "orders.x.y", True),
        ("orders.>", "orders", False),
        ("orders.>", "orders.*", True),
        ("orders.>", "orders.>", True),
        ("orders.*", "orders.x", True),
        ("orders.*", "orders.x.y", False),
        ("orders.*", "orders.>", False),
        ("orders.*", "orders.*", True),
        ("orders.x", "orders.x", True),
        ("orders.x", "orders.*", False),
        (">", "a.b.c", True),
        ("*.b", "a.b", True),
        ("a", "a.b", False),
    ],
)
def test_covers(pattern: str, subject: str, expected: bool) -> None:
    assert covers(pattern, subject) is expected
