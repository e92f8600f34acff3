"""Configs as the JetStream API writes them: load from files, normalise, strip, diff.

natsops keeps stream and consumer configs in the API's JSON shape (durations in ns, ``-1`` for
unlimited), so ``natsops stream info X --json > x.json`` and ``--config x.json`` round-trip, and
fields nats-py does not model (newer server options) are never dropped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from natsops.errors import UsageError
from natsops.files import read_text
from natsops.units import parse_duration, parse_size

__all__ = [
    "Change",
    "diff_configs",
    "load_config_file",
    "normalise_config",
    "ns",
    "strip_server_metadata",
]

NS = 1_000_000_000

# fields that hold durations in ns / byte sizes, per config kind; a file may write "720h", "50GB"
_DURATIONS = {
    "stream": ("max_age", "duplicate_window", "subject_delete_marker_ttl"),
    "consumer": ("ack_wait", "idle_heartbeat", "inactive_threshold", "max_expires",
                 "priority_timeout"),
}
_SIZES = {
    "stream": ("max_bytes", "max_msg_size"),
    "consumer": ("max_bytes",),
}


def ns(seconds: float) -> int:
    """Seconds to the integer nanoseconds the API uses."""
    return round(seconds * NS)


def _duration_ns(value: Any, key: str) -> int:
    if isinstance(value, bool):
        raise UsageError(f"config field {key!r}: expected a duration, got {value!r}")
    if isinstance(value, (int, float)):
        return int(value)
    return ns(parse_duration(str(value), what=f"config field {key!r}"))


def normalise_config(cfg: Mapping[str, Any], kind: str = "stream") -> dict[str, Any]:
    """Copy ``cfg`` with human durations/sizes (``"720h"``, ``"50GB"``) turned into API numbers."""
    out = dict(cfg)
    for key in _DURATIONS[kind]:
        if key in out and out[key] is not None:
            out[key] = _duration_ns(out[key], key)
    for key in _SIZES[kind]:
        if key in out and isinstance(out[key], str):
            out[key] = parse_size(out[key], what=f"config field {key!r}")
    if kind == "consumer" and isinstance(out.get("backoff"), list):
        out["backoff"] = [_duration_ns(v, "backoff") for v in out["backoff"]]
    if kind == "stream" and isinstance(out.get("consumer_limits"), Mapping):
        lim = dict(out["consumer_limits"])
        if "inactive_threshold" in lim:
            lim["inactive_threshold"] = _duration_ns(lim["inactive_threshold"],
                                                     "inactive_threshold")
        out["consumer_limits"] = lim
    return strip_server_metadata(out)


def strip_server_metadata(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Drop the server-owned ``_nats.*`` metadata keys (re-submitting them is refused/ignored)."""
    out = dict(cfg)
    meta = out.get("metadata")
    if isinstance(meta, Mapping):
        kept = {k: v for k, v in meta.items() if not str(k).startswith("_nats.")}
        if kept:
            out["metadata"] = kept
        else:
            out.pop("metadata")
    return out


def load_config_file(path: str | Path, kind: str = "stream") -> dict[str, Any]:
    """Read a config from JSON or YAML; a full Info document (with ``config``) gives its config."""
    p = Path(path)
    text = read_text(p, what="--config")
    data: Any
    try:
        data = json.loads(text)
    except ValueError:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            first = str(exc).splitlines()[0] if str(exc) else "parse error"
            raise UsageError(f"--config {p} is neither JSON nor YAML: {first}") from None
    if not isinstance(data, Mapping):
        raise UsageError(f"--config {p}: expected a {kind} config object, got "
                         f"{type(data).__name__}")
    if isinstance(data.get("config"), Mapping):
        data = data["config"]
    return normalise_config(data, kind)


@dataclass(frozen=True)
class Change:
    """One differing config field: ``old``/``new`` are None when the field is absent."""

    field: str
    old: Any
    new: Any


def _flatten(cfg: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in cfg.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _blank(v: Any) -> bool:
    return v is None or v == {} or v == [] or v == "" or v is False


def diff_configs(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """Field-by-field changes from ``old`` to ``new`` (nested keys dotted, sorted).

    A field missing on one side and empty/false on the other is not a change (the server
    omits zero values).
    """
    a, b = _flatten(strip_server_metadata(old)), _flatten(strip_server_metadata(new))
    changes = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if va == vb or (_blank(va) and _blank(vb)):
            continue
        changes.append(Change(key, va, vb))
    return changes
