"""The one place that turns JetStream API errors into natsops errors (and exit codes).

``err_code`` is stable across server versions; the description text is not, so every branch
below keys on the code. Anything not listed becomes :class:`~natsops.errors.ServerError`.
"""

from __future__ import annotations

from typing import Any

from natsops.errors import Conflict, NatsopsError, NotFound, ServerError, Timeout, UsageError

__all__ = ["NO_ROOM", "JSApiError", "api_error", "from_nats_exception"]

# err_code -> natsops error class
_NOT_FOUND = {
    10059,  # stream not found
    10014,  # consumer not found
    10037,  # no message found
    10149,  # consumer does not exist (action=update)
}
_CONFLICT = {
    10058,  # stream name already in use with a different configuration
    10148,  # consumer already exists (action=create)
    10013,  # consumer name already in use
    10105,  # consumer already exists and is bound
    10130,  # stream exists, cannot restore
    10065,  # subjects overlap with an existing stream
}
_USAGE = {
    10003,  # bad request
    10025,  # invalid JSON / unknown field (strict mode)
    10056,  # name in subject does not match the body
    10131,  # filter in subject does not match
    10157,  # pedantic mode
}


# no server has room for the (new) replicas: 10005 no suitable peers for placement, 10047
# insufficient storage, 10028 insufficient memory resources
NO_ROOM = frozenset({10005, 10047, 10028})


class JSApiError(ServerError):
    """A JetStream API error reply; ``err_code`` and ``code`` are the server's."""

    def __init__(self, message: str, *, err_code: int, code: int, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.err_code = err_code
        self.code = code


def api_error(what: str, error: dict[str, Any]) -> NatsopsError:
    """Build the natsops error for an ``{"code", "err_code", "description"}`` reply."""
    err_code = int(error.get("err_code") or 0)
    code = int(error.get("code") or 0)
    desc = str(error.get("description") or "unknown error")
    text = f"{what}: {desc} (err_code {err_code})" if what else f"{desc} (err_code {err_code})"
    if err_code in _NOT_FOUND or (not err_code and code == 404):
        return NotFound(text)
    if err_code in _CONFLICT:
        return Conflict(text)
    if err_code in _USAGE:
        return UsageError(text)
    hint = None
    if err_code == 10010:
        hint = "this needs a clustered server"
    elif err_code in (10008, 10202):
        hint = "the cluster is electing a leader or changing members; retry in a moment"
    elif err_code == 10074:
        hint = "replicas > 1 need a JetStream cluster"
    elif err_code in NO_ROOM:
        hint = ("each replica reserves the stream's max_bytes on its server (within "
                "jetstream max_file_store / max_memory_store), and replicas or streams removed "
                "moments ago release theirs only after a few seconds: retry shortly, else free "
                "room there or lower max_bytes or replicas")
    return JSApiError(text, err_code=err_code, code=code, hint=hint)


def from_nats_exception(exc: BaseException, what: str) -> NatsopsError:
    """Translate an exception raised by nats-py (API, timeout, no responders) for ``what``."""
    from nats.errors import NoRespondersError
    from nats.errors import TimeoutError as NatsTimeout
    from nats.js.errors import APIError

    if isinstance(exc, APIError):
        return api_error(what, {"err_code": exc.err_code, "code": exc.code,
                                "description": exc.description or type(exc).__name__})
    if isinstance(exc, NoRespondersError):
        return ServerError(f"{what}: no responders",
                           hint="JetStream is not enabled for this account, or wrong domain")
    if isinstance(exc, (NatsTimeout, TimeoutError)):
        return Timeout(f"{what}: no reply from the server in time")
    return ServerError(f"{what}: {type(exc).__name__}: {exc}")
