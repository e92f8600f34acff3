"""Gathering a Snapshot for the commands that read one (doctor, server, top, sizing).

Their options are declared once in :mod:`natsops.cli.options` (Expect, Monitor, ClusterDir,
Transport).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from natsops.cli.state import get_state

if TYPE_CHECKING:
    from natsops.access import SystemAccess
    from natsops.monitoring.gather import GatherOptions
    from natsops.monitoring.snapshot import Snapshot


def settings_for(ctx: typer.Context, directory: Path | None) -> SystemAccess:
    """How to reach the system account: every login worth trying (:mod:`natsops.access`)."""
    from natsops.access import system_access

    state = get_state(ctx)
    return system_access(state.settings, state.env, cluster_dir=directory)


def gather_timeout(ctx: typer.Context, default: float) -> float:
    """How long a $SYS request to every server waits: --timeout / NATS_TIMEOUT when given
    (as for the Snapshot gatherings), else ``default``."""
    from natsops.access import explicit_timeout

    return explicit_timeout(get_state(ctx).settings) or default


def snapshot(ctx: typer.Context, opts: GatherOptions, *, monitor: list[str] | None,
             directory: Path | None, transport: str, expect: int = 0) -> Snapshot:
    """Gather one Snapshot of what ``opts`` names, from where the command's options say."""
    from natsops.cli._run import run
    from natsops.monitoring.gather import gather

    return run(gather(settings_for(ctx, directory), replace(opts, expect=expect),
                      monitors=tuple(monitor or ()), cluster_dir=directory,
                      transport=transport))
