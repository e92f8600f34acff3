"""Option declarations shared by command modules: declared once, reused as ``Annotated`` types.

A command writes ``json_out: options.Json = False``; help texts stay the same everywhere.
No ``from __future__ import annotations`` here or in command modules: Typer evaluates string
annotations on every run.
"""

from pathlib import Path
from typing import Annotated

import typer

Json = Annotated[bool, typer.Option("--json", "-j", help="Print as JSON")]
Force = Annotated[bool, typer.Option("--force", "-f", help="Do not ask for confirmation")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Show what would change; change nothing")]
Strict = Annotated[bool, typer.Option("--strict", help="Warnings fail too (exit 6)")]
NoProgress = Annotated[bool, typer.Option("--no-progress", help="No progress bar on stderr")]

# Commands that read a Snapshot (doctor, server, top, sizing --from-cluster).
Expect = Annotated[int, typer.Option(
    "--expect", help="Number of servers that must answer (default: the local cluster's nodes "
    "and the JetStream meta peers)", show_default=False)]
Monitor = Annotated[list[str] | None, typer.Option(
    "--monitor", help="HTTP monitor URL of a server (repeatable); gathers over HTTP")]
ClusterDir = Annotated[Path | None, typer.Option(
    "--dir", envvar="NATSOPS_CLUSTER_DIR",
    help="A local cluster's directory: its nodes are expected, its sys user used")]
Transport = Annotated[str, typer.Option(
    "--transport", help="auto, sys ($SYS requests: system-account credentials) or http "
    "(monitor ports)")]

# JetStream (stream, consumer): natscli's create-with-defaults and leader step-down flags.
Defaults = Annotated[bool, typer.Option(
    "--defaults", help="Accept natscli defaults for everything not given")]
Preferred = Annotated[str | None, typer.Option(
    "--preferred", help="Server that should become leader", show_default=False)]
JsDomain = Annotated[str | None, typer.Option(
    "--domain", help="JetStream domain whose meta group to act on (a leaf site's own domain; "
    "requests go to $JS.<domain>.API) [default: the default domain]", show_default=False)]

# signals: the one stall policy (natsops.faults) of commands that wait on the network.
StallTimeout = Annotated[str, typer.Option(
    "--stall-timeout", help="Give up (exit 3, naming the server) when nothing moves for this "
    "long")]

# edits that change replicas or placement (stream, kv, object): how long to wait for them.
ReadyWait = Annotated[str, typer.Option(
    "--wait", help="After a replica or placement change, wait this long for every replica "
    "to be current")]

# the natsops auth store: the `auth` group, and plan/apply for Account and User recipes.
AuthStore = Annotated[Path | None, typer.Option(
    "--store", envvar="NATSOPS_STORE",
    help="Store folder [default: $XDG_DATA_HOME/natsops or ~/.local/share/natsops]",
    show_default=False)]
AuthOperator = Annotated[str | None, typer.Option(
    "--operator", envvar="NATSOPS_OPERATOR", help="Operator [default: the only one in the store]",
    show_default=False)]
