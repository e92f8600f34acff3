"""Consumers: natscli-style configs, create/update (named API subjects), list, next, pause."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from natsops.errors import NotFound, ServerError, Timeout, UsageError
from natsops.jetstream._api import check_name, paged, request
from natsops.jetstream.models import ConsumerInfo
from natsops.jetstream.questions import Ask, Question, answer_int, unanswered
from natsops.jetstream.spec import Change, diff_configs, load_config_file, ns
from natsops.jetstream.streams import (
    StepDown,
    parse_metadata,
    split_list,
    stream_info,
    tuple_values,
    unchanged_since,
    wait_new_leader,
)
from natsops.units import parse_duration, parse_size

if TYPE_CHECKING:
    from pathlib import Path

    from natsops.connection import Conn

__all__ = [
    "ConsumerEdit",
    "ConsumerFlags",
    "ConsumerListing",
    "FetchedMsg",
    "PauseState",
    "ack_reply",
    "add_consumer",
    "apply_consumer_edit",
    "apply_consumer_flags",
    "consumer_add_config",
    "consumer_config_for_add",
    "consumer_info",
    "consumer_names",
    "delete_consumer",
    "delete_own_consumer",
    "fill_consumer_config",
    "list_consumers",
    "missing_for_add",
    "next_messages",
    "pause_consumer",
    "plan_consumer_edit",
    "step_down",
    "update_consumer",
]

PROMPTED: dict[str, str] = {
    "mode": "--pull or --target", "deliver_policy": "--deliver", "ack_policy": "--ack",
    "replay_policy": "--replay", "max_deliver": "--max-deliver",
}
_ACK = ("none", "all", "explicit")


@dataclass(frozen=True)
class ConsumerFlags:
    """Consumer options as given on the command line; None means "not given"."""

    pull: bool | None = None
    target: str | None = None
    deliver_group: str | None = None
    deliver: str | None = None
    ack: str | None = None
    wait: str | None = None
    max_deliver: int | None = None
    max_pending: int | None = None
    backoff: str | None = None
    backoff_steps: int | None = None
    backoff_min: str | None = None
    backoff_max: str | None = None
    filters: tuple[str, ...] | None = None
    replay: str | None = None
    sample: int | None = None
    heartbeat: str | None = None
    flow_control: bool | None = None
    headers_only: bool | None = None
    max_waiting: int | None = None
    max_pull_batch: int | None = None
    max_pull_expire: str | None = None
    max_pull_bytes: str | None = None
    inactive_threshold: str | None = None
    memory: bool | None = None
    replicas: int | None = None
    description: str | None = None
    metadata: tuple[str, ...] | None = None
    pause: str | None = None

    def given(self) -> bool:
        return any(getattr(self, f.name) is not None for f in fields(self))

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> ConsumerFlags:
        """Flags from option values named as the fields (lists become tuples)."""
        return cls(**tuple_values(values))


def _rfc3339(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_until(text: str, what: str = "--pause") -> str:
    """A pause deadline: a duration from now (``1h``) or an RFC 3339 / ISO time."""
    try:
        secs = parse_duration(text, what=what)
    except UsageError as exc:
        if "at most" in str(exc):  # a duration, too long for the server
            raise
        try:
            t = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(f"invalid {what} {text!r}: use a duration (1h) or a time "
                             "(2026-12-01T10:00:00Z)") from None
        if t.tzinfo is None:
            t = t.replace(tzinfo=timezone.utc)
        return _rfc3339(t)
    try:
        return _rfc3339(datetime.now(timezone.utc) + timedelta(seconds=secs))
    except OverflowError:
        raise UsageError(f"invalid {what} {text!r}: the deadline would be past the year "
                         "9999") from None


def _deliver(cfg: dict[str, Any], value: str) -> None:
    v = value.strip().lower()
    for k in ("opt_start_seq", "opt_start_time"):
        cfg.pop(k, None)
    if v in ("all", "new", "last"):
        cfg["deliver_policy"] = v
    elif v in ("subject", "last_per_subject", "last-per-subject"):
        cfg["deliver_policy"] = "last_per_subject"
    elif v.isdigit():
        cfg["deliver_policy"] = "by_start_sequence"
        cfg["opt_start_seq"] = int(v)
    else:
        secs = parse_duration(value, what="--deliver")
        cfg["deliver_policy"] = "by_start_time"
        cfg["opt_start_time"] = _rfc3339(datetime.now(timezone.utc) - timedelta(seconds=secs))


def linear_backoff(steps: int, lo: float, hi: float) -> list[int]:
    """natscli's linear backoff: ``steps`` waits from ``lo`` to ``hi`` seconds, in ns."""
    if steps < 1:
        raise UsageError("--backoff-steps must be at least 1")
    if hi < lo:
        raise UsageError("--backoff-max must not be below --backoff-min")
    if steps == 1:
        return [ns(lo)]
    return [ns(lo + (hi - lo) * i / (steps - 1)) for i in range(steps)]


