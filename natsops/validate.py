"""Input checks against the server's own limits, made before anything is written or sent.

Each check raises one :class:`~natsops.errors.UsageError` (exit 2) naming the flag (or field)
and the limit, so a bad value never reaches the server as a Go JSON error, a timeout or a
half-written directory. The CLI and the library use the same functions.

Limits (nats-server 2.15): integers and durations travel as Go ``int64`` (durations in
nanoseconds, so at most ~292 years); stream, consumer, bucket and object-store names are at
most 255 characters (``JSMaxNameLen``); subjects have non-empty ``.``-separated tokens, no
white space, ``*`` as a whole token and ``>`` only as the last one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from natsops.errors import UsageError

__all__ = [
    "MAX_DURATION",
    "MAX_INT64",
    "MAX_NAME_LEN",
    "MAX_SUBJECT",
    "check_go_json",
    "check_subject_fields",
    "count",
    "name_length",
    "number",
    "payload_size",
    "server_size",
    "subject",
    "subject_fits",
    "subjects",
]

MAX_INT64 = 2**63 - 1
# the longest Go time.Duration, in seconds (int64 nanoseconds)
MAX_DURATION = MAX_INT64 / 1e9
MAX_NAME_LEN = 255
# max_control_line (4096 by default) less room for "HPUB ", a reply inbox and two sizes
MAX_SUBJECT = 4096 - 160


def number(value: float, flag: str, *, minimum: float | None = None,
           maximum: float | None = None, above: float | None = None) -> float:
    """A finite number within [minimum, maximum] (``above``: strictly greater than it)."""
    if not math.isfinite(value):
        raise UsageError(f"invalid {flag} {value}: must be a finite number")
    if above is not None and value <= above:
        raise UsageError(f"invalid {flag} {value:g}: must be above {above:g}")
    if minimum is not None and value < minimum:
        raise UsageError(f"invalid {flag} {value:g}: must be at least {minimum:g}")
    if maximum is not None and value > maximum:
        raise UsageError(f"invalid {flag} {value:g}: must be at most {maximum:g}")
    return value


def count(value: int, flag: str, *, minimum: int = 0, maximum: int = MAX_INT64) -> int:
    """An integer within [minimum, maximum] (by default what a Go int64 holds)."""
    if value < minimum or value > maximum:
        hi = "" if maximum == MAX_INT64 else f" to {maximum}"
        lo = f"at least {minimum}" if not hi else f"{minimum}{hi}"
        raise UsageError(f"invalid {flag} {value}: use {lo}")
    return value


_SERVER_SIZE = re.compile(r"^(\d+)(k|kb|ki|kib|m|mb|mi|mib|g|gb|gi|gib|t|tb|ti|tib)?$", re.I)
_SIZE_MULT = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}


def server_size(text: str, flag: str, *, minimum: int = 1) -> str:
    """A size written into a nats-server config (``1GB``, ``512MB``, ``4096``): the server's
    suffixes (``K``/``M``/``G``/``T`` decimal, ``KB``/``KiB``... binary), at least ``minimum``
    bytes and within int64. Returns the text as it will be written."""
    s = str(text).strip()
    m = _SERVER_SIZE.match(s)
    if not m:
        raise UsageError(f"invalid {flag} {text!r}: use a positive size such as 512MB, 4GB "
                         "or 1TB")
    suffix = (m.group(2) or "").lower()
    mult = _SIZE_MULT[suffix] if len(suffix) <= 1 else 1024 ** ("kmgt".index(suffix[0]) + 1)
    value = int(m.group(1)) * mult
    if value < minimum:
        raise UsageError(f"invalid {flag} {text!r}: must be at least {minimum} bytes")
    if value > MAX_INT64:
        raise UsageError(f"invalid {flag} {text!r}: larger than the server accepts (int64)")
    return s


_WS = re.compile(r"\s")


def subject(text: str, flag: str, *, wildcards: bool = True) -> str:
    """A NATS subject (or, with ``wildcards``, a subject pattern) the server accepts."""
    s = str(text)
    why = ""
    if not s:
        why = "empty"
    elif _WS.search(s):
        why = "it contains white space"
    else:
        tokens = s.split(".")
        for i, tok in enumerate(tokens):
            if not tok:
                why = "empty token (a leading, trailing or doubled '.')"
            elif ("*" in tok or ">" in tok) and not wildcards:
                why = "wildcards are not allowed here"
            elif ">" in tok and (tok != ">" or i != len(tokens) - 1):
                why = "'>' must be a whole token and the last one"
            elif "*" in tok and tok != "*":
                why = "'*' must be a whole token"
            if why:
                break
    if why:
        raise UsageError(f"invalid subject {s!r} in {flag}: {why}")
    return s


def subjects(values: Sequence[str], flag: str, *, wildcards: bool = True) -> tuple[str, ...]:
    return tuple(subject(v, flag, wildcards=wildcards) for v in values)


def name_length(name: str, what: str, *, prefix: str = "", limit: int = MAX_NAME_LEN) -> str:
    """``prefix + name`` must fit the server's name limit (a KV bucket is stream ``KV_<name>``)."""
    if len(prefix) + len(name) > limit:
        room = limit - len(prefix)
        raise UsageError(f"{what} name is {len(name)} characters long: the server allows "
                         f"at most {room}")
    return name


