"""Connect to NATS with resolved :class:`~natsops.context.Settings`.

``async with connect(settings) as conn:`` gives ``conn.nc`` (the nats-py client) and ``conn.js``
(its JetStream context, with the domain/prefix from the settings). Failures become natsops errors:
:class:`~natsops.errors.Unreachable`, :class:`~natsops.errors.AuthError`,
:class:`~natsops.errors.UsageError`.

The one connection policy (every command, the library alike):

- every listed ``nats://``/``tls://`` URL is probed at once for the server's INFO with a short
  timeout (:data:`PROBE_TIMEOUT`); the client connects to the first that answers, then the next,
  so a frozen (SIGSTOPped) server costs nothing while another answers. None usable is
  :class:`~natsops.errors.Unreachable` (exit 3) naming each URL's reason, a port that accepts
  TCP but never speaks NATS included;
- ``tls://`` or any TLS option (CA, cert, key) means TLS or an error, never plaintext;
  ``--tlsfirst`` without TLS and an invalid URL are usage errors (exit 2);
- a creds or nkey file that cannot be read or parsed is a usage error naming it;
- a request the server refuses for lack of permission (it drops it and sends an ``-ERR``)
  surfaces as :class:`~natsops.errors.AuthError` (exit 7), not as a timeout;
- a login the server drops right after its INFO is tried again shortly (at max_connections - 1
  the probe's slot may not be free yet); a server at its ``max_connections`` is a
  :class:`~natsops.errors.ServerError` (exit 10) naming the limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from natsops.context import Settings
from natsops.errors import AuthError, NatsopsError, ServerError, Timeout, Unreachable, UsageError
from natsops.files import os_error, read_text

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js import JetStreamContext

__all__ = ["PROBE_TIMEOUT", "Conn", "answering_first", "check_urls", "connect",
           "connect_options", "open_client", "probe", "tls_wanted"]

log = logging.getLogger(__name__)

class _TlsEofNoise(logging.Filter):
    """nats-py upgrades a plain stream to TLS, so asyncio warns on every TLS close that
    "returning true from eof_received() has no effect when using ssl": harmless, and it would
    be a stray line on stderr after each command over TLS."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "eof_received() has no effect" not in record.getMessage()


logging.getLogger("asyncio").addFilter(_TlsEofNoise())

# Seconds one URL gets to send its INFO (capped by the settings' timeout). Every URL is probed
# at once, so a frozen server costs nothing while another answers, and at most this when none do.
PROBE_TIMEOUT = 2.0


@dataclass
class Conn:
    """An open connection: the nats-py client and its JetStream context."""

    nc: Client
    js: JetStreamContext
    settings: Settings
    # "Permissions Violation ..." errors the server sent on this connection, oldest first
    denied: list[str] = field(default_factory=list)

    @property
    def server_name(self) -> str:
        info = getattr(self.nc, "_server_info", None) or {}
        return str(info.get("server_name", ""))

    @property
    def server_version(self) -> str:
        """The version the connected server announced (``2.10.26``; empty if unknown)."""
        info = getattr(self.nc, "_server_info", None) or {}
        return str(info.get("version", ""))


def _file_ref(value: str, what: str) -> str:
    if value.startswith("file://"):
        value = value[len("file://") :]
    if "://" in value:
        scheme = value.split("://", 1)[0]
        raise UsageError(f"{what}: '{scheme}://' references are not supported; give a file path")
    if not Path(value).is_file():
        if Path(value).exists():
            raise UsageError(f"{what} {value} is not a regular file")
        raise UsageError(f"{what} file not found: {value}")
    return value


def _check_creds(path: str) -> str:
    """A creds file must be readable and parse (JWT + matching user seed) before we connect:
    an unusable one is a usage error, never a silent connection without credentials."""
    from natsops.auth.creds import parse_creds

    parse_creds(read_text(path, what="creds file"), source=f"creds file {path}")
    return path


def _check_nkey(path: str) -> str:
    from natsops.auth.nkey import keypair_from_seed

    text = read_text(path, what="nkey seed file").strip()
    try:
        keypair_from_seed(text, "user")
    except UsageError as exc:
        raise UsageError(f"nkey seed file {path}: {exc}") from None
    return path


def tls_wanted(s: Settings) -> bool:
    """TLS is asked for by a ``tls://``/``wss://`` URL or any TLS option (CA, cert, key)."""
    return bool(
        s.tls_ca or s.tls_cert or s.tls_key
        or any(u.split("://", 1)[0].lower() in ("tls", "wss") for u in s.servers)
    )


