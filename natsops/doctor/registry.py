"""The check registry: every module in :mod:`natsops.doctor.checks` registers its checks.

A check is a function ``(snapshot) -> Iterable[Finding]`` decorated with :func:`check`; the
registry finds the modules with :mod:`pkgutil`, so adding a check is adding one file.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from natsops.errors import UsageError
from natsops.findings import Finding, Severity
from natsops.monitoring.snapshot import Snapshot

__all__ = ["Check", "all_checks", "check", "run_checks", "select_checks"]

log = logging.getLogger(__name__)

CheckFn = Callable[[Snapshot], Iterable[Finding]]


@dataclass(frozen=True)
class Check:
    """One registered check: its id, title, the worst severity it reports, and its function."""

    id: str
    title: str
    severity: Severity
    fn: CheckFn
    suite: str = "server"


_REGISTRY: dict[str, Check] = {}
_loaded = False


def check(id: str, *, title: str, severity: Severity, suite: str = "server"
          ) -> Callable[[CheckFn], CheckFn]:
    """Register ``fn`` as the check ``id``."""

    def deco(fn: CheckFn) -> CheckFn:
        if id in _REGISTRY and _REGISTRY[id].fn is not fn:
            raise RuntimeError(f"doctor check id {id!r} registered twice")
        _REGISTRY[id] = Check(id=id, title=title, severity=severity, fn=fn, suite=suite)
        return fn

    return deco


def all_checks() -> tuple[Check, ...]:
    """Every check, by id (imports the modules of :mod:`natsops.doctor.checks` once)."""
    global _loaded
    if not _loaded:
        from natsops.doctor import checks as pkg

        for mod in pkgutil.iter_modules(pkg.__path__):
            importlib.import_module(f"{pkg.__name__}.{mod.name}")
        _loaded = True
    return tuple(sorted(_REGISTRY.values(), key=lambda c: c.id))


def select_checks(only: Sequence[str] = (), skip: Sequence[str] = ()) -> tuple[Check, ...]:
    """The checks to run; an unknown id in ``only``/``skip`` is a usage error."""
    checks = all_checks()
    known = {c.id for c in checks}
    unknown = sorted((set(only) | set(skip)) - known)
    if unknown:
        raise UsageError(f"unknown check id(s): {', '.join(unknown)}",
                         hint=f"known: {', '.join(sorted(known))}")
    return tuple(c for c in checks if (not only or c.id in only) and c.id not in skip)


def run_checks(snap: Snapshot, checks: Iterable[Check]) -> tuple[Finding, ...]:
    """Run ``checks`` on ``snap``; a check that crashes becomes a WARN finding, not a traceback."""
    out: list[Finding] = []
    for c in checks:
        try:
            found = list(c.fn(snap))
        except Exception as exc:  # a bug in one check must not hide the others' findings
            log.debug("check %s failed", c.id, exc_info=True)
            found = [Finding.warn(c.id, "natsops", f"check {c.id} could not run: "
                                  f"{type(exc).__name__}: {exc}")]
        out.extend(f if f.title else replace(f, title=c.title) for f in found)
    out.sort(key=lambda f: (-int(f.severity), f.id, f.subject))
    return tuple(out)
