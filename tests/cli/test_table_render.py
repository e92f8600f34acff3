"""``output.table``: tokens never broken, priorities, piped plain text (no server needed)."""

from __future__ import annotations

import io

from rich.console import Console

from natsops.cli.output import Col, cell, plain_table, render_table

URL = "nats://127.0.0.1:42221"
COLS = [Col("name"), Col("client URL"), Col("monitor URL", 1), Col("version", 2),
        Col("pid", 3), Col("state", wrap=True)]
ROWS = [("n1", URL, "http://127.0.0.1:48222", "2.15.1", 4242, "healthy"),
        ("natsops top", URL, "http://127.0.0.1:48223", "2.15.1", 4243,
         "unhealthy: JetStream is not current with the meta leader")]


def _render(width: int) -> tuple[str, list[str]]:
    table, hidden = render_table("t", COLS, ROWS, width)
    con = Console(width=width, record=True, color_system=None, file=io.StringIO())
    con.print(table, crop=False)
    return con.export_text(), hidden


def test_narrow_terminal_drops_low_priority_columns_never_tokens() -> None:
    for width in (80, 60, 40):
        text, hidden = _render(width)
        assert text.count(URL) == 2, text
        assert "natsops top" in text and "healthy" in text
        for part in ("nats://1", "27.0.0.1"):
            assert all(part not in ln or URL in ln for ln in text.splitlines()), text
    text, hidden = _render(200)
    assert hidden == [] and "http://127.0.0.1:48223" in text
    _, hidden = _render(60)
    assert hidden[0] == "pid"  # highest priority number first


def test_piped_table_is_plain_and_has_every_column() -> None:
    text = plain_table("t", COLS, ROWS)
    lines = text.splitlines()
    assert lines[0] == "t"
    assert all(ln == ln.rstrip() for ln in lines)
    assert "monitor URL" in lines[1] and "pid" in lines[1]
    assert lines[3].endswith("with the meta leader")
    assert lines[2].index("4242") + 4 == lines[3].index("4243") + 4  # numbers right-aligned


def test_empty_columns_go_silently_and_booleans_read_yes_no() -> None:
    cols = [Col("name"), Col("description", 1), Col("sealed")]
    rows = [("x" * 30, "", True), ("y", None, False)]
    _table, hidden = render_table(None, cols, rows, 40)
    assert hidden == []
    assert [cell(True), cell(False), cell(None), cell(3)] == ["yes", "no", "", "3"]
    assert "yes" in plain_table(None, cols, rows)


def test_top_live_frame_fits_the_terminal_and_names_what_it_hides() -> None:
    from natsops.cli.top import _render
    from natsops.monitoring.views import ConnRow, TopFrame

    conn = ConnRow(server="n1", cid=7, name="natsops top", account="$SYS",
                   host="127.0.0.1:51234", lang="python3", version="2.10.0", subscriptions=3,
                   pending_bytes=0, out_msgs=1, in_msgs=2, out_bytes=3, in_bytes=4,
                   out_msgs_rate=None, in_msgs_rate=None, out_bytes_rate=None,
                   in_bytes_rate=None, uptime="1m", idle="0s")
    srv = {"server": "n1", "version": "2.15.1", "connections": 1, "subscriptions": 3,
           "slow_consumers": 0, "mem": 1 << 20, "cpu": 1.5, "in_msgs_rate": 1.0,
           "out_msgs_rate": 2.0, "in_bytes_rate": 3.0, "out_bytes_rate": 4.0}
    con = Console(width=80, record=True, color_system=None, file=io.StringIO())
    con.print(_render(TopFrame(servers=(srv,), connections=(conn,), missing=()), "pending", 80),
              crop=False)
    text = con.export_text()
    assert "natsops top  (q or Ctrl-C quits)" in text  # the live view says how to leave
    assert "natsops top" in text.split("connections, sorted by pending")[1]
    assert "127.0.0.1:51234" in text
    assert "not shown at 80 columns:" in text
    assert max(len(ln) for ln in text.splitlines()) <= 80


def test_short_rows_are_padded_piped_and_on_a_terminal(capsys) -> None:  # type: ignore[no-untyped-def]
    """A row with fewer cells than columns (a server that did not answer) renders, not crashes."""
    from natsops.cli import output

    output.table(None, ["NAME", "URL", "VERSION"], [("n1", "nats://127.0.0.1:4222", "2.15.1"),
                                                    ("n2",)])
    text = capsys.readouterr().out
    assert "n2" in text and "nats://127.0.0.1:4222" in text