def _tls_context(s: Settings) -> ssl.SSLContext | None:
    if s.tls_first and not tls_wanted(s):
        raise UsageError("--tlsfirst needs TLS: use a tls:// server URL or --tlsca/--tlscert")
    if bool(s.tls_cert) != bool(s.tls_key):
        raise UsageError("a TLS client certificate needs both --tlscert and --tlskey")
    if not tls_wanted(s):
        return None
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    try:
        if s.tls_ca:
            ca = _file_ref(s.tls_ca, "TLS CA")
            ctx.load_verify_locations(cadata=read_text(ca, what="TLS CA file"))
        if s.tls_cert and s.tls_key:
            cert, key = _file_ref(s.tls_cert, "TLS cert"), _file_ref(s.tls_key, "TLS key")
            read_text(cert, what="TLS cert file")
            read_text(key, what="TLS key file")
            ctx.load_cert_chain(cert, key)
    except (ssl.SSLError, ValueError) as exc:
        raise UsageError(f"cannot load TLS files: {exc}") from None
    except OSError as exc:
        raise os_error(exc, "TLS file") from None
    return ctx


def check_urls(servers: tuple[str, ...]) -> None:
    """Every URL must name a host and a valid port: a bad one is a usage error (exit 2)."""
    for url in servers:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise UsageError(f"invalid server URL {url!r}: {exc}") from None
        if not parts.hostname:
            raise UsageError(f"invalid server URL {url!r}: no host")
        if port == 0:
            raise UsageError(f"invalid server URL {url!r}: port 0")
        if parts.path not in ("", "/") and parts.scheme in ("nats", "tls"):
            raise UsageError(f"invalid server URL {url!r}: unexpected path {parts.path!r}")


_PREFIXES = re.compile(r'"(\$js\.api|\$js\.[^.]+\.api|\$kv|\$o|\$sys|_inbox)\.', re.I)


def _denial(text: str) -> str:
    """``Permissions Violation for Publish to "$JS.API.X"`` as the server said it (nats-py
    lowercases the line: the well-known prefixes get their case back; the rest cannot)."""
    text = text.removeprefix("nats: ").strip().strip("'")
    return _PREFIXES.sub(lambda m: f'"{m.group(1).upper()}.', text)


class _Recorder:
    """Collects the asynchronous errors the server sends on a connection (permissions)."""

    def __init__(self) -> None:
        self.denied: list[str] = []

    async def error_cb(self, exc: Exception) -> None:
        text = str(exc)
        if "permissions violation" in text.lower():
            self.denied.append(_denial(text))
        log.debug("nats client event: %s", exc)


def connect_options(s: Settings) -> dict[str, Any]:
    """Translate settings into ``nats.connect()`` keyword arguments (no I/O besides file checks).

    Files are checked here: an unreadable or malformed creds/nkey/TLS file is a
    :class:`~natsops.errors.UsageError` naming it, and so are ``--tlsfirst`` without TLS and
    an invalid URL.
    """
    if s.socks_proxy:
        raise UsageError("socks_proxy is not supported by natsops (nats-py has no SOCKS support)")
    check_urls(s.servers)

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
        opts["user_credentials"] = _check_creds(_file_ref(s.creds, "creds"))
    elif s.nkey:
        opts["nkeys_seed"] = _check_nkey(_file_ref(s.nkey, "nkey seed"))
    elif s.user_jwt:
        jwt = s.user_jwt.reveal()
        seed = s.user_seed.reveal() if s.user_seed else None
        if seed:
            from natsops.auth.nkey import keypair_from_seed

            kp = keypair_from_seed(seed.strip(), "user")

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


# --- the connection policy: probe every URL at once, connect to the first that speaks NATS ---


class _NotUsable(Exception):
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(reason)
        self.url = url
        self.reason = reason


def probe_timeout(s: Settings) -> float:
    """How long one URL gets to answer with INFO: short, so a frozen server costs little."""
    return max(0.5, min(s.timeout, PROBE_TIMEOUT))


