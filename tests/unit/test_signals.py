"""The one signal policy (natsops.cli.signals) and the stall watchdog (natsops.faults), no server."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from natsops.cli._run import run
from natsops.cli.signals import Stopped, exit_code_of, install, stop_message
from natsops.errors import Unreachable
from natsops.faults import Watchdog, cleanup, cleanup_notes, note_cleanup


def _signal_soon(sig: int) -> None:
    asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), sig)


@pytest.mark.parametrize(("sig", "code", "text"), [
    (signal.SIGTERM, 143, "terminated (SIGTERM)"),
    (signal.SIGHUP, 129, "hung up (SIGHUP)"),
    (signal.SIGINT, 130, "interrupted"),
])
def test_a_signal_cancels_the_coroutine_and_its_cleanup_runs(sig: int, code: int,
                                                             text: str) -> None:
    cleaned: list[str] = []

    async def work() -> None:
        _signal_soon(sig)
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError as exc:
            await asyncio.sleep(0.01)  # a clean-up may await
            cleaned.append("yes")
            note_cleanup(exc, "the partial file was removed")
            raise

    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt) as info:
        run(work())
    assert time.monotonic() - t0 < 5
    assert cleaned == ["yes"]
    assert isinstance(info.value, Stopped)
    assert exit_code_of(info.value) == code
    assert stop_message(info.value) == f"{text}; the partial file was removed"
    # the default handlers are back once run() returns
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_swallowed_cancellation_is_still_a_stop() -> None:
    async def stubborn() -> str:
        _signal_soon(signal.SIGTERM)
        for _ in range(100):
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                return "finished anyway"
        return "never asked"

    with pytest.raises(Stopped) as info:
        run(stubborn())
    assert info.value.exit_code == 143


def test_the_console_script_exits_143_on_sigterm_without_a_traceback() -> None:
    code = ("import time, natsops.cli.signals as s\n"
            "s.install()\n"
            "try:\n"
            "    import os, signal; os.kill(os.getpid(), signal.SIGTERM); time.sleep(5)\n"
            "except KeyboardInterrupt as e:\n"
            "    print(s.stop_message(e), s.exit_code_of(e))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
    assert r.stdout.strip() == "terminated (SIGTERM) 143", r.stderr


def test_install_keeps_an_ignored_sighup() -> None:
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        install()
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN  # nohup keeps working
    finally:
        signal.signal(signal.SIGHUP, previous)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


class _FakeClient:
    is_closed = False
    is_connected = True
    _server_info: dict[str, Any] = {"server_name": "n1"}  # noqa: RUF012


class _FakeConn:
    nc = _FakeClient()


def test_the_watchdog_gives_up_naming_the_server_and_keeps_the_cleanup_notes() -> None:
    async def silent() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError as exc:
            note_cleanup(exc, "purged the 3 chunks")
            raise

    async def go() -> None:
        await Watchdog(_FakeConn(), "the upload of B > x", 0.3).run(silent())  # type: ignore[arg-type]

    t0 = time.monotonic()
    with pytest.raises(Unreachable) as info:
        asyncio.run(go())
    assert time.monotonic() - t0 < 3
    assert str(info.value) == ("the upload of B > x stalled: no answer from server n1 for 0.3s; "
                               "purged the 3 chunks")


def test_progress_keeps_the_watchdog_quiet() -> None:
    async def busy(dog: Watchdog) -> str:
        for _ in range(10):
            await asyncio.sleep(0.05)
            dog.tick()
        return "done"

    async def go() -> str:
        dog = Watchdog(_FakeConn(), "x", 0.2)  # type: ignore[arg-type]
        return await dog.run(busy(dog))

    assert asyncio.run(go()) == "done"


def test_a_cleanup_outlasts_a_second_stop_request() -> None:
    async def go() -> list[str]:
        done: list[str] = []

        async def step() -> None:
            await asyncio.sleep(0.2)
            done.append("deleted")

        me = asyncio.current_task()
        assert me is not None
        asyncio.get_running_loop().call_later(0.05, me.cancel)
        await cleanup(step(), 5)
        return done

    assert asyncio.run(go()) == ["deleted"]


def test_notes_on_natsops_errors_extend_the_message() -> None:
    exc = Unreachable("connection lost")
    note_cleanup(exc, "the partly restored stream S was deleted")
    assert str(exc) == "connection lost; the partly restored stream S was deleted"
    assert cleanup_notes(exc) == ["the partly restored stream S was deleted"]
