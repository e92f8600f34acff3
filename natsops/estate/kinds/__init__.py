"""The kind registry and the base class every kind handler extends (see :mod:`natsops.estate`)."""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from natsops.errors import UsageError
from natsops.estate.model import (
    OWNER_KEY,
    OWNER_VALUE,
    Action,
    Doc,
    Live,
    Op,
    RecipeError,
    Resource,
)
from natsops.jetstream.spec import Change, diff_configs, strip_server_metadata

if TYPE_CHECKING:
    from natsops.estate.context import EstateContext

__all__ = ["Kind", "handler", "handlers", "kinds", "register"]

_REGISTRY: dict[str, type[Kind]] = {}
_loaded = False


def register(cls: type[Kind]) -> type[Kind]:
    """Class decorator: make ``cls`` the handler of ``cls.kind``."""
    _REGISTRY[cls.kind] = cls
    return cls


def _load_all() -> None:
    global _loaded
    if not _loaded:
        for mod in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{mod.name}")
        _loaded = True


def kinds() -> dict[str, type[Kind]]:
    """Every registered kind (each module of this package registers its own)."""
    _load_all()
    return dict(_REGISTRY)


def handler(kind: str, *, doc: Doc | None = None) -> Kind:
    """The handler of ``kind``; a UsageError naming the known kinds (and ``doc``'s line)."""
    known = kinds()
    if kind not in known:
        close = difflib.get_close_matches(kind, known, n=1)
        tip = f" (did you mean {close[0]!r}?)" if close else ""
        message = f"unknown kind {kind!r}{tip}; use one of {', '.join(sorted(known))}"
        if doc is not None:
            raise RecipeError(doc.file, doc.lines.get("kind", doc.line), message)
        raise UsageError(message)
    return known[kind]()


def handlers() -> list[Kind]:
    """One handler per kind, in dependency order (lowest ``order`` first)."""
    return sorted((cls() for cls in kinds().values()), key=lambda h: (h.order, h.kind))


def owner_metadata(meta: Mapping[str, Any] | None) -> dict[str, str]:
    """``meta`` plus natsops' ownership key (written on every create and update)."""
    return {**{str(k): str(v) for k, v in (meta or {}).items()}, OWNER_KEY: OWNER_VALUE}


def without_owner(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """``cfg`` without server (``_nats.*``) and ownership metadata keys."""
    out = strip_server_metadata(cfg)
    meta = out.get("metadata")
    if isinstance(meta, Mapping):
        kept = {k: v for k, v in meta.items() if k != OWNER_KEY}
        if kept:
            out["metadata"] = kept
        else:
            out.pop("metadata")
    return out


def is_owned(cfg: Mapping[str, Any]) -> bool:
    meta = cfg.get("metadata")
    return isinstance(meta, Mapping) and meta.get(OWNER_KEY) == OWNER_VALUE


class Kind:
    """A resource kind: how its recipe loads, how its live state is read, diffed and changed.

    Subclasses set ``kind`` and ``order`` and implement :meth:`load`, :meth:`fetch_live` and
    :meth:`apply`; the default :meth:`diff` compares ``{**defaults, **spec}`` with the live
    config field by field (only fields the recipe or ``defaults`` name), and a change to a field
    of ``immutable`` (field -> reason, or a callable deciding per change) becomes a recreate.
    """

    kind: ClassVar[str] = ""
    order: ClassVar[int] = 50
    # False: `--prune` never deletes this kind; its live state is read for the recipes' only
    prunable: ClassVar[bool] = True
    defaults: ClassVar[Mapping[str, Any]] = {}
    immutable: ClassVar[Mapping[str, str]] = {}
    # spec fields newer than nats-server 2.10 -> the (major, minor) that knows them: an older
    # server ignores an unknown field, so the plan refuses it instead of "updating" forever
    since: ClassVar[Mapping[str, tuple[int, int]]] = {}

    def load(self, doc: Doc) -> Resource:
        raise NotImplementedError

    async def fetch_live(self, ctx: EstateContext,
                         names: Collection[str] | None) -> dict[str, Live]:
        """Live resources by name: those in ``names`` that exist, or all of them (None)."""
        raise NotImplementedError

    def compare(self, spec: Mapping[str, Any], live: Mapping[str, Any]) -> list[Change]:
        have = without_owner(live)
        # a default the live side does not report (an older server) is the server's value
        want = without_owner({**{k: v for k, v in self.defaults.items() if k in live}, **spec})
        return diff_configs({k: have[k] for k in want if k in have}, want)

    def recreate_reason(self, change: Change, live: Live) -> str | None:
        """Why ``change`` cannot be an update (None: it can)."""
        top = change.field.split(".")[0]
        return self.immutable.get(top)

    def diff(self, desired: Resource, live: Live | None) -> Action:
        if live is None:
            return Action(self.kind, desired.name, Op.CREATE, desired=desired)
        changes = tuple(self.compare(desired.spec, live.config))
        if not changes:
            return Action(self.kind, desired.name, Op.NOOP, desired=desired, live=live)
        reasons = [r for c in changes if (r := self.recreate_reason(c, live))]
        if reasons:
            return Action(self.kind, desired.name, Op.RECREATE, changes, "; ".join(reasons),
                          desired=desired, live=live)
        return Action(self.kind, desired.name, Op.UPDATE, changes, desired=desired, live=live)

    def requires(self, resource: Resource) -> list[tuple[str, str]]:
        """``(kind, name)`` of what ``resource`` needs to exist first (a consumer's stream); the
        plan fails naming the recipe line when one is neither in the recipes nor live."""
        return []

    async def check(self, ctx: EstateContext, mine: Sequence[Resource],
                    resources: Sequence[Resource]) -> None:
        """Refuse at plan time (naming the recipe's ``file:line``) what ``mine`` (this kind's
        resources) refers to that neither the live side nor ``resources`` provides."""
        return None

    def adjust(self, action: Action, recreated: Collection[tuple[str, str]]) -> Action:
        """``action`` once the plan knows which resources are recreated (``(kind, name)``):
        a consumer of a recreated stream must be created again."""
        return action

    def delete_note(self, live: Live) -> str:
        """What else a delete of ``live`` removes (a stream's consumers), for the plan."""
        return ""

    def owned(self, live: Live) -> bool:
        """Whether ``plan --prune`` may delete ``live`` (natsops created or updated it)."""
        return live.owned

    async def apply(self, ctx: EstateContext, action: Action) -> str:
        """Carry out ``action`` (create/update/recreate/delete); return a note for the report."""
        raise NotImplementedError

    def export(self, live: Live) -> dict[str, Any]:
        """``live`` as a recipe document (kind, metadata, spec) without server defaults."""
        raise NotImplementedError(f"{self.kind} cannot be exported")

    def nack(self, resource: Resource) -> tuple[dict[str, Any], list[str]] | None:
        """``resource`` as a NACK custom resource and the spec fields NACK has no place for;
        None when NACK has no such kind."""
        return None
