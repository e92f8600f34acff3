"""Kind ``User``: a user of the auth store and its creds file.

The spec uses the user JWT's field names (``pub``, ``sub``, ``resp``, ``subs``, ``data``,
``payload``, ``src``, ``times``, ``times_location``, ``tags``, ``bearer_token``,
``allowed_connection_types``), plus ``role`` to issue the user through a role (then it may
carry no permissions: the role's template applies)::

    kind: User
    metadata: {name: service, account: APP}
    spec: {pub: {allow: ["orders.>"]}, sub: {allow: ["orders.>", "_INBOX.>"]}}

Servers do not store users, so the live side is the store's user JWT. Apply creates the user
(key, JWT, creds file 0600) or re-signs it with the same key and rewrites its creds file; a
user's name is ``ACCOUNT/NAME``. Users are never pruned.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping
from typing import Any

from natsops.estate.context import EstateContext
from natsops.estate.fields import boolean, check_fields, mapping, size_bytes, string, strings
from natsops.estate.kinds import Kind, register
from natsops.estate.kinds.account import auth_operator, auth_store, auth_target
from natsops.estate.model import Action, Doc, Live, Op, Resource
from natsops.jetstream.spec import diff_configs

__all__ = ["UserKind"]

_FIELDS = ("pub", "sub", "resp", "subs", "data", "payload", "src", "times", "times_location",
           "tags", "bearer_token", "allowed_connection_types", "role")


def _desired(spec: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    nats = copy.deepcopy(dict(current))
    for key in _FIELDS:
        if key in spec and key != "role":
            nats[key] = copy.deepcopy(spec[key])
    return nats


@register
class UserKind(Kind):
    kind = "User"
    order = 10
    prunable = False

    def load(self, doc: Doc) -> Resource:
        from natsops.estate.fields import name_of

        def size(key: str, value: Any) -> Any:
            return size_bytes(value, key) if key in ("data", "payload") else value

        spec = check_fields(doc, _FIELDS, {"pub": mapping, "sub": mapping, "resp": mapping,
                                           "src": strings, "tags": strings, "role": string,
                                           "bearer_token": boolean,
                                           "allowed_connection_types": strings,
                                           "times_location": string}, size)
        account = doc.metadata.get("account")
        if not account:
            raise doc.error("metadata.account", "a User needs metadata.account")
        if spec.get("role") and set(spec) - {"role", "tags"}:
            raise doc.error("spec.role", "a user issued through a role takes its permissions "
                                         "from the role's template: give only role and tags")
        meta = {"account": str(account), "user": name_of(doc)}
        return Resource(self.kind, f"{account}/{name_of(doc)}", {**spec, "metadata": meta},
                        doc.where(), doc)

    async def fetch_live(self, ctx: EstateContext,
                         names: Collection[str] | None) -> dict[str, Live]:
        target = auth_target(ctx, names)
        if target is None:
            return {}
        store, op = target
        out: dict[str, Live] = {}
        for acc in store.account_names(op):
            for user in store.users(op, acc):
                key = f"{acc}/{user.name}"
                if names is None or key in names:
                    out[key] = Live(self.kind, key, dict(user.nats),
                                    detail={"issuer": user.token.issuer})
        return out

    def diff(self, desired: Resource, live: Live | None) -> Action:
        if live is None:
            return Action(self.kind, desired.name, Op.CREATE, desired=desired)
        changes = diff_configs(live.config, _desired(desired.spec, live.config))
        op = Op.UPDATE if changes else Op.NOOP
        return Action(self.kind, desired.name, op, tuple(changes), desired=desired, live=live)

    async def apply(self, ctx: EstateContext, action: Action) -> str:
        from natsops.auth import ops, roles
        from natsops.auth.edit import resign_user

        assert action.desired is not None
        store = auth_store(ctx)
        op = auth_operator(ctx, store)
        spec = action.desired.spec
        account, name = spec["metadata"]["account"], spec["metadata"]["user"]
        if action.op is Op.CREATE:
            if spec.get("role"):
                roles.add_role_user(store, op, account, name, str(spec["role"]),
                                    tags=tuple(spec.get("tags") or ()))
                return "created through role " + str(spec["role"])
            ops.add_user(store, op, account, name)
        current = store.user(op, account, name).nats
        want = _desired(spec, current)
        if diff_configs(current, want):
            resign_user(store, op, account, name, lambda c: c.__setitem__("nats", want))
        return f"creds: {store.creds_path(op, account, name)}"
