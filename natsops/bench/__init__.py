"""``natsops bench``: load generators that measure the server, not the client.

Publishers, subscribers, requesters and JetStream publishers run in worker processes (so every
core is used) and speak the NATS protocol over plain sockets with pipelined, pre-built frames
(:mod:`natsops.bench.wire`). :func:`run_bench` returns a frozen :class:`BenchResult`::

    from natsops.bench import BenchOptions, run_bench
    result = asyncio.run(run_bench(settings, BenchOptions("mybench", pubs=4, subs=4)))

Names are imported on first use so worker processes start without asyncio or nats-py.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from natsops.bench.flags import BenchFlags as BenchFlags
    from natsops.bench.flags import bench_options as bench_options
    from natsops.bench.flags import check_outputs as check_outputs
    from natsops.bench.flags import result_error as result_error
    from natsops.bench.runner import MODES as MODES
    from natsops.bench.runner import BenchOptions as BenchOptions
    from natsops.bench.runner import Progress as Progress
    from natsops.bench.runner import run_bench as run_bench
    from natsops.bench.stats import BenchResult as BenchResult
    from natsops.bench.stats import ClientStats as ClientStats
    from natsops.bench.stats import GroupStats as GroupStats
    from natsops.bench.stats import Latency as Latency
    from natsops.bench.stats import StreamReport as StreamReport
    from natsops.bench.stats import csv_rows as csv_rows

_EXPORTS = {
    "BenchFlags": "natsops.bench.flags",
    "bench_options": "natsops.bench.flags",
    "check_outputs": "natsops.bench.flags",
    "result_error": "natsops.bench.flags",
    "MODES": "natsops.bench.runner",
    "BenchOptions": "natsops.bench.runner",
    "Progress": "natsops.bench.runner",
    "run_bench": "natsops.bench.runner",
    "BenchResult": "natsops.bench.stats",
    "ClientStats": "natsops.bench.stats",
    "GroupStats": "natsops.bench.stats",
    "Latency": "natsops.bench.stats",
    "StreamReport": "natsops.bench.stats",
    "csv_rows": "natsops.bench.stats",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'natsops.bench' has no attribute {name!r}")