def apply_consumer_flags(base: Mapping[str, Any], f: ConsumerFlags) -> dict[str, Any]:
    """Return ``base`` with the given flags applied (durations/sizes parsed as natscli)."""
    cfg = dict(base)
    if f.pull and f.target:
        raise UsageError("--pull and --target cannot be combined (pull or push consumer)")
    if f.pull:
        cfg.pop("deliver_subject", None)
        cfg.pop("deliver_group", None)
    if f.target is not None:
        cfg["deliver_subject"] = f.target
    if f.deliver_group is not None:
        cfg["deliver_group"] = f.deliver_group
    if f.deliver is not None:
        _deliver(cfg, f.deliver)
    if f.ack is not None:
        v = f.ack.strip().lower()
        if v not in _ACK:
            raise UsageError(f"invalid --ack {f.ack!r}: use none, all or explicit")
        cfg["ack_policy"] = v
    if f.wait is not None:
        cfg["ack_wait"] = ns(parse_duration(f.wait, what="--wait"))
    if f.max_deliver is not None:
        cfg["max_deliver"] = -1 if f.max_deliver < 0 else f.max_deliver
    if f.max_pending is not None:
        cfg["max_ack_pending"] = f.max_pending
    if f.backoff is not None:
        v = f.backoff.strip().lower()
        if v == "none":
            cfg.pop("backoff", None)
        elif v == "linear":
            cfg["backoff"] = linear_backoff(
                f.backoff_steps or 10, parse_duration(f.backoff_min or "1m", what="--backoff-min"),
                parse_duration(f.backoff_max or "20m", what="--backoff-max"))
        else:
            raise UsageError(f"invalid --backoff {f.backoff!r}: use linear or none")
    elif any(v is not None for v in (f.backoff_steps, f.backoff_min, f.backoff_max)):
        raise UsageError("--backoff-steps/--backoff-min/--backoff-max need --backoff linear")
    if f.filters is not None:
        subs = split_list(f.filters)
        cfg.pop("filter_subject", None)
        cfg.pop("filter_subjects", None)
        if len(subs) == 1:
            cfg["filter_subject"] = subs[0]
        elif subs:
            cfg["filter_subjects"] = subs
    if f.replay is not None:
        v = f.replay.strip().lower()
        if v not in ("instant", "original"):
            raise UsageError(f"invalid --replay {f.replay!r}: use instant or original")
        cfg["replay_policy"] = v
    if f.sample is not None:
        if not 0 <= f.sample <= 100:
            raise UsageError("--sample is a percentage from 0 to 100")
        cfg["sample_freq"] = f"{f.sample}%"
    if f.heartbeat is not None:
        cfg["idle_heartbeat"] = ns(parse_duration(f.heartbeat, what="--heartbeat"))
    for key, val in (("flow_control", f.flow_control), ("headers_only", f.headers_only),
                     ("mem_storage", f.memory), ("max_waiting", f.max_waiting),
                     ("max_batch", f.max_pull_batch), ("num_replicas", f.replicas),
                     ("description", f.description)):
        if val is not None:
            cfg[key] = val
    if f.max_pull_expire is not None:
        cfg["max_expires"] = ns(parse_duration(f.max_pull_expire, what="--max-pull-expire"))
    if f.max_pull_bytes is not None:
        cfg["max_bytes"] = parse_size(f.max_pull_bytes, what="--max-pull-bytes")
    if f.inactive_threshold is not None:
        cfg["inactive_threshold"] = ns(parse_duration(f.inactive_threshold,
                                                      what="--inactive-threshold"))
    if f.metadata is not None:
        cfg["metadata"] = {**(cfg.get("metadata") or {}), **parse_metadata(f.metadata)}
    if f.pause is not None:
        cfg["pause_until"] = parse_until(f.pause)
    _validate(cfg)
    return cfg


