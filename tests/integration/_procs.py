"""A ``natsops`` command run in the background (sub, reply, events), waited on by condition."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from natsops.cluster.process import stop_pid


class Background:
    """``python -m natsops.cli.main ARGS`` with stdout/stderr in files; stopped by PID."""

    def __init__(self, tmp: Path, *args: str) -> None:
        self.out, self.err = tmp / f"out{id(self)}", tmp / f"err{id(self)}"
        with self.out.open("wb") as o, self.err.open("wb") as e:
            self.proc = subprocess.Popen([sys.executable, "-m", "natsops.cli.main", *args],
                                         stdout=o, stderr=e, stdin=subprocess.DEVNULL,
                                         env={**os.environ, "COLUMNS": "200"})

    def wait_for(self, text: str, timeout: float = 20.0) -> None:
        """Wait until ``text`` appears on stderr (the command says it is listening)."""
        deadline = time.monotonic() + timeout
        while text not in self.err.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no {text!r}: {self.err.read_text()}")
            time.sleep(0.05)

    def finish(self, timeout: float = 20.0) -> tuple[int, str, str]:
        """Its exit code, stdout and stderr once it exited by itself (within ``timeout``)."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(f"still running: {self.err.read_text()}") from None
        return rc, self.out.read_text(), self.err.read_text()

    def stop(self) -> None:
        if self.proc.poll() is None:
            stop_pid(self.proc.pid, grace=5)
        self.proc.wait(5)


def sigterm_after(args: list[str], marker: str, *, env: dict[str, str] | None = None,
                  timeout: float = 60.0) -> tuple[int, str]:
    """Run ``python -m natsops.cli.main ARGS``, send SIGTERM once a stderr line holds
    ``marker``, wait for the exit; returns (exit code, stderr). Killed by PID if it hangs."""
    import signal

    proc = subprocess.Popen([sys.executable, "-m", "natsops.cli.main", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    seen = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            seen.append(line)
            if marker in line:
                proc.send_signal(signal.SIGTERM)
                break
        _, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, "".join(seen) + err
