"""A minimal blocking NATS text-protocol client for the benchmark hot paths.

nats-py spends microseconds per message in Python (futures, callbacks, per-message objects), so
a benchmark built on it measures the client. Here publishers write pre-built ``PUB`` frames in
large buffers and readers parse whole socket reads at once. The connection setup reuses
:func:`natsops.connection.connect_options`, i.e. the same settings, auth and TLS resolution as
every other command. Supported auth: none, user/password, token, creds files, nkey seeds and
JWT+seed (the server's nonce signed with natsops' own nkey code), with or without TLS (also
TLS-first).
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import ssl
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

from natsops.connection import connect_options, probe_timeout
from natsops.context import Settings
from natsops.errors import AuthError, ServerError, Timeout, Unreachable, UsageError

__all__ = [
    "Frame",
    "WireConn",
    "check_settings",
    "parse_frames",
    "redact",
]

# frame kinds returned by parse_frames
MSG = 1
HMSG = 2
PING = 3
PONG = 4
OK = 5
ERR = 6
INFO = 7

RECV_SIZE = 4 << 20


class Frame:
    """One protocol frame: kind, the arguments of its first line and its payload."""

    __slots__ = ("args", "header_len", "kind", "payload")

    # a plain slotted class: frames are created per message, a frozen dataclass is 3x slower
    def __init__(self, kind: int, args: list[bytes], payload: bytes = b"", header_len: int = 0):
        self.kind = kind
        self.args = args
        self.payload = payload
        self.header_len = header_len

    def __repr__(self) -> str:
        return f"Frame({self.kind}, {self.args!r}, {self.payload[:40]!r})"


def redact(url: str) -> str:
    """The URL without its user:password@ part, for messages and results."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]).geturl()


def check_settings(settings: Settings) -> dict[str, Any]:
    """Return the nats-py style options (same resolution as every command); no websockets."""
    opts = connect_options(settings)
    for url in settings.servers:
        if url.split("://", 1)[0] in ("ws", "wss"):
            raise UsageError(
                f"natsops bench speaks the NATS TCP protocol; {redact(url)} is a websocket")
    return opts


