"""What kind handlers share during one plan or apply: the connection, options and caches."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from natsops.connection import Conn
    from natsops.jetstream.models import StreamInfo

__all__ = ["ApplyOptions", "AuthStore", "EstateContext"]


@dataclass(frozen=True)
class ApplyOptions:
    """How apply may act: recreate streams holding messages (after a verified backup into
    ``backup_dir``), and how long to wait for new replicas to become current."""

    allow_recreate: bool = False
    backup_dir: Path = Path("natsops-backups")
    replica_timeout: float = 60.0


@dataclass(frozen=True)
class AuthStore:
    """The auth store the Account and User kinds read and edit: ``root`` (``natsops auth
    --store``; None: NATSOPS_STORE, else the per-user data folder) and ``operator``
    (``--operator``; None: the recipe's ``metadata.operator``, else the only one in the store)."""

    root: Path | None = None
    operator: str | None = None


def _quiet(message: str) -> None:
    return None


@dataclass
class EstateContext:
    """One connection, the auth store and per-run caches (one STREAM.LIST serves streams
    and both buckets)."""

    conn: Conn
    options: ApplyOptions = field(default_factory=ApplyOptions)
    auth: AuthStore = field(default_factory=AuthStore)
    progress: Callable[[str], None] = _quiet
    cache: dict[str, Any] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def streams(self) -> dict[str, StreamInfo]:
        """Every stream's info by name, from the paged STREAM.LIST (read once per context)."""
        async with self._lock:
            if "streams" not in self.cache:
                from natsops.errors import Incomplete
                from natsops.jetstream.streams import list_streams

                listing = await list_streams(self.conn)
                if listing.missing or listing.offline:
                    raise Incomplete("the stream listing is partial: "
                                     f"{', '.join([*listing.missing, *listing.offline])} "
                                     "did not answer; a plan on it could delete or recreate "
                                     "what exists")
                self.cache["streams"] = {s.name: s for s in listing.streams}
            return dict(self.cache["streams"])

    def forget_streams(self) -> None:
        self.cache.pop("streams", None)
