"""Small helpers shared by the checks (not a check: modules starting with ``_`` hold none)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from natsops.units import format_bytes, format_duration

__all__ = ["as_int", "doc", "format_bytes", "format_duration", "ns_to_s"]


def doc(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def as_int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return int(value)
    return default


def ns_to_s(value: Any) -> float:
    return as_int(value) / 1e9
