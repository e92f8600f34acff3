"""Parser for the nats-server configuration format, with a position on every value.

It builds the same value tree as the 2.15.1 server in its pedantic (``-t``) mode: strings,
booleans, int64 (size suffixes applied, overflow wrapping like Go), float64, datetimes, arrays
and maps; ``$VAR`` references resolved through the enclosing blocks and then the environment;
``include`` merged into the current block. Quirks are kept on purpose (an unknown size suffix
such as ``2kbb`` drops the key, an absolute include path is joined onto the including file's
directory), because lint must read exactly what the server reads. Two things differ: an include
cycle is reported as an error (the server crashes with a stack overflow) and errors read like a
compiler's, ``file:line:col: message``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import math
import os
import posixpath
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from natsops.conf.lexer import Item, ItemType, tokenize
from natsops.errors import UsageError

__all__ = ["ConfSyntaxError", "Config", "Node", "Pos", "parse_file", "parse_text"]

_INT_RE = re.compile(r"-?[0-9]+")
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_SUFFIXES: dict[str, int] = {"": 1}
for _i, _letter in enumerate("kmgtpe", start=1):
    _SUFFIXES[_letter] = 1000**_i
    for _tail in ("b", "i", "ib"):
        _SUFFIXES[_letter + _tail] = 1024**_i


def _wrap64(n: int) -> int:
    return ((n - _INT64_MIN) % (1 << 64)) + _INT64_MIN


@dataclass(frozen=True)
class Pos:
    """A place in a config file (1-based line and column)."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class ConfSyntaxError(UsageError):
    """The file is not a valid nats-server configuration (what the server's parser rejects)."""

    def __init__(self, pos: Pos, message: str) -> None:
        super().__init__(f"{pos}: {message}")
        self.pos = pos
        self.detail = message


