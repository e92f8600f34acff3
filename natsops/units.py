"""Parse and format durations the way NATS tools write them."""

from __future__ import annotations

import re

from natsops.errors import UsageError

__all__ = ["format_duration", "parse_duration"]

# Go's time.ParseDuration units, plus the day/week/year units natscli accepts for ages.
_UNITS: dict[str, float] = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 7 * 86400.0,
    "y": 365 * 86400.0,
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h|d|w|y)")


def parse_duration(text: str, *, what: str = "duration") -> float:
    """Return seconds for a duration such as ``5s``, ``1h30m``, ``500ms``, ``2d`` or a bare ``7``.

    A bare number is taken as seconds (natscli's --timeout accepts it the same way).
    """
    s = str(text).strip()
    if not s:
        raise UsageError(f"invalid {what} '': empty")
    try:
        value = float(s)
    except ValueError:
        pass
    else:
        if value < 0:
            raise UsageError(f"invalid {what} {text!r}: must not be negative")
        return value
    sign = 1.0
    if s[0] in "+-":
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    pos = 0
    total = 0.0
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s) or pos == 0:
        raise UsageError(
            f"invalid {what} {text!r}: use a number with a unit, e.g. 5s, 500ms, 2m, 1h30m, 7d"
        )
    if sign < 0:
        raise UsageError(f"invalid {what} {text!r}: must not be negative")
    return total


def format_duration(seconds: float) -> str:
    """Format seconds compactly: ``1h2m3s``, ``250ms``, ``0s``."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    whole = int(round(seconds))
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if whole >= size:
            out.append(f"{whole // size}{unit}")
            whole %= size
    return "".join(out)
