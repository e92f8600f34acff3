"""Small helpers shared by the checks (not a check: modules starting with ``_`` hold none)."""

from __future__ import annotations

from typing import Any

from natsops.monitoring.snapshot import as_int, as_map
from natsops.units import format_bytes, format_duration

__all__ = ["as_int", "doc", "format_bytes", "format_duration", "ns_to_s"]


doc = as_map


def ns_to_s(value: Any) -> float:
    return as_int(value) / 1e9
