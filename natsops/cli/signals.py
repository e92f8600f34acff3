"""One signal policy: SIGTERM and SIGHUP stop a command the way Ctrl-C does.

Ctrl-C raises ``KeyboardInterrupt`` (Python's default SIGINT handler) or, while a coroutine
runs, cancels it (asyncio.run). SIGTERM and SIGHUP kill the process by default, skipping every
clean-up. Here they are turned into the same thing:

- outside the event loop, the handler :func:`install` puts in place raises :class:`Stopped`, a
  ``KeyboardInterrupt`` subclass, so every ``finally``/``except KeyboardInterrupt`` clean-up runs;
- while :func:`guard` runs a coroutine, the signal (SIGINT too) cancels that coroutine (the library's
  ``finally``/``except CancelledError`` clean-ups run: temp files removed, a half-restored stream
  deleted, an object's chunks purged), then :class:`Stopped` is raised with the clean-up notes
  the library attached to the exception (``natsops.faults.note_cleanup``).

The CLI turns :class:`Stopped` into one ``error:`` line and exit 128 + the signal number
(130 INTERRUPTED, 143 TERMINATED, 129 HANGUP).
"""

import contextlib
import signal
from collections.abc import Coroutine, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from natsops.errors import ExitCode

if TYPE_CHECKING:
    import asyncio

__all__ = ["HANDLED", "Stopped", "exit_code_of", "guard", "install", "stop_message"]

T = TypeVar("T")

_SIGHUP = int(getattr(signal, "SIGHUP", 1))  # POSIX; Windows has no SIGHUP
HANDLED = tuple(s for s in (signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None)
# ^ turned into Stopped by install()
_CANCELLING = (signal.SIGINT, *HANDLED)  # cancel the coroutine guard() runs
_NAMES = {int(signal.SIGINT): "interrupted", int(signal.SIGTERM): "terminated (SIGTERM)",
          _SIGHUP: "hung up (SIGHUP)"}


class Stopped(KeyboardInterrupt):
    """The command was stopped by a signal; ``exit_code`` is 128 + its number."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signum)
        self.signum = int(signum)

    @property
    def exit_code(self) -> int:
        codes = {int(signal.SIGTERM): ExitCode.TERMINATED, _SIGHUP: ExitCode.HANGUP}
        return int(codes.get(self.signum, ExitCode.INTERRUPTED))


def exit_code_of(exc: KeyboardInterrupt) -> int:
    """130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP."""
    return int(exc.exit_code) if isinstance(exc, Stopped) else int(ExitCode.INTERRUPTED)


def stop_message(exc: KeyboardInterrupt) -> str:
    """``interrupted`` / ``terminated (SIGTERM)``, then what the clean-up did (its notes)."""
    from natsops.faults import cleanup_notes

    signum = exc.signum if isinstance(exc, Stopped) else int(signal.SIGINT)
    notes = cleanup_notes(exc)
    return "; ".join([_NAMES.get(signum, f"stopped by signal {signum}"), *notes])


def _raise_stopped(signum: int, _frame: object) -> None:
    raise Stopped(signum)


def install() -> None:
    """Make SIGTERM and SIGHUP raise :class:`Stopped` (the process' main thread only)."""
    for sig in HANDLED:
        with contextlib.suppress(ValueError, OSError):
            if signal.getsignal(sig) is not signal.SIG_IGN:  # nohup keeps working
                signal.signal(sig, _raise_stopped)


@contextlib.contextmanager
def _cancel_on_signals(task: "asyncio.Task[Any]", received: list[int]) -> Iterator[None]:
    import asyncio

    loop = asyncio.get_running_loop()

    timer: list[asyncio.TimerHandle] = []

    def insist() -> None:
        # Python 3.11's asyncio.wait_for (in nats-py too) can swallow a cancellation that
        # lands as its inner future completes: ask again until the task is done. Clean-ups
        # that must finish run through natsops.faults.cleanup, which outlasts repeats.
        if not task.done():
            task.cancel()
            timer[:] = [loop.call_later(1.0, insist)]

    def on_signal(signum: int) -> None:
        if not received:  # a second signal while cleaning up changes nothing
            received.append(signum)
            insist()

    saved: dict[signal.Signals, Any] = {}
    for sig in _CANCELLING:
        try:
            previous = signal.getsignal(sig)
            if previous is signal.SIG_IGN:
                continue
            loop.add_signal_handler(sig, on_signal, sig)
            saved[sig] = previous
        except (ValueError, RuntimeError, NotImplementedError):
            continue  # not the main thread, or no signal support: the default stays
    try:
        yield
    finally:
        for handle in timer:
            handle.cancel()
        for sig, previous in saved.items():
            loop.remove_signal_handler(sig)  # resets to SIG_DFL: put the previous one back
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(sig, previous if previous is not None else signal.SIG_DFL)


async def guard(coro: Coroutine[Any, Any, T]) -> T:
    """Await ``coro``; SIGTERM/SIGHUP cancel it and, once it cleaned up, raise :class:`Stopped`."""
    import asyncio

    task = asyncio.current_task()
    if task is None:  # pragma: no cover - always inside asyncio.run
        return await coro
    from natsops.faults import note_cleanup

    received: list[int] = []
    with _cancel_on_signals(task, received):
        try:
            result = await coro
        except BaseException as exc:
            if not received:
                raise
            stopped = Stopped(received[0])
            for note in _notes(exc):
                note_cleanup(stopped, note)
            raise stopped from None
    if received:  # the coroutine swallowed the cancellation: still a stop, not a success
        if hasattr(task, "uncancel"):
            task.uncancel()
        raise Stopped(received[0])
    return result


def _notes(exc: BaseException) -> list[str]:
    """Clean-up notes of ``exc`` and of the exceptions it was raised from or during."""
    from natsops.faults import cleanup_notes

    seen: list[str] = []
    cur: BaseException | None = exc
    while cur is not None and len(seen) < 8:
        seen.extend(n for n in cleanup_notes(cur) if n not in seen)
        cur = cur.__cause__ or cur.__context__
    return seen
