"""The upgrade's state file: which servers are done, which one was in progress, and why the run
stopped. Written atomically after every step, so ``--resume`` after a crash, Ctrl-C or an abort
skips the servers already done (and re-gates one that was restarted but not yet gated).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from natsops.errors import NatsopsError, UsageError
from natsops.files import write_atomic

__all__ = ["Journal", "default_path"]

NAME = "upgrade-state.json"


def default_path(cluster_dir: Path | None, cluster_name: str) -> Path:
    """``DIR/upgrade-state.json`` for a local cluster, else under ``~/.local/state/natsops``."""
    if cluster_dir is not None:
        return cluster_dir / NAME
    import os

    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in cluster_name) or "cluster"
    return Path(base) / "natsops" / f"upgrade-{safe}.json"


@dataclass
class Journal:
    path: Path
    target: str  # "2.15.1", "restart"
    strategy: str
    order: list[str]
    done: dict[str, dict[str, Any]] = field(default_factory=dict)
    current: str | None = None
    phase: str | None = None  # draining | restarting | restarted (gate pending)
    status: str = "running"  # running | aborted | stopped | done
    reason: str | None = None
    old_start: str | None = None  # the current server's start time before its restart
    started_at: float = field(default_factory=time.time)
    updated_at: float = 0.0

    @classmethod
    def load(cls, path: Path) -> Journal | None:
        if not path.is_file():
            return None
        try:
            doc = json.loads(path.read_text())
            return cls(path=path, **{k: v for k, v in doc.items()
                                     if k in cls.__dataclass_fields__ and k != "path"})
        except (OSError, ValueError, TypeError) as exc:
            raise NatsopsError(f"the upgrade state file {path} is damaged: {exc}",
                               hint="delete it to start over") from None

    @classmethod
    def open(cls, path: Path, *, target: str, strategy: str, order: list[str],
             resume: bool) -> Journal:
        """The journal to use: a new one, or (``resume``) the interrupted one for this target."""
        old = cls.load(path)
        unfinished = old is not None and old.status != "done"
        if resume:
            if old is None:
                raise UsageError(f"--resume: no upgrade state in {path}")
            if old.target != target:
                raise UsageError(f"--resume: the interrupted upgrade was to {old.target}, "
                                 f"not {target}", hint="give the same target as before")
            old.status, old.reason = "running", None
            return old
        if unfinished:
            assert old is not None
            where = f" at {old.current}" if old.current else ""
            raise UsageError(f"an upgrade to {old.target} was interrupted{where} "
                             f"({old.status}: {old.reason or 'no reason recorded'})",
                             hint=f"continue it with --resume, or delete {path} to start over")
        return cls(path=path, target=target, strategy=strategy, order=list(order))

    def save(self) -> None:
        self.updated_at = time.time()
        doc = {k: v for k, v in asdict(self).items() if k != "path"}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, json.dumps(doc, indent=2, sort_keys=True) + "\n")

    def at(self, server: str | None, phase: str | None) -> None:
        self.current, self.phase = server, phase
        self.save()

    def finish(self, server: str, **facts: Any) -> None:
        self.done[server] = facts
        self.current = self.phase = None
        self.save()

    def close(self, status: str, reason: str | None = None) -> None:
        self.status, self.reason = status, reason
        self.save()
