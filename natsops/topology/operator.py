"""Operator mode of a topology: what the natsops auth store gives each server.

A topology with ``auth: {operator: NAME}`` runs that operator of the store: every server gets
the operator JWT, the system account and a resolver with every account preloaded
(:func:`natsops.auth.config.render_config`), and a leaf site's remotes log in with the creds of
a user of the bound account (and one of the system account). Those users, ``leaf-<site>`` and
``leaf-<site>-sys``, are created in the store when missing (not with ``dry_run``).

``natsops render`` (production files, creds beside each config) and ``natsops bootstrap
--topology`` (the same on loopback, creds in each server's folder) both use
:func:`store_operator`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from natsops.auth.store import Store
from natsops.errors import UsageError
from natsops.topology.model import Node, Topology
from natsops.topology.server_conf import PRELOAD_INCLUDE, OperatorBlocks

__all__ = ["LeafCreds", "StoreOperator", "store_operator"]


@dataclass(frozen=True)
class LeafCreds:
    """The creds a leaf site's remote uses: key ``leaf:<site>`` or ``leaf-sys:<site>``."""

    key: str
    site: str
    account: str
    user: str
    exists: bool = True  # False: a dry run, the user would be created

    @property
    def file(self) -> str:
        return f"{self.user}.creds"


@dataclass(frozen=True)
class StoreOperator:
    """One operator of the store, as a topology's servers run it."""

    store: Store = field(repr=False)
    op: str
    system_account: str
    account_keys: dict[str, str]
    leaf_creds: tuple[LeafCreds, ...]
    created: tuple[str, ...] = ()  # "ACCOUNT/user" created in the store for the leaf remotes

    def blocks(self, topo: Topology, node: Node, *, resolver_dir: str | None = None,
               creds_dir: Path | None = None, interval: str = "2m") -> OperatorBlocks:
        """The operator blocks of one node: a resolver of the topology's type, its JWT folder
        beside the JetStream store (or ``resolver_dir``), every account preloaded (a MEMORY
        resolver: in the include file PRELOAD_INCLUDE); leaf creds named relative to the
        config (or in ``creds_dir``)."""
        from natsops.auth.config import ResolverOptions, preload_block, render_config

        jwt_dir = resolver_dir or str(Path(node.jetstream.store_dir).parent / "jwt")
        memory = topo.auth.resolver == "memory"
        text = render_config(self.store, self.op, ResolverOptions(
            type=topo.auth.resolver, dir=jwt_dir, preload_all=True, interval=interval,
            preload_include=PRELOAD_INCLUDE if memory else None))
        creds = {c.key: str(creds_dir / c.file) if creds_dir else c.file
                 for c in self.leaf_creds}
        return OperatorBlocks(text, self.account_keys, self.system_account, creds,
                              preload_block(self.store, self.op) if memory else None)

    def creds_for(self, topo: Topology, node: Node) -> list[LeafCreds]:
        """The leaf creds files this node needs (those of its own leaf site)."""
        group = topo.group_of(node.name).name
        return [c for c in self.leaf_creds if c.site == group]

    def creds_text(self, c: LeafCreds) -> str:
        """The creds file's content (a secret: never log it); empty for a user not created."""
        from natsops.auth import ops

        return ops.creds_text(self.store, self.op, c.account, c.user) if c.exists else ""


def store_operator(topo: Topology, store: Store, *, dry_run: bool = False) -> StoreOperator:
    """The topology's operator in ``store``, with the leaf remotes' users (created when
    missing, unless ``dry_run``); UsageError when a leaf site's account is not in the store."""
    from natsops.auth import ops

    op = store.resolve_operator(topo.auth.operator)
    sys_acc = store.system_account(op)
    keys = {a.name: a.public_key for a in store.accounts(op)}
    leaf: list[LeafCreds] = []
    created: list[str] = []
    for s in topo.leafs:
        if s.account not in keys:
            raise UsageError(f"{topo.file}:{s.line}: leafs.{s.name}.account: operator {op} has "
                             f"no account {s.account!r}",
                             hint=f"natsops auth account add {s.account}")
        binds = [("leaf", s.account, s.leaf_user)]
        if s.system:
            binds.append(("leaf-sys", sys_acc.name, s.leaf_user + "-sys"))
        for key, acc, user in binds:
            exists = user in store.user_names(op, acc)
            if not exists and not dry_run:
                ops.add_user(store, op, acc, user)
                created.append(f"{acc}/{user}")
                exists = True
            leaf.append(LeafCreds(f"{key}:{s.name}", s.name, acc, user, exists))
    return StoreOperator(store, op, sys_acc.name, keys, tuple(leaf), tuple(created))
