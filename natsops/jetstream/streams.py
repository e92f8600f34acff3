"""Streams: build configs the way natscli does, create/update/list/delete/purge, step-downs.

Every call goes through the raw JetStream API (``_api.request``) so that configs keep every field
the server knows, listings page past nats-py's single page, and cluster operations nats-py lacks
(step-down, peer removal) are available.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from natsops.errors import Conflict, NotFound, Timeout, UsageError
from natsops.jetstream._api import Page, check_name, paged, request
from natsops.jetstream.errors import NO_ROOM, JSApiError
from natsops.jetstream.models import StreamInfo
from natsops.jetstream.questions import Ask, Question, answer_int, unanswered
from natsops.jetstream.spec import Change, diff_configs, load_config_file, ns
from natsops.units import parse_duration, parse_size

if TYPE_CHECKING:
    from pathlib import Path

    from natsops.connection import Conn

__all__ = [
    "ADD_DEFAULTS",
    "HIDDEN_PREFIXES",
    "PROMPTED",
    "Purge",
    "StepDown",
    "StreamEdit",
    "StreamFlags",
    "StreamListing",
    "add_stream",
    "apply_stream_edit",
    "apply_stream_flags",
    "delete_stream",
    "fill_stream_config",
    "list_stream_names",
    "list_streams",
    "missing_for_add",
    "peer_remove",
    "plan_stream_edit",
    "purge_stream",
    "report_streams",
    "sort_streams",
    "step_down",
    "stream_add_config",
    "stream_config_for_add",
    "stream_exists",
    "stream_info",
    "stream_names",
    "update_stream",
    "visible_names",
]

# What natscli's `stream add --defaults` fills in for every value not given.
ADD_DEFAULTS: dict[str, Any] = {
    "storage": "file", "compression": "none", "num_replicas": 1, "retention": "limits",
    "discard": "old", "max_msgs": -1, "max_msgs_per_subject": -1, "max_bytes": -1,
    "max_age": 0, "max_msg_size": -1, "allow_direct": True,
}
# Values natscli prompts for when they are not given (and --defaults is absent): key -> flag.
PROMPTED: dict[str, str] = {
    "subjects": "--subjects", "storage": "--storage", "num_replicas": "--replicas",
    "retention": "--retention", "discard": "--discard", "max_msgs": "--max-msgs",
    "max_msgs_per_subject": "--max-msgs-per-subject", "max_bytes": "--max-bytes",
    "max_age": "--max-age", "max_msg_size": "--max-msg-size",
}
# Streams that back KV buckets, object stores and MQTT sessions: listings leave them out
# unless asked for all.
HIDDEN_PREFIXES = ("KV_", "OBJ_", "$MQTT_")
_RETENTION = {"limits": "limits", "interest": "interest", "work": "workqueue",
              "workq": "workqueue", "workqueue": "workqueue"}


def _choice(value: str, allowed: Mapping[str, str] | tuple[str, ...], flag: str) -> str:
    table = allowed if isinstance(allowed, Mapping) else {a: a for a in allowed}
    v = value.strip().lower()
    if v not in table:
        raise UsageError(f"invalid {flag} {value!r}: use one of {', '.join(sorted(table))}")
    return table[v]


def split_list(values: tuple[str, ...] | list[str] | None) -> list[str]:
    """natscli list flags: repeatable, and each value may be a comma or space separated list."""
    out: list[str] = []
    for v in values or ():
        out.extend(p for p in v.replace(",", " ").split() if p)
    return out


def tuple_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Flag values with lists (repeatable flags) as tuples, as the frozen flag classes keep them."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}


def parse_metadata(values: tuple[str, ...] | None, flag: str = "--metadata") -> dict[str, str]:
    out = {}
    for item in values or ():
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise UsageError(f"invalid {flag} {item!r}: use key=value")
        out[k] = v
    return out


@dataclass(frozen=True)
class StreamFlags:
    """Stream options as given on the command line; None means "not given"."""

    subjects: tuple[str, ...] | None = None
    description: str | None = None
    storage: str | None = None
    replicas: int | None = None
    retention: str | None = None
    discard: str | None = None
    discard_per_subject: bool | None = None
    max_msgs: int | None = None
    max_msgs_per_subject: int | None = None
    max_bytes: str | None = None
    max_age: str | None = None
    max_msg_size: str | None = None
    max_consumers: int | None = None
    dupe_window: str | None = None
    compression: str | None = None
    first_seq: int | None = None
    cluster: str | None = None
    tags: tuple[str, ...] | None = None
    mirror: str | None = None
    sources: tuple[str, ...] | None = None
    allow_rollup: bool | None = None
    deny_delete: bool | None = None
    deny_purge: bool | None = None
    allow_direct: bool | None = None
    allow_mirror_direct: bool | None = None
    allow_msg_ttl: bool | None = None
    subject_del_markers_ttl: str | None = None
    ack: bool | None = None
    metadata: tuple[str, ...] | None = None

    def given(self) -> bool:
        return any(getattr(self, f.name) is not None for f in fields(self))

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> StreamFlags:
        """Flags from option values named as the fields (lists become tuples)."""
        return cls(**tuple_values(values))


def apply_stream_flags(base: Mapping[str, Any], f: StreamFlags) -> dict[str, Any]:
    """Return ``base`` with every given flag applied (sizes/durations parsed as natscli does)."""
    cfg = dict(base)
    if f.subjects is not None:
        cfg["subjects"] = split_list(f.subjects)
    if f.description is not None:
        cfg["description"] = f.description
    if f.storage is not None:
        cfg["storage"] = _choice(f.storage, {"file": "file", "f": "file", "memory": "memory",
                                             "m": "memory", "mem": "memory"}, "--storage")
    if f.replicas is not None:
        if not 1 <= f.replicas <= 5:
            raise UsageError(f"invalid --replicas {f.replicas}: use 1 to 5")
        cfg["num_replicas"] = f.replicas
    if f.retention is not None:
        cfg["retention"] = _choice(f.retention, _RETENTION, "--retention")
    if f.discard is not None:
        cfg["discard"] = _choice(f.discard, ("old", "new"), "--discard")
    if f.discard_per_subject is not None:
        cfg["discard_new_per_subject"] = f.discard_per_subject
    for key in ("max_msgs", "max_msgs_per_subject", "max_consumers"):
        v = getattr(f, key)
        if v is not None:
            cfg[key] = -1 if v < 0 else v
    if f.max_bytes is not None:
        cfg["max_bytes"] = parse_size(f.max_bytes, what="--max-bytes")
    if f.max_msg_size is not None:
        cfg["max_msg_size"] = parse_size(f.max_msg_size, what="--max-msg-size")
    if f.max_age is not None:
        cfg["max_age"] = 0 if f.max_age in ("", "-1") else ns(parse_duration(
            f.max_age, what="--max-age"))
    if f.dupe_window is not None:
        cfg["duplicate_window"] = ns(parse_duration(f.dupe_window, what="--dupe-window"))
    if f.subject_del_markers_ttl is not None:
        cfg["subject_delete_marker_ttl"] = ns(parse_duration(
            f.subject_del_markers_ttl, what="--subject-del-markers-ttl"))
    if f.compression is not None:
        cfg["compression"] = _choice(f.compression, ("none", "s2"), "--compression")
    if f.first_seq is not None:
        cfg["first_seq"] = f.first_seq
    if f.cluster is not None or f.tags is not None:
        placement = dict(cfg.get("placement") or {})
        if f.cluster is not None:
            placement["cluster"] = f.cluster
        if f.tags is not None:
            placement["tags"] = split_list(f.tags)
        cfg["placement"] = placement
    if f.mirror is not None:
        cfg["mirror"] = {"name": check_name(f.mirror, "mirror stream")}
    if f.sources is not None:
        cfg["sources"] = [{"name": check_name(s, "source stream")} for s in split_list(f.sources)]
    for key, flag in (("allow_rollup_hdrs", "allow_rollup"), ("deny_delete", "deny_delete"),
                      ("deny_purge", "deny_purge"), ("allow_direct", "allow_direct"),
                      ("mirror_direct", "allow_mirror_direct"),
                      ("allow_msg_ttl", "allow_msg_ttl")):
        v = getattr(f, flag)
        if v is not None:
            cfg[key] = v
    if f.ack is not None:
        cfg["no_ack"] = not f.ack
    if f.metadata is not None:
        cfg["metadata"] = {**(cfg.get("metadata") or {}), **parse_metadata(f.metadata)}
    _validate(cfg)
    return cfg


def _validate(cfg: Mapping[str, Any]) -> None:
    if cfg.get("mirror") and (cfg.get("subjects") or cfg.get("sources")):
        raise UsageError("a mirror stream cannot have --subjects or --source")
    if cfg.get("discard_new_per_subject") and cfg.get("discard") == "old":
        raise UsageError("--discard-per-subject needs --discard new")


def missing_for_add(cfg: Mapping[str, Any]) -> list[str]:
    """Keys natscli would prompt for that ``cfg`` does not set (subjects not for mirrors)."""
    return [k for k in PROMPTED if k not in cfg and not (k == "subjects" and cfg.get("mirror"))]


def _stream_questions(cfg: Mapping[str, Any]) -> list[Question]:
    return [Question(key, PROMPTED[key].lstrip("-"),
                     str(cfg["name"] if key == "subjects" else ADD_DEFAULTS.get(key, "")))
            for key in missing_for_add(cfg)]


def fill_stream_config(cfg: Mapping[str, Any], ask: Ask | None) -> dict[str, Any]:
    """Ask for each value natscli would prompt for and ``cfg`` lacks, and apply the answers.

    With nothing missing ``cfg`` is returned as is; with values missing and no ``ask`` it is a
    usage error naming their flags.
    """
    questions = _stream_questions(cfg)
    if not questions:
        return dict(cfg)
    if ask is None:
        raise unanswered([PROMPTED[q.key] for q in questions])
    a = {q.key: ask(q) for q in questions}

    def num(key: str) -> int | None:
        return answer_int(a[key], PROMPTED[key]) if key in a else None

    return apply_stream_flags(cfg, StreamFlags(
        subjects=(a["subjects"],) if "subjects" in a else None, storage=a.get("storage"),
        retention=a.get("retention"), discard=a.get("discard"), max_bytes=a.get("max_bytes"),
        max_age=a.get("max_age"), max_msg_size=a.get("max_msg_size"),
        replicas=num("num_replicas"), max_msgs=num("max_msgs"),
        max_msgs_per_subject=num("max_msgs_per_subject")))


def stream_add_config(name: str | None, flags: StreamFlags, *, config: str | Path | None = None,
                      defaults: bool = False, ask: Ask | None = None) -> dict[str, Any]:
    """The config ``stream add`` submits, built before any connection.

    ``config`` (a JSON/YAML file) + ``flags``; with ``defaults`` natscli's defaults fill the rest,
    and with neither ``defaults`` nor ``config`` the values left out are asked for (``ask``).
    """
    base = load_config_file(config) if config else {}
    cfg = stream_config_for_add(name, base, flags, defaults=defaults)
    return cfg if defaults or config else fill_stream_config(cfg, ask)


def stream_config_for_add(name: str | None, base: Mapping[str, Any], flags: StreamFlags, *,
                          defaults: bool) -> dict[str, Any]:
    """The config ``stream add`` submits: ``base`` (from --config) + flags (+ natscli defaults)."""
    cfg = dict(base)
    if name:
        check_name(name)
        if cfg.get("name") and cfg["name"] != name:
            raise UsageError(f"the stream name {name!r} differs from the name "
                             f"{cfg['name']!r} in --config")
        cfg["name"] = name
    if not cfg.get("name"):
        raise UsageError("give a stream name (argument or 'name' in --config)")
    check_name(str(cfg["name"]))
    cfg = apply_stream_flags(cfg, flags)
    if defaults:
        for k, v in ADD_DEFAULTS.items():
            cfg.setdefault(k, v)
        if "subjects" not in cfg and not cfg.get("mirror") and not cfg.get("sources"):
            cfg["subjects"] = [cfg["name"]]
    return cfg


async def list_stream_names(conn: Conn, subject: str | None = None) -> list[str]:
    """Every stream name (STREAM.NAMES, all pages), optionally those listening on ``subject``.

    Sorted, each name once (a stream added while the pages are read can shift one into the
    next page).
    """
    page = await paged(conn, "STREAM.NAMES", "streams",
                       body={"subject": subject} if subject else None, what="list streams")
    return sorted({str(n) for n in page.items})


stream_names = list_stream_names  # the older name, still used by the stream and bucket commands


async def stream_exists(conn: Conn, name: str) -> bool:
    """Whether stream ``name`` exists (STREAM.INFO answers; NotFound means no)."""
    check_name(name)
    try:
        await request(conn, f"STREAM.INFO.{name}", what=f"stream {name}")
    except NotFound:
        return False
    return True


def visible_names(names: list[str] | tuple[str, ...], *, show_all: bool = False) -> list[str]:
    """``names`` without the KV, object store and MQTT streams (all of them with ``show_all``)."""
    return [n for n in names if show_all or not n.startswith(HIDDEN_PREFIXES)]


@dataclass(frozen=True)
class StreamListing:
    """Every stream with its info, plus the names the cluster could not report."""

    streams: tuple[StreamInfo, ...]
    total: int
    missing: tuple[str, ...]
    offline: Mapping[str, str]


async def list_streams(conn: Conn, subject: str | None = None) -> StreamListing:
    """Every stream's info (STREAM.LIST, all pages; each info is the stream leader's view)."""
    page: Page = await paged(conn, "STREAM.LIST", "streams",
                             body={"subject": subject} if subject else None, what="list streams")
    infos = tuple(StreamInfo.parse(s) for s in page.items)
    return StreamListing(streams=infos, total=page.total, missing=page.missing,
                         offline=page.offline)


def sort_streams(streams: tuple[StreamInfo, ...] | list[StreamInfo],
                 by: str = "bytes") -> list[StreamInfo]:
    """natscli `stream report` orders: bytes (default), messages, consumers, name, storage."""
    keys: dict[str, Any] = {
        "bytes": lambda s: (s.bytes, s.name), "messages": lambda s: (s.messages, s.name),
        "consumers": lambda s: (s.consumers, s.name), "name": lambda s: s.name,
        "storage": lambda s: (s.storage, s.name), "replicas": lambda s: (s.replicas, s.name)}
    if by not in keys:
        raise UsageError(f"invalid sort {by!r}: use one of {', '.join(keys)}")
    return sorted(streams, key=keys[by])


async def report_streams(conn: Conn, subject: str | None = None, *, sort: str = "bytes",
                         show_all: bool = False) -> StreamListing:
    """Every stream's info sorted by ``sort`` (checked first), KV/object/MQTT ones only if asked.

    ``total`` stays the server's count of every stream.
    """
    sort_streams((), sort)
    res = await list_streams(conn, subject)
    shown = set(visible_names([s.name for s in res.streams], show_all=show_all))
    return StreamListing(streams=tuple(s for s in sort_streams(res.streams, sort)
                                       if s.name in shown),
                         total=res.total, missing=res.missing, offline=res.offline)


async def stream_info(conn: Conn, name: str) -> StreamInfo:
    check_name(name)
    return StreamInfo.parse(await request(conn, f"STREAM.INFO.{name}", what=f"stream {name}"))


async def add_stream(conn: Conn, cfg: Mapping[str, Any]) -> StreamInfo:
    """Create a stream (idempotent when the same config exists; Conflict when it differs)."""
    name = check_name(str(cfg.get("name", "")))
    reply = await request(conn, f"STREAM.CREATE.{name}", dict(cfg), what=f"stream {name}")
    return StreamInfo.parse(reply)


async def update_stream(conn: Conn, cfg: Mapping[str, Any]) -> StreamInfo:
    name = check_name(str(cfg.get("name", "")))
    reply = await request(conn, f"STREAM.UPDATE.{name}", dict(cfg), what=f"stream {name}")
    return StreamInfo.parse(reply)


@dataclass(frozen=True)
class StreamEdit:
    """What ``stream edit`` would do: the current info, the new config and the changes."""

    current: StreamInfo
    config: dict[str, Any]
    changes: tuple[Change, ...]


async def plan_stream_edit(conn: Conn, name: str, flags: StreamFlags,
                           replace: Mapping[str, Any] | None = None) -> StreamEdit:
    """Fetch ``name`` and compute its new config: ``replace`` (a --config) or current + flags."""
    current = await stream_info(conn, name)
    if replace is not None:
        if replace.get("name") not in (None, name):
            raise UsageError(f"--config is for stream {replace.get('name')!r}, not {name!r}")
        base = {**replace, "name": name}
    else:
        base = dict(current.config)
    if replace is None and not flags.given():
        raise UsageError("nothing to change: give --config FILE or option flags")
    cfg = apply_stream_flags(base, flags)
    from natsops.jetstream.spec import strip_server_metadata

    cfg = strip_server_metadata(cfg)
    return StreamEdit(current=current, config=cfg,
                      changes=tuple(diff_configs(current.config, cfg)))


def unchanged_since(what: str, planned: Mapping[str, Any], now: Mapping[str, Any]) -> None:
    """Conflict when the config an edit was planned on has changed since (someone else edited)."""
    changed = diff_configs(planned, now)
    if changed:
        raise Conflict(f"{what} changed since the edit was planned "
                       f"({', '.join(c.field for c in changed)})", hint="run the edit again")


# how long a scale-up refused for want of room (NO_ROOM) is retried: after a scale-down the removed
# replicas' storage reservations are released a moment later (seconds) on their servers
SCALE_UP_PLACEMENT_WAIT = 8.0


async def apply_stream_edit(conn: Conn, plan: StreamEdit, *,
                            placement_wait: float = SCALE_UP_PLACEMENT_WAIT) -> StreamInfo:
    """Submit a planned edit, unless the stream's config changed since it was planned.

    A scale-up refused for want of room (10005 no suitable peers, 10047/10028 insufficient
    storage/memory) is retried for ``placement_wait`` seconds, as a restore is: replicas
    removed moments ago still hold their reservations.
    """
    name = plan.current.name
    unchanged_since(f"stream {name}", plan.current.config, (await stream_info(conn, name)).config)
    grows = int(plan.config.get("num_replicas") or 1) > plan.current.replicas
    deadline = time.monotonic() + (placement_wait if grows else 0.0)
    while True:
        try:
            return await update_stream(conn, plan.config)
        except JSApiError as exc:
            if exc.err_code not in NO_ROOM or not grows:
                raise
            if time.monotonic() >= deadline:
                exc.hint = (f"still no room for the new replicas after {placement_wait:g}s of "
                            f"retries; {exc.hint}")
                raise
        await asyncio.sleep(0.25)


async def delete_stream(conn: Conn, name: str) -> bool:
    """Delete stream ``name`` and its messages; False when there was no such stream."""
    check_name(name)
    try:
        # deleting a big file-backed stream can take longer than an ordinary request
        await request(conn, f"STREAM.DELETE.{name}", what=f"stream {name}",
                      timeout=max(conn.settings.timeout, 10))
    except NotFound:
        return False
    return True


@dataclass(frozen=True)
class Purge:
    """What a purge removes: every message, or those on ``subject``, below ``seq``, or all but
    the latest ``keep`` (``seq`` and ``keep`` exclude each other: checked on creation)."""

    subject: str | None = None
    seq: int | None = None
    keep: int | None = None

    def __post_init__(self) -> None:
        if self.seq is not None and self.keep is not None:
            raise UsageError("--seq and --keep cannot be combined")

    def body(self) -> dict[str, Any] | None:
        body: dict[str, Any] = {}
        if self.subject:
            body["filter"] = self.subject
        if self.seq is not None:
            body["seq"] = self.seq
        if self.keep is not None:
            body["keep"] = self.keep
        return body or None


async def purge_stream(conn: Conn, name: str, purge: Purge | None = None) -> int:
    """Purge messages (all, or as ``purge`` says); returns how many were removed."""
    check_name(name)
    reply = await request(conn, f"STREAM.PURGE.{name}", (purge or Purge()).body(),
                          what=f"stream {name}")
    return int(reply.get("purged") or 0)


@dataclass(frozen=True)
class StepDown:
    """Leaders before and after a step-down; ``preferred_honoured`` is None when none was asked."""

    subject: str
    old_leader: str
    new_leader: str
    seconds: float
    preferred: str | None = None

    @property
    def preferred_honoured(self) -> bool | None:
        return None if self.preferred is None else self.new_leader == self.preferred

    @property
    def single_replica(self) -> bool:
        """One replica: nothing was elected and the leader stays."""
        return self.old_leader == self.new_leader and self.seconds == 0.0

    @property
    def moved(self) -> bool:
        """A new leader, other than the old one, was seen before the deadline."""
        return bool(self.new_leader) and self.new_leader != self.old_leader


async def wait_new_leader(read_leader: Any, old: str, *, timeout: float) -> tuple[str, float]:
    """Poll ``read_leader()`` until a leader other than ``old`` is known.

    The step-down reply comes before the election ends; while the group elects, info requests
    may time out or answer 10008, and both mean "not yet".
    """
    start = time.monotonic()
    deadline = start + timeout
    leader = ""
    while time.monotonic() < deadline:
        try:
            leader = await read_leader()
        except (Timeout, JSApiError):
            leader = ""
        if leader and leader != old:
            break
        await asyncio.sleep(0.05)
    return leader, time.monotonic() - start


async def step_down(conn: Conn, name: str, *, preferred: str | None = None,
                    timeout: float = 5.0) -> StepDown:
    """Ask the stream leader to step down and wait for the new leader (read back from info)."""
    before = await stream_info(conn, name)
    old = before.cluster.leader if before.cluster else ""
    body = {"placement": {"preferred": preferred}} if preferred else None
    await request(conn, f"STREAM.LEADER.STEPDOWN.{name}", body, what=f"stream {name}")
    if before.replicas <= 1:  # the server accepts an R1 step-down and changes nothing
        return StepDown(name, old, old, 0.0, preferred)

    async def leader() -> str:
        reply = await request(conn, f"STREAM.INFO.{name}", what=f"stream {name}", timeout=1.0)
        return str((reply.get("cluster") or {}).get("leader") or "")

    new, secs = await wait_new_leader(leader, old, timeout=timeout)
    return StepDown(name, old, new, secs, preferred)


async def peer_remove(conn: Conn, name: str, peer: str) -> None:
    """Remove ``peer`` (server name) from the stream's peer set; the server picks a replacement."""
    check_name(name)
    await request(conn, f"STREAM.PEER.REMOVE.{name}", {"peer": peer}, what=f"stream {name}")
