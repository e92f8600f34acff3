"""natsops: operations toolkit for NATS Server and JetStream.

The library is async and typed; the ``natsops`` CLI is a thin layer over it. A CI script can use
it without Typer or rich::

    import asyncio, natsops
    settings = natsops.resolve_settings({"server": "nats://127.0.0.1:4222"})
"""

from natsops._version import __version__
from natsops.context import Secret, Settings, resolve_settings
from natsops.errors import (
    AuthError,
    ChecksFailed,
    Conflict,
    ExitCode,
    NatsopsError,
    NotFound,
    Pending,
    ServerError,
    Timeout,
    Unreachable,
    UsageError,
)
from natsops.findings import Finding, Severity

__all__ = [
    "AuthError",
    "ChecksFailed",
    "Conflict",
    "ExitCode",
    "Finding",
    "NatsopsError",
    "NotFound",
    "Pending",
    "Secret",
    "ServerError",
    "Settings",
    "Severity",
    "Timeout",
    "Unreachable",
    "UsageError",
    "__version__",
    "resolve_settings",
]
