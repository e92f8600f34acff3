"""natsops: operations toolkit for NATS Server and JetStream.

The library is async and typed; the ``natsops`` CLI is a thin layer over it. A CI script can use
it without Typer or rich::

    import asyncio
    import natsops
    from natsops.bootstrap import BootstrapOptions, bootstrap

    settings = natsops.resolve_settings({"server": "nats://127.0.0.1:4222"})

Names are imported on first use, so ``import natsops`` stays cheap for the CLI's start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from natsops._version import __version__

if TYPE_CHECKING:
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

_EXPORTS = {
    "Secret": "natsops.context",
    "Settings": "natsops.context",
    "resolve_settings": "natsops.context",
    "AuthError": "natsops.errors",
    "ChecksFailed": "natsops.errors",
    "Conflict": "natsops.errors",
    "ExitCode": "natsops.errors",
    "NatsopsError": "natsops.errors",
    "NotFound": "natsops.errors",
    "Pending": "natsops.errors",
    "ServerError": "natsops.errors",
    "Timeout": "natsops.errors",
    "Unreachable": "natsops.errors",
    "UsageError": "natsops.errors",
    "Finding": "natsops.findings",
    "Severity": "natsops.findings",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'natsops' has no attribute {name!r}")