def _validate(cfg: Mapping[str, Any]) -> None:
    push = bool(cfg.get("deliver_subject"))
    if not push:
        for key, flag in (("deliver_group", "--deliver-group"), ("flow_control", "--flow-control"),
                          ("idle_heartbeat", "--heartbeat")):
            if cfg.get(key):
                raise UsageError(f"{flag} needs a push consumer (--target)")
    else:
        for key, flag in (("max_waiting", "--max-waiting"), ("max_batch", "--max-pull-batch"),
                          ("max_expires", "--max-pull-expire")):
            if cfg.get(key):
                raise UsageError(f"{flag} is only for pull consumers")
    if cfg.get("flow_control") and not cfg.get("idle_heartbeat"):
        raise UsageError("--flow-control needs --heartbeat")
    if cfg.get("backoff") and 0 < int(cfg.get("max_deliver", -1)) <= len(cfg["backoff"]):
        raise UsageError("--max-deliver must be larger than the number of backoff steps")


def missing_for_add(cfg: Mapping[str, Any], *, pull: bool) -> list[str]:
    out = []
    if not pull and not cfg.get("deliver_subject"):
        out.append("mode")
    out.extend(k for k in ("deliver_policy", "ack_policy", "replay_policy", "max_deliver")
               if k not in cfg)
    return out


def fill_consumer_config(cfg: Mapping[str, Any], ask: Ask | None, *,
                         pull: bool = False) -> dict[str, Any]:
    """Ask for the values natscli prompts for that ``cfg`` lacks, and apply the answers.

    First pull or push (an empty delivery subject means pull), then deliver, ack (default
    ``none`` for push, ``explicit`` for pull), replay and max deliver. With values missing and
    no ``ask`` it is a usage error naming their flags.
    """
    missing = missing_for_add(cfg, pull=pull)
    if not missing:
        return dict(cfg)
    if ask is None:
        raise unanswered([PROMPTED[k] for k in missing])
    target: str | None = None
    if "mode" in missing:
        target = ask(Question("mode", "push delivery subject (empty for a pull consumer)", "",
                              show_default=False)) or None
    push = bool(target or cfg.get("deliver_subject"))
    ans: dict[str, str] = {}
    for key, flag, default in (("deliver_policy", "deliver", "all"),
                               ("ack_policy", "ack", "none" if push else "explicit"),
                               ("replay_policy", "replay", "instant"),
                               ("max_deliver", "max_deliver", "-1")):
        if key in missing:
            ans[flag] = ask(Question(key, flag.replace("_", "-"), default))
    return apply_consumer_flags(cfg, ConsumerFlags(
        pull=target is None if "mode" in missing else None, target=target,
        deliver=ans.get("deliver"), ack=ans.get("ack"), replay=ans.get("replay"),
        max_deliver=answer_int(ans["max_deliver"], "--max-deliver")
        if "max_deliver" in ans else None))


