"""Lint rules are data: each one is a function registered with a stable id and a severity.

A rule yields :class:`Hit` objects (where, what, how to fix); :func:`natsops.conf.lint.lint_paths`
turns them into :class:`natsops.findings.Finding` objects with the rule's id, severity and a
``file:line:col`` location. Five scopes exist: ``conf`` rules see one parsed nats-server config,
``set`` rules see every config given at once (a cluster or supercluster), ``stream`` rules see
one StreamConfig (JSON/YAML recipe), ``consumer`` rules one ConsumerConfig, ``helm`` rules one
values file of the official chart, ``fit`` rules the server configs together with the stream
recipes, and ``file`` rules are reported by the loader (files that cannot be read or parsed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from natsops.conf.parser import Node, Pos
from natsops.findings import Severity

__all__ = ["RULES", "Hit", "Rule", "rule"]


@dataclass(frozen=True)
class Hit:
    """One problem found by a rule; ``severity`` overrides the rule's default."""

    where: Pos | Node | None
    message: str
    fix: str | None = None
    subject: str = ""
    severity: Severity | None = None
    evidence: dict[str, Any] | None = None

    @property
    def pos(self) -> Pos | None:
        if isinstance(self.where, Node):
            return self.where.where
        return self.where


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    scope: str
    title: str
    check: Callable[..., Iterable[Hit]]


RULES: dict[str, Rule] = {}


def rule(id: str, severity: Severity, title: str, *, scope: str = "conf"
         ) -> Callable[[Callable[..., Iterable[Hit]]], Callable[..., Iterable[Hit]]]:
    """Register a rule function under ``id`` (ids are unique and never reused)."""

    def deco(fn: Callable[..., Iterable[Hit]]) -> Callable[..., Iterable[Hit]]:
        if id in RULES:
            raise ValueError(f"duplicate lint rule id {id}")
        RULES[id] = Rule(id, severity, scope, title, fn)
        return fn

    return deco
