"""Connect to NATS with resolved :class:`~natsops.context.Settings`.

``async with connect(settings) as conn:`` gives ``conn.nc`` (the nats-py client) and ``conn.js``
(its JetStream context, with the domain/prefix from the settings). Failures become natsops errors:
:class:`~natsops.errors.Unreachable`, :class:`~natsops.errors.AuthError`,
:class:`~natsops.errors.Timeout`.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from natsops.context import Settings
from natsops.errors import AuthError, NatsopsError, Timeout, Unreachable, UsageError

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js import JetStreamContext

__all__ = ["Conn", "connect", "connect_options"]

log = logging.getLogger(__name__)


@dataclass
class Conn:
    """An open connection: the nats-py client and its JetStream context."""

    nc: Client
    js: JetStreamContext
    settings: Settings

    @property
    def server_name(self) -> str:
        info = getattr(self.nc, "_server_info", None) or {}
        return str(info.get("server_name", ""))


def _file_ref(value: str, what: str) -> str:
    if value.startswith("file://"):
        value = value[len("file://") :]
    if "://" in value:
        scheme = value.split("://", 1)[0]
        raise UsageError(f"{what}: '{scheme}://' references are not supported; give a file path")
    if not Path(value).is_file():
        raise UsageError(f"{what} file not found: {value}")
    return value


def _tls_context(s: Settings) -> ssl.SSLContext | None:
    tls_url = any(u.startswith("tls://") for u in s.servers)
    if not (s.tls_ca or (s.tls_cert and s.tls_key) or tls_url):
        return None
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    try:
        if s.tls_ca:
            ctx.load_verify_locations(_file_ref(s.tls_ca, "TLS CA"))
        if s.tls_cert and s.tls_key:
            ctx.load_cert_chain(_file_ref(s.tls_cert, "TLS cert"), _file_ref(s.tls_key, "TLS key"))
    except ssl.SSLError as exc:
        raise UsageError(f"cannot load TLS files: {exc}") from None
    return ctx


def connect_options(s: Settings) -> dict[str, Any]:
    """Translate settings into ``nats.connect()`` keyword arguments (no I/O besides file checks)."""
    if s.socks_proxy:
        raise UsageError("socks_proxy is not supported by natsops (nats-py has no SOCKS support)")

    async def _quiet(exc: Exception) -> None:
        log.debug("nats client event: %s", exc)

    opts: dict[str, Any] = {
        "servers": list(s.servers),
        "name": s.connection_name,
        "connect_timeout": max(0.5, min(s.timeout, 10.0)),
        "allow_reconnect": False,
        # nats-py retries the first connect forever when this is 0 (it only discards a server
        # whose attempts exceed a *positive* maximum): 1 means two quick attempts, then an error.
        "max_reconnect_attempts": 1,
        "reconnect_time_wait": 0.1,
        "error_cb": _quiet,
        "disconnected_cb": None,
        "closed_cb": None,
    }
    # auth precedence as natscli: user(+password) > creds > nkey > jwt+seed > jwt; token on top
    if s.user:
        opts["user"] = s.user
        if s.password:
            opts["password"] = s.password.reveal()
    elif s.creds:
        opts["user_credentials"] = _file_ref(s.creds, "creds")
    elif s.nkey:
        opts["nkeys_seed"] = _file_ref(s.nkey, "nkey seed")
    elif s.user_jwt:
        jwt = s.user_jwt.reveal()
        seed = s.user_seed.reveal() if s.user_seed else None
        if seed:
            try:
                import nkeys  # type: ignore[import-not-found,unused-ignore]
            except ImportError:
                raise UsageError("a JWT with a seed needs the 'nkeys' package") from None
            kp = nkeys.from_seed(seed.encode())

            def sign(nonce: str) -> bytes:
                import base64

                return base64.b64encode(kp.sign(nonce.encode()))

            opts["signature_cb"] = sign
        opts["user_jwt_cb"] = lambda: jwt.encode()
    if s.token:
        opts["token"] = s.token.reveal()
    tls = _tls_context(s)
    if tls is not None:
        opts["tls"] = tls
        if s.tls_first:
            opts["tls_handshake_first"] = True
    if s.inbox_prefix:
        opts["inbox_prefix"] = s.inbox_prefix
    return opts


def _auth_method(s: Settings) -> str:
    """How ``s`` authenticates, for the log: a kind and a file or user name, never a secret."""
    if s.user:
        return f"user {s.user}" + (" with password" if s.password else "")
    if s.creds:
        return f"creds {s.creds}"
    if s.nkey:
        return f"nkey {s.nkey}"
    if s.user_jwt:
        return "user JWT"
    return "token" if s.token else "no credentials"


def _map_error(exc: BaseException, s: Settings) -> NatsopsError:
    text = str(exc) or type(exc).__name__
    low = text.lower()
    where = s.url
    if "authorization" in low or "authentication" in low or "permissions" in low:
        return AuthError(f"{where}: authorization violation", hint="check --creds/--user/--context")
    if isinstance(exc, TimeoutError) or "timeout" in low:
        return Timeout(f"{where}: timed out connecting after {s.timeout:g}s")
    return Unreachable(f"cannot connect to {where}: {text}")


@asynccontextmanager
async def connect(settings: Settings) -> AsyncIterator[Conn]:
    """Open a connection for the duration of the block, then drain and close it."""
    from nats.aio.client import Client

    opts = connect_options(settings)
    log.info("connecting to %s (%s, timeout %gs)", ", ".join(settings.servers),
             _auth_method(settings), settings.timeout)
    log.debug("nats.connect options given: %s (values not logged)", ", ".join(sorted(opts)))
    nc = Client()
    try:
        await nc.connect(**opts)
    except Exception as exc:  # nats-py raises bare Exception subclasses for some auth errors
        # a refused login (authorization violation) leaves nats-py's socket open: close it
        with contextlib.suppress(Exception):
            await nc.close()
        raise _map_error(exc, settings) from None
    info = getattr(nc, "_server_info", None) or {}
    log.info("connected to %s (server %s, version %s, account %s)", nc.connected_url.geturl()
             if nc.connected_url else "?", info.get("server_name", "?"), info.get("version", "?"),
             info.get("account") or "?")
    try:
        kw: dict[str, Any] = {"timeout": settings.timeout}
        if settings.js_domain:
            kw["domain"] = settings.js_domain
        elif settings.js_api_prefix:
            kw["prefix"] = settings.js_api_prefix
        yield Conn(nc=nc, js=nc.jetstream(**kw), settings=settings)
    finally:
        try:
            await nc.close()
        except Exception:  # closing a broken connection must not hide the real error
            log.debug("error while closing connection", exc_info=True)
