"""natscli contexts managed by natsops: add, list, select, remove, show and validate.

The files are natscli's own (:mod:`natsops.context` reads and writes them):
``$XDG_CONFIG_HOME/nats/context/<name>.json`` (default ``~/.config``), every key written, mode
0600; the selection in ``nats/context.txt`` and the previous one in ``previous-context.txt``.
``show`` masks secrets (password, token, inline JWT and seed); ``validate`` connects with the
context and says what its credentials can do: the server, the account and user, permissions,
expiry and JetStream (``$SYS.REQ.USER.INFO`` and ``$JS.API.INFO``, no system account needed).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from natsops.cluster.contexts import remove_contexts
from natsops.context import (
    CONTEXT_KEYS,
    Settings,
    config_root,
    list_contexts,
    load_context,
    save_context,
    selected_context,
)
from natsops.errors import Conflict, NotFound, UsageError
from natsops.files import write_private

__all__ = ["ContextEntry", "Validation", "add_context", "check_exists", "context_entries",
           "context_values", "remove_context", "select_context", "show_context", "validate"]

_SECRET_KEYS = ("password", "token", "user_jwt", "user_seed")
_AUTH_KEYS = ("user", "creds", "nkey", "user_jwt", "nsc")


@dataclass(frozen=True)
class ContextEntry:
    """A saved context, as listed (no secrets)."""

    name: str
    selected: bool
    description: str
    url: str
    auth: str  # user | creds | nkey | jwt | token | none
    path: Path


def _auth(doc: Mapping[str, Any]) -> str:
    for key, label in (("user", "user"), ("creds", "creds"), ("nkey", "nkey"),
                       ("user_jwt", "jwt"), ("nsc", "nsc"), ("token", "token")):
        if doc.get(key):
            return label
    return "none"


def _path(name: str, env: Mapping[str, str]) -> Path:
    return config_root(env) / "nats" / "context" / f"{name}.json"


def context_entries(env: Mapping[str, str]) -> list[ContextEntry]:
    """Every saved context, the selected one marked."""
    sel = selected_context(env)
    out = []
    for name in list_contexts(env):
        try:
            _, doc = load_context(name, env)
        except UsageError:
            doc = {"description": "(unreadable: not valid JSON)"}
        out.append(ContextEntry(name, name == sel, str(doc.get("description") or ""),
                                str(doc.get("url") or ""), _auth(doc), _path(name, env)))
    return out


# CLI connection flag -> context key (natscli's `context add` saves its global flags)
_FLAG_KEYS = {"server": "url", "creds": "creds", "user": "user", "password": "password",
              "token": "token", "nkey": "nkey", "tlscert": "cert", "tlskey": "key",
              "tlsca": "ca", "tlsfirst": "tls_first"}


def context_values(flags: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """The context fields the connection flags given name (plus ``extra`` context keys)."""
    values = {key: flags.get(flag) for flag, key in _FLAG_KEYS.items()}
    values.update({"description": extra.get("description"),
                   "jetstream_domain": extra.get("js_domain")})
    return {k: v for k, v in values.items() if v not in (None, "", False)}


def add_context(name: str, values: Mapping[str, Any], env: Mapping[str, str], *,
                select: bool = False, replace: bool = False, dry_run: bool = False) -> Path:
    """Write a context in natscli's format; Conflict when it exists (unless ``replace``).

    As natscli, more than one way to log in (user, creds, nkey, JWT) is refused. With
    ``dry_run`` everything is checked and nothing written.
    """
    given = {k: v for k, v in values.items() if v not in (None, "", False)}
    unknown = set(given) - set(CONTEXT_KEYS)
    if unknown:
        raise UsageError(f"unknown context keys: {', '.join(sorted(unknown))}")
    methods = [k for k in _AUTH_KEYS if given.get(k)]
    if len(methods) > 1:
        raise UsageError(f"too many types of credentials ({', '.join(methods)}): give one")
    if given.get("url"):
        check_context_urls(str(given["url"]))
    flags = {key: flag for flag, key in _FLAG_KEYS.items()}
    for key in ("creds", "nkey", "cert", "key", "ca"):
        path = Path(str(given.get(key) or "")).expanduser()
        if given.get(key) and not path.is_file():
            why = "is a directory, not a file" if path.is_dir() else "no such file"
            raise UsageError(f"--{flags[key]} {given[key]}: {why}")
        if given.get(key) and not os.access(path, os.R_OK):
            raise UsageError(f"--{flags[key]} {given[key]}: permission denied (cannot read it)")
    if _path(name, env).is_file() and not replace:
        raise Conflict(f"context '{name}' exists", hint="pass --force to replace it")
    if dry_run:
        return _path(name, env)
    path = save_context(name, given, env)
    if select:
        select_context(name, env)
    return path


def check_context_urls(urls: str) -> None:
    """The comma-separated server URLs of a context: each must be one natsops can use."""
    from natsops.connection import check_urls
    from natsops.context import normalise_url

    check_urls(tuple(normalise_url(u.strip()) for u in urls.split(",") if u.strip()))


def select_context(name: str, env: Mapping[str, str], *, dry_run: bool = False) -> str | None:
    """Select ``name`` (natscli's ``context.txt``); returns the previously selected one.
    With ``dry_run`` only check that ``name`` exists."""
    load_context(name, env)  # NotFound for an unknown name
    root = config_root(env) / "nats"
    previous = selected_context(env)
    if dry_run:
        return previous
    if previous and previous != name:
        write_private(root / "previous-context.txt", previous + "\n")
    write_private(root / "context.txt", name + "\n")
    return previous


def remove_context(name: str, env: Mapping[str, str]) -> bool:
    """Delete a context file (and its selection); NotFound when there is none."""
    load_context(name, env)
    return bool(remove_contexts([name], env))


def show_context(name: str, env: Mapping[str, str]) -> dict[str, Any]:
    """The context's fields (every natscli key), secrets masked as ``***``."""
    cname, doc = load_context(name, env)
    out: dict[str, Any] = {"name": cname, "selected": selected_context(env) == cname}
    for key in CONTEXT_KEYS:
        value = doc.get(key)
        out[key] = "***" if key in _SECRET_KEYS and value else value
    return out


@dataclass(frozen=True)
class Validation:
    """What a context's credentials can do, as the server says."""

    context: str | None
    url: str
    server: str
    version: str
    account: str | None
    user: str | None
    permissions: Mapping[str, Any] | None
    expires: str | None
    jetstream: Mapping[str, Any] | None
    notes: tuple[str, ...] = field(default=())


def _creds_notes(settings: Settings, now: float) -> list[str]:
    """Local checks of a creds file: mode, expiry of its JWT."""
    import stat

    from natsops.auth.creds import parse_creds
    from natsops.files import read_text

    if not settings.creds:
        return []
    path = Path(settings.creds).expanduser()
    notes = []
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0
    if mode & 0o077:
        notes.append(f"creds file {path} has mode {mode:o}: others can read the seed (chmod 600)")
    user = parse_creds(read_text(path, what="creds file"), source=str(path)).user
    if user.expires is not None:
        left = user.expires - now
        stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(user.expires))
        notes.append(f"the user JWT expires at {stamp}" if left > 0
                     else f"the user JWT expired at {stamp}")
    return notes


async def validate(settings: Settings) -> Validation:
    """Connect with ``settings`` and report the server, account, user and JetStream."""
    from natsops.connection import connect
    from natsops.monitoring.reports import account_info_own

    notes = _creds_notes(settings, time.time())
    async with connect(settings) as conn:
        info = getattr(conn.nc, "_server_info", {}) or {}
        doc = await account_info_own(conn.nc, timeout=settings.timeout)
        url = str(conn.nc.connected_url.geturl()) if conn.nc.connected_url else settings.url
    if doc.get("jetstream") is None:
        notes.append("JetStream is not available to this account")
    return Validation(settings.context, url, str(info.get("server_name") or info.get("server_id")),
                      str(info.get("version", "?")), doc.get("account"), doc.get("user"),
                      doc.get("permissions"), doc.get("expires"), doc.get("jetstream"),
                      tuple(notes))


def check_exists(name: str, env: Mapping[str, str]) -> None:
    """NotFound unless context ``name`` exists."""
    if name not in list_contexts(env):
        raise NotFound(f"context '{name}' not found (looked in {_path(name, env).parent})")
