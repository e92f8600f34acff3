"""Kind ``Stream``: a JetStream stream; spec fields are StreamConfig's (the API's names)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, ClassVar

from natsops.errors import Conflict, NatsopsError, ServerError
from natsops.estate import fields as f
from natsops.estate.kinds import Kind, is_owned, owner_metadata, register, without_owner
from natsops.estate.model import Action, Doc, Live, Op, Resource
from natsops.jetstream.models import StreamInfo
from natsops.jetstream.spec import Change, strip_server_metadata
from natsops.jetstream.streams import HIDDEN_PREFIXES

if TYPE_CHECKING:
    from natsops.connection import Conn
    from natsops.estate.context import EstateContext

# what the server fills in for a field a StreamConfig leaves out (nats-server's defaults)
STREAM_DEFAULTS: dict[str, Any] = {
    "retention": "limits", "max_consumers": -1, "max_msgs": -1, "max_bytes": -1, "max_age": 0,
    "max_msgs_per_subject": -1, "max_msg_size": -1, "discard": "old", "storage": "file",
    "num_replicas": 1, "no_ack": False, "sealed": False, "deny_delete": False,
    "deny_purge": False, "allow_rollup_hdrs": False, "allow_direct": False,
    "mirror_direct": False, "compression": "none", "discard_new_per_subject": False,
    "metadata": {},
}
STREAM_FIELDS = (
    "name", "description", "subjects", "retention", "max_consumers", "max_msgs", "max_bytes",
    "max_age", "max_msgs_per_subject", "max_msg_size", "discard", "storage", "num_replicas",
    "no_ack", "duplicate_window", "placement", "mirror", "sources", "sealed", "deny_delete",
    "deny_purge", "allow_rollup_hdrs", "allow_direct", "mirror_direct", "republish",
    "compression", "first_seq", "subject_transform", "discard_new_per_subject", "metadata",
    "consumer_limits", "allow_msg_ttl", "subject_delete_marker_ttl", "allow_msg_counter",
    "allow_atomic", "allow_msg_schedules", "persist_mode")
STREAM_CHECKS: dict[str, f.Check] = {
    "subjects": f.strings, "retention": f.one_of("limits", "interest", "workqueue"),
    "discard": f.one_of("old", "new"), "storage": f.one_of("file", "memory"),
    "num_replicas": f.integer(1, 5), "max_msgs": f.integer(-1), "max_bytes": f.integer(-1),
    "max_age": f.integer(0), "max_msgs_per_subject": f.integer(-1),
    "max_msg_size": f.integer(-1), "max_consumers": f.integer(-1),
    "duplicate_window": f.integer(0), "compression": f.one_of("none", "s2"),
    "placement": f.mapping, "metadata": f.mapping, "description": f.string,
    **{k: f.boolean for k in ("no_ack", "sealed", "deny_delete", "deny_purge",
                              "allow_rollup_hdrs", "allow_direct", "mirror_direct",
                              "discard_new_per_subject", "allow_msg_ttl")},
}
STREAM_SINCE: dict[str, tuple[int, int]] = {
    "allow_msg_ttl": (2, 11), "subject_delete_marker_ttl": (2, 11), "allow_msg_counter": (2, 12),
    "allow_atomic": (2, 12), "allow_msg_schedules": (2, 12), "persist_mode": (2, 12)}
_DURATIONS = ("max_age", "duplicate_window", "subject_delete_marker_ttl")
_SIZES = ("max_bytes", "max_msg_size")


def human_config(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """A StreamConfig with durations and sizes written as ``720h`` / ``50GB`` where exact."""
    out = dict(cfg)
    for k in _DURATIONS:
        if k in out:
            out[k] = f.human_duration(out[k])
    for k in _SIZES:
        if k in out:
            out[k] = f.human_size(out[k])
    return out


def stream_live(kind: str, name: str, si: StreamInfo, config: Mapping[str, Any]) -> Live:
    return Live(kind, name, config, owned=is_owned(si.config), holds=si.messages,
                created=si.created, detail=si)


async def wait_replicas(conn: Conn, name: str, replicas: int, timeout: float) -> str:
    """Wait until stream ``name`` and its consumers have current replicas (as `stream edit`)."""
    from natsops.jetstream.scale import wait_replicated

    if replicas <= 1:
        return "R1"
    await wait_replicated(conn, name, replicas, timeout)
    return f"R{replicas} current"


def scaled(action: Action) -> bool:
    """Whether an update changes replicas or placement (then apply waits for the replicas)."""
    return any(c.field.split(".")[0] in ("num_replicas", "replicas", "placement")
               for c in action.changes)


async def backup_before_recreate(ctx: EstateContext, name: str, holds: int) -> str:
    """A verified backup of stream ``name`` (when it holds messages) before it is deleted."""
    if not holds:
        return ""
    if not ctx.options.allow_recreate:
        raise Conflict(f"stream {name} holds {holds:,} messages: recreating it deletes them",
                       hint="pass --allow-recreate to take a verified backup first and "
                       "recreate it")
    from natsops.backup import backup_stream, verify_backup
    from natsops.files import check_output_dir
    from natsops.findings import Severity

    folder = check_output_dir(ctx.options.backup_dir, what="backup folder")
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{name}-{stamp}.tar"
    ctx.progress(f"backing up stream {name} to {path}")
    await backup_stream(ctx.conn, name, path)
    _, findings = verify_backup(path)
    bad = [x for x in findings if x.severity >= Severity.FAIL]
    if bad:
        raise ServerError(f"the backup of stream {name} at {path} failed verification: "
                          f"{bad[0].message}; the stream was not touched")
    return f"backup of {holds:,} messages at {path} (verified)"


async def apply_stream_action(ctx: EstateContext, action: Action, stream: str,
                              cfg: dict[str, Any] | None) -> str:
    """Delete, update (through ``stream edit``'s path), create or recreate stream ``stream``
    with ``cfg``; wait for the replicas when they grow or move. Streams and buckets share it."""
    from natsops.jetstream.scale import apply_edit_and_wait
    from natsops.jetstream.streams import StreamEdit, add_stream, delete_stream

    if action.op is Op.DELETE or cfg is None:
        await delete_stream(ctx.conn, stream)
        return "deleted"
    replicas = int(cfg.get("num_replicas") or 1)
    if action.op is Op.UPDATE:
        assert action.live is not None
        # `stream edit`'s path: refused if someone changed the stream since the plan; a
        # replica or placement change waits until the replicas (moved ones too) are current
        await apply_edit_and_wait(ctx.conn, StreamEdit(action.live.detail, cfg, action.changes),
                                  ready_timeout=ctx.options.replica_timeout)
        if not scaled(action):
            return "updated"
        return f"R{replicas} current" if replicas > 1 else "R1"
    note = ""
    if action.op is Op.RECREATE:
        assert action.live is not None
        note = await backup_before_recreate(ctx, stream, action.live.holds)
        await delete_stream(ctx.conn, stream)
    try:
        await add_stream(ctx.conn, cfg)
    except NatsopsError as exc:
        if action.op is Op.RECREATE:
            kept = f" ({note})" if note else ""
            exc.message = (f"stream {stream} was deleted{kept} but creating it again failed: "
                           f"{exc.message}")
        raise
    if replicas > 1:
        await wait_replicas(ctx.conn, stream, replicas, ctx.options.replica_timeout)
    return "; ".join(x for x in (note, "created") if x)


@register
class StreamKind(Kind):
    kind = "Stream"
    order = 20
    defaults = STREAM_DEFAULTS
    since = STREAM_SINCE
    immutable: ClassVar[Mapping[str, str]] = {
        "storage": "storage cannot change (the server refuses it)",
        "mirror": "a mirror's origin cannot change (the server refuses it)"}

    def load(self, doc: Doc) -> Resource:
        name = f.name_of(doc, "name")
        f.valid_name(doc, name, "stream")
        if name.startswith(HIDDEN_PREFIXES):
            raise doc.error("metadata.name", f"{name} is a bucket's stream: write a KeyValue or "
                            "ObjectStore resource")
        spec = f.check_fields(doc, STREAM_FIELDS, STREAM_CHECKS, f.api_normaliser("stream"))
        spec.pop("name", None)
        if isinstance(spec.get("subjects"), str):
            spec["subjects"] = [spec["subjects"]]
        return Resource(self.kind, name, spec, doc.where(), doc)

    async def fetch_live(self, ctx: EstateContext,
                         names: Collection[str] | None) -> dict[str, Live]:
        streams = await ctx.streams()
        wanted = streams if names is None else {n: streams[n] for n in names if n in streams}
        return {n: stream_live(self.kind, n, si, si.config) for n, si in wanted.items()
                if not n.startswith(HIDDEN_PREFIXES)}

    def recreate_reason(self, change: Change, live: Live) -> str | None:
        top = change.field.split(".")[0]
        if top == "retention" and "workqueue" in (change.old, change.new):
            return "retention cannot change to or from workqueue (the server refuses it)"
        if top == "sealed" and change.old:
            return "a sealed stream cannot be unsealed"
        return super().recreate_reason(change, live)

    def delete_note(self, live: Live) -> str:
        n = live.detail.consumers if live.detail is not None else 0
        return f"its {n} consumer(s) go with it" if n else ""

    def config(self, action: Action) -> dict[str, Any]:
        """The StreamConfig to submit: the live one (if any), then defaults, then the recipe."""
        assert action.desired is not None
        spec = action.desired.spec
        base: Mapping[str, Any] = {}
        if action.op is Op.UPDATE and action.live is not None:
            base = action.live.detail.config
        cfg = strip_server_metadata({**base, **self.defaults, **spec})
        cfg["name"] = action.desired.name
        cfg["metadata"] = owner_metadata(spec.get("metadata"))
        return cfg

    async def apply(self, ctx: EstateContext, action: Action) -> str:
        cfg = None if action.op is Op.DELETE else self.config(action)
        return await apply_stream_action(ctx, action, action.name, cfg)

    def export(self, live: Live) -> dict[str, Any]:
        cfg = without_owner(live.config)
        spec = human_config(f.strip_defaults(cfg, self.defaults, drop=("name",)))
        return {"kind": self.kind, "metadata": {"name": live.name}, "spec": spec}

    def nack(self, resource: Resource) -> tuple[dict[str, Any], list[str]] | None:
        from natsops.estate.nack import stream_cr

        return stream_cr(resource)
