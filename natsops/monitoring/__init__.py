"""Monitoring: one gathering step, two transports, one :class:`Snapshot` every reader shares.

* transports: :mod:`~natsops.monitoring.http` (:class:`MonitorClient`, one server's HTTP
  monitor port) and :mod:`~natsops.monitoring.sys` (:func:`sys_ping`, ``$SYS`` requests every
  server answers over one system-account connection);
* :mod:`~natsops.monitoring.snapshot`: :class:`Snapshot` (per server the documents it answered
  with, plus the expected servers that did not answer) and its derived views;
* :mod:`~natsops.monitoring.gather`: :func:`gather` (choosing the transport), :func:`watch`;
  :mod:`~natsops.monitoring.inventory`: a local cluster's nodes and config files;
* :mod:`~natsops.monitoring.views` and :mod:`~natsops.monitoring.top`: what ``server`` and
  ``top`` show, built from Snapshots.

doctor, ``server``, ``top``, the upgrade gates and ``sizing --from-cluster`` read Snapshots;
none issues its own per-stream requests. Importing this package stays cheap: httpx and nats-py
load only when a transport is used.
"""

from __future__ import annotations

from natsops.monitoring.gather import (
    PARTS,
    GatherOptions,
    gather,
    gather_http,
    gather_sampled,
    gather_sys,
    watch,
)
from natsops.monitoring.http import ENDPOINTS, Health, MonitorClient, ServerSummary
from natsops.monitoring.inventory import (
    Inventory,
    config_digests,
    config_file_for,
    local_inventory,
)
from natsops.monitoring.snapshot import ConsumerView, ServerView, Snapshot, StreamView
from natsops.monitoring.sys import PingResult, sys_connection, sys_ping
from natsops.monitoring.top import TopOptions, top_frames
from natsops.monitoring.views import (
    ConnRow,
    JetStreamReport,
    JsServerRow,
    MetaPeerRow,
    ServerRow,
    TopFrame,
    jetstream_report,
    server_info,
    server_infos,
    server_rows,
    top_frame,
)

__all__ = [
    "ENDPOINTS",
    "PARTS",
    "ConnRow",
    "ConsumerView",
    "GatherOptions",
    "Health",
    "Inventory",
    "JetStreamReport",
    "JsServerRow",
    "MetaPeerRow",
    "MonitorClient",
    "PingResult",
    "ServerRow",
    "ServerSummary",
    "ServerView",
    "Snapshot",
    "StreamView",
    "TopFrame",
    "TopOptions",
    "config_digests",
    "config_file_for",
    "gather",
    "gather_http",
    "gather_sampled",
    "gather_sys",
    "jetstream_report",
    "local_inventory",
    "server_info",
    "server_infos",
    "server_rows",
    "sys_connection",
    "sys_ping",
    "top_frame",
    "top_frames",
    "watch",
]
