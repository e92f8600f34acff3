"""``natsops upgrade --rolling``: upgrade or restart a JetStream cluster one server at a time.

- :mod:`~natsops.upgrade.run` -- :func:`prepare` (read, preflight, plan) and :func:`execute`
- :mod:`~natsops.upgrade.plan` -- the order and per-server steps
- :mod:`~natsops.upgrade.preflight` -- the doctor's checks plus R1 and version-path refusals
- :mod:`~natsops.upgrade.gates` -- the watcher, abort rule and gates
- :mod:`~natsops.upgrade.strategies` -- local processes, command templates, kubectl
- :mod:`~natsops.upgrade.canary` -- the canary stream that proves nothing was lost
- :mod:`~natsops.upgrade.journal` -- the state file behind ``--resume``
- :mod:`~natsops.upgrade.versions` -- releases, the one-minor rule, fetching a release

Example::

    from natsops.upgrade import UpgradeOptions, execute, prepare

    prep = await prepare(UpgradeOptions(cluster_dir=Path("dev"), to_version="2.15.1"))
    if not prep.refused:
        report = await execute(prep)
"""

from __future__ import annotations

from natsops.upgrade.run import (
    Prepared,
    ServerResult,
    UpgradeOptions,
    UpgradeReport,
    execute,
    prepare,
)

__all__ = ["Prepared", "ServerResult", "UpgradeOptions", "UpgradeReport", "execute", "prepare"]
