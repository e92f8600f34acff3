"""A corpus of nats-server configs, valid and broken, covering every grammar feature.

Each case maps file names to contents; ``main.conf`` is the file given to the parser and to
``nats-server -t``. The integration test asks the real server for its verdict and digest and
checks natsops agrees; the unit tests use some of them with values from the errata.
"""

from __future__ import annotations

CASES: dict[str, dict[str, str]] = {
    # separators, entries, comments
    "sep_colon": {"main.conf": "max_payload: 1000\n"},
    "sep_equal": {"main.conf": "max_payload = 1001\n"},
    "sep_space": {"main.conf": "max_payload 1002\n"},
    "semicolons": {"main.conf": "max_payload: 1003; max_connections: 77\n"},
    "commas": {"main.conf": "max_payload: 1003, max_connections: 77\n"},
    "hash_comment": {"main.conf": "# top\nmax_payload: 1004 # after\n"},
    "slash_comment": {"main.conf": "// top\nmax_payload: 1004 // after\n"},
    "block_comment_bad": {"main.conf": "/* no */\nmax_payload: 1\n"},
    "only_comments": {"main.conf": "# nothing here\n"},
    "wrapped_braces": {"main.conf": "{\n  max_payload: 1005\n  server_name: w\n}\n"},
    "json_doc": {"main.conf": '{"max_payload": 1006, "server_name": "j", "debug": true}\n'},
    "json_null": {"main.conf": '{"server_name": null}\n'},
    "json_exp": {"main.conf": '{"server_name": 1.0e3}\n'},
    "quoted_keys": {"main.conf": "\"max_payload\": 1006\n'server_name': q\n"},
    "upper_key": {"main.conf": "MAX_PAYLOAD: 1005\n"},
    "nl_after_colon": {"main.conf": "max_payload:\n1000\n"},
    "nl_no_sep": {"main.conf": "max_payload\n1000\n"},
    "key_no_value": {"main.conf": "max_payload"},
    "key_eq_eof": {"main.conf": "max_payload ="},
    "double_semicolon": {"main.conf": "max_payload: 1000;;\n"},
    "stray_brace": {"main.conf": "max_payload: 1000}\n"},
    "lone_slash_top": {"main.conf": "/max_payload: 1\n"},
    "crlf": {"main.conf": "max_payload: 1000\r\nserver_name: crlf\r\n"},
    "bom": {"main.conf": "\ufeffmax_payload: 1000\n"},
    # maps and arrays
    "nested_maps": {"main.conf": "cluster {\n  name: c1\n  port: 16222\n  authorization { user: a, "
                    "password: b }\n}\n"},
    "map_no_space": {"main.conf": "cluster{\n  name: c1\n}\n"},
    "map_trailing_comma": {"main.conf": "cluster { name: c1, port: 16222, }\n"},
    "map_double_comma": {"main.conf": "cluster { name: c1,, port: 16222 }\n"},
    "map_empty_value": {"main.conf": "cluster { name: }\n"},
    "array_basic": {"main.conf": "server_tags: [a, b, c]\n"},
    "array_trailing": {"main.conf": "server_tags: [a, b,]\n"},
    "array_leading": {"main.conf": "server_tags: [,a]\n"},
    "array_double": {"main.conf": "server_tags: [a,,b]\n"},
    "array_multiline": {"main.conf": "server_tags: [\n  a # c\n  b\n  // d\n  c\n]\n"},
    "array_int_bracket": {"main.conf": "server_tags: [a, 1]\n]\n"},
    "array_int_bracket_bad": {"main.conf": "server_tags: [a, 1]\nmax_payload: 5\n"},
    "array_slash": {"main.conf": "server_tags: [a / b]\n"},
    "array_slash_first": {"main.conf": "server_tags: [/a]\n"},
    "array_suffix_string": {"main.conf": "server_tags: [a, 1k ]\n"},
    "array_unclosed": {"main.conf": "server_tags: [a, b\n"},
    "map_unclosed": {"main.conf": "cluster { name: c1\n"},
    "single_string_tags": {"main.conf": 'server_tags: "solo"\n'},
    # strings
    "dq_escapes": {"main.conf": 'server_name: "a\\tb\\nc\\\\d\\"e\\x41"\n'},
    "dq_bad_escape": {"main.conf": 'server_name: "a\\qb"\n'},
    "dq_short_hex": {"main.conf": 'server_name: "\\x4"\n'},
    "dq_html": {"main.conf": 'server_name: "a<b>&c"\n'},
    "dq_multiline": {"main.conf": 'server_name: "a\nb"\n'},
    "dq_unterminated": {"main.conf": 'server_name: "abc\n'},
    "sq_raw": {"main.conf": "server_name: 'a\\n$b'\n"},
    "bare_escape": {"main.conf": "server_name: tru\\x65\n"},
    "bare_quote_end": {"main.conf": "server_name: abc'def\n"},
    "bare_special": {"main.conf": "server_name: a:b=c{d\n"},
    "bare_hash_glued": {"main.conf": "server_name: abc#comment\n"},
    "num_hash_glued": {"main.conf": "max_payload: 1000#comment\n"},
    "unicode_value": {"main.conf": 'server_metadata { city: "Zürich", emoji: "é" }\n'},
    "hex_high_byte": {"main.conf": 'server_metadata { b: "\\xff", c: "\\xc3\\xa9" }\n'},
    "block_string": {"main.conf": "server_metadata {\n  note: (\nline one\nline two\n)\n}\n"},
    "block_indented_close": {"main.conf": "server_metadata {\n  note: (\nline\n  )\n}\n"},
    "block_eof_close": {"main.conf": "pid_file: (\nline one\n)"},
    "block_one_line": {"main.conf": "pid_file: (abc)\n"},
    "semicolon_in_value": {"main.conf": "authorization { user: a, password: pa;ss }\n"},
    # numbers and sizes
    "size_k": {"main.conf": "max_payload: 2k\nmax_pending: 2K\n"},
    "size_kb": {"main.conf": "max_payload: 2kb\nmax_pending: 2KiB\n"},
    "size_mb": {"main.conf": "max_payload: 2MB\nmax_pending: 64m\n"},
    "size_g": {"main.conf": "max_pending: 1G\n"},
    "size_e": {"main.conf": "max_pending: 1e\n"},
    "size_overflow": {"main.conf": "max_pending: 10e\n"},
    "size_bad_tail": {"main.conf": "max_pending: 2kbb\nmax_connections: 5\n"},
    "size_space": {"main.conf": "max_payload: 2 MB\n"},
    "int_huge": {"main.conf": "max_payload: 99999999999999999999\n"},
    "negative": {"main.conf": "max_connections: -1\nmax_pending: -1k\n"},
    "neg_suffix_junk": {"main.conf": "max_connections: -1x\n"},
    "float_value": {"main.conf": "authorization { timeout: 0.5 }\n"},
    "float_leading_dot": {"main.conf": "max_payload: .5\n"},
    "float_trailing_dot": {"main.conf": "max_payload: 5.\n"},
    "ip_string": {"main.conf": 'listen: 127.0.0.1:16001\nclient_advertise: "10.0.0.1"\n'},
    "ip_bad_char": {"main.conf": "client_advertise: 1.2.3a\n"},
    "cidr": {"main.conf": "client_advertise: 10.0.0.0/24\n"},
    "ipv6_bare": {"main.conf": "listen: [::1]:4222\n"},
    "octal_like": {"main.conf": "max_connections: 0777\n"},
    "underscore_num": {"main.conf": "server_name: 1_000\n"},
    "date_full": {"main.conf": "X = 2024-01-01T00:00:00Z\nserver_name: $X\n"},
    "date_short": {"main.conf": "server_name: 2024-01-01\n"},
    "dash_number": {"main.conf": "server_name: 123-456\n"},
    # booleans
    "bools": {"main.conf": "debug: yes\ntrace: OFF\nlogtime: True\n"},
    "bool_quoted": {"main.conf": 'debug: "true"\n'},
    # durations
    "dur_quoted": {"main.conf": 'ping_interval: "30s"\nwrite_deadline: "2s"\n'},
    "dur_unquoted_str": {"main.conf": "ping_interval: 1m30s\n"},
    "dur_int_minutes": {"main.conf": "ping_interval: 2m\n"},
    "dur_micro": {"main.conf": "write_deadline: 5µs\n"},
    "lame_duck_int": {"main.conf": "lame_duck_duration: 60\n"},
    # variables
    "var_basic": {"main.conf": "MP = 4000\nmax_payload: $MP\n"},
    "var_in_block": {"main.conf": "JSDIR = '/var/lib/nats'\njetstream { store_dir: $JSDIR }\n"},
    "var_undefined": {"main.conf": "max_payload: $NOPE_NOT_SET\n"},
    "var_before_def": {"main.conf": "max_payload: $LATER\nLATER = 5\n"},
    "var_case": {"main.conf": "foo = 1000\nmax_payload: $FOO\n"},
    "var_unused": {"main.conf": "UNUSED_VAR = 1\nmax_payload: 1000\n"},
    "var_dq_literal": {"main.conf": 'server_name: "$FOO"\n'},
    "var_bcrypt_2a": {"main.conf": "authorization { user: a, password: $2a$11$abcdefghij }\n"},
    "var_bcrypt_2b": {"main.conf": "authorization { user: a, password: $2b$11$abcdefghij }\n"},
    "var_braces": {"main.conf": "max_payload: ${MP}\n"},
    "var_key_ref": {"main.conf": "max_payload: 1000\nmax_pending: $max_payload\n"},
    "var_self_ref": {"main.conf": "max_payload: $max_payload\n"},
    "var_block_scope": {"main.conf": "cluster { CP = 16222, port: $CP, name: c }\nport: $CP\n"},
    "var_redefine": {"main.conf": "V = 1000\nmax_payload: $V\nV = 2000\nmax_pending: $V\n"},
    # includes
    "include_bare": {"main.conf": "include inc.conf\n", "inc.conf": "max_payload: 1234\n"},
    "include_quoted": {"main.conf": "include 'inc.conf'\ninclude \"inc2.conf\"\n",
                       "inc.conf": "max_payload: 1\n", "inc2.conf": "max_pending: 99999999\n"},
    "include_in_block": {"main.conf": "authorization {\n  include auth.conf\n}\n",
                         "auth.conf": "user: a\npassword: b\n"},
    "include_nested": {"main.conf": "include sub/a.conf\n", "sub/a.conf": "include b.conf\n",
                       "sub/b.conf": "server_name: nested\n"},
    "include_override": {"main.conf": "max_payload: 1\ninclude inc.conf\nmax_pending: 5000000\n",
                         "inc.conf": "max_payload: 2000\n"},
    "include_missing": {"main.conf": "include nope.conf\n"},
    "include_eq": {"main.conf": "include = inc.conf\n", "inc.conf": "max_payload: 1\n"},
    "include_upper": {"main.conf": "INCLUDE inc.conf\n", "inc.conf": "max_payload: 7\n"},
    "include_newline": {"main.conf": "include\ninc.conf\n", "inc.conf": "max_payload: 1\n"},
    "include_digit": {"main.conf": "include 1.conf\n", "1.conf": "max_payload: 1\n"},
    "include_var_after": {"main.conf": "include vars.conf\nmax_payload: $IV\n",
                          "vars.conf": "IV = 3333\n"},
    "include_parent_var": {"main.conf": "PARENTV = 1234\ninclude inc.conf\n",
                           "inc.conf": "max_payload: $PARENTV\n"},
    "include_bad_syntax": {"main.conf": "include bad.conf\n", "bad.conf": "max_payload: 2 MB\n"},
    "include_array": {"main.conf": "server_tags: [include x.conf]\n"},
    # realistic
    "cluster_node": {"main.conf": """server_name: n1
listen: "127.0.0.1:16001"
http: "127.0.0.1:16801"
lame_duck_duration: "30s"
lame_duck_grace_period: "10s"
jetstream {
  store_dir: "/var/lib/nats"
  max_memory_store: 1GB
  max_file_store: "10G"
}
cluster {
  name: C1
  listen: "127.0.0.1:16201"
  routes: [nats://127.0.0.1:16201, nats://127.0.0.1:16202, nats://127.0.0.1:16203]
}
accounts {
  SYS { users: [{ user: sys, password: "$2a$11$abcdefghijklmnopqrstuv" }] }
  APP { jetstream: enabled, users: [{ user: app, password: app }] }
}
system_account: SYS
"""},
    "two_cluster_blocks": {"main.conf": "cluster { name: c1, listen: '127.0.0.1:16210' }\n"
                           "cluster { pool_size: 5 }\n"},
    "prevent_gateway": {"main.conf": "prevent_gateway_dial_through_routes: true\n"},
}

# deeper than Python's recursion limit: the server parses it, so must natsops
CASES["deep_nesting"] = {"main.conf": "x: " + "{a: " * 2000 + "1" + " }" * 2000 + "\n"}
CASES["deep_arrays"] = {"main.conf": "server_tags: " + "[" * 2000 + "]" * 2000 + "\n"}
