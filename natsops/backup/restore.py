"""Restore a backup as a new stream, check it against the manifest, scale it.

A restore checks the archive first, refuses names and subjects in use, restores as R1, verifies
counts and sequences against the manifest, then scales to the target replica count and waits
until the stream and its consumers are replicated; on any failure it deletes the stream it
created.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from natsops.backup.archive import BackupSource, Manifest, Progress, no_progress
from natsops.backup.verify import verify_backup
from natsops.errors import Conflict, ServerError, Unreachable, UsageError
from natsops.faults import cleanup, note_cleanup, server_label
from natsops.findings import Severity
from natsops.jetstream._api import request, request_subject
from natsops.jetstream.errors import NO_ROOM, JSApiError
from natsops.jetstream.scale import ensure_copying, wait_replicated
from natsops.jetstream.streams import delete_stream, list_stream_names, stream_exists

if TYPE_CHECKING:
    from nats.aio.client import Client

    from natsops.connection import Conn

__all__ = ["RestoreResult", "max_bytes_override", "parse_subjects", "restore_stream",
           "scale_stream"]


@dataclass(frozen=True)
class RestoreResult:
    stream: str
    source: str
    manifest: Manifest
    replicas: int
    messages: int
    bytes: int
    first_seq: int
    last_seq: int
    consumer_count: int
    seconds: float


def parse_subjects(text: str | None) -> list[str] | None:
    """``--subjects a.>,b.>`` as a list; None (keep the backed-up subjects) when not given."""
    subjects = [s.strip() for s in text.split(",") if s.strip()] if text else []
    return subjects or None


def max_bytes_override(text: str | None, manifest: Manifest) -> dict[str, Any]:
    """``--max-bytes SIZE`` as a StreamConfig override (``-1``: no limit); {} when not given.

    A limit the backup does not fit in is refused before anything is restored: the server
    would have to drop messages to make room.
    """
    if text is None:
        return {}
    from natsops.units import format_bytes, parse_size

    n = parse_size(text, what="--max-bytes")
    if n == 0 or n < -1:
        raise UsageError(f"--max-bytes {text}: give a size (e.g. 1GB) or -1 for no limit")
    if 0 < n < manifest.bytes:
        raise UsageError(f"--max-bytes {text} is smaller than the {format_bytes(manifest.bytes)} "
                         f"the backup of {manifest.stream} holds; nothing was restored",
                         hint=f"give at least {format_bytes(manifest.bytes)}")
    return {"max_bytes": n}


def _plan_config(src: BackupSource, name: str | None, replicas: int | None,
                 subjects: list[str] | None,
                 overrides: Mapping[str, Any] | None) -> tuple[dict[str, Any], int]:
    """The config to restore (always R1) and the replica count to scale to afterwards."""
    config = dict(src.config)
    target = name or str(config["name"])
    if not target or any(c in target for c in " .*>/\\\t\r\n"):
        raise UsageError(f"invalid stream name {target!r}")
    want_replicas = replicas or int(config.get("num_replicas", 1) or 1)
    if want_replicas < 1 or want_replicas > 5:
        raise UsageError("--replicas must be between 1 and 5")
    config["name"] = target
    if subjects is not None:
        config["subjects"] = subjects
    config.update(overrides or {})
    config["num_replicas"] = 1  # restore as R1, then scale: the path that works for big streams
    return config, want_replicas


async def _preflight(conn: Conn, src: BackupSource, config: dict[str, Any]) -> None:
    """Refuse what the server would half-do: nothing is created unless all of this passes."""
    target, original = str(config["name"]), str(src.config["name"])
    version = str((getattr(conn.nc, "_server_info", None) or {}).get("version", ""))
    if target != original and _older_than(version, (2, 15)):
        raise UsageError(
            f"restoring {original} under another name ({target}) needs nats-server 2.15 or "
            f"newer: {version} snapshots carry the stream name; nothing was restored",
            hint="restore under the original name (delete or rename the original first)")
    if await stream_exists(conn, target):
        raise Conflict(f"stream {target} already exists; nothing was restored",
                       hint="restore under another name with --name NEW")
    for subj in config.get("subjects") or []:
        users = await list_stream_names(conn, subj)
        if users:
            raise Conflict(
                f"subject {subj} is used by stream {users[0]}; nothing was restored",
                hint="delete that stream, or restore with other subjects (--subjects)")


async def restore_stream(
    conn: Conn,
    source: Path,
    *,
    name: str | None = None,
    replicas: int | None = None,
    subjects: list[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    chunk_size: int = 512 * 1024,
    in_flight: int = 8,
    stall_timeout: float = 10.0,
    ready_timeout: float = 60.0,
    progress: Progress = no_progress,
) -> RestoreResult:
    """Restore a backup as a new stream; verify it; scale it; delete it again on failure.

    ``overrides`` replaces StreamConfig fields of the restored stream (the restore test drops
    ``max_bytes`` so its temporary copy reserves no storage next to the original).
    """
    t0 = time.monotonic()
    src, findings = await asyncio.to_thread(verify_backup, Path(source))
    bad = [f for f in findings if f.severity >= Severity.FAIL]
    if bad:
        raise UsageError(f"{source}: {bad[0].message}; nothing was restored")
    config, want_replicas = _plan_config(src, name, replicas, subjects, overrides)
    target = str(config["name"])
    await _preflight(conn, src, config)
    started = False
    try:
        reply = await _restore_request(conn, target, config, src.state)
        started = True
        deliver = reply.get("deliver_subject")
        if not deliver:
            raise ServerError("restore reply has no deliver_subject")
        await _send_snapshot(conn.nc, src, deliver, chunk_size, in_flight, stall_timeout,
                             progress)
        final = await request_subject(conn, deliver, what=f"restore of {target}",
                                      timeout=max(60.0, src.snapshot_size / 20e6))
        state = final.get("state") or {}
        _compare(src.manifest, state, target)
        if want_replicas > 1:
            await scale_stream(conn, target, want_replicas, ready_timeout)
        info = await request(conn, f"STREAM.INFO.{target}", what=f"stream {target}")
        state = info.get("state") or state
        # a mirror or a stream with sources resumes copying from its origins as soon as it
        # exists: by now it may hold more than the backup (never less)
        _compare(src.manifest, state, target,
                 grows=bool(config.get("mirror") or config.get("sources")))
        if want_replicas > 1:
            await ensure_copying(conn, target)
    except BaseException as exc:
        if started:
            await _remove_partial(conn, target, exc)
        raise
    return RestoreResult(
        stream=target, source=str(source), manifest=src.manifest, replicas=want_replicas,
        messages=int(state.get("messages", 0)), bytes=int(state.get("bytes", 0)),
        first_seq=int(state.get("first_seq", 0)), last_seq=int(state.get("last_seq", 0)),
        consumer_count=int(state.get("consumer_count", 0)), seconds=time.monotonic() - t0)


async def _remove_partial(conn: Conn, target: str, exc: BaseException) -> None:
    """Delete the stream a failed or interrupted restore created; note on ``exc`` what became
    of it (the CLI prints it after the error, or after "terminated (SIGTERM)")."""
    try:
        if conn.nc.is_closed or not conn.nc.is_connected:
            raise Unreachable("connection lost")
        deleted = await cleanup(delete_stream(conn, target), max(5.0, conn.settings.timeout))
    except Exception as failed:  # the user must know it is left
        note_cleanup(exc, f"could not delete the partly restored stream {target} "
                          f"({str(failed) or type(failed).__name__}): delete it with "
                          f"`natsops stream rm {target} --force`")
    else:
        note_cleanup(exc, f"the partly restored stream {target} was deleted"
                     if deleted else "no stream was created")


async def _restore_request(conn: Conn, target: str, config: dict[str, Any],
                           state: dict[str, Any], placement_wait: float = 20.0) -> dict[str, Any]:
    """STREAM.RESTORE; a refusal for want of room (NO_ROOM: 10005 no suitable peers, 10047/10028
    insufficient storage/memory) is retried for a while: right after a stream
    is deleted its storage reservation is released on each server on its own time (seen taking
    over 5 s on a loaded 2.10 cluster for a 50 GB R3 reservation)."""
    deadline = time.monotonic() + placement_wait
    while True:
        try:
            return await request(conn, f"STREAM.RESTORE.{target}",
                                 {"config": config, "state": state},
                                 what=f"restore of {target}",
                                 timeout=max(conn.settings.timeout, 10))
        except JSApiError as exc:
            if exc.err_code not in NO_ROOM or time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.5)


def _older_than(version: str, floor: tuple[int, int]) -> bool:
    try:
        major, minor = (int(x) for x in version.split(".")[:2])
    except ValueError:
        return False  # unknown: let the server decide
    return (major, minor) < floor


async def _send_snapshot(nc: Client, src: BackupSource, deliver: str, chunk_size: int,
                         in_flight: int, stall_timeout: float, progress: Progress) -> None:
    """Send the snapshot as requests, ``in_flight`` chunks ahead; every reply must be empty."""
    inbox = nc.new_inbox()
    window = asyncio.Semaphore(max(1, in_flight))
    pending: set[str] = set()
    failure: list[BaseException] = []
    all_acked = asyncio.Event()
    all_acked.set()
    sent = 0

    async def on_ack(msg: Any) -> None:
        token = msg.subject.rsplit(".", 1)[-1]
        if token not in pending:
            return
        pending.discard(token)
        if msg.data or (msg.headers and msg.headers.get("Status") not in (None, "", "200")):
            failure.append(ServerError(f"restore chunk refused: {_refusal(msg)}"))
        window.release()
        if not pending:
            all_acked.set()

    sub = await nc.subscribe(f"{inbox}.*", cb=on_ack)
    try:
        for i, chunk in enumerate(src.read_chunks(chunk_size)):
            if i == 0:
                await _send_first(nc, deliver, chunk, stall_timeout)
                sent += len(chunk)
                progress(sent, src.snapshot_size)
                continue
            if failure:
                raise failure[0]
            await _acked(window.acquire(), stall_timeout, "chunks", nc)
            if failure:
                raise failure[0]
            if nc.is_closed or not nc.is_connected:
                raise Unreachable(f"connection to {server_label(nc)} lost during the restore")
            token = str(i)
            pending.add(token)
            all_acked.clear()
            await nc.publish(deliver, chunk, reply=f"{inbox}.{token}")
            sent += len(chunk)
            progress(sent, src.snapshot_size)
        await _acked(all_acked.wait(), stall_timeout, "last chunks", nc)
        if failure:
            raise failure[0]
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()


async def _send_first(nc: Client, deliver: str, chunk: bytes, stall_timeout: float) -> None:
    """Send the first chunk alone until the server takes it. The restore's deliver subject lives
    on the server that restores (in a cluster, maybe not the one we are connected to): until
    its interest reaches our server over the routes a chunk finds no responder (503) and was
    not delivered, so it is sent again; the others follow only once one has arrived, in order."""
    from nats.errors import NoRespondersError
    from nats.errors import TimeoutError as NatsTimeout

    deadline = time.monotonic() + stall_timeout
    while True:
        try:
            msg = await nc.request(deliver, chunk, timeout=max(0.1, deadline - time.monotonic()))
        except NoRespondersError:
            if time.monotonic() > deadline:
                raise Unreachable(f"restore stalled: nothing on {server_label(nc)} took the "
                                  f"snapshot for {stall_timeout:g}s",
                                  hint="check the servers, or raise --stall-timeout") from None
            await asyncio.sleep(0.05)
            continue
        except NatsTimeout:
            raise Unreachable(f"restore stalled: the first chunk was not acknowledged by "
                              f"{server_label(nc)} for {stall_timeout:g}s",
                              hint="check that server, or raise --stall-timeout") from None
        except Exception:
            if nc.is_closed or not nc.is_connected:
                raise Unreachable(f"connection to {server_label(nc)} lost during the "
                                  "restore") from None
            raise
        if msg.data or (msg.headers and msg.headers.get("Status") not in (None, "", "200")):
            raise ServerError(f"restore chunk refused: {_refusal(msg)}")
        return


async def _acked(wait: Awaitable[Any], stall_timeout: float, what: str, nc: Client) -> None:
    """Await an acknowledgement; Unreachable when the connection drops or the server stays
    silent for ``stall_timeout``."""
    task = asyncio.ensure_future(wait)
    deadline = time.monotonic() + stall_timeout
    try:
        while not task.done():
            if nc.is_closed or not nc.is_connected:
                raise Unreachable(f"connection to {server_label(nc)} lost during the restore")
            if time.monotonic() > deadline:
                raise Unreachable(f"restore stalled: {what} not acknowledged by "
                                  f"{server_label(nc)} for {stall_timeout:g}s",
                                  hint="check that server, or raise --stall-timeout")
            await asyncio.wait([task], timeout=min(0.25, stall_timeout))
    finally:
        task.cancel()
    task.result()


def _refusal(msg: Any) -> str:
    """The server's reason for refusing a chunk (an API error reply, or a status header)."""
    text = msg.data.decode(errors="replace")[:300] if msg.data else str(msg.headers)
    try:
        err = json.loads(msg.data).get("error", {})
        return f"{err.get('description', text)} ({err.get('err_code')})"
    except (ValueError, AttributeError):
        return text


