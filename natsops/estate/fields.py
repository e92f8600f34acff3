"""Recipe field checks and the human forms export writes (``720h``, ``50GB``)."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Collection, Mapping
from typing import Any

from natsops.errors import UsageError
from natsops.estate.model import Doc
from natsops.jetstream.spec import normalise_config, ns
from natsops.units import parse_duration, parse_size

log = logging.getLogger(__name__)

__all__ = ["check_fields", "human_duration", "human_size", "name_of", "strip_defaults"]

Check = Callable[[Any], str | None]  # a problem, or None when the value is fine


def one_of(*allowed: str) -> Check:
    def check(v: Any) -> str | None:
        return None if v in allowed else f"{v!r} is not one of {', '.join(allowed)}"
    return check


def integer(lo: int | None = None, hi: int | None = None) -> Check:
    def check(v: Any) -> str | None:
        if isinstance(v, bool) or not isinstance(v, int):
            return f"expected a whole number, got {v!r}"
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            if hi is None:
                return f"{v} is too small: use {lo}{' (unlimited)' if lo == -1 else ''} or more"
            return f"{v} is out of range: use {lo}..{hi}" if lo is not None else \
                f"{v} is too large: use at most {hi}"
        return None
    return check


def boolean(v: Any) -> str | None:
    return None if isinstance(v, bool) else f"expected true or false, got {v!r}"


def string(v: Any) -> str | None:
    return None if isinstance(v, str) else f"expected a string, got {v!r}"


def strings(v: Any) -> str | None:
    ok = isinstance(v, list) and all(isinstance(s, str) and s for s in v)
    return None if ok else f"expected a list of strings, got {v!r}"


def mapping(v: Any) -> str | None:
    return None if isinstance(v, Mapping) else f"expected a mapping, got {v!r}"


def check_fields(doc: Doc, known: Collection[str], checks: Mapping[str, Check],
                 normalise: Callable[[str, Any], Any] | None = None) -> dict[str, Any]:
    """Validate ``doc.spec``: typos of known fields, value checks, and ``normalise`` per field.

    Unknown fields pass through (newer servers add fields), unless one is a near miss of a known
    field (``max_agee``); each is logged as a warning, as plan shows nothing of it and the
    server refuses a field it does not know. Errors name ``file:line`` and the field.
    """
    out: dict[str, Any] = {}
    for key, value in doc.spec.items():
        path = f"spec.{key}"
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.8)
            if close:
                raise doc.error(path, f"unknown field (did you mean {close[0]!r}?)")
            log.warning("warning: %s: %s %s: %s is not a field natsops knows; it is sent as "
                        "written (a newer server's field, or one the server refuses)",
                        doc.where(path), doc.kind, doc.metadata.get("name") or "", path)
        try:
            v = normalise(key, value) if normalise else value
        except UsageError as exc:
            raise doc.error(path, exc.message) from None
        if key in checks and v is not None and (problem := checks[key](v)):
            raise doc.error(path, problem)
        out[str(key)] = v
    return out


def api_normaliser(kind: str) -> Callable[[str, Any], Any]:
    """Per-field :func:`natsops.jetstream.spec.normalise_config` (so an error names its field)."""
    def norm(key: str, value: Any) -> Any:
        return normalise_config({key: value}, kind).get(key, value)
    return norm


def duration_ns(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise UsageError(f"expected a duration, got {value!r}")
    if isinstance(value, (int, float)):
        return int(value)
    return ns(parse_duration(str(value), what=what))


def size_bytes(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise UsageError(f"expected a size, got {value!r}")
    return parse_size(value if isinstance(value, int) else str(value), what=what)


def name_of(doc: Doc, *spec_keys: str, what: str = "name") -> str:
    """``metadata.name``, else the first of ``spec_keys`` set; both given must agree."""
    meta = doc.metadata.get("name")
    spec = next((doc.spec[k] for k in spec_keys if doc.spec.get(k)), None)
    if meta and spec and str(meta) != str(spec):
        raise doc.error("metadata.name", f"{meta!r} differs from spec's {spec!r}")
    name = meta or spec
    if not name:
        keys = " or ".join(f"spec.{k}" for k in spec_keys)
        raise doc.error("", f"no {what}: set metadata.name" + (f" or {keys}" if keys else ""))
    return str(name)


def valid_name(doc: Doc, name: str, what: str, path: str = "metadata.name") -> str:
    """``name`` if the server would take it as a ``what`` name; a file:line error otherwise."""
    from natsops.jetstream._api import check_name

    try:
        return check_name(name, what)
    except UsageError as exc:
        raise doc.error(path, exc.message) from None


_DURATION_UNITS = (("h", 3600 * 10**9), ("m", 60 * 10**9), ("s", 10**9), ("ms", 10**6),
                   ("us", 10**3))
_SIZE_UNITS = (("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10))


def human_duration(value: Any) -> Any:
    """Nanoseconds as ``720h``/``2m``/``1500ms`` where exact; other values as they are."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return value
    for unit, size in _DURATION_UNITS:
        if value % size == 0:
            return f"{value // size}{unit}"
    return value


def human_size(value: Any) -> Any:
    """Bytes as ``50GB``/``1MB`` where exact (binary units, as natsops reads them)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return value
    for unit, size in _SIZE_UNITS:
        if value % size == 0:
            return f"{value // size}{unit}"
    return value


def _blank(v: Any) -> bool:
    return v is None or v == {} or v == [] or v == "" or v is False


def strip_defaults(cfg: Mapping[str, Any], defaults: Mapping[str, Any],
                   drop: Collection[str] = ()) -> dict[str, Any]:
    """``cfg`` without ``drop`` keys, blank values and values equal to their default."""
    return {k: v for k, v in cfg.items()
            if k not in drop and not _blank(v) and not (k in defaults and defaults[k] == v)}
