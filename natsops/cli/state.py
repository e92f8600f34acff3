"""The object every command gets as ``ctx.obj``: global flags, resolved settings on demand."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from natsops.context import Settings


@dataclass
class State:
    flags: dict[str, Any] = field(default_factory=dict)
    json: bool = False
    verbose: int = 0
    debug: bool = False
    no_context: bool = False
    _settings: Settings | None = None

    @property
    def env(self) -> dict[str, str]:
        return dict(os.environ)

    @property
    def settings(self) -> Settings:
        """Settings resolved once: flag > NATS_* env > natscli context > defaults."""
        if self._settings is None:
            from natsops.context import resolve_settings

            self._settings = resolve_settings(self.flags, self.env, no_context=self.no_context)
        return self._settings


def get_state(ctx: Any) -> State:
    obj = ctx.find_root().obj
    if not isinstance(obj, State):
        obj = State()
        ctx.find_root().obj = obj
    return obj


def want_json(ctx: Any, local: bool) -> bool:
    return local or get_state(ctx).json
