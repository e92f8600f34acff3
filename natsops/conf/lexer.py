"""Tokenizer for the nats-server configuration format.

It follows the behaviour of the 2.15.1 server's lexer exactly, quirks included: a NUL character
ends the input, a digit-led token may become a string, an integer directly followed by ``]``
swallows the bracket, a single quote ends an unquoted string, a block string closes only on a
``)`` in column 0. Agreement matters more than elegance here: the integration tests compare
every verdict with ``nats-server -t``.

The lexer is a state machine: each state is a method that consumes input and returns the next
state (or ``None`` to stop); ``_stack`` holds the states to return to after a nested value.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum

__all__ = ["Item", "ItemType", "tokenize"]

EOF = "\0"  # the server's lexer also treats a NUL character as the end of the input
_SUFFIX = frozenset("kKmMgGtTpPeE")
_GO_SPACE = frozenset("\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | frozenset(
    chr(c) for c in range(0x2000, 0x200B))


class ItemType(Enum):
    ERROR = "error"
    EOF = "eof"
    KEY = "key"
    TEXT = "text"
    STRING = "string"
    BOOL = "bool"
    INTEGER = "integer"
    FLOAT = "float"
    DATETIME = "datetime"
    ARRAY_START = "array_start"
    ARRAY_END = "array_end"
    MAP_START = "map_start"
    MAP_END = "map_end"
    COMMENT = "comment"
    VARIABLE = "variable"
    INCLUDE = "include"


@dataclass(frozen=True)
class Item:
    """One token: its type, text, and where it starts (1-based line and column)."""

    type: ItemType
    val: str
    line: int
    col: int
    form: str = ""  # for strings: "bare", "dq", "sq", "block" or "ip"


def _is_space(c: str) -> bool:
    return c in _GO_SPACE


def _is_ws(c: str) -> bool:
    return c in (" ", "\t")


def _is_nl(c: str) -> bool:
    return c in ("\n", "\r")


def _is_digit(c: str) -> bool:
    return "0" <= c <= "9" or (c > "\x7f" and c.isdecimal())


def _is_key_sep(c: str) -> bool:
    return c in ("=", ":")


def _show(c: str) -> str:
    return "\\n" if c == "\n" else c


State = Callable[[], "State | None"]


class _Lexer:
    def __init__(self, text: str) -> None:
        self.s = text
        self.n = len(text)
        self.start = 0
        self.tstart = 0  # where the current token began (before escape parts)
        self.pos = 0
        self.width = 0
        self.line = 1
        self.stack: list[State] = []
        self.parts: list[str] = []
        self.string_state: State = self.string
        self.items: list[Item] = []
        self.form = ""
        self._line_starts = [0, *(m.end() for m in re.finditer("\n", text))]

    # -- primitives -------------------------------------------------------------------------
    def next(self) -> str:
        if self.pos >= self.n:
            self.width = 0
            return EOF
        if self.s[self.pos] == "\n":
            self.line += 1
        c = self.s[self.pos]
        self.width = 1
        self.pos += 1
        return c

    def backup(self) -> None:
        self.pos -= self.width
        if self.pos < self.n and self.s[self.pos] == "\n":
            self.line -= 1

    def peek(self) -> str:
        c = self.next()
        self.backup()
        return c

    def ignore(self) -> None:
        self.start = self.pos
        self.tstart = self.pos

    def _where(self, offset: int) -> tuple[int, int]:
        i = bisect.bisect_right(self._line_starts, offset) - 1
        return i + 1, offset - self._line_starts[i] + 1

    def emit(self, typ: ItemType, form: str = "") -> None:
        val = "".join(self.parts) + self.s[self.start:self.pos]
        self.parts = []
        line, col = self._where(self.tstart)
        self.items.append(Item(typ, val, line, col, form))
        self.start = self.pos
        self.tstart = self.pos

    def error(self, msg: str) -> None:
        line, col = self._where(max(self.pos - 1, 0))
        self.items.append(Item(ItemType.ERROR, msg, line, col))

    def push(self, st: State) -> None:
        self.stack.append(st)

    def pop(self) -> State | None:
        if not self.stack:
            self.error("BUG in lexer: no states to pop.")
            return None
        return self.stack.pop()

    def skip(self, nxt: State) -> State:
        def _s() -> State | None:
            self.ignore()
            return nxt

        return _s

    def add_current_part(self, offset: int) -> None:
        self.parts.append(self.s[self.start:self.pos - offset])
        self.start = self.pos

    def add_part(self, text: str) -> State:
        self.parts.append(text)
        self.start = self.pos
        return self.string_state

    def emit_before_quote(self, typ: ItemType, form: str = "") -> State | None:
        """Emit the token that ends before the closing character just read; skip that one."""
        self.backup()
        self.emit(typ, form)
        self.next()
        self.ignore()
        return self.pop()

    def comment_then(self, back: State) -> State:
        self.push(back)
        return self.comment_start

    def opens_comment(self, r: str, back: State) -> State | None:
        """The comment state when ``r`` starts ``#`` or ``//``; a lone ``/`` is backed up."""
        if r == "#":
            return self.comment_then(back)
        if r == "/":
            if self.next() == "/":
                return self.comment_then(back)
            self.backup()
        return None

    # -- top level and blocks ---------------------------------------------------------------
    def top(self) -> State | None:
        r = self.next()
        if _is_space(r):
            return self.skip(self.top)
        if r == "{":
            self.push(self.top)
            return self.skip(self.block_start)
        comment = self.opens_comment(r, self.top)
        if comment is not None:
            return comment
        if r in ("/", EOF):  # a lone slash counts as an early end
            return self._eof_or_error()
        self.backup()
        self.push(self.top_value_end)
        return self.key_start

    def _eof_or_error(self) -> State | None:
        if self.pos > self.start:
            self.error("Unexpected EOF.")
            return None
        self.emit(ItemType.EOF)
        return None

    def top_value_end(self) -> State | None:
        r = self.next()
        comment = self.opens_comment(r, self.top)
        if comment is not None:
            return comment
        if r == "/" or _is_ws(r):  # a lone slash is skipped
            return self.top_value_end
        if _is_nl(r) or r in (EOF, ";", ",", "}"):
            self.ignore()
            return self.top
        self.error("Expected a top-level value to end with a new line, comment or EOF, "
                   f"but got '{_show(r)}' instead.")
        return None

    def block_start(self) -> State | None:
        r = self.next()
        if _is_space(r):
            return self.skip(self.block_start)
        if r == "{":
            self.push(self.block_end)
            return self.skip(self.block_start)
        if r == "}":
            self.ignore()
            return self.pop()
        comment = self.opens_comment(r, self.block_start)
        if comment is not None:
            return comment
        if r in ("/", EOF):  # a lone slash counts as an early end
            return self._eof_or_error()
        self.backup()
        self.push(self.block_value_end)
        return self.key_start

    def block_value_end(self) -> State | None:
        r = self.next()
        comment = self.opens_comment(r, self.block_value_end)
        if comment is not None:
            return comment
        if r == "/" or _is_ws(r):
            return self.block_value_end
        if _is_nl(r) or r in (";", ","):
            self.ignore()
            return self.block_start
        if r == "}":
            self.backup()
            return self.block_end
        self.error("Expected a block-level value to end with a new line, comment or EOF, "
                   f"but got '{_show(r)}' instead.")
        return None

    def block_end(self) -> State | None:
        r = self.next()
        comment = self.opens_comment(r, self.block_start)
        if comment is not None:
            return comment
        if r == "/" or _is_nl(r) or _is_ws(r):
            return self.block_end
        if r in (";", ","):
            self.ignore()
            return self.block_start
        if r == "}":
            self.ignore()
            return self.pop()
        self.error(f"Expected a block-level to end with a '}}', but got '{_show(r)}' instead.")
        return None

    # -- keys -------------------------------------------------------------------------------
    def key_start(self) -> State | None:
        r = self.peek()
        if _is_key_sep(r):
            self.error(f"Unexpected key separator '{r}'")
            return None
        if _is_space(r):
            self.next()
            return self.skip(self.key_start)
        if r == '"':
            self.next()
            return self.skip(self._quoted_key('"'))
        if r == "'":
            self.next()
            return self.skip(self._quoted_key("'"))
        self.ignore()
        self.next()
        return self.key

    def _quoted_key(self, quote: str) -> State:
        def st() -> State | None:
            r = self.peek()
            if r == quote:
                self.emit(ItemType.KEY)
                self.next()
                return self.skip(self.key_end)
            if r == EOF:
                return self._eof_or_error()
            self.next()
            return st

        return st

    def _keyword(self, fallthrough: State, push: State | None) -> State:
        if self.s[self.start:self.pos].lower() == "include":
            self.ignore()
            if push is not None:
                self.push(push)
            return self.include_start
        self.emit(ItemType.KEY)
        return fallthrough

    def key(self) -> State | None:
        r = self.peek()
        if _is_space(r):
            return self._keyword(self.key_end, None)
        if _is_key_sep(r) or r == EOF:
            self.emit(ItemType.KEY)
            return self.key_end
        self.next()
        return self.key

    def _after_key(self, again: State, value: State, eof_ends: bool) -> State | None:
        r = self.next()
        if _is_space(r):
            return self.skip(again)
        if _is_key_sep(r):
            return self.skip(value)
        if eof_ends and r == EOF:
            self.emit(ItemType.EOF)
            return None
        self.backup()
        return value

    def key_end(self) -> State | None:
        return self._after_key(self.key_end, self.value, True)

    # -- include ----------------------------------------------------------------------------
    def include_start(self) -> State | None:
        r = self.next()
        if _is_ws(r):
            return self.skip(self.include_start)
        self.backup()
        return self.include

    def include(self) -> State | None:
        r = self.next()
        if r in ("'", '"'):
            self.ignore()
            return self._include_quoted(r)
        bad = {"[": "start of an array", "{": "start of a map", "(": "start of a block",
               "-": "start of a number", "\\": "escape sequence"}
        if r in bad or _is_digit(r) or _is_nl(r):
            what = ("start of a number" if _is_digit(r) else
                    "new line" if _is_nl(r) else bad[r])
            self.error(f"Expected include value but found {what}")
            return None
        self.backup()
        return self.include_bare

    def _include_quoted(self, quote: str) -> State:
        def st() -> State | None:
            r = self.next()
            if r == quote:
                return self.emit_before_quote(ItemType.INCLUDE)
            if r == EOF:
                kind = "quoted" if quote == "'" else "double quoted"
                self.error(f"Unexpected EOF in {kind} include")
                return None
            return st

        return st

    def include_bare(self) -> State | None:
        r = self.next()
        if _is_nl(r) or r in (EOF, ";", "}") or _is_ws(r):
            self.backup()
            self.emit(ItemType.INCLUDE)
            return self.pop()
        if r == "'":
            return self.emit_before_quote(ItemType.INCLUDE)
        return self.include_bare

    # -- values -----------------------------------------------------------------------------
    def value(self) -> State | None:
        r = self.next()
        if _is_ws(r):
            return self.skip(self.value)
        if r == "[":
            self.ignore()
            self.emit(ItemType.ARRAY_START)
            return self.array_value
        if r == "{":
            self.ignore()
            self.emit(ItemType.MAP_START)
            return self.map_key_start
        if r == "'":
            self.ignore()
            return self.sq_string
        if r == '"':
            self.ignore()
            self.string_state = self.dq_string
            return self.dq_string
        if r == "-":
            return self.neg_number_start
        if r == "(":
            self.ignore()
            return self.block_string
        if _is_digit(r):
            self.backup()
            return self.number_start
        if r == ".":
            self.error("Floats must start with a digit")
            return None
        if _is_nl(r):
            self.error("Expected value but found new line")
            return None
        self.backup()
        self.string_state = self.string
        return self.string

    def array_value(self) -> State | None:
        r = self.next()
        if _is_space(r):
            return self.skip(self.array_value)
        comment = self.opens_comment(r, self.array_value)
        if comment is not None:
            return comment
        if r in ("/", ","):
            self.error("Unexpected array value terminator ','.")
            return None
        if r == "]":
            return self.array_end
        self.backup()
        self.push(self.array_value_end)
        return self.value

    def array_value_end(self) -> State | None:
        r = self.next()
        if _is_ws(r):
            return self.skip(self.array_value_end)
        comment = self.opens_comment(r, self.array_value_end)
        if comment is not None:
            return comment
        if r in ("/", ",") or _is_nl(r):
            return self.skip(self.array_value)
        if r == "]":
            return self.array_end
        self.error("Expected an array value terminator \",\" or an array terminator \"]\", "
                   f"but got '{_show(r)}' instead.")
        return None

    def array_end(self) -> State | None:
        self.ignore()
        self.emit(ItemType.ARRAY_END)
        return self.pop()

    def map_key_start(self) -> State | None:
        r = self.peek()
        if _is_key_sep(r):
            self.error(f"Unexpected key separator '{r}'.")
            return None
        if r == "]":
            self.error("Unexpected array end ']' processing map.")
            return None
        if _is_space(r):
            self.next()
            return self.skip(self.map_key_start)
        if r == "}":
            self.next()
            return self.skip(self.map_end)
        if r == "#":
            self.next()
            return self.comment_then(self.map_key_start)
        if r == "/":
            self.next()
            if self.next() == "/":
                return self.comment_then(self.map_key_start)
            self.backup()
        elif r == "'":
            self.next()
            return self.skip(self._map_quoted_key("'"))
        elif r == '"':
            self.next()
            return self.skip(self._map_quoted_key('"'))
        elif r == EOF:
            self.error("Unexpected EOF processing map.")
            return None
        self.ignore()
        self.next()
        return self.map_key

    def _map_quoted_key(self, quote: str) -> State:
        def st() -> State | None:
            r = self.peek()
            if r == EOF:
                kind = "quoted" if quote == "'" else "double quoted"
                self.error(f"Unexpected EOF processing {kind} map key.")
                return None
            if r == quote:
                self.emit(ItemType.KEY)
                self.next()
                return self.skip(self.map_key_end)
            self.next()
            return st

        return st

    def map_key(self) -> State | None:
        r = self.peek()
        if r == EOF:
            self.error("Unexpected EOF processing map key.")
            return None
        if _is_space(r):
            return self._keyword(self.map_key_end, self.map_value_end)
        if _is_key_sep(r):
            self.emit(ItemType.KEY)
            return self.map_key_end
        self.next()
        return self.map_key

    def map_key_end(self) -> State | None:
        return self._after_key(self.map_key_end, self.map_value, False)

    def map_value(self) -> State | None:
        r = self.next()
        if _is_space(r):
            return self.skip(self.map_value)
        if r == ",":
            self.error("Unexpected map value terminator \",\".")
            return None
        if r == "}":
            return self.skip(self.map_end)
        self.backup()
        self.push(self.map_value_end)
        return self.value

    def map_value_end(self) -> State | None:
        r = self.next()
        if _is_ws(r):
            return self.skip(self.map_value_end)
        comment = self.opens_comment(r, self.map_value_end)
        if comment is not None:
            return comment
        if r in ("/", ";", ",") or _is_nl(r):
            return self.skip(self.map_key_start)
        if r == "}":
            return self.skip(self.map_end)
        self.error("Expected a map value terminator \",\" or a map terminator \"}\", "
                   f"but got '{_show(r)}' instead.")
        return None

    def map_end(self) -> State | None:
        self.ignore()
        self.emit(ItemType.MAP_END)
        return self.pop()

    # -- strings ----------------------------------------------------------------------------
    def sq_string(self) -> State | None:
        r = self.next()
        if r == "'":
            return self.emit_before_quote(ItemType.STRING, "sq")
        if r == EOF:
            return self._eof_or_error()
        return self.sq_string

    def dq_string(self) -> State | None:
        r = self.next()
        if r == "\\":
            self.add_current_part(1)
            return self.escape
        if r == '"':
            return self.emit_before_quote(ItemType.STRING, "dq")
        if r == EOF:
            return self._eof_or_error()
        return self.dq_string

    def string(self) -> State | None:
        r = self.next()
        if r == "\\":
            self.add_current_part(1)
            return self.escape
        if _is_nl(r) or r in (EOF, ";", ",", "]", "}") or _is_ws(r):
            self.backup()
            if self.parts:
                self.emit(ItemType.STRING, "bare")
            elif self.s[self.start:self.pos].lower() in ("true", "false", "on", "off", "yes", "no"):
                self.emit(ItemType.BOOL)
            elif self.start < self.n and self.s[self.start] == "$":
                self.start += 1
                self.emit(ItemType.VARIABLE)
            else:
                self.emit(ItemType.STRING, "bare")
            return self.pop()
        if r == "'":
            return self.emit_before_quote(ItemType.STRING, "bare")
        return self.string

    def block_string(self) -> State | None:
        r = self.next()
        if r == ")":
            self.backup()
            self.backup()
            if self.next() != "\n":
                self.next()
                return self.block_string
            self.next()
            if self.next() in ("\n", EOF):
                self.backup()
                return self.emit_before_quote(ItemType.STRING, "block")
            self.backup()
        elif r == EOF:
            self.error("Unexpected EOF processing block.")
            return None
        return self.block_string

    def escape(self) -> State | None:
        r = self.next()
        simple = {"t": "\t", "n": "\n", "r": "\r", '"': '"', "\\": "\\"}
        if r == "x":
            return self.hex_escape
        if r in simple:
            return self.add_part(simple[r])
        self.error(f"Invalid escape character '{_show(r)}'. Only the following escape "
                   "characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\.")
        return None

    def hex_escape(self) -> State | None:
        for _ in range(2):
            if _is_nl(self.next()):
                self.error("Expected two hexadecimal digits after '\\x', but hit end of line")
                return None
        digits = self.s[self.pos - 2:self.pos]
        try:
            # the server inserts the raw byte; bytes >= 0x80 are kept as surrogate escapes
            if len(digits) != 2 or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise ValueError(digits)
            text = bytes.fromhex(digits).decode("utf-8", "surrogateescape")
        except ValueError:
            self.error(f"Expected two hexadecimal digits after '\\x', but got '{digits}'")
            return None
        self.add_part(text)
        return self.string_state

    # -- numbers ----------------------------------------------------------------------------
    def number_start(self) -> State | None:
        r = self.next()
        if not _is_digit(r):
            self.error(f"Expected a digit but got '{_show(r)}'.")
            return None
        return self.number_or_string

    def _number_end(self, r: str) -> bool:
        return _is_nl(r) or r in (EOF, "}", ";", ",") or _is_ws(r)

    def number_or_string(self) -> State | None:
        r = self.next()
        if r == "-":
            if self.pos - self.start != 5:
                self.error("All ISO8601 dates must be in full Zulu form.")
                return None
            return self.date_after_year
        if _is_digit(r):
            return self.number_or_string
        if r == ".":
            return self.float_start
        if r in _SUFFIX:
            return self.convenient_number
        if not self._number_end(r):
            self.string_state = self.string
            return self.string
        self.backup()
        self.emit(ItemType.INTEGER)
        return self.pop()

    def convenient_number(self) -> State | None:
        r = self.next()
        if r in "bBiI" and r != EOF:
            return self.convenient_number
        self.backup()
        if self._number_end(r):
            self.emit(ItemType.INTEGER)
            return self.pop()
        self.string_state = self.string
        return self.string

    def date_after_year(self) -> State | None:
        for f in "00-00T00:00:00Z":
            r = self.next()
            if f == "0":
                if not _is_digit(r):
                    self.error(f"Expected digit in ISO8601 datetime, but found '{_show(r)}' "
                               "instead.")
                    return None
            elif f != r:
                self.error(f"Expected '{f}' in ISO8601 datetime, but found '{_show(r)}' instead.")
                return None
        self.emit(ItemType.DATETIME)
        return self.pop()

    def neg_number_start(self) -> State | None:
        r = self.next()
        if not _is_digit(r):
            if r == ".":
                self.error("Floats must start with a digit, not '.'.")
            else:
                self.error(f"Expected a digit but got '{_show(r)}'.")
            return None
        return self.neg_number

    def neg_number(self) -> State | None:
        r = self.next()
        if _is_digit(r):
            return self.neg_number
        if r == ".":
            return self.float_start
        if r in _SUFFIX:
            return self.convenient_number
        self.backup()
        self.emit(ItemType.INTEGER)
        return self.pop()

    def float_start(self) -> State | None:
        r = self.next()
        if not _is_digit(r):
            self.error(f"Floats must have a digit after the '.', but got '{_show(r)}' instead.")
            return None
        return self.float_digits

    def float_digits(self) -> State | None:
        r = self.next()
        if _is_digit(r):
            return self.float_digits
        if r == ".":
            return self.ip_addr
        self.backup()
        self.emit(ItemType.FLOAT)
        return self.pop()

    def ip_addr(self) -> State | None:
        r = self.next()
        if _is_digit(r) or r in (".", ":", "-"):
            return self.ip_addr
        self.backup()
        self.emit(ItemType.STRING, "ip")
        return self.pop()

    # -- comments ---------------------------------------------------------------------------
    def comment_start(self) -> State | None:
        self.ignore()
        self.emit(ItemType.COMMENT)
        return self.comment

    def comment(self) -> State | None:
        r = self.peek()
        if _is_nl(r) or r == EOF:
            self.emit(ItemType.TEXT)
            return self.pop()
        self.next()
        return self.comment


def tokenize(text: str) -> Iterator[Item]:
    """Yield the tokens of ``text``; the last one is EOF or ERROR."""
    lx = _Lexer(text)
    state: State | None = lx.top
    while state is not None:
        state = state()
        if lx.items:
            yield from lx.items
            lx.items.clear()
    yield from lx.items
