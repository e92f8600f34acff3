"""The monitoring package: its public names, and an import that loads neither httpx nor nats."""

from __future__ import annotations

import subprocess
import sys

import natsops.monitoring as monitoring


def test_every_public_name_resolves() -> None:
    for name in monitoring.__all__:
        assert getattr(monitoring, name) is not None, name


def test_gather_is_the_function_not_its_module() -> None:
    import natsops.monitoring.gather  # noqa: F401  (the submodule of the same name)
    from natsops.monitoring import MonitorClient, gather, sys_ping

    assert callable(gather) and gather.__module__ == "natsops.monitoring.gather"
    assert MonitorClient.__module__ == "natsops.monitoring.http"
    assert sys_ping.__module__ == "natsops.monitoring.sys"


def test_import_is_light() -> None:
    code = ("import sys, natsops.monitoring\n"
            "print(sorted(m for m in ('httpx', 'nats', 'typer', 'rich') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