def consumer_add_config(name: str | None, flags: ConsumerFlags, *,
                        config: str | Path | None = None, defaults: bool = False,
                        ephemeral: bool = False, ask: Ask | None = None) -> dict[str, Any]:
    """The config ``consumer add`` submits, built before any connection.

    ``config`` (a JSON/YAML file) + ``flags``; with ``defaults`` natscli's defaults fill the rest,
    and with neither ``defaults`` nor ``config`` the values left out are asked for (``ask``).
    """
    base = load_config_file(config, "consumer") if config else {}
    cfg = consumer_config_for_add(name, base, flags, defaults=defaults, ephemeral=ephemeral)
    return cfg if defaults or config else fill_consumer_config(cfg, ask, pull=bool(flags.pull))


def consumer_config_for_add(name: str | None, base: Mapping[str, Any], flags: ConsumerFlags, *,
                            defaults: bool, ephemeral: bool = False) -> dict[str, Any]:
    """The config ``consumer add`` submits: ``base`` + flags (+ natscli defaults)."""
    cfg = dict(base)
    cfg_name = cfg.get("durable_name") or cfg.get("name")
    if name:
        check_name(name, "consumer")
        if cfg_name and cfg_name != name:
            raise UsageError(f"the consumer name {name!r} differs from {cfg_name!r} in --config")
        cfg_name = name
    if not cfg_name:
        raise UsageError("give a consumer name (argument or 'durable_name' in --config)")
    check_name(str(cfg_name), "consumer")
    cfg["name"] = cfg_name
    if ephemeral:
        cfg.pop("durable_name", None)
    else:
        cfg["durable_name"] = cfg_name
    cfg = apply_consumer_flags(cfg, flags)
    if defaults:
        push = bool(cfg.get("deliver_subject"))
        cfg.setdefault("deliver_policy", "all")
        cfg.setdefault("ack_policy", "none" if push else "explicit")
        cfg.setdefault("replay_policy", "instant")
        cfg.setdefault("max_deliver", -1)
    return cfg


def _create_subject(stream: str, cfg: Mapping[str, Any]) -> str:
    name = str(cfg["name"])
    flt = cfg.get("filter_subject")
    # jsm.go: with exactly one filter, append it so per-subject permissions apply
    return f"CONSUMER.CREATE.{stream}.{name}.{flt}" if flt else f"CONSUMER.CREATE.{stream}.{name}"


async def _create(conn: Conn, stream: str, cfg: Mapping[str, Any], action: str) -> ConsumerInfo:
    check_name(stream)
    body = {"stream_name": stream, "config": dict(cfg), "action": action}
    reply = await request(conn, _create_subject(stream, cfg), body,
                          what=f"consumer {stream} > {cfg.get('name')}")
    return ConsumerInfo.parse(reply)


async def add_consumer(conn: Conn, stream: str, cfg: Mapping[str, Any]) -> ConsumerInfo:
    """Create a consumer (Conflict if one with a different config exists)."""
    return await _create(conn, stream, cfg, "create")


async def update_consumer(conn: Conn, stream: str, cfg: Mapping[str, Any]) -> ConsumerInfo:
    return await _create(conn, stream, cfg, "update")


async def consumer_info(conn: Conn, stream: str, name: str) -> ConsumerInfo:
    check_name(stream)
    check_name(name, "consumer")
    reply = await request(conn, f"CONSUMER.INFO.{stream}.{name}",
                          what=f"consumer {stream} > {name}")
    return ConsumerInfo.parse(reply)


async def consumer_names(conn: Conn, stream: str) -> list[str]:
    check_name(stream)
    page = await paged(conn, f"CONSUMER.NAMES.{stream}", "consumers", what=f"stream {stream}")
    return sorted(str(n) for n in page.items)


@dataclass(frozen=True)
class ConsumerListing:
    """Every consumer of a stream, with the stream's message count for percentages."""

    stream: str
    stream_messages: int
    consumers: tuple[ConsumerInfo, ...]
    missing: tuple[str, ...]
    offline: Mapping[str, str]

    def unprocessed_pct(self, pending: int) -> int:
        """``pending`` as a share of the stream's messages, in whole percent (at most 100)."""
        if not self.stream_messages:
            return 0
        return min(100, round(pending * 100 / self.stream_messages))


