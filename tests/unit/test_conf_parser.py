"""Parser edge cases, with the values the 2.15.1 server produces (conf-grammar errata)."""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from natsops.conf import ConfSyntaxError, parse_file, parse_text
from natsops.conf.digest import go_float, go_string
from natsops.errors import ExitCode, UsageError
from tests.conf_corpus import CASES


def value(text: str, *path: str, env: dict[str, str] | None = None) -> Any:
    node = parse_text(text, "t.conf", env=env or {}).get(*path)
    assert node is not None, f"{path} missing"
    return node.plain()


def fails(text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfSyntaxError) as info:
        parse_text(text, "t.conf", env=env or {})
    return str(info.value)


@pytest.mark.parametrize(("text", "expected"), [
    ("max_payload: 2k", 2000), ("max_payload: 2K", 2000), ("max_payload: 2kb", 2048),
    ("max_payload: 2KiB", 2048), ("max_payload: 2Ki", 2048), ("max_payload: 2m", 2_000_000),
    ("max_payload: 2MB", 2 * 1024**2), ("max_payload: 1G", 10**9), ("max_payload: 1GB", 1 << 30),
    ("max_payload: 1t", 10**12), ("max_payload: 1TiB", 1 << 40), ("max_payload: 1p", 10**15),
    ("max_payload: 1e", 10**18), ("max_payload: 1EB", 1 << 60), ("max_payload: -1k", -1000),
    ("max_payload: 0777", 777),
    ("max_pending: 10e", -8_446_744_073_709_551_616),  # errata M3: wraps like Go's int64
    ("max_pending: 10EB", -6_917_529_027_641_081_856),
])
def test_sizes(text: str, expected: int) -> None:
    assert value(text, text.split(":")[0]) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("1m30s", "1m30s"), ("1k5", "1k5"), ("1e6", "1e6"), ("1_000", "1_000"), ("0x400", "0x400"),
    ("10s", "10s"), ("127.0.0.1:4222", "127.0.0.1:4222"), ("10.0.0.1", "10.0.0.1"),
    ("1000#comment", "1000#comment"), ("abc//x", "abc//x"), ("a:b=c{d", "a:b=c{d"),
    ("tru\\x65", "true"), ("null", "null"), ("10.0.0.1-5", "10.0.0.1-5"),
])
def test_digit_led_and_bare_strings(raw: str, expected: str) -> None:
    assert value(f"x: {raw}\n", "x") == expected


def test_booleans_any_case_and_not_quoted() -> None:
    assert value("a: yes\nb: OFF\nc: True\nd: on\n", "a") is True
    assert value("b: OFF\n", "b") is False
    assert value('d: "true"\n', "d") == "true"
    assert value("d: y\n", "d") == "y"


def test_floats_and_datetimes() -> None:
    assert value("t: 0.5", "t") == 0.5
    assert value("t: 2024-01-01T10:00:00Z", "t") == dt.datetime(2024, 1, 1, 10,
                                                                 tzinfo=dt.timezone.utc)
    assert "Floats must start with a digit" in fails("t: .5")
    assert "digit after the '.'" in fails("t: 5.\n")
    assert "ISO8601" in fails("t: 2024-01-01\n")
    assert "full Zulu form" in fails("t: 123-456\n")
    assert "out of the range" in fails("t: 99999999999999999999\n")


def test_strings() -> None:
    assert value('s: "a\\tb\\n\\\\\\"\\x41"', "s") == 'a\tb\n\\"A'
    assert value("s: 'a\\n$b'", "s") == "a\\n$b"
    assert value('s: "$FOO"', "s") == "$FOO"
    assert value('s: "a\nb"', "s") == "a\nb"
    assert "Invalid escape character 'q'" in fails('s: "\\q"')
    assert "hexadecimal" in fails('s: "\\x4"')
    assert fails('s: "abc\n').endswith("Unexpected EOF.")
    assert "got 'd'" in fails("s: abc'def\n")


def test_block_strings() -> None:
    assert value("s: (\nline one\nline two\n)\n", "s") == "\nline one\nline two\n"
    assert value("s: (\nline one\n)", "s") == "\nline one\n)"  # ) as the last byte (W10)
    assert "processing block" in fails("s: (\nline\n  )\n")
    assert "processing block" in fails("s: (abc)\n")
    assert value("s: (\n# $x \\n )\n)\n", "s") == "\n# $x \\n )\n"


