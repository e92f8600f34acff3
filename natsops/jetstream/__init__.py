"""Typed async helpers over the JetStream API, including what nats-py lacks.

Every function takes an open :class:`~natsops.connection.Conn` (``async with connect(s) as
conn``) and returns frozen dataclasses; API errors become natsops errors in one place
(:mod:`natsops.jetstream.errors`: 10059/10014 -> NotFound, 10058/10148 -> Conflict, ...).

- :mod:`~natsops.jetstream.streams` -- natscli-style stream configs, create/update/info, paged
  ``STREAM.NAMES``/``STREAM.LIST``, purge, delete, leader step-down, peer removal
- :mod:`~natsops.jetstream.consumers` -- consumer configs, create/update (named subjects),
  paged listing, ``next``, pause/resume, step-down
- :mod:`~natsops.jetstream.kv` -- buckets with placement and direct get; keys, history, watch
- :mod:`~natsops.jetstream.objects` -- object stores; chunked put, verified atomic get
- :mod:`~natsops.jetstream.spec` -- config files (JSON/YAML, Info or Config), normalise, diff
- :mod:`~natsops.jetstream.questions` -- the values natscli asks for on ``add``, asked through
  a callback (the CLI's terminal prompt) or reported as missing

Changing commands plan first, then act: ``plan_stream_edit``/``plan_consumer_edit`` (or an info
read for ``rm``/``purge``) returns what would change, the caller confirms with no connection
open, and ``update_stream``/``delete_stream``/... act in a second connection.

Example::

    from natsops.connection import connect
    from natsops.jetstream import list_streams

    async with connect(settings) as conn:
        listing = await list_streams(conn)   # every page, each info the leader's view
"""

from __future__ import annotations

from natsops.jetstream.consumers import (
    ConsumerFlags,
    add_consumer,
    consumer_info,
    list_consumers,
    next_messages,
)
from natsops.jetstream.models import ClusterView, ConsumerInfo, Replica, StreamInfo
from natsops.jetstream.spec import diff_configs, load_config_file
from natsops.jetstream.streams import (
    StreamFlags,
    add_stream,
    list_streams,
    plan_stream_edit,
    step_down,
    stream_config_for_add,
    stream_info,
    stream_names,
    update_stream,
)

__all__ = [
    "ClusterView",
    "ConsumerFlags",
    "ConsumerInfo",
    "Replica",
    "StreamFlags",
    "StreamInfo",
    "add_consumer",
    "add_stream",
    "consumer_info",
    "diff_configs",
    "list_consumers",
    "list_streams",
    "load_config_file",
    "next_messages",
    "plan_stream_edit",
    "step_down",
    "stream_config_for_add",
    "stream_info",
    "stream_names",
    "update_stream",
]
