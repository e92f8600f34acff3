"""Rendering of ``stream view/get/subjects/state/find`` and ``consumer find`` (issue 15)."""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from natsops.cli import output

if TYPE_CHECKING:
    from natsops.jetstream.inspect import Found, StoredMsg, StreamState, SubjectCount


def message_printer(as_json: bool, raw: bool = False) -> "Any":
    """A callback printing each message as it arrives: JSON lines, raw bytes or a block."""
    def show(m: "StoredMsg") -> None:
        if as_json:
            output.json_line(m.to_json())
        elif raw:
            import sys

            sys.stdout.buffer.write(m.data)
            sys.stdout.buffer.flush()
        else:
            show_message(m)
    return show


def show_message(m: "StoredMsg") -> None:
    con = output.out()
    con.print(f"[{m.seq}] Subject: {m.subject} Received: {m.time} Size: {m.size:,} B",
              markup=False)
    for k, values in m.headers.items():
        for v in values:
            con.print(f"  {k}: {v}", markup=False)
    con.print("", markup=False)
    con.print(m.preview() if m.size else "(empty payload)", markup=False)
    con.print("", markup=False)


def subjects_out(stream: str, rows: "Sequence[SubjectCount]", as_json: bool) -> None:
    if as_json:
        output.print_json({r.subject: r.messages for r in rows})
    elif not rows:
        output.info(f"no subjects with messages in stream {stream}")
    else:
        output.table(f"{len(rows):,} subjects in stream {stream}",
                     ["subject", output.Col("messages", right=True)],
                     [(r.subject, f"{r.messages:,}") for r in rows])


def state_out(s: "StreamState", as_json: bool) -> None:
    from natsops.units import format_bytes

    if as_json:
        output.print_json({k: v for k, v in output.jsonable(s).items()})
        return
    leader = f"leader {s.leader}" if s.leader else "no leader" if s.replicas > 1 else "R1"
    line = (f"{s.name}: {'OK' if s.healthy else 'DEGRADED'} {s.messages:,} msgs "
            f"{format_bytes(s.bytes)} seq {s.first_seq}..{s.last_seq} {leader} "
            f"replicas {s.current}/{s.replicas} current, {s.consumers} consumers, "
            f"last message {s.last_activity or 'never'}")
    output.out().print(line, markup=False)


def names_out(found: "Found", as_json: bool) -> None:
    """Matching names (``STREAM CONSUMER`` for consumers), then exit 11 if some could not be
    judged."""
    if as_json:
        output.print_json([{"stream": c.stream, "consumer": c.name} for c in found.consumers]
                          or [s.name for s in found.streams])
    names = [f"{c.stream} {c.name}" for c in found.consumers] or [s.name for s in found.streams]
    for n in [] if as_json else names:
        output.out().print(n, markup=False)
    if not names and not as_json:
        output.info("nothing matches")
    output.exit_incomplete("streams or consumers did not answer (missing or offline)",
                           found.unknown)