def _signed_auth(opts: dict[str, Any], nonce: str) -> dict[str, str]:
    """CONNECT fields for creds, nkey and JWT auth: the server's nonce signed with the seed."""
    import base64

    if not any(k in opts for k in ("user_credentials", "nkeys_seed", "user_jwt_cb")):
        return {}
    if not nonce:
        raise AuthError("the server sent no nonce: it does not expect creds or nkey auth")
    from natsops.auth.creds import parse_creds
    from natsops.auth.nkey import keypair_from_seed

    def sig(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    if "user_credentials" in opts:
        path = opts["user_credentials"]
        with open(path) as fh:
            creds = parse_creds(fh.read(), source=str(path))
        kp = keypair_from_seed(creds.seed.reveal(), "user")
        return {"jwt": creds.user.token, "sig": sig(kp.sign(nonce.encode()))}
    if "nkeys_seed" in opts:
        with open(opts["nkeys_seed"]) as fh:
            kp = keypair_from_seed(fh.read().strip())
        return {"nkey": kp.public_key, "sig": sig(kp.sign(nonce.encode()))}
    out = {"jwt": opts["user_jwt_cb"]().decode()}
    if "signature_cb" in opts:
        out["sig"] = sig(base64.b64decode(opts["signature_cb"](nonce)))
    return out


def parse_frames(data: bytes, pos: int, out: list[Frame], limit: int = -1) -> int:
    """Parse complete frames from ``data[pos:]`` into ``out``; return where parsing stopped.

    ``limit`` caps the number of frames parsed (-1: all).
    """
    n = len(data)
    find = data.find
    while pos < n and limit != 0:
        limit -= 1
        eol = find(b"\r\n", pos)
        if eol < 0:
            break
        op = data[pos : pos + 4]
        if op == b"MSG " or op == b"msg ":
            args = data[pos + 4 : eol].split()
            end = eol + 2 + int(args[-1])
            if end + 2 > n:
                break
            out.append(Frame(MSG, args, data[eol + 2 : end]))
            pos = end + 2
        elif op == b"HMSG" or op == b"hmsg":
            args = data[pos + 5 : eol].split()
            end = eol + 2 + int(args[-1])
            if end + 2 > n:
                break
            out.append(Frame(HMSG, args, data[eol + 2 : end], int(args[-2])))
            pos = end + 2
        else:
            line = data[pos:eol]
            head = line[:4].upper()
            if head == b"PING":
                out.append(Frame(PING, []))
            elif head == b"PONG":
                out.append(Frame(PONG, []))
            elif head == b"+OK":
                out.append(Frame(OK, []))
            elif head == b"-ERR":
                out.append(Frame(ERR, [line[5:].strip().strip(b"'")]))
            elif head == b"INFO":
                out.append(Frame(INFO, [], line[5:]))
            elif line:
                raise ServerError(f"unexpected protocol line from the server: {line[:80]!r}")
            pos = eol + 2
    return pos


def _server_error(text: bytes, where: str) -> Exception:
    msg = text.decode(errors="replace")
    low = msg.lower()
    if "authorization" in low or "authentication" in low or "permissions" in low:
        return AuthError(f"{where}: {msg}", hint="check --user/--password/--token/--context")
    return ServerError(f"{where}: {msg}")


class WireConn:
    """One blocking connection speaking the NATS text protocol."""

    def __init__(self, sock: socket.socket, url: str, info: dict[str, Any]) -> None:
        self.sock = sock
        self.url = url
        self.info = info
        self.buf = b""
        self.pos = 0
        self.backlog: list[Frame] = []  # frames read past a PONG, handed out by read_frames

    # --- connecting -----------------------------------------------------------------------
    @classmethod
    def open(cls, settings: Settings, start: int = 0, *, name: str = "natsops-bench") -> WireConn:
        """Connect to the first server that answers, trying the URLs from index ``start``,
        each with the connection policy's short per-URL timeout (a frozen server is skipped)."""
        opts = check_settings(settings)
        urls = list(settings.servers)
        last: Exception | None = None
        for i in range(len(urls)):
            url = urls[(start + i) % len(urls)]
            try:
                return cls._open_one(url, opts, probe_timeout(settings), name)
            except (OSError, Unreachable, Timeout) as exc:
                last = exc
        if isinstance(last, (Unreachable, Timeout)):
            raise last
        where = ", ".join(redact(u) for u in urls)
        raise Unreachable(f"cannot connect to {where}: {last}")

    @classmethod
    def _open_one(cls, full_url: str, opts: dict[str, Any], timeout: float, name: str) -> WireConn:
        parts = urlsplit(full_url)
        url = redact(full_url)
        host = parts.hostname or "127.0.0.1"
        port = parts.port or 4222
        try:
            raw = socket.create_connection((host, port), timeout=timeout)
        except TimeoutError:
            raise Unreachable(f"{url}: no TCP connection within {timeout:g}s") from None
        except OSError as exc:
            raise Unreachable(f"cannot connect to {url}: {exc.strerror or exc}") from None
        sock: socket.socket = raw
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for opt in (socket.SO_SNDBUF, socket.SO_RCVBUF):
                raw.setsockopt(socket.SOL_SOCKET, opt, 4 << 20)
            tls: ssl.SSLContext | None = opts.get("tls")
            if tls is not None and opts.get("tls_handshake_first"):
                sock = tls.wrap_socket(raw, server_hostname=host)
            conn = cls(sock, url, {})
            info = conn._read_info()
            if tls is None and (info.get("tls_required") or parts.scheme == "tls"):
                tls = ssl.create_default_context()
            if tls is not None and not opts.get("tls_handshake_first"):
                sock = tls.wrap_socket(raw, server_hostname=host)
                conn.sock = sock
            conn.info = info
            conn._handshake(opts, parts, name)
            sock.settimeout(None)
            return conn
        except TimeoutError:
            sock.close()
            # accepted TCP but never spoke NATS (frozen, or not a NATS port): unreachable
            raise Unreachable(f"{url}: no NATS greeting within {timeout:g}s") from None
        except ssl.SSLError as exc:
            sock.close()
            raise Unreachable(f"{url}: TLS handshake failed: {exc}") from None
        except BaseException:
            sock.close()
            raise

    def _read_info(self) -> dict[str, Any]:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Unreachable(f"{self.url}: connection closed before INFO")
            self.buf += chunk
        line, _, rest = self.buf.partition(b"\r\n")
        self.buf = rest
        if not line.upper().startswith(b"INFO "):
            raise Unreachable(f"{self.url}: not a NATS server (got {line[:40]!r})")
        info: dict[str, Any] = json.loads(line[5:])
        return info

    def _handshake(self, opts: dict[str, Any], parts: Any, name: str) -> None:
        connect: dict[str, Any] = {
            "verbose": False, "pedantic": False, "lang": "python-natsops-wire",
            "version": "1", "protocol": 1, "headers": True, "no_responders": True,
            "echo": True, "name": name, "tls_required": isinstance(self.sock, ssl.SSLSocket),
        }  # fmt: skip
        user = opts.get("user") or (unquote(parts.username) if parts.username else None)
        password = opts.get("password") or (unquote(parts.password) if parts.password else None)
        if user and password:
            connect["user"], connect["pass"] = user, password
        elif user:  # nats://token@host
            connect["auth_token"] = user
        if opts.get("token"):
            connect["auth_token"] = opts["token"]
        connect.update(_signed_auth(opts, str(self.info.get("nonce", ""))))
        self.sock.sendall(b"CONNECT " + json.dumps(connect).encode() + b"\r\nPING\r\n")
        self.wait_pong()

    # --- I/O helpers ------------------------------------------------------------------------
    def send(self, data: bytes | memoryview) -> None:
        self.sock.sendall(data)

    def read_frames(self, out: list[Frame], timeout: float | None = None) -> bool:
        """Read once from the socket and parse; False if nothing arrived within ``timeout``."""
        if self.backlog:
            out.extend(self.backlog)
            self.backlog = []
            return True
        if timeout is not None:
            ready, _, _ = select.select([self.sock], [], [], timeout)
            if not ready and not self._pending_tls():
                return False
        chunk = self.sock.recv(RECV_SIZE)
        if not chunk:
            raise Unreachable(f"{self.url}: the server closed the connection")
        data = self.buf[self.pos :] + chunk if self.pos < len(self.buf) else chunk
        self.pos = parse_frames(data, 0, out)
        self.buf = data
        return True

    def _pending_tls(self) -> bool:
        return isinstance(self.sock, ssl.SSLSocket) and self.sock.pending() > 0

    def poll_control(self) -> None:
        """Answer server PINGs and raise on -ERR without blocking (for write-only loops)."""
        ready, _, _ = select.select([self.sock], [], [], 0)
        if not ready:
            return
        frames: list[Frame] = []
        self.read_frames(frames)
        self.handle_control(frames)

    def handle_control(self, frames: list[Frame]) -> None:
        for f in frames:
            if f.kind == PING:
                self.sock.sendall(b"PONG\r\n")
            elif f.kind == ERR:
                raise _server_error(f.args[0], self.url)

    def wait_pong(
        self, timeout: float = 30.0, on_frame: Callable[[Frame], None] | None = None
    ) -> None:
        """Wait for the PONG answering our PING; frames before it go to ``on_frame``.

        Frames after the PONG are kept for the next :meth:`read_frames`.
        """
        deadline = time.monotonic() + timeout
        frames, self.backlog = self.backlog, []
        # frames may already sit in the buffer (e.g. right after the handshake)
        self.pos = parse_frames(self.buf, self.pos, frames)
        while True:
            for i, f in enumerate(frames):
                if f.kind == PONG:
                    self.backlog.extend(frames[i + 1 :])
                    return
                if f.kind == PING:
                    self.sock.sendall(b"PONG\r\n")
                elif f.kind == ERR:
                    raise _server_error(f.args[0], self.url)
                elif on_frame is not None:
                    on_frame(f)
            frames = []
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout(f"{self.url}: no PONG within {timeout:g}s")
            self.read_frames(frames, timeout=left)

    def flush(self, timeout: float = 60.0) -> None:
        """PING and wait for the PONG: everything sent before was processed by the server."""
        self.sock.sendall(b"PING\r\n")
        self.wait_pong(timeout)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()