@dataclass(eq=False)
class Node:
    """One parsed value and where it came from.

    ``kind`` is ``string``, ``bool``, ``integer``, ``float``, ``datetime``, ``array`` or
    ``map``. ``raw`` is the token as written (``2m`` for an unquoted size, the text of a
    string) and ``form`` says how a string was written (``bare``, ``dq``, ``sq``, ``block``,
    ``ip``); lint uses both to catch ``ping_interval: 2m``. ``key_pos`` is the position of the
    key the value is stored under; ``var`` names the ``$VARIABLE`` it was read through.
    """

    kind: str
    value: Any
    pos: Pos
    raw: str = ""
    form: str = ""
    key: str | None = None
    key_pos: Pos | None = None
    var: str | None = None
    used: bool = False

    @property
    def where(self) -> Pos:
        """The key's position when there is one (what the server reports), else the value's."""
        return self.key_pos or self.pos

    def child(self, *names: str) -> Node | None:
        """The entry of a map under any of ``names``, compared case-insensitively (last wins)."""
        if self.kind != "map":
            return None
        wanted = {n.lower() for n in names}
        found = None
        for k, v in self.value.items():
            if k.lower() in wanted:
                found = v
        return found

    def items(self) -> Iterator[tuple[str, Node]]:
        if self.kind == "map":
            yield from self.value.items()

    def elements(self) -> list[Node]:
        return list(self.value) if self.kind == "array" else []

    def walk(self) -> Iterator[Node]:
        """This node and every node below it, depth first (no recursion: nesting is unbounded)."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            if node.kind == "map":
                stack.extend(reversed(node.value.values()))
            elif node.kind == "array":
                stack.extend(reversed(node.value))

    def plain(self) -> Any:
        """The value as plain Python data (maps to dicts, arrays to lists)."""
        if self.kind == "map":
            return {k: v.plain() for k, v in self.value.items()}
        if self.kind == "array":
            return [v.plain() for v in self.value]
        return self.value


@dataclass
class Overwrite:
    """A key set twice in one block: the second value silently replaced the first."""

    key: str
    old: Node
    new: Node


@dataclass
class Config:
    """A parsed config file: the root map plus what the parser noticed on the way."""

    file: str
    root: Node
    overwrites: list[Overwrite] = field(default_factory=list)
    includes: list[str] = field(default_factory=list)

    def get(self, *path: str) -> Node | None:
        """``cfg.get("jetstream", "store_dir")``: case-insensitive path lookup."""
        node: Node | None = self.root
        for name in path:
            if node is None:
                return None
            node = node.child(name)
        return node

    def digest(self) -> str:
        """``sha256:<hex>`` as ``nats-server -t`` prints it (and /varz ``config_digest``)."""
        from natsops.conf.digest import go_json

        return "sha256:" + hashlib.sha256(go_json(self.root).encode("utf-8", "surrogateescape")
                                          + b"\n").hexdigest()


def _go_join(directory: str, name: str) -> str:
    # Go's filepath.Join: an absolute `name` does not restart the path
    joined = f"{directory}/{name}" if directory else name
    if not joined:
        return ""
    clean = posixpath.normpath(joined)
    return clean[1:] if clean.startswith("//") else clean


class _Parser:
    def __init__(self, text: str, file: str, env: Mapping[str, str],
                 chain: tuple[str, ...], env_refs: set[str] | None = None,
                 overwrites: list[Overwrite] | None = None,
                 includes: list[str] | None = None) -> None:
        self.text = text
        self.file = file
        self.dir = (posixpath.dirname(file) or ".") if file else "."
        self.env = env
        self.chain = chain
        self.root: dict[str, Node] = {}
        self.ctxs: list[dict[str, Node] | list[Node]] = [self.root]
        self.keys: list[tuple[str, Pos]] = []
        self.starts: list[Item] = []
        self.env_refs: set[str] = set() if env_refs is None else env_refs
        self.overwrites = [] if overwrites is None else overwrites
        self.includes = [] if includes is None else includes

    def pos(self, it: Item) -> Pos:
        return Pos(self.file or "<env>", it.line, it.col)

    def fail(self, it: Item, message: str) -> ConfSyntaxError:
        return ConfSyntaxError(self.pos(it), message)

    def run(self) -> dict[str, Node]:
        prev: Item | None = None
        for it in tokenize(self.text):
            if it.type is ItemType.EOF:
                if prev is not None and prev.type is ItemType.KEY and prev.val != "}":
                    raise self.fail(prev, f"key {prev.val!r} has no value")
                break
            prev = it
            self.process(it)
        return self.root

    def set_value(self, node: Node) -> None:
        ctx = self.ctxs[-1]
        if isinstance(ctx, list):
            ctx.append(node)
            return
        if not self.keys:
            raise ConfSyntaxError(node.pos, "value without a key")
        key, key_pos = self.keys.pop()
        node.key = key
        node.key_pos = key_pos
        old = ctx.get(key)
        if old is not None:
            self.overwrites.append(Overwrite(key, old, node))
        ctx[key] = node

    def scalar(self, it: Item, kind: str, value: Any) -> None:
        self.set_value(Node(kind, value, self.pos(it), raw=it.val, form=it.form))

    def process(self, it: Item) -> None:
        t = it.type
        if t is ItemType.ERROR:
            raise self.fail(it, it.val)
        if t is ItemType.KEY:
            self.keys.append((it.val, self.pos(it)))
        elif t in (ItemType.MAP_START, ItemType.ARRAY_START):
            self.ctxs.append({} if t is ItemType.MAP_START else [])
            self.starts.append(it)
        elif t in (ItemType.MAP_END, ItemType.ARRAY_END):
            if len(self.ctxs) < 2:
                raise self.fail(it, "unbalanced brackets")
            value = self.ctxs.pop()
            start = self.starts.pop() if self.starts else it
            kind = "map" if isinstance(value, dict) else "array"
            self.set_value(Node(kind, value, self.pos(start), raw=start.val, form=kind))
        elif t is ItemType.STRING:
            self.scalar(it, "string", it.val)
        elif t is ItemType.BOOL:
            self.scalar(it, "bool", it.val.lower() in ("true", "yes", "on"))
        elif t is ItemType.INTEGER:
            self.integer(it)
        elif t is ItemType.FLOAT:
            try:
                num = float(it.val)
            except ValueError:
                raise self.fail(it, f"expected float, but got '{it.val}'") from None
            if math.isinf(num):
                raise self.fail(it, f"float '{it.val}' is out of the range")
            self.scalar(it, "float", num)
        elif t is ItemType.DATETIME:
            try:
                dt = _dt.datetime.strptime(it.val, "%Y-%m-%dT%H:%M:%SZ")
            except ValueError:
                raise self.fail(it, f"expected Zulu formatted DateTime, but got '{it.val}'") \
                    from None
            self.scalar(it, "datetime", dt.replace(tzinfo=_dt.timezone.utc))
        elif t is ItemType.VARIABLE:
            self.variable(it)
        elif t is ItemType.INCLUDE:
            self.include(it)

    def integer(self, it: Item) -> None:
        n = 0
        for c in it.val:
            if not (c.isdecimal() or c == "-"):
                break
            n += 1
        digits, suffix = it.val[:n], it.val[n:].strip().lower()
        if not _INT_RE.fullmatch(digits):
            raise self.fail(it, f"expected integer, but got '{it.val}'")
        num = int(digits)
        if not _INT64_MIN <= num <= _INT64_MAX:
            raise self.fail(it, f"integer '{it.val}' is out of the range")
        mult = _SUFFIXES.get(suffix)
        if mult is None:
            # the server has no branch for e.g. "2kbb": the value is dropped
            return
        self.scalar(it, "integer", _wrap64(num * mult))

    def lookup(self, it: Item) -> Node | None:
        name = it.val
        if name.startswith("2a$"):
            return Node("string", "$" + name, self.pos(it), raw="$" + name, form="bare")
        for ctx in reversed(self.ctxs):
            if isinstance(ctx, dict) and name in ctx:
                return ctx[name]
        if name in self.env_refs:
            raise self.fail(it, f"variable reference cycle for '{name}'")
        if name not in self.env:
            return None
        self.env_refs.add(name)
        try:
            # the server parses the value as the config text `pk=<value>`
            sub = _Parser(f"pk={self.env[name]}", "", self.env, self.chain, self.env_refs)
            try:
                sub.run()
            except ConfSyntaxError as exc:
                raise self.fail(it, f"variable reference for '{name}' on line {it.line} could "
                                f"not be parsed: {exc.detail}") from None
            return sub.root.get("pk")
        finally:
            self.env_refs.discard(name)

    def variable(self, it: Item) -> None:
        found = self.lookup(it)
        if found is None:
            hint = ""
            if re.match(r"2[by]\$", it.val):
                hint = " (an unquoted bcrypt hash: only $2a$ is kept literally; quote it)"
            raise self.fail(it, f"variable reference for '{it.val}' on line {it.line} can not "
                            f"be found{hint}")
        found.used = True
        self.set_value(Node(found.kind, found.value, self.pos(it), raw=found.raw,
                            form=found.form, var=it.val))

    def include(self, it: Item) -> None:
        path = _go_join(self.dir, it.val)
        real = os.path.realpath(path) if path else path
        if real in self.chain:
            raise self.fail(it, f"include cycle: '{it.val}' includes itself "
                            "(nats-server crashes on this)")
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            reason = exc.strerror.lower() if exc.strerror else str(exc)
            hint = (" (include paths are always relative to the including file's directory,"
                    " even when they start with /)") if it.val.startswith("/") else ""
            raise self.fail(it, f"error parsing include file '{it.val}', open {path}: "
                            f"{reason}{hint}") from None
        self.includes.append(path)
        # a fresh parser: the included file does not see our variables
        sub = _Parser(_decode(data), path, self.env, (*self.chain, real), None,
                      self.overwrites, self.includes)
        for key, node in sub.run().items():
            self.keys.append((key, node.key_pos or node.pos))
            self.set_value(node)


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def parse_text(text: str, file: str = "<string>", *,
               env: Mapping[str, str] | None = None) -> Config:
    """Parse config text; ``file`` names it in errors and anchors relative includes."""
    overwrites: list[Overwrite] = []
    includes: list[str] = []
    real = os.path.realpath(file) if file and not file.startswith("<") else file
    p = _Parser(text, file, os.environ if env is None else env, (real,), None, overwrites,
                includes)
    root = p.run()
    return Config(file, Node("map", root, Pos(file, 1, 1), form="map"), overwrites, includes)


def parse_file(path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None) -> Config:
    """Read and parse a config file; unreadable or invalid files raise a UsageError (exit 2)."""
    name = os.fspath(path)
    try:
        data = Path(name).read_bytes()
    except OSError as exc:
        raise UsageError(f"{name}: cannot read: {exc.strerror or exc}") from None
    return parse_text(_decode(data), name, env=env)