def subject_fits(subject: str, what: str) -> str:
    """A subject must fit the protocol line the server reads (``max_control_line``, 4096 bytes
    by default, shared with the reply subject and sizes): past it the server closes the
    connection. ``what`` names the input that makes the subject long."""
    n = len(subject.encode())
    if n > MAX_SUBJECT:
        raise UsageError(f"{what} is too long: its subject would be {n:,} bytes and the "
                         f"server's protocol line (max_control_line, 4096 by default) leaves "
                         f"room for about {MAX_SUBJECT:,}")
    return subject


def payload_size(size: int, max_payload: int, what: str) -> None:
    """A message of ``size`` bytes must fit the server's ``max_payload``."""
    if max_payload > 0 and size > max_payload:
        raise UsageError(f"{what} is {size:,} bytes: the server's max_payload is "
                         f"{max_payload:,} bytes")


# fields the server decodes as Go uint64 / int32 (StreamConfig, ConsumerConfig, requests)
_UNSIGNED = frozenset({"first_seq", "opt_start_seq", "rate_limit_bps", "seq", "start_seq",
                       "up_to_seq", "keep"})
_INT32 = frozenset({"max_msg_size"})
# fields holding subjects, and whether wildcards are allowed in them
_SUBJECT_FIELDS = {"subjects": True, "filter_subject": True, "filter_subjects": True,
                   "deliver_subject": False}


def check_subject_fields(body: Mapping[str, Any], what: str) -> None:
    """Subjects in a stream or consumer config (top level or under ``config``) must be valid."""
    for cfg in (body, body.get("config")):
        if not isinstance(cfg, Mapping):
            continue
        for key, wildcards in _SUBJECT_FIELDS.items():
            value = cfg.get(key)
            items = [value] if isinstance(value, str) else value
            if isinstance(items, list) and items:
                flag = f"{what}: {key}"
                for item in items:
                    if isinstance(item, str) and item:  # "" means "not set" for filters
                        subject(item, flag, wildcards=wildcards)


def check_go_json(body: Mapping[str, Any], what: str) -> None:
    """Every number in a request body must be what Go's JSON decoder takes: finite, and an
    integer within int64. Names the field, so the error is ours, not the server's."""

    def walk(value: Any, path: str) -> None:
        if isinstance(value, bool):
            return
        if isinstance(value, int):
            key = path.rsplit(".", 1)[-1]
            low, high = (0, 2 * MAX_INT64 + 1) if key in _UNSIGNED else (-MAX_INT64 - 1, MAX_INT64)
            if key in _INT32:
                low, high = -(2**31), 2**31 - 1
            if not low <= value <= high:
                limit = "at least 0" if value < low and low == 0 else f"{low} to {high}"
                raise UsageError(f"{what}: {path} = {value} is out of range: use {limit}")
        elif isinstance(value, float):
            if not math.isfinite(value) or abs(value) > MAX_INT64:
                raise UsageError(f"{what}: {path} = {value} is out of range")
        elif isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, f"{path}.{k}" if path else str(k))
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                walk(v, f"{path}[{i}]")

    walk(body, "")