def test_separators_and_entries() -> None:
    cfg = parse_text("a: 1; b = 2, c 3\nd\n4\n", "t.conf", env={})
    assert [cfg.get(k).plain() for k in "abcd"] == [1, 2, 3, 4]  # type: ignore[union-attr]
    assert "found new line" in fails("a:\n1\n")
    assert value("m {\n  name:\n  c1\n}\n", "m", "name") == "c1"
    assert value("{ a: 1 }", "a") == 1
    assert value("a: 1}\n", "a") == 1  # errata M9
    assert "has no value" in fails("max_payload")
    assert "has no value" in fails("a: 1;;\n")
    assert "Unexpected EOF" in fails("/a: 1\n")
    assert "Unexpected EOF" in fails("/* no */\n")


def test_arrays() -> None:
    assert value("t: [a, b,]", "t") == ["a", "b"]
    assert value("t: [\n a # c\n b\n]\n", "t") == ["a", "b"]
    assert value("t: [a / b]", "t") == ["a", "b"]
    assert value("t: [a, 1]\n]\n", "t") == ["a", "1]"]  # errata M1
    assert value("t: [a, 1k]", "t") == ["a", "1k"]  # ] ends the string, not the number
    assert value("t: [a, 1k ]", "t") == ["a", 1000]
    assert value("t: [1.5, 10.0.0.1]", "t") == [1.5, "10.0.0.1"]
    for bad in ("t: [,a]", "t: [a,,b]", "t: [/a]"):
        assert "array value terminator ','" in fails(bad)
    assert "array value terminator" in fails("t: [a, 1]\nx: 5\n")


def test_duplicates_last_wins_and_blocks_replace() -> None:
    cfg = parse_text("cluster { name: a, port: 1 }\ncluster { pool_size: 5 }\nx: 1\nx: 2\n",
                     "t.conf", env={})
    assert cfg.get("cluster").plain() == {"pool_size": 5}  # type: ignore[union-attr]
    assert cfg.get("x").value == 2  # type: ignore[union-attr]
    assert [o.key for o in cfg.overwrites] == ["cluster", "x"]


def test_unknown_suffix_drops_the_key() -> None:
    cfg = parse_text("max_pending: 2kbb\nmax_connections: 5\n", "t.conf", env={})
    assert cfg.get("max_pending") is None
    assert cfg.get("max_connections").value == 5  # type: ignore[union-attr]


def test_variables() -> None:
    assert value("X = 5\nmax_payload: $X\n", "max_payload") == 5
    assert value("D = '/d'\njs { store_dir: $D }\n", "js", "store_dir") == "/d"
    assert value("max_payload: 1\nmax_pending: $max_payload\n", "max_pending") == 1
    assert value("V = 1\na: $V\nV = 2\nb: $V\n", "b") == 2
    assert value("p: $2a$11$abc\n", "p") == "$2a$11$abc"
    assert "can not be found" in fails("a: $LATER\nLATER = 1\n")
    assert "can not be found" in fails("foo = 1\na: $FOO\n")
    assert "'{MP'" in fails("a: ${MP}\n")
    assert "quote it" in fails("p: $2b$11$abc\n")
    assert "'CP'" in fails("c { CP = 1, port: $CP }\nport: $CP\n")
    cfg = parse_text("X = 1\nY = 2\na: $X\n", "t.conf", env={})
    assert cfg.get("X").used
    assert not cfg.get("Y").used


def test_environment_variables() -> None:
    env = {"MP": "3MB", "B": "yes", "C1": "$C2", "C2": "7", "LOOP": "$LOOP", "BAD": "a b",
           "M": "{name: c1, port: 5}", "E": ""}
    assert value("a: $MP", "a", env=env) == 3 * 1024**2
    assert value("a: $B", "a", env=env) is True
    assert value("a: $C1", "a", env=env) == 7
    assert value("a: $M", "a", env=env) == {"name": "c1", "port": 5}
    assert value("a: $E", "a", env=env) == ""
    assert "cycle" in fails("a: $LOOP", env=env)
    assert "could not be parsed" in fails("a: $BAD", env=env)
    assert value("MP = 1\na: $MP", "a", env=env) == 1  # config beats environment


