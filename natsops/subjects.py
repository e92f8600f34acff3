"""NATS subject matching: wildcards ``*`` (one token) and ``>`` (one or more, last)."""

from __future__ import annotations

__all__ = ["covers"]


def covers(pattern: str, subject: str) -> bool:
    """True if every subject ``subject`` can match is also matched by ``pattern``.

    ``subject`` may itself hold wildcards: ``covers("orders.>", "orders.*")`` is True,
    ``covers("orders.*", "orders.>")`` is False.
    """
    pt, st = pattern.split("."), subject.split(".")
    for i, tok in enumerate(pt):
        if tok == ">":
            return i < len(st)
        if i >= len(st):
            return False
        if tok == "*":
            if st[i] == ">":
                return False
        elif st[i] != tok:
            return False
    return len(pt) == len(st)
