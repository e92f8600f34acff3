"""Go ``encoding/json`` encoding of a parsed config, for the server's config digest.

``nats-server -t`` prints ``sha256:<hex>`` of the JSON encoding of its parsed map (keys sorted
by bytes, HTML characters escaped, floats in Go's shortest form, datetimes in RFC 3339, a
trailing newline); ``/varz`` reports the same value as ``config_digest``. Reproducing it byte
for byte shows natsops read every value exactly as the server did.
"""

from __future__ import annotations

import datetime as _dt
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from natsops.conf.parser import Node

__all__ = ["go_float", "go_json", "go_string"]

_SHORT = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b",
          "\f": "\\f", "<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
          "\u2028": "\\u2028", "\u2029": "\\u2029"}


def go_string(s: str) -> str:
    """Quote ``s`` like Go's json.Marshal (invalid UTF-8 becomes U+FFFD)."""
    # re-decoding joins escaped bytes that form valid UTF-8; the rest stay lone surrogates
    text = s.encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape")
    out = ['"']
    for c in text:
        esc = _SHORT.get(c)
        if esc is not None:
            out.append(esc)
        elif "\udc80" <= c <= "\udcff":
            out.append("\ufffd")  # what 2.15.1 writes (raw U+FFFD), checked by digest
        elif c < " ":
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def go_float(f: float) -> str:
    """Format a float64 as Go's encoding/json does (ES6-like shortest form)."""
    if f == 0:
        return "-0" if str(f).startswith("-") else "0"
    a = abs(f)
    if a < 1e-6 or a >= 1e21:
        text = repr(f)
        if "e" not in text:
            text = f"{f:e}"
        mant, exp = text.split("e")
        if mant.endswith(".0"):
            mant = mant[:-2]
        sign = exp[0] if exp[0] in "+-" else "+"
        digits = exp.lstrip("+-").lstrip("0") or "0"
        if len(digits) < 2 and sign == "+":
            digits = digits.rjust(2, "0")
        # Go writes e-7 / e+21: at least two exponent digits, then trims one leading zero for e-0X
        return f"{mant}e{sign}{digits}"
    text = format(Decimal(repr(f)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _scalar(node: Node) -> str:
    k = node.kind
    if k == "string":
        return go_string(node.value)
    if k == "bool":
        return "true" if node.value else "false"
    if k == "integer":
        return str(node.value)
    if k == "float":
        return go_float(node.value)
    if k == "datetime":
        dt: _dt.datetime = node.value
        return '"' + dt.strftime("%Y-%m-%dT%H:%M:%SZ") + '"'
    raise ValueError(f"unknown node kind {k!r}")


def go_json(node: Node) -> str:
    """Compact JSON of a node tree, byte-compatible with Go's encoding/json.

    Written with an explicit stack: configs may nest deeper than Python's recursion limit.
    """
    out: list[str] = []
    # work items: a node to encode, or a literal string to emit
    stack: list[Node | str] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        if item.kind == "map":
            entries = sorted(item.value.items(),
                             key=lambda kv: kv[0].encode("utf-8", "surrogateescape"))
            todo: list[Node | str] = ["{"]
            for i, (key, child) in enumerate(entries):
                todo += [("," if i else "") + go_string(key) + ":", child]
            todo.append("}")
            stack.extend(reversed(todo))
        elif item.kind == "array":
            todo = ["["]
            for i, child in enumerate(item.value):
                if i:
                    todo.append(",")
                todo.append(child)
            todo.append("]")
            stack.extend(reversed(todo))
        else:
            out.append(_scalar(item))
    return "".join(out)
