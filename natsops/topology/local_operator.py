"""An operator-mode topology on loopback: the users natsops logs in as, from the auth store.

``natsops bootstrap --topology`` runs a topology with ``auth: {operator: NAME}`` on the user's
own auth store (``--store``, ``NATSOPS_STORE`` or the default one), not on a throwaway copy: the
point is to try the operator, accounts and users that will be deployed, and ``natsops auth``
(account edits, ``auth push``, creds) works on the local servers as it will on the real ones.
The store is never removed with the topology (``cluster down --purge`` deletes the topology's
folder and contexts only).

What :func:`prepare` adds to the store when missing (as ``bootstrap --operator`` and
``natsops render`` do):

- the account ``APP`` (JetStream) and its user ``app``: the clusters' APP contexts log in as it;
- a user ``app`` in each leaf site's bound account: the site's APP context logs in as it;
- a user ``sys`` in the system account (the ``-sys`` contexts, doctor);
- ``leaf-<site>`` and ``leaf-<site>-sys``: the leaf remotes' users
  (:func:`natsops.topology.operator.store_operator`).

Logins are the creds files of those users in the store; the leaf remotes' creds are copied into
the leaf servers' folders (0600), as ``natsops render`` puts them beside the config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from natsops.auth.store import Store
from natsops.cluster.deployment import LocalLogin, is_inside
from natsops.cluster.ready import Progress, silent
from natsops.errors import NatsopsError, UsageError
from natsops.topology.model import Topology
from natsops.topology.operator import StoreOperator, store_operator

__all__ = ["APP_ACCOUNT", "APP_USER", "SYS_USER", "LocalOperator", "check_store", "prepare",
           "store_changes"]

APP_ACCOUNT = "APP"
APP_USER = "app"
SYS_USER = "sys"


@dataclass(frozen=True)
class LocalOperator:
    """The store's operator as the local topology runs it, and who natsops logs in as."""

    setup: StoreOperator
    app: LocalLogin  # the clusters' APP user
    sys: LocalLogin  # the system account's sys user
    sites: Mapping[str, LocalLogin]  # leaf site -> a user of the account it binds
    created: tuple[str, ...]  # "ACCOUNT" or "ACCOUNT/user" added to the store

    @property
    def op(self) -> str:
        return self.setup.op


def check_store(store: Path, directory: Path) -> None:
    """Refuse a store inside the topology's folder: purging the topology would delete it."""
    if is_inside(store, directory):
        raise UsageError(f"the auth store {store} is inside the topology folder {directory}: "
                         "`cluster down --purge` would delete it",
                         hint="keep the store outside --dir (it is yours, not the topology's)")


def _jetstream(store: Store, op: str, account: str) -> bool:
    limits = store.account(op, account).nats.get("limits") or {}
    return bool(limits.get("mem_storage") or limits.get("disk_storage"))


def _login(store: Store, op: str, account: str, user: str, created: list[str],
           progress: Progress) -> LocalLogin:
    """The login of ``account/user`` (created when missing), by its creds file in the store."""
    from natsops.auth import ops

    if user not in store.user_names(op, account):
        progress(f"creating user {account}/{user} in the auth store")
        ops.add_user(store, op, account, user)
        created.append(f"{account}/{user}")
    creds = store.creds_path(op, account, user)
    if not creds.is_file():  # a user the store holds without its creds file (nsc import)
        try:
            ops.generate_creds(store, op, account, user)
        except NatsopsError as exc:
            raise NatsopsError(f"no creds for {account}/{user} in {store.root}: {exc}") \
                from None
    return LocalLogin(user, None, account, _jetstream(store, op, account), str(creds))


def prepare(topo: Topology, store: Store, progress: Progress = silent) -> LocalOperator:
    """Resolve the topology's operator in ``store`` and make sure every user natsops and the
    leaf remotes log in as exists (see the module doc)."""
    from natsops.auth import ops

    op = store.resolve_operator(topo.auth.operator)
    sys_acc = store.system_account(op).name  # NotFound with a hint without one
    store_operator(topo, store, dry_run=True)  # the leaf sites' accounts, before any change
    created: list[str] = []
    if APP_ACCOUNT not in store.account_names(op):
        progress(f"creating account {APP_ACCOUNT} (JetStream) in the auth store")
        ops.add_account(store, op, APP_ACCOUNT, jetstream=True)
        created.append(APP_ACCOUNT)
    setup = store_operator(topo, store)  # checks the leaf sites' accounts, adds leaf users
    created += setup.created
    app = _login(store, op, APP_ACCOUNT, APP_USER, created, progress)
    sys = _login(store, op, sys_acc, SYS_USER, created, progress)
    sites = {s.name: app if s.account == APP_ACCOUNT else
             _login(store, op, s.account, APP_USER, created, progress) for s in topo.leafs}
    return LocalOperator(setup, app, sys, sites, tuple(created))


def store_changes(topo: Topology, store: Store) -> tuple[str, ...]:
    """What :func:`prepare` would add to ``store`` ("ACCOUNT" or "ACCOUNT/user", in the order
    it adds them), changing nothing; the same errors for a missing operator or account."""
    op = store.resolve_operator(topo.auth.operator)
    sys_acc = store.system_account(op).name
    setup = store_operator(topo, store, dry_run=True)
    accounts = store.account_names(op)
    changes = [] if APP_ACCOUNT in accounts else [APP_ACCOUNT]
    changes += [f"{c.account}/{c.user}" for c in setup.leaf_creds if not c.exists]
    logins = dict.fromkeys([(APP_ACCOUNT, APP_USER), (sys_acc, SYS_USER),
                            *((s.account, APP_USER) for s in topo.leafs)])
    changes += [f"{acc}/{user}" for acc, user in logins
                if acc not in accounts or user not in store.user_names(op, acc)]
    return tuple(changes)