def _compare(m: Manifest, state: dict[str, Any], target: str, *, grows: bool = False) -> None:
    got = {k: int(state.get(k, 0)) for k in ("messages", "bytes", "first_seq", "last_seq")}
    want = {"messages": m.messages, "bytes": m.bytes, "first_seq": m.first_seq,
            "last_seq": m.last_seq}
    if grows and got["last_seq"] >= want["last_seq"]:
        return
    if want["messages"] == 0 and got["messages"] == 0:
        # an empty stream's first_seq says nothing: 0 when never written, last_seq + 1 after a
        # purge, and a restored empty stream starts at 1
        del want["first_seq"]
    diff = {k: (want[k], got[k]) for k in want if want[k] != got[k]}
    if diff:
        text = ", ".join(f"{k} {w} in the backup vs {g} restored" for k, (w, g) in diff.items())
        raise ServerError(f"restored stream {target} does not match the backup: {text}")


async def scale_stream(conn: Conn, name: str, replicas: int, timeout: float,
                       placement_wait: float = 20.0) -> None:
    """Raise the replica count; wait until the stream is fully replicated and every consumer
    has a leader whose peers are current. A refusal for want of room is retried for
    ``placement_wait`` seconds: the other servers may still hold the reservation of a stream
    deleted moments before (the restore's usual case: rm, then restore)."""
    info = await request(conn, f"STREAM.INFO.{name}", what=f"stream {name}")
    config = dict(info["config"])
    config["num_replicas"] = replicas
    deadline = time.monotonic() + placement_wait
    while True:
        try:
            await request(conn, f"STREAM.UPDATE.{name}", config, what=f"stream {name}",
                          timeout=max(conn.settings.timeout, 10))
            break
        except JSApiError as exc:
            if exc.err_code not in NO_ROOM or time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.5)
    await wait_replicated(conn, name, replicas, timeout)