def test_includes(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.conf").write_text("include b.conf\nIV = 9\n")
    (tmp_path / "sub" / "b.conf").write_text("server_name: nested\n")
    (tmp_path / "auth.conf").write_text("user: a\n")
    main = tmp_path / "main.conf"
    main.write_text("max_payload: 1\ninclude sub/a.conf\nauthorization { include 'auth.conf' }\n"
                    "max_pending: $IV\n")
    cfg = parse_file(main, env={})
    assert cfg.get("server_name").value == "nested"  # type: ignore[union-attr]
    assert cfg.get("server_name").where.file.endswith("sub/b.conf")  # type: ignore[union-attr]
    assert cfg.get("authorization", "user").value == "a"  # type: ignore[union-attr]
    assert cfg.get("max_pending").value == 9  # type: ignore[union-attr]
    main.write_text(f"include {tmp_path}/auth.conf\n")
    with pytest.raises(ConfSyntaxError, match="relative to the including file"):
        parse_file(main, env={})
    main.write_text("include = x.conf\n")
    with pytest.raises(ConfSyntaxError, match="include file '='"):
        parse_file(main, env={})


def test_include_cycle_is_an_error_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "a.conf").write_text("include b.conf\n")
    (tmp_path / "b.conf").write_text("include a.conf\n")
    with pytest.raises(ConfSyntaxError, match="include cycle"):
        parse_file(tmp_path / "a.conf", env={})


def test_errors_are_compiler_style_usage_errors() -> None:
    with pytest.raises(UsageError) as info:
        parse_text("a: 1\ncluster {\n  name: c1,, port: 1\n}\n", "server.conf", env={})
    assert str(info.value).startswith("server.conf:3:")
    assert info.value.exit_code == ExitCode.USAGE


def test_positions_on_values() -> None:
    text = "# c\nmax_payload: 1\ncluster {\n  name: c1\n  routes: [\n    nats://a:1\n  ]\n}\n"
    cfg = parse_text(text, "s.conf", env={})
    mp = cfg.get("max_payload")
    assert mp is not None
    assert (mp.where.line, mp.where.col) == (2, 1)
    name = cfg.get("cluster", "name")
    assert name is not None
    assert (name.where.line, name.where.col) == (4, 3)
    route = cfg.get("cluster", "routes").elements()[0]  # type: ignore[union-attr]
    assert (route.pos.line, route.pos.col, route.form) == (6, 5, "bare")


def test_raw_forms_kept_for_lint() -> None:
    cfg = parse_text('a: 2m\nb: "2m"\nc: 1G\n', "t.conf", env={})
    a, b, c = (cfg.get(k) for k in "abc")
    assert a is not None
    assert a.kind == "integer"
    assert a.raw == "2m"
    assert b is not None
    assert b.kind == "string"
    assert b.form == "dq"
    assert c is not None
    assert c.value == 10**9


def test_go_json_details() -> None:
    assert go_string("a<b>&\u2028\x01") == '"a\\u003cb\\u003e\\u0026\\u2028\\u0001"'
    assert go_float(0.5) == "0.5"
    assert go_float(1e21) == "1e+21"
    assert go_float(1e20) == "100000000000000000000"
    assert go_float(1.5e-7) == "1.5e-7"
    assert go_float(3.0) == "3"


def test_known_digest() -> None:
    # printed by nats-server 2.15.1 -t for this text (see tests/integration for the live check)
    cfg = parse_text("max_payload: 1000\n", "t.conf", env={})
    assert cfg.digest() == ("sha256:87b40978d8143e0f7ca1683875c2702cd654f6459eb9d21accf3c7"
                            "1079a2bae3")


_PIECES = st.sampled_from([*"ab19_-.:=;,#/ \t\n{}[]()\"'$\\kKmMbBiI\x00é", "include", "true",
                           "2a$", "\r\n", "max_payload", "1.2.3", "2024-"])


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.lists(_PIECES, max_size=60).map("".join))
def test_random_text_never_tracebacks(text: str) -> None:
    try:
        cfg = parse_text(text, "r.conf", env={})
    except ConfSyntaxError as exc:
        message = str(exc)
    else:
        message = "r.conf: " + cfg.digest()
    assert message.startswith("r.conf:")


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.sampled_from(sorted(CASES)), st.integers(0, 10_000), st.sampled_from(
    ["", "}", "{", "]", "[", '"', "'", "\n", ",", ";", "$", "(", ")", "#", "k", "\\"]))
def test_mutated_corpus_never_tracebacks(name: str, where: int, insert: str) -> None:
    text = CASES[name]["main.conf"]
    i = where % (len(text) + 1)
    mutated = text[:i] + insert + text[i + (0 if insert else 1):]
    with contextlib.suppress(ConfSyntaxError):
        parse_text(mutated, "m.conf", env={}).digest()
