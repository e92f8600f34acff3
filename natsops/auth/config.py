"""Server configuration blocks for operator mode: operator, system account, resolver, preload.

A nats-based resolver is always written explicitly: without one, the server derives a URL
resolver from the operator's ``account_server_url`` and refuses to start on a ``nats://`` URL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from natsops.auth.store import Entity, Store
from natsops.errors import UsageError

__all__ = ["ResolverOptions", "preload_block", "render_config"]


@dataclass(frozen=True)
class ResolverOptions:
    """How the rendered server resolves accounts."""

    type: str = "full"  # full | cache | memory
    dir: str = "./jwt"
    allow_delete: bool = True
    interval: str = "2m"
    timeout: str = "1.9s"
    preload_all: bool = False  # memory always preloads every account
    operator_path: str | None = None  # reference a JWT file instead of inlining the JWT
    preload_include: str | None = None  # memory: include this file (see preload_block)


def _q(value: str) -> str:
    return json.dumps(value)


def render_config(store: Store, op: str, opts: ResolverOptions = ResolverOptions()) -> str:
    """The operator-mode blocks of a nats-server config (public data only: JWTs, no seeds)."""
    if opts.type not in ("full", "cache", "memory"):
        raise UsageError(f"resolver type must be full, cache or memory, not {opts.type!r}")
    operator = store.operator(op)
    sys_acc = store.system_account(op)
    accounts = store.accounts(op)
    lines = [f"# operator {op}: rendered by natsops from {store.root}"]
    if opts.operator_path:
        lines.append(f"operator: {_q(opts.operator_path)}")
    else:
        lines.append(f"operator: {operator.token.token}")
    lines.append(f"system_account: {sys_acc.public_key}")
    if opts.type == "memory":
        lines.append("resolver: MEMORY")
    else:
        lines.append("resolver {")
        lines.append(f"  type: {opts.type}")
        lines.append(f"  dir: {_q(opts.dir)}")
        if opts.type == "full":
            lines.append(f"  allow_delete: {'true' if opts.allow_delete else 'false'}")
            lines.append(f"  interval: {_q(opts.interval)}")
        lines.append(f"  timeout: {_q(opts.timeout)}")
        lines.append("}")
    if opts.type == "memory" and opts.preload_include:
        lines.append("# the account JWTs (rewritten by natsops auth push, then reloaded)")
        lines.append(f"include {_q(opts.preload_include)}")
        return "\n".join(lines) + "\n"
    preload = accounts if (opts.type == "memory" or opts.preload_all) else [sys_acc]
    return "\n".join(lines) + "\n" + _preload(preload)


def _preload(accounts: list[Entity]) -> str:
    lines = ["resolver_preload {"]
    for acc in accounts:
        lines.append(f"  # {acc.name}")
        lines.append(f"  {acc.public_key}: {acc.token.token}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def preload_block(store: Store, op: str) -> str:
    """The ``resolver_preload`` block with every account JWT of ``op``: the include file of a
    MEMORY resolver's config (public data: JWTs, no seeds)."""
    return (f"# account JWTs of operator {op}: rendered by natsops from {store.root}\n"
            + _preload(store.accounts(op)))


def write_operator_jwt(store: Store, op: str, path: Path) -> Path:
    """Write the operator JWT to ``path`` for configs that reference a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(store.operator(op).token.token + "\n")
    return path
