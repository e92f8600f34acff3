"""Options and helpers shared by the commands that read a Snapshot (doctor, server, top)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from natsops.cli.state import get_state

if TYPE_CHECKING:
    from natsops.context import Settings
    from natsops.doctor.snapshot import Snapshot


def _opt(*names: str, **kw: Any) -> Any:
    return typer.Option(*names, **kw)


Expect = Annotated[int, _opt("--expect", help="Number of servers that must answer (default: "
                             "the local cluster's nodes and the JetStream meta peers)")]
Monitor = Annotated[list[str] | None, _opt(
    "--monitor", help="HTTP monitor URL of a server (repeatable); gathers over HTTP")]
Dir = Annotated[Path | None, _opt("--dir", envvar="NATSOPS_CLUSTER_DIR", help="A local "
                                  "cluster's directory: its nodes are expected, its sys user used")]
Transport = Annotated[str, _opt("--transport", help="auto, sys ($SYS requests: system-account "
                                "credentials) or http (monitor ports)")]
Json = Annotated[bool, _opt("--json", help="Print as JSON")]


def settings_for(ctx: typer.Context, directory: Path | None) -> Settings | None:
    """The global settings, unless a local cluster directory gives its own (and no -s)."""
    state = get_state(ctx)
    if directory is not None and not state.flags.get("server"):
        return None
    return state.settings


def snapshot(ctx: typer.Context, *, monitor: list[str] | None, directory: Path | None,
             transport: str, expect: int = 0, **gather_opts: Any) -> Snapshot:
    """Gather one Snapshot with the command's options."""
    from natsops.cli._run import run
    from natsops.doctor.gather import GatherOptions, gather

    opts = GatherOptions(expect=expect, **gather_opts)
    return run(gather(settings_for(ctx, directory), opts, monitors=tuple(monitor or ()),
                      cluster_dir=directory, transport=transport))
