"""Raw JetStream API requests: prefix handling, JSON, errors, and the paging nats-py lacks."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from natsops.errors import UsageError
from natsops.jetstream.errors import api_error, from_nats_exception
from natsops.validate import check_go_json, check_subject_fields, name_length

if TYPE_CHECKING:
    from natsops.connection import Conn

__all__ = ["Page", "api_prefix", "check_name", "paged", "request", "request_subject"]

_BAD_NAME = re.compile(r"[.*>\s/\\\x00]")


def check_name(name: str, what: str = "stream") -> str:
    """Reject names the server or jsm.go would refuse (empty, ``.``, ``*``, ``>``, space, ``/``)."""
    if not name or _BAD_NAME.search(name):
        raise UsageError(f"invalid {what} name {name!r}: it must not be empty or contain "
                         "'.', '*', '>', spaces, '/' or '\\'")
    return name_length(name, what)


def api_prefix(conn: Conn) -> str:
    """``$JS.API``, ``$JS.<domain>.API`` or the custom API prefix of the settings."""
    s = conn.settings
    if s.js_domain:
        return f"$JS.{s.js_domain}.API"
    if s.js_api_prefix:
        return s.js_api_prefix.rstrip(".")
    return "$JS.API"


async def request(conn: Conn, subject: str, body: dict[str, Any] | None = None, *,
                  what: str = "", timeout: float | None = None) -> dict[str, Any]:
    """Send ``body`` to ``<prefix>.<subject>`` and return the decoded reply, or raise."""
    return await _request(conn, f"{api_prefix(conn)}.{subject}", body, what, subject, timeout)


async def request_subject(conn: Conn, subject: str, body: dict[str, Any] | None = None, *,
                          what: str, timeout: float | None = None) -> dict[str, Any]:
    """:func:`request` to a full subject the server handed out (e.g. a restore's deliver
    subject) instead of an API subject under the prefix."""
    return await _request(conn, subject, body, what, subject, timeout)


async def _request(conn: Conn, full: str, body: dict[str, Any] | None, what: str, subject: str,
                   timeout: float | None) -> dict[str, Any]:
    if body:
        check_go_json(body, what or subject)
        check_subject_fields(body, what or subject)
    payload = json.dumps(body, separators=(",", ":")).encode() if body else b""
    try:
        msg = await conn.nc.request(full, payload, timeout=timeout or conn.settings.timeout)
    except Exception as exc:
        raise from_nats_exception(exc, what or subject) from None
    try:
        reply = json.loads(msg.data or b"{}")
    except ValueError:
        raise from_nats_exception(ValueError(f"invalid JSON reply {msg.data[:80]!r}"),
                                  what or subject) from None
    if not isinstance(reply, dict):
        raise from_nats_exception(ValueError("reply is not an object"), what or subject)
    if isinstance(reply.get("error"), dict):
        raise api_error(what, reply["error"])
    return reply


@dataclass(frozen=True)
class Page:
    """Everything a paged list endpoint returned, over all pages."""

    items: tuple[Any, ...]
    total: int
    missing: tuple[str, ...] = ()
    offline: dict[str, str] = field(default_factory=dict)


async def _pages(conn: Conn, subject: str, key: str, body: dict[str, Any],
                 what: str) -> AsyncIterator[dict[str, Any]]:
    # Advance by `limit` (not by len(items): `missing` streams are left out of a
    # page), take `total` from the first page only, and stop on an empty page.
    offset = 0
    total: int | None = None
    while True:
        reply = await request(conn, subject, {**body, "offset": offset}, what=what)
        items = reply.get(key) or []
        if total is None:
            total = int(reply.get("total") or 0)
        yield reply
        limit = int(reply.get("limit") or 0)
        if not items or limit <= 0:
            return
        offset += limit
        if offset >= total:
            return


async def paged(conn: Conn, subject: str, key: str, *, body: dict[str, Any] | None = None,
                what: str = "") -> Page:
    """Collect every page of ``STREAM.NAMES``/``STREAM.LIST``/``CONSUMER.*`` style endpoints."""
    items: list[Any] = []
    missing: list[str] = []
    offline: dict[str, str] = {}
    total = 0
    first = True
    async for reply in _pages(conn, subject, key, body or {}, what):
        if first:
            total = int(reply.get("total") or 0)
            first = False
        items.extend(reply.get(key) or [])
        missing.extend(reply.get("missing") or [])
        offline.update(reply.get("offline") or {})
    return Page(items=tuple(items), total=total, missing=tuple(missing), offline=offline)