async def list_consumers(conn: Conn, stream: str) -> ConsumerListing:
    """Every consumer's info (CONSUMER.LIST, all pages), each from its consumer leader."""
    si = await stream_info(conn, stream)
    page = await paged(conn, f"CONSUMER.LIST.{stream}", "consumers", what=f"stream {stream}")
    infos = tuple(sorted((ConsumerInfo.parse(c) for c in page.items), key=lambda c: c.name))
    return ConsumerListing(stream=stream, stream_messages=si.messages, consumers=infos,
                           missing=page.missing, offline=page.offline)


async def delete_consumer(conn: Conn, stream: str, name: str) -> None:
    check_name(stream)
    check_name(name, "consumer")
    await request(conn, f"CONSUMER.DELETE.{stream}.{name}", what=f"consumer {stream} > {name}")


async def delete_own_consumer(conn: Conn, stream: str, name: str, *,
                              timeout: float = 10.0) -> None:
    """Delete a consumer natsops created for itself (a reader's, a benchmark's), retrying what
    an election or a reconnect makes fail for a moment (no responders, 503/10008, a timeout)
    until ``timeout``; a consumer already gone is fine. Raises the last error after that."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            await delete_consumer(conn, stream, name)
            return
        except NotFound:
            return
        except (ServerError, Timeout):
            if time.monotonic() >= deadline:
                raise
            await asyncio.sleep(0.2)


@dataclass(frozen=True)
class ConsumerEdit:
    """What ``consumer edit`` would do: the current info, the new config and the changes."""

    current: ConsumerInfo
    config: dict[str, Any]
    changes: tuple[Change, ...]


async def plan_consumer_edit(conn: Conn, stream: str, name: str, flags: ConsumerFlags,
                             replace: Mapping[str, Any] | None = None) -> ConsumerEdit:
    current = await consumer_info(conn, stream, name)
    if replace is None and not flags.given():
        raise UsageError("nothing to change: give --config FILE or option flags")
    base = dict(replace) if replace is not None else dict(current.config)
    base["name"] = name
    if current.config.get("durable_name"):
        base["durable_name"] = name
    cfg = apply_consumer_flags(base, flags)
    from natsops.jetstream.spec import strip_server_metadata

    cfg = strip_server_metadata(cfg)
    return ConsumerEdit(current, cfg, tuple(diff_configs(current.config, cfg)))


@dataclass(frozen=True)
class PauseState:
    """The server's answer to a pause or resume (None where it left a field out)."""

    paused: bool | None
    pause_until: str | None
    pause_remaining: int | None


async def apply_consumer_edit(conn: Conn, plan: ConsumerEdit) -> ConsumerInfo:
    """Submit a planned edit, unless the consumer's config changed since it was planned."""
    stream, name = plan.current.stream, plan.current.name
    now = await consumer_info(conn, stream, name)
    unchanged_since(f"consumer {stream} > {name}", plan.current.config, now.config)
    return await update_consumer(conn, stream, plan.config)


async def pause_consumer(conn: Conn, stream: str, name: str, until: str | None) -> PauseState:
    """Pause until ``until`` (RFC 3339), or resume when None."""
    check_name(stream)
    check_name(name, "consumer")
    reply = await request(conn, f"CONSUMER.PAUSE.{stream}.{name}",
                          {"pause_until": until} if until else None,
                          what=f"consumer {stream} > {name}")
    return PauseState(paused=reply.get("paused"), pause_until=reply.get("pause_until"),
                      pause_remaining=reply.get("pause_remaining"))


