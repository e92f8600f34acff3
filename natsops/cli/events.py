"""``natsops events``: JetStream advisories and server events as they happen."""

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from natsops.cli._snapshot import settings_for
from natsops.cli.options import ClusterDir
from natsops.cli.state import want_json

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

    from natsops.events import Event

Filter = Annotated[list[str] | None, typer.Option(
    "--filter", help="Only these kinds (comma separated, globs allowed, repeatable), e.g. "
    "stream_leader_elected,slow_consumer,'consumer_*'", show_default=False)]
Count = Annotated[int, typer.Option("--count", help="Stop after this many events (0: no limit)")]
NoSystem = Annotated[bool, typer.Option(
    "--no-system", help="Only the account's JetStream advisories (no system-account login)")]
JsonLines = Annotated[bool, typer.Option("--json", "-j", help="One JSON document per event")]

app = typer.Typer()


def _show(ev: "Event", as_json: bool) -> None:
    import json

    from natsops.messages import safe_text

    if as_json:
        line = json.dumps(ev.to_dict(), sort_keys=True, default=str)
    else:
        line = safe_text(f"{ev.time[:23]}  {ev.kind:<23} {ev.who}  {ev.what}".encode())
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def _print_all(events: "AsyncGenerator[Event, None]", as_json: bool) -> None:
    import contextlib

    async with contextlib.aclosing(events) as it:
        async for ev in it:
            _show(ev, as_json)


@app.command("events")
def events(ctx: typer.Context, filter_: Filter = None, count: Count = 0,
           no_system: NoSystem = False, directory: ClusterDir = None,
           json_out: JsonLines = False) -> None:
    """Follow advisories and server events: leader elections, stream/consumer actions, API
    errors, max deliveries, slow consumers, connects/disconnects, shutdowns, auth errors.

    One line per event (time, kind, who, what) or JSON lines. Server events need a system
    account login (found as doctor finds it); without one only the account's advisories show.
    A lost server ends the watch: exit 3 naming it. Ctrl-C: exit 130.

    \b
    Examples:
      natsops events --dir .natsops/C1
      natsops events --filter 'stream_leader_elected,slow_consumer' --json
      natsops --context prod events --no-system --filter 'consumer_*'
    """
    from natsops.cli._run import run
    from natsops.cli.output import info
    from natsops.cli.state import get_state
    from natsops.events import account_settings, parse_kinds, watch_events

    kinds = parse_kinds(filter_ or ())
    account = account_settings(get_state(ctx).settings, directory)
    system = None if no_system else settings_for(ctx, directory)
    gen = watch_events(account, system, kinds=kinds, count=count, notice=info)
    run(_print_all(gen, want_json(ctx, json_out)))
