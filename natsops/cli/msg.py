"""``natsops pub``, ``sub``, ``req``, ``reply``: core NATS messages, with natscli's flags.

Each is its own top-level command (``COMMANDS`` names ``natsops.cli.msg:pub_app`` ...).
"""

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from natsops.cli.state import want_json

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable

    from natsops.connection import Conn
    from natsops.messages import Message, PubResult

Subject = Annotated[str, typer.Argument(help="Subject", show_default=False)]
Body = Annotated[str | None, typer.Argument(
    help="Message body ({{Count}}: the message number, {{Time}}: now); read from stdin when "
    "not given and stdin is not a terminal", show_default=False)]
ReplyBody = Annotated[str, typer.Argument(help="Reply body ({{Count}}: request number)",
                                          show_default=False)]
Count = Annotated[int, typer.Option("--count", help="Number of messages (0: no limit)")]
Header = Annotated[list[str] | None, typer.Option(
    "--header", "-H", help="Header key:value (repeatable)", show_default=False)]
ShowHeaders = Annotated[bool, typer.Option("--headers", help="Show message headers")]
Js = Annotated[bool, typer.Option("--js", help="Publish through JetStream and print the ack")]
Queue = Annotated[str, typer.Option("--queue", help="Queue group")]
JsonLines = Annotated[bool, typer.Option("--json", "-j", help="One JSON document per message")]

pub_app = typer.Typer()
sub_app = typer.Typer()
req_app = typer.Typer()
reply_app = typer.Typer()


def _body(body: "str | None") -> bytes:
    if body is not None:
        return body.encode()
    return b"" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.buffer.read()


def _line(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _show(msg: "Message", n: int, *, headers: bool, as_json: bool) -> None:
    """A message as a JSON line, or natscli's block (binary payloads escaped)."""
    import json

    from natsops.messages import safe_text

    if as_json:
        _line(json.dumps(msg.to_dict(), sort_keys=True))
        return
    reply = f' with reply "{msg.reply}"' if msg.reply else ""
    lines = [f'[#{n}] Received on "{msg.subject}"{reply} ({len(msg.data)} bytes)']
    if headers:
        lines += [f"{safe_text(k.encode())}: {safe_text(v.encode())}"
                  for k, v in msg.headers.items()]
    _line("\n".join([*lines, "", safe_text(msg.data), ""]))


def _show_pub(results: "list[PubResult]", as_json: bool) -> None:
    from natsops.cli.output import jsonable, print_json, success

    if as_json:
        print_json(jsonable(results))
    elif results[0].stream is not None:
        for r in results:
            dup = " (duplicate)" if r.duplicate else ""
            success(f"stored in {r.stream} at sequence {r.seq}{dup}")
    else:
        success(f"published {len(results)} message(s) to {results[0].subject}")


@pub_app.command("pub")
def pub(ctx: typer.Context, subject: Subject, body: Body = None, count: Count = 1,
        header: Header = None, js: Js = False, json_out: JsonLines = False) -> None:
    """Publish a message (or --count N), with headers; --js: through JetStream, with its ack.

    \b
    Examples:
      natsops pub orders.new '{"id": 1}' -H trace:abc
      natsops pub orders.new 'order {{Count}}' --count 100 --js
      natsops pub blobs.in < payload.bin
    """
    from natsops.cli._run import call
    from natsops.messages import parse_headers, publish

    hdrs = parse_headers(header or ())
    res = call(ctx, publish, subject, _body(body), count=count, headers=hdrs, jetstream=js)
    _show_pub(res, want_json(ctx, json_out))


async def _print_all(msgs: "AsyncGenerator[Message, None]", headers: bool, as_json: bool) -> None:
    import contextlib

    n = 0
    async with contextlib.aclosing(msgs) as it:
        async for m in it:
            n += 1
            _show(m, n, headers=headers, as_json=as_json)


def _stream(ctx: typer.Context, gen: "Callable[[Conn], AsyncGenerator[Message, None]]", headers: bool, as_json: bool) -> None:
    from natsops.cli._run import run
    from natsops.cli.state import get_state
    from natsops.connection import connect

    async def go() -> None:
        async with connect(get_state(ctx).settings) as conn:
            await _print_all(gen(conn), headers, as_json)

    run(go())


@sub_app.command("sub")
def sub(ctx: typer.Context, subject: Subject, count: Count = 0, headers: ShowHeaders = False,
        queue: Queue = "", json_out: JsonLines = False) -> None:
    """Print messages on a subject (wildcards allowed) until --count or Ctrl-C.

    \b
    Examples:
      natsops sub 'orders.>' --headers
      natsops sub orders.new --count 10 --json | jq .data
    """
    from natsops.cli.output import info
    from natsops.messages import subscribe

    _stream(ctx, lambda c: subscribe(c, subject, count=count, queue_group=queue, notice=info),
            headers,
            want_json(ctx, json_out))


@req_app.command("req")
def req(ctx: typer.Context, subject: Subject, body: Body = None, header: Header = None,
        json_out: JsonLines = False) -> None:
    """Send a request and print the reply (waits up to --timeout; no responders: exit 4).

    \b
    Examples:
      natsops req service.time ''
      natsops req svc.echo hello -H k:v --timeout 2s --json
    """
    from natsops.cli._run import call
    from natsops.messages import parse_headers, request

    hdrs = parse_headers(header or ())
    msg = call(ctx, request, subject, _body(body), headers=hdrs)
    _show(msg, 1, headers=True, as_json=want_json(ctx, json_out))


@reply_app.command("reply")
def reply(ctx: typer.Context, subject: Subject, body: ReplyBody, count: Count = 0,
          header: Header = None, queue: Queue = "NATS-RPLY-22", headers: ShowHeaders = False,
          json_out: JsonLines = False) -> None:
    """Answer requests on a subject with a fixed body; prints each request answered.

    \b
    Examples:
      natsops reply service.ping pong
      natsops reply 'svc.>' 'answer {{Count}}' --count 1 --json
    """
    from natsops.cli.output import info
    from natsops.messages import parse_headers
    from natsops.messages import reply as serve

    hdrs = parse_headers(header or ())
    _stream(ctx, lambda c: serve(c, subject, body.encode(), count=count, queue_group=queue,
                                 headers=hdrs, notice=info), headers, want_json(ctx, json_out))