async def probe(url: str, *, tls: ssl.SSLContext | None, tls_first: bool,
                timeout: float, err_wait: float = 0.0) -> dict[str, Any]:
    """Open ``url``, read the server's INFO and close; return INFO's fields.

    Raises :class:`_NotUsable` with the reason when the URL refuses, never answers within
    ``timeout`` (a frozen server, or not NATS), does not speak NATS, or does not offer the
    TLS that was asked for. With ``err_wait``, an ``-ERR`` the server sends within that many
    seconds after its INFO (``maximum connections exceeded``) is the reason too.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 4222
    writers: list[asyncio.StreamWriter] = []
    after: list[bytes] = []

    async def greeting() -> bytes:
        if tls is not None and tls_first:
            reader, writer = await asyncio.open_connection(host, port, ssl=tls,
                                                           server_hostname=host)
        else:
            reader, writer = await asyncio.open_connection(host, port)
        writers.append(writer)
        line = await reader.readline()
        if err_wait and line.startswith(b"INFO "):
            with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                after.append(await asyncio.wait_for(reader.readline(), err_wait))
        return line

    try:
        line = await asyncio.wait_for(greeting(), timeout + err_wait)
    except (TimeoutError, asyncio.TimeoutError):
        raise _NotUsable(url, f"no NATS greeting within {timeout:g}s (server frozen or "
                              "overloaded, not a NATS port, or it expects --tlsfirst)") from None
    except ssl.SSLError as exc:
        raise _NotUsable(url, f"TLS handshake failed: {exc.reason or exc}") from None
    except ConnectionRefusedError:
        raise _NotUsable(url, "connection refused") from None
    except socket.gaierror as exc:
        raise _NotUsable(url, f"cannot resolve {host}: {exc.strerror or exc}") from None
    except OSError as exc:
        raise _NotUsable(url, exc.strerror or str(exc) or type(exc).__name__) from None
    finally:
        for writer in writers:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 0.5)
    if not line:
        raise _NotUsable(url, "closed the connection without a NATS greeting (a server with "
                              "TLS handshake first wants --tlsfirst)")
    if not line.startswith(b"INFO "):
        shown = line[:40].decode("ascii", "replace").strip() or "nothing"
        raise _NotUsable(url, f"not a NATS server (it sent {shown!r})")
    try:
        info = json.loads(line[5:])
    except ValueError:
        raise _NotUsable(url, "not a NATS server (malformed INFO)") from None
    if not isinstance(info, dict):
        raise _NotUsable(url, "not a NATS server (malformed INFO)")
    if after and after[0].startswith(b"-ERR"):
        text = after[0][4:].decode("utf-8", "replace").strip().strip("'")
        raise _NotUsable(url, f"the server refused the connection: {text}")
    if tls is not None and not tls_first and not info.get("tls_required"):
        offered = "only as an option" if info.get("tls_available") else "no TLS"
        raise _NotUsable(url, f"TLS was asked for but the server offers {offered}; refusing "
                              "to connect in plaintext")
    return info


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


def _map_error(exc: BaseException, s: Settings, url: str | None = None) -> NatsopsError:
    text = str(exc) or type(exc).__name__
    low = text.lower()
    where = url or s.url
    if "authorization" in low or "authentication" in low or "permissions" in low:
        return AuthError(f"{where}: authorization violation", hint="check --creds/--user/--context")
    if isinstance(exc, TimeoutError) or "timeout" in low:
        return Unreachable(f"{where}: no answer to CONNECT within the timeout")
    return Unreachable(f"cannot connect to {where}: {text}")


def _is_tls(nc: Client) -> bool:
    writer = getattr(getattr(nc, "_transport", None), "_io_writer", None)
    return writer is not None and writer.get_extra_info("ssl_object") is not None


_FULL = "maximum connections exceeded"
# A server at max_connections - 1 may still count the probe's connection (or this process'
# previous one) for a moment after it was closed, and drop the login right after its INFO.
_SLOT_WAITS = (0.1, 0.25, 0.5)


async def answering_first(s: Settings, tls: ssl.SSLContext | None = None) -> tuple[str, ...]:
    """``s.servers`` reordered: the URLs that send their NATS greeting right now first (probed
    at once, as :func:`open_client` does), then the others, which stay for reconnects later.
    Websocket URLs are left where they are: their greeting is HTTP."""
    wait = probe_timeout(s)

    async def greets(url: str) -> bool:
        if url.split("://", 1)[0].lower() not in ("nats", "tls"):
            return True
        try:
            await probe(url, tls=tls, tls_first=s.tls_first, timeout=wait)
        except _NotUsable:
            return False
        return True

    ok = await asyncio.gather(*(greets(u) for u in s.servers))
    good = [u for u, g in zip(s.servers, ok, strict=True) if g]
    return (*good, *(u for u in s.servers if u not in good))


class _Dropped(Exception):
    """The server closed the connection after its INFO, before answering CONNECT."""


async def _connect_one(opts: dict[str, Any], url: str, s: Settings, tls: bool) -> Client:
    """Log in to ``url``; a login dropped after the INFO is tried again after a short wait
    (:data:`_SLOT_WAITS`). Still dropped: a last probe reads the server's ``-ERR``, and
    ``maximum connections exceeded`` is a :class:`ServerError` (exit 10) naming the limit."""
    for wait in _SLOT_WAITS:
        try:
            return await _attempt(opts, url, s, tls)
        except _Dropped as exc:
            log.info("%s dropped the login after its INFO (%s); again in %gs", url, exc, wait)
            await asyncio.sleep(wait)
    try:
        return await _attempt(opts, url, s, tls)
    except _Dropped as exc:
        try:
            await probe(url, tls=opts.get("tls"), tls_first=s.tls_first,
                        timeout=probe_timeout(s), err_wait=0.5)
        except _NotUsable as why:
            if _FULL in why.reason:
                raise _full(url) from None
        raise _map_error(exc.__cause__ or exc, s, url) from None


def _full(*urls: str) -> ServerError:
    return ServerError(f"{', '.join(urls)}: the server refused the connection: {_FULL} (its "
                       "max_connections limit is reached)",
                       hint="close idle clients or raise max_connections in the server "
                            "config; `natsops server report connections --monitor URL` lists "
                            "them")


async def _attempt(opts: dict[str, Any], url: str, s: Settings, tls: bool) -> Client:
    from nats.aio.client import Client as NatsClient

    nc = NatsClient()
    try:
        await nc.connect(**{**opts, "servers": [url]})
    except Exception as exc:  # nats-py raises bare Exception subclasses for some auth errors
        # frees the socket of a refused connect; bounded: after a failed TLS handshake
        # nats-py's close() waits for ever
        with contextlib.suppress(Exception):
            await asyncio.wait_for(nc.close(), 1.0)
        if isinstance(exc, ConnectionResetError) or _FULL in str(exc):
            raise _Dropped(str(exc) or type(exc).__name__) from exc
        raise _map_error(exc, s, url) from None
    if tls and not _is_tls(nc):  # belt and braces: TLS asked for means TLS or an error
        await nc.close()
        raise Unreachable(f"{url}: the connection is not encrypted though TLS was asked for")
    return nc


async def open_client(s: Settings, opts: dict[str, Any]) -> Client:
    """Connect following the policy: every listed URL is probed at once with a short timeout
    (:func:`probe_timeout`); the client connects to the first that speaks NATS, then the next.
    Refused credentials stop at once (exit 7); no usable URL is
    :class:`~natsops.errors.Unreachable` (exit 3) with each URL's reason."""
    tls = "tls" in opts
    tcp = [u for u in s.servers if u.split("://", 1)[0].lower() in ("nats", "tls")]
    if not tcp:  # websockets: the upgrade is HTTP, leave it to nats-py
        return await _connect_ws(opts, s, tls)
    wait = probe_timeout(s)

    async def answered(url: str) -> str:
        await probe(url, tls=opts.get("tls"), tls_first=s.tls_first, timeout=wait)
        return url

    tasks = [asyncio.ensure_future(answered(u)) for u in tcp]
    failures: dict[str, str] = {}
    try:
        for done in asyncio.as_completed(tasks):
            try:
                url = await done
            except _NotUsable as exc:
                failures[exc.url] = exc.reason
                continue
            try:
                return await _connect_one(opts, url, s, tls)
            except (Unreachable, Timeout, ServerError) as exc:
                failures[url] = str(exc).removeprefix(f"cannot connect to {url}: ") \
                    .removeprefix(f"{url}: ")
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if failures and all(_FULL in why for why in failures.values()):
        raise _full(*failures)
    detail = "; ".join(f"{u}: {failures.get(u, 'not tried')}" for u in tcp)
    raise Unreachable(f"cannot connect: no server could be used ({detail})")