async def step_down(conn: Conn, stream: str, name: str, *, preferred: str | None = None,
                    timeout: float = 5.0) -> StepDown:
    before = await consumer_info(conn, stream, name)
    old = before.cluster.leader if before.cluster else ""
    body = {"placement": {"preferred": preferred}} if preferred else None
    await request(conn, f"CONSUMER.LEADER.STEPDOWN.{stream}.{name}", body,
                  what=f"consumer {stream} > {name}")
    if before.cluster is None or len(before.cluster.peers) <= 1:
        return StepDown(f"{stream} > {name}", old, old, 0.0, preferred)

    async def leader() -> str:
        reply = await request(conn, f"CONSUMER.INFO.{stream}.{name}", timeout=1.0,
                              what=f"consumer {stream} > {name}")
        return str((reply.get("cluster") or {}).get("leader") or "")

    new, secs = await wait_new_leader(leader, old, timeout=timeout)
    return StepDown(f"{stream} > {name}", old, new, secs, preferred)


@dataclass(frozen=True)
class FetchedMsg:
    """One message fetched from a pull consumer."""

    subject: str
    stream_seq: int
    consumer_seq: int
    delivered: int
    pending: int
    data: bytes
    headers: Mapping[str, str]

    def jsonable(self) -> dict[str, Any]:
        out: dict[str, Any] = {"subject": self.subject, "stream_seq": self.stream_seq,
                               "consumer_seq": self.consumer_seq, "delivered": self.delivered,
                               "pending": self.pending, "headers": dict(self.headers)}
        try:
            out["data"] = self.data.decode()
        except UnicodeDecodeError:
            import base64

            out["data_b64"] = base64.b64encode(self.data).decode()
        return out


def ack_reply(*, ack: bool = True, nak: bool = False, term: bool = False) -> str | None:
    """What ``next`` answers each message with: ``-NAK``, ``+TERM``, ``+ACK`` or nothing."""
    if nak and term:
        raise UsageError("--nak and --term cannot be combined")
    return "-NAK" if nak else "+TERM" if term else ("+ACK" if ack else None)


async def next_messages(conn: Conn, stream: str, name: str, *, count: int = 1,
                        wait: float = 5.0, ack: str | None = "+ACK") -> list[FetchedMsg]:
    """Fetch up to ``count`` messages from a pull consumer; ack each with ``ack`` (None: don't)."""
    check_name(stream)
    check_name(name, "consumer")
    if count < 1:
        raise UsageError("--count must be at least 1")
    info = await consumer_info(conn, stream, name)
    if not info.is_pull:
        raise UsageError(f"consumer {name} is a push consumer; next needs a pull consumer")
    inbox = conn.nc.new_inbox()
    queue: asyncio.Queue[Any] = asyncio.Queue()

    async def cb(msg: Any) -> None:
        await queue.put(msg)

    sub = await conn.nc.subscribe(inbox, cb=cb)
    out: list[FetchedMsg] = []
    try:
        body = {"batch": count, "expires": ns(wait)}
        from natsops.jetstream._api import api_prefix

        await conn.nc.publish(f"{api_prefix(conn)}.CONSUMER.MSG.NEXT.{stream}.{name}",
                              json.dumps(body).encode(), reply=inbox)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait + conn.settings.timeout
        while len(out) < count:
            left = deadline - loop.time()
            if left <= 0:
                break
            try:
                msg = await asyncio.wait_for(queue.get(), left)
            except asyncio.TimeoutError:
                break
            hdrs = dict(msg.headers or {})
            if not msg.data and "Status" in hdrs:
                break  # 404 no messages, 408 request expired, 409 ...: the batch is over
            md = msg.metadata
            out.append(FetchedMsg(subject=msg.subject, stream_seq=md.sequence.stream,
                                  consumer_seq=md.sequence.consumer,
                                  delivered=md.num_delivered, pending=md.num_pending or 0,
                                  data=bytes(msg.data), headers=hdrs))
            if ack:
                await conn.nc.publish(msg.reply, ack.encode())
        await conn.nc.flush()
    finally:
        await sub.unsubscribe()
    return out
