"""The estate's plain data: desired resources, live resources, plan actions and apply steps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from natsops.errors import NatsopsError, UsageError
from natsops.jetstream.spec import Change

__all__ = [
    "OWNER_KEY",
    "OWNER_VALUE",
    "Action",
    "ApplyReport",
    "Doc",
    "Live",
    "Op",
    "Plan",
    "RecipeError",
    "Resource",
    "Step",
]

# The metadata key (and value) natsops writes on every stream, consumer and bucket it creates or
# updates; `plan --prune` deletes only live resources carrying it.
OWNER_KEY = "natsops.io/managed-by"
OWNER_VALUE = "natsops"


class RecipeError(UsageError):
    """A recipe the loader rejects, at ``file:line`` (``natsops lint`` turns it into a finding)."""

    def __init__(self, file: str, line: int, message: str, *, hint: str | None = None) -> None:
        super().__init__(f"{file}:{line}: {message}", hint=hint)
        self.file, self.line, self.detail = file, line, message


@dataclass(frozen=True)
class Doc:
    """One YAML document of a recipe file, before its kind's handler validated it.

    ``lines`` maps dotted field paths (``kind``, ``metadata.name``, ``spec.max_age``) to their
    1-based line in ``file``.
    """

    kind: str
    metadata: Mapping[str, Any]
    spec: Mapping[str, Any]
    file: str
    line: int
    lines: Mapping[str, int] = field(default_factory=dict)

    def where(self, path: str = "") -> str:
        """``file:line`` of a field (``spec.max_age``), or of the document."""
        return f"{self.file}:{self.lines.get(path, self.line)}"

    def error(self, path: str, message: str) -> RecipeError:
        """A usage error naming ``file:line``, the kind, and the field."""
        what = f"{self.kind} {self.metadata.get('name') or ''}".strip()
        fld = f" field {path!r}:" if path else ""
        return RecipeError(self.file, self.lines.get(path, self.line), f"{what}:{fld} {message}")


@dataclass(frozen=True)
class Resource:
    """A desired resource: ``name`` is unique per kind (a consumer's is ``STREAM/NAME``)."""

    kind: str
    name: str
    spec: Mapping[str, Any]
    source: str  # file:line of its document
    doc: Doc | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Live:
    """A resource as the server has it: its config in the recipe's vocabulary.

    ``config`` compares with :attr:`Resource.spec`; ``owned`` says natsops' ownership metadata
    is on it; ``holds`` counts what a delete/recreate destroys (messages, values, objects);
    ``detail`` is the kind's own info object (a StreamInfo, ...).
    """

    kind: str
    name: str
    config: Mapping[str, Any]
    owned: bool = False
    holds: int = 0
    created: str = ""
    detail: Any = field(default=None, compare=False, repr=False)


class Op(str, Enum):
    CREATE = "create"
    UPDATE = "update"
    NOOP = "no-change"
    RECREATE = "recreate"
    DELETE = "delete"


@dataclass(frozen=True)
class Action:
    """What a plan does to one resource, and why."""

    kind: str
    name: str
    op: Op
    changes: tuple[Change, ...] = ()
    reason: str = ""
    desired: Resource | None = field(default=None, compare=False)
    live: Live | None = field(default=None, compare=False)
    drops_access: bool = False  # an update that locks users out (an account role removed)

    @property
    def destructive(self) -> bool:
        """Deletes data or access: a delete, a recreate, or an update that locks users out
        (apply asks before any of them)."""
        return self.op in (Op.DELETE, Op.RECREATE) or self.drops_access

    @property
    def source(self) -> str:
        return self.desired.source if self.desired else ""

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"


@dataclass(frozen=True)
class Plan:
    """Every action, in the order apply runs them."""

    actions: tuple[Action, ...]

    @property
    def pending(self) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if a.op is not Op.NOOP)

    @property
    def destructive(self) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if a.destructive)

    def counts(self) -> dict[str, int]:
        out = {op.value: 0 for op in Op}
        for a in self.actions:
            out[a.op.value] += 1
        return out


@dataclass(frozen=True)
class Step:
    """One applied action: ``note`` says what was done (e.g. where a backup went)."""

    action: Action
    ok: bool
    note: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class ApplyReport:
    """What apply did: the steps that ran (the last one failed when ``error``), and the rest."""

    steps: tuple[Step, ...]
    not_run: tuple[Action, ...] = ()
    error: NatsopsError | None = field(default=None, compare=False)

    @property
    def ok(self) -> bool:
        return self.error is None
