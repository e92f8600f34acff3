"""``auth creds generate --context NAME``: a natscli context for the user whose creds were written.

The context's URL is the servers given (``--server``/env/context), else the operator's service
URLs and ``nats://`` account server URL; its ``creds`` is the absolute path of the creds file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from natsops.auth.store import Store
from natsops.auth.sysuser import target_servers
from natsops.context import Settings
from natsops.context_admin import add_context

__all__ = ["write_creds_context"]


def write_creds_context(store: Store, op: str, account: str, user: str, creds: Path,
                        name: str, settings: Settings, env: Mapping[str, str], *,
                        select: bool = False, replace: bool = False,
                        dry_run: bool = False) -> Path:
    """Write context ``name`` logging in as ``account/user`` with ``creds``; returns its path.

    With ``dry_run`` nothing is written (nor selected), and ``creds`` need not exist yet.
    """
    store.user(op, account, user)  # NotFound before writing anything
    urls = target_servers(store, op, settings)
    values = {"description": f"natsops auth: user {user} of account {account} (operator {op})",
              "url": ",".join(urls), "creds": str(creds.expanduser().resolve())}
    if dry_run:  # the creds file is one the real run writes first
        values.pop("creds")
    return add_context(name, values, env, select=select, replace=replace, dry_run=dry_run)
