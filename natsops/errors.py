"""Errors raised by natsops, and the exit codes they map to.

The exit codes are a public contract (see README, "Exit codes")::

    NatsopsError              1  ERROR        something failed
    ├── UsageError            2  USAGE        bad input: flags, files, values
    ├── Unreachable           3  UNREACHABLE  no server answered (refused, DNS, monitor down)
    ├── NotFound              4  NOT_FOUND    stream, consumer, context, cluster... does not exist
    ├── Pending               5  PENDING      a plan has changes to apply (apply --check)
    ├── ChecksFailed          6  FAILED       doctor/lint found problems at/above the threshold
    ├── AuthError             7  AUTH         authentication or authorization refused
    ├── Timeout               8  TIMEOUT      an operation did not finish within its deadline
    ├── Conflict              9  CONFLICT     already exists or in use (a port, a stream name)
    ├── ServerError          10  SERVER       the server answered with an error (JS API, HTTP 5xx)
    └── Incomplete           11  INCOMPLETE   a read missed a server or a stream: a partial answer

A long command stopped by a signal cleans up and exits 128 + the signal number:
130 (INTERRUPTED) for Ctrl-C / SIGINT, 143 (TERMINATED) for SIGTERM, 129 (HANGUP) for SIGHUP.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "AuthError",
    "ChecksFailed",
    "Conflict",
    "ExitCode",
    "Incomplete",
    "NatsopsError",
    "NotFound",
    "Pending",
    "ServerError",
    "Timeout",
    "Unreachable",
    "UsageError",
]


class ExitCode(IntEnum):
    """Process exit codes of the natsops CLI."""

    OK = 0
    ERROR = 1
    USAGE = 2
    UNREACHABLE = 3
    NOT_FOUND = 4
    PENDING = 5
    FAILED = 6
    AUTH = 7
    TIMEOUT = 8
    CONFLICT = 9
    SERVER = 10
    INCOMPLETE = 11
    HANGUP = 129
    INTERRUPTED = 130
    TERMINATED = 143


class NatsopsError(Exception):
    """Root of every error natsops raises on purpose; carries an exit code and a hint."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(NatsopsError):
    """The input (a flag, a file, a value) is not valid."""

    exit_code = ExitCode.USAGE


class Unreachable(NatsopsError):
    """No server (client port or monitor port) could be reached."""

    exit_code = ExitCode.UNREACHABLE


class NotFound(NatsopsError):
    """The named thing does not exist."""

    exit_code = ExitCode.NOT_FOUND


class Pending(NatsopsError):
    """A plan has changes that were not applied."""

    exit_code = ExitCode.PENDING


class ChecksFailed(NatsopsError):
    """Checks found problems at or above the failing severity."""

    exit_code = ExitCode.FAILED


class AuthError(NatsopsError):
    """The server refused our credentials or permissions."""

    exit_code = ExitCode.AUTH


class Timeout(NatsopsError):
    """An operation did not complete before its deadline."""

    exit_code = ExitCode.TIMEOUT


class Conflict(NatsopsError):
    """The thing already exists or is in use (a port, a name)."""

    exit_code = ExitCode.CONFLICT


class ServerError(NatsopsError):
    """The server answered, with an error."""

    exit_code = ExitCode.SERVER


class Incomplete(NatsopsError):
    """The answer is partial: a server or a stream that should be in it is missing."""

    exit_code = ExitCode.INCOMPLETE