async def _connect_ws(opts: dict[str, Any], s: Settings, tls: bool) -> Client:
    plain = [u for u in s.servers if u.split("://", 1)[0].lower() == "ws"]
    if tls and plain:
        raise UsageError(f"TLS was asked for but {plain[0]} is a plaintext websocket URL: "
                         "use wss://")
    last: NatsopsError | None = None
    for url in s.servers:
        try:  # wss:// is TLS by its transport; nothing to double-check
            return await _connect_one(opts, url, s, False)
        except (Unreachable, Timeout) as exc:
            last = exc
    assert last is not None
    raise last


@asynccontextmanager
async def connect(settings: Settings) -> AsyncIterator[Conn]:
    """Open a connection for the duration of the block, then drain and close it."""
    opts = connect_options(settings)
    recorder = _Recorder()
    opts["error_cb"] = recorder.error_cb
    log.info("connecting to %s (%s, timeout %gs)", ", ".join(settings.servers),
             _auth_method(settings), settings.timeout)
    log.debug("nats.connect options given: %s (values not logged)", ", ".join(sorted(opts)))
    nc = await open_client(settings, opts)
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
        yield Conn(nc=nc, js=nc.jetstream(**kw), settings=settings, denied=recorder.denied)
    except (Timeout, TimeoutError, asyncio.TimeoutError):
        # the server drops a request the user may not publish (or whose reply it may not
        # receive) and says so only in an -ERR: that is a permissions problem, not a timeout
        if recorder.denied:
            raise AuthError(f"permission denied: {recorder.denied[-1]}",
                            hint="the user's permissions do not allow this; use a user "
                                 "allowed to publish to $JS.API.> (or the subject named)") \
                from None
        raise
    finally:
        try:
            await nc.close()
        except Exception:  # closing a broken connection must not hide the real error
            log.debug("error while closing connection", exc_info=True)
