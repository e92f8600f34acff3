"""Parse and format durations the way NATS tools write them."""

from __future__ import annotations

import re

from natsops.errors import UsageError

__all__ = ["MAX_DURATION", "format_bytes", "format_duration", "parse_duration", "parse_size"]

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
        if value != value or value < 0:  # NaN or negative
            raise UsageError(f"invalid {what} {text!r}: must not be negative")
        return _within_go(value, text, what)
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
    return _within_go(total, text, what)


# the longest duration the server takes: Go's time.Duration is int64 nanoseconds (~292 years)
MAX_DURATION = (2**63 - 1) / 1e9


def _within_go(seconds: float, text: str, what: str) -> float:
    if not seconds <= MAX_DURATION:  # also inf
        raise UsageError(f"invalid {what} {text!r}: at most 292y (the server's limit)")
    return seconds


def format_duration(seconds: float) -> str:
    """Format seconds compactly: ``1h2m3s``, ``250ms``, ``0s``."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    whole = round(seconds)
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if whole >= size:
            out.append(f"{whole // size}{unit}")
            whole %= size
    return "".join(out)


_SIZE_RE = re.compile(r"^(\d+)\s*([A-Za-z]+)$")
_SIZE_SHIFT = {"K": 10, "KB": 10, "KIB": 10, "M": 20, "MB": 20, "MIB": 20,
               "G": 30, "GB": 30, "GIB": 30, "T": 40, "TB": 40, "TIB": 40}


def parse_size(text: str | int, *, what: str = "size") -> int:
    """Parse a byte size as natscli does: ``50GB``, ``1MiB``, ``512k``, ``1024``.

    Every unit is 1024-based (K = KB = KiB); an empty string or ``-1`` means -1 (unlimited),
    as in natscli. Another negative text (``-5GB``, a typo for a limit) is refused rather than
    quietly read as unlimited; a negative number from a JSON document is still -1.
    """
    if isinstance(text, int):
        return -1 if text < 0 else text
    s = str(text).strip()
    if not s or s == "-1":
        return -1
    if s.startswith("-"):
        raise UsageError(f"invalid {what} {text!r}: use -1 for unlimited, or a size such as "
                         "512MB")
    if s.isdigit():
        return _within_int64(int(s), text, what)
    m = _SIZE_RE.match(s)
    if not m or m.group(2).upper() not in _SIZE_SHIFT:
        raise UsageError(f"invalid {what} {text!r}: use a number with K, KB, M, MB, G, GB, T or TB")
    return _within_int64(int(m.group(1)) << _SIZE_SHIFT[m.group(2).upper()], text, what)


def _within_int64(n: int, text: str | int, what: str) -> int:
    if n > 2**63 - 1:
        raise UsageError(f"invalid {what} {text!r}: larger than the server accepts (int64)")
    return n


def format_bytes(n: int | float) -> str:
    """1024-based human size: ``512 B``, ``1.5 KiB``, ``50 GiB``; negative means unlimited."""
    if n < 0:
        return "unlimited"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            exact = unit == "B" or value == int(value)
            return f"{value:.0f} {unit}" if exact else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"
