"""Kind ``Consumer``: a durable consumer of a stream; spec fields are ConsumerConfig's.

``metadata.stream`` (or ``spec.stream_name``) names the stream; the resource's name in plans
is ``STREAM/NAME``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from natsops.errors import NotFound
from natsops.estate import fields as f
from natsops.estate.kinds import Kind, is_owned, owner_metadata, register, without_owner
from natsops.estate.model import Action, Doc, Live, Op, Resource
from natsops.jetstream._api import paged
from natsops.jetstream.models import ConsumerInfo
from natsops.jetstream.spec import Change, strip_server_metadata
from natsops.jetstream.streams import HIDDEN_PREFIXES

if TYPE_CHECKING:
    from natsops.estate.context import EstateContext

CONSUMER_DEFAULTS: dict[str, Any] = {
    "deliver_policy": "all", "replay_policy": "instant", "ack_wait": 30 * 10**9,
    "max_deliver": -1, "flow_control": False, "headers_only": False, "mem_storage": False,
    "num_replicas": 0, "deliver_subject": "", "deliver_group": "", "metadata": {},
}
CONSUMER_FIELDS = (
    "name", "durable_name", "stream_name", "description", "deliver_policy", "opt_start_seq",
    "opt_start_time", "ack_policy", "ack_wait", "max_deliver", "backoff", "filter_subject",
    "filter_subjects", "replay_policy", "rate_limit_bps", "sample_freq", "max_waiting",
    "max_ack_pending", "flow_control", "idle_heartbeat", "headers_only", "max_batch",
    "max_expires", "max_bytes", "inactive_threshold", "num_replicas", "mem_storage",
    "deliver_subject", "deliver_group", "metadata", "pause_until", "priority_groups",
    "priority_policy", "priority_timeout")
CONSUMER_CHECKS: dict[str, f.Check] = {
    "deliver_policy": f.one_of("all", "last", "new", "by_start_sequence", "by_start_time",
                               "last_per_subject"),
    "ack_policy": f.one_of("none", "all", "explicit"),
    "replay_policy": f.one_of("instant", "original"), "max_deliver": f.integer(-1),
    "max_ack_pending": f.integer(-1), "max_waiting": f.integer(0),
    "num_replicas": f.integer(0, 5), "filter_subject": f.string, "filter_subjects": f.strings,
    "metadata": f.mapping, "description": f.string, "flow_control": f.boolean,
    "headers_only": f.boolean, "mem_storage": f.boolean,
}
_IMMUTABLE = {
    "deliver_policy": "deliver_policy cannot change (the server refuses it)",
    "opt_start_seq": "opt_start_seq cannot change (the server refuses it)",
    "opt_start_time": "opt_start_time cannot change (the server refuses it)",
    "ack_policy": "ack_policy cannot change (the server refuses it)",
    "replay_policy": "replay_policy cannot change (the server refuses it)",
    "flow_control": "flow_control cannot change (the server refuses it)",
    "idle_heartbeat": "idle_heartbeat cannot change (the server refuses it)",
    "max_waiting": "max_waiting cannot change (the server refuses it)",
}
_DURATIONS = ("ack_wait", "idle_heartbeat", "inactive_threshold", "max_expires",
              "priority_timeout")
_LIST_CONCURRENCY = 16


def split(key: str) -> tuple[str, str]:
    stream, _, name = key.partition("/")
    return stream, name


@register
class ConsumerKind(Kind):
    kind = "Consumer"
    order = 30
    defaults = CONSUMER_DEFAULTS
    immutable = _IMMUTABLE
    since: ClassVar[Mapping[str, tuple[int, int]]] = {
        k: (2, 11) for k in ("pause_until", "priority_groups", "priority_policy",
                             "priority_timeout")}

    def load(self, doc: Doc) -> Resource:
        name = f.name_of(doc, "durable_name", "name")
        f.valid_name(doc, name, "consumer")
        stream = doc.metadata.get("stream") or doc.spec.get("stream_name")
        if not stream:
            raise doc.error("metadata", "no stream: set metadata.stream")
        f.valid_name(doc, str(stream), "stream", "metadata.stream")
        spec = f.check_fields(doc, CONSUMER_FIELDS, CONSUMER_CHECKS,
                              f.api_normaliser("consumer"))
        for k in ("name", "durable_name", "stream_name"):
            spec.pop(k, None)
        return Resource(self.kind, f"{stream}/{name}", spec, doc.where(), doc)

    async def fetch_live(self, ctx: EstateContext,
                         names: Collection[str] | None) -> dict[str, Live]:
        if names is None:
            streams = [n for n in await ctx.streams() if not n.startswith(HIDDEN_PREFIXES)]
        else:
            known = await ctx.streams()
            streams = sorted({split(n)[0] for n in names} & set(known))
        sem = asyncio.Semaphore(_LIST_CONCURRENCY)

        async def one(stream: str) -> list[ConsumerInfo]:
            async with sem:
                try:
                    page = await paged(ctx.conn, f"CONSUMER.LIST.{stream}", "consumers",
                                       what=f"stream {stream}")
                except NotFound:  # deleted since the stream listing
                    return []
            return [ConsumerInfo.parse(c) for c in page.items]

        out: dict[str, Live] = {}
        for infos in await asyncio.gather(*(one(s) for s in streams)):
            for ci in infos:
                key = f"{ci.stream}/{ci.name}"
                if names is None or key in names:
                    out[key] = Live(self.kind, key, ci.config, owned=is_owned(ci.config),
                                    created=ci.created, detail=ci)
        return out

    def compare(self, spec: Mapping[str, Any], live: Mapping[str, Any]) -> list[Change]:
        return super().compare(spec, {k: v for k, v in live.items()
                                      if k not in ("name", "durable_name")})

    def recreate_reason(self, change: Change, live: Live) -> str | None:
        if change.field == "deliver_subject" and (not change.old or not change.new):
            return "a consumer cannot switch between push and pull (the server refuses it)"
        return super().recreate_reason(change, live)

    def requires(self, resource: Resource) -> list[tuple[str, str]]:
        return [("Stream", split(resource.name)[0])]

    def adjust(self, action: Action, recreated: Collection[tuple[str, str]]) -> Action:
        stream = split(action.name)[0]
        if ("Stream", stream) in recreated and action.op in (Op.NOOP, Op.UPDATE, Op.RECREATE):
            return Action(self.kind, action.name, Op.CREATE, (),
                          f"stream {stream} is recreated", desired=action.desired)
        return action

    def config(self, action: Action) -> dict[str, Any]:
        assert action.desired is not None
        spec = action.desired.spec
        base: Mapping[str, Any] = {}
        if action.op is Op.UPDATE and action.live is not None:
            base = action.live.config
        name = split(action.name)[1]
        cfg = strip_server_metadata({**base, **self.defaults, **spec})
        cfg.update(name=name, durable_name=name, metadata=owner_metadata(spec.get("metadata")))
        return cfg

    async def apply(self, ctx: EstateContext, action: Action) -> str:
        from natsops.jetstream.consumers import (
            ConsumerEdit,
            add_consumer,
            apply_consumer_edit,
            delete_consumer,
        )

        stream, name = split(action.name)
        if action.op is Op.DELETE:
            await delete_consumer(ctx.conn, stream, name)
            return "deleted"
        if action.op is Op.UPDATE:
            assert action.live is not None
            # refused if someone changed the consumer since the plan, as `consumer edit` is
            await apply_consumer_edit(ctx.conn, ConsumerEdit(action.live.detail,
                                                             self.config(action), action.changes))
            return "updated"
        if action.op is Op.RECREATE:
            await delete_consumer(ctx.conn, stream, name)
        await add_consumer(ctx.conn, stream, self.config(action))
        return "created"

    def export(self, live: Live) -> dict[str, Any]:
        stream, name = split(live.name)
        cfg = without_owner(live.config)
        spec = f.strip_defaults(cfg, self.defaults, drop=("name", "durable_name"))
        for k in _DURATIONS:
            if k in spec:
                spec[k] = f.human_duration(spec[k])
        if isinstance(spec.get("backoff"), list):
            spec["backoff"] = [f.human_duration(v) for v in spec["backoff"]]
        return {"kind": self.kind, "metadata": {"name": name, "stream": stream}, "spec": spec}

    def nack(self, resource: Resource) -> tuple[dict[str, Any], list[str]] | None:
        from natsops.estate.nack import consumer_cr

        return consumer_cr(resource)
