"""Kind ``User``: a user of the auth store and its creds file.

The spec uses the user JWT's field names (``pub``, ``sub``, ``resp``, ``subs``, ``data``,
``payload``, ``src``, ``times``, ``times_location``, ``tags``, ``bearer_token``,
``allowed_connection_types``), plus ``role`` to issue the user through a role (then it may
carry no permissions: the role's template applies) and ``expires`` (the JWT's ``exp``: an ISO
8601 date or time, UTC unless it says, or Unix seconds; ``never`` removes it)::

    kind: User
    metadata: {name: service, account: APP}
    spec: {pub: {allow: ["orders.>"]}, sub: {allow: ["orders.>", "_INBOX.>"]},
           data: 10MB, expires: "2027-06-30T00:00:00Z"}

Only the fields the recipe names are compared; plan shows ``expires`` as an ISO time (UTC).
``role`` compares with the role (name or key) the live user was issued through: a change is an
update (``role: old -> new``) that re-issues the user through the new role with the same user
key (:func:`natsops.auth.rotate.reissue_user`, as signing-key rotation does), dropping the
permissions and limits it carried of its own (the role's template applies). A role the account
does not have (in the store, or in the same run's Account recipe when it lists
``signing_keys``) fails the plan at the recipe's ``file:line``.

Servers do not store users, so the live side is the store's user JWT. Apply creates the user
(key, JWT, creds file 0600) or re-signs it with the same key and rewrites its creds file; a
user's name is ``ACCOUNT/NAME``. Users are never pruned.

Export (:meth:`UserKind.export`) writes the non-default claims (sizes human), the role a user
was issued through (then only role, tags and expires), and never a key, seed or JWT.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from natsops.errors import UsageError
from natsops.estate.context import EstateContext
from natsops.estate.fields import boolean, check_fields, mapping, size_bytes, string, strings
from natsops.estate.kinds import Kind, register
from natsops.estate.kinds.account import auth_operator, auth_store, auth_target
from natsops.estate.model import Action, Doc, Live, Op, RecipeError, Resource
from natsops.jetstream.spec import Change, diff_configs

__all__ = ["UserKind"]

_FIELDS = ("pub", "sub", "resp", "subs", "data", "payload", "src", "times", "times_location",
           "tags", "bearer_token", "allowed_connection_types", "role", "expires")
# ``nsc add user`` claims that export leaves out (and the JWT's own bookkeeping)
_DEFAULTS: Mapping[str, Any] = {"pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1,
                                "bearer_token": False}
_ROLE_FIELDS = ("role", "tags", "expires")
# what a user issued through a role keeps of its claims (the role's template gives the rest)
_ROLE_CLAIMS = ("tags", "expires", "issuer_account", "type", "version")


def iso_time(unix: int) -> str:
    """Unix seconds as ``2027-06-30T00:00:00Z`` (how recipes and plan show ``expires``)."""
    return dt.datetime.fromtimestamp(unix, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _expires(value: Any) -> str | None:
    """A recipe's ``expires`` as an ISO time (UTC), None for ``never``; UsageError otherwise."""
    from natsops.errors import UsageError

    if isinstance(value, dt.datetime):  # YAML reads an unquoted ISO time itself
        when = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return iso_time(int(when.timestamp()))
    if isinstance(value, dt.date):
        return iso_time(int(dt.datetime(value.year, value.month, value.day,
                                        tzinfo=dt.timezone.utc).timestamp()))
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return iso_time(value)
    if isinstance(value, str) and value.strip().lower() == "never":
        return None
    if isinstance(value, str):
        try:
            when = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return _expires(when)
    raise UsageError(f"expected a date or time such as 2027-06-30T00:00:00Z (UTC unless it "
                     f"says), Unix seconds, or never; got {value!r}")


def _unix(iso: str) -> int:
    return int(dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def live_claims(claims: Mapping[str, Any]) -> dict[str, Any]:
    """A user JWT's ``nats`` claims with its expiry as ``expires`` (the kind's live config)."""
    nats = dict(claims.get("nats") or {})
    if claims.get("exp"):
        nats["expires"] = iso_time(int(claims["exp"]))
    return nats


def _desired(spec: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    nats = copy.deepcopy(dict(current))
    for key in _FIELDS:
        if key in spec and key != "role":
            nats[key] = copy.deepcopy(spec[key])
    if nats.get("expires", 0) is None:  # expires: never
        nats.pop("expires")
    return nats


def _role_moves(spec: Mapping[str, Any], role: str | None, issuer: str | None) -> bool:
    """Whether the recipe names a role other than the live user's (by role name or key)."""
    want = spec.get("role")
    return bool(want) and want not in (role, issuer)


def _through_role(nats: Mapping[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in nats.items() if k in _ROLE_CLAIMS}


def _set_claims(want: Mapping[str, Any]) -> Any:
    """A ``resign_user`` mutation: the user's claims become ``want`` (``expires`` -> exp)."""
    def mutate(claims: dict[str, Any]) -> None:
        nats = dict(want)
        exp = nats.pop("expires", None)
        claims["nats"] = nats
        if exp:
            claims["exp"] = _unix(exp)
        else:
            claims.pop("exp", None)
    return mutate


@register
class UserKind(Kind):
    kind = "User"
    order = 10
    prunable = False

    def load(self, doc: Doc) -> Resource:
        from natsops.estate.fields import name_of

        def size(key: str, value: Any) -> Any:
            if key == "expires":
                return _expires(value)
            return size_bytes(value, key) if key in ("data", "payload") else value

        spec = check_fields(doc, _FIELDS, {"pub": mapping, "sub": mapping, "resp": mapping,
                                           "src": strings, "tags": strings, "role": string,
                                           "bearer_token": boolean,
                                           "allowed_connection_types": strings,
                                           "times_location": string}, size)
        account = doc.metadata.get("account")
        if not account:
            raise doc.error("metadata.account", "a User needs metadata.account")
        if spec.get("role") and set(spec) - set(_ROLE_FIELDS):
            raise doc.error("spec.role", "a user issued through a role takes its permissions "
                                         "from the role's template: give only role, tags and "
                                         "expires")
        meta = {"account": str(account), "user": name_of(doc)}
        return Resource(self.kind, f"{account}/{name_of(doc)}", {**spec, "metadata": meta},
                        doc.where(), doc)

    async def check(self, ctx: EstateContext, mine: Sequence[Resource],
                    resources: Sequence[Resource]) -> None:
        """A recipe's ``role`` must be a role of its account: in the store, or declared by the
        run's Account recipe (whose ``signing_keys`` then are exactly the roles)."""
        wanted = [r for r in mine if r.spec.get("role")]
        if not wanted:
            return
        from natsops.auth.roles import list_roles
        from natsops.errors import UsageError

        store = auth_store(ctx)
        op = auth_operator(ctx, store)
        declared = {r.name: r.spec["signing_keys"] for r in resources
                    if r.kind == "Account" and "signing_keys" in r.spec}
        for r in wanted:
            account, role = r.spec["metadata"]["account"], str(r.spec["role"])
            stored = list_roles(store, op, account) if account in store.account_names(op) \
                else []
            keys = {x.role: x.key for x in stored}  # role name -> key
            if account in declared:  # the recipe's roles replace the store's
                keys = {n: keys.get(n, "") for n in declared[account]}
            if role in keys or role in keys.values():
                continue
            message = (f"account {account} has no role {role!r} (its roles: "
                       f"{', '.join(sorted(keys)) or 'none'})")
            if r.doc is not None:
                raise r.doc.error("spec.role", message)
            raise UsageError(f"{r.source}: {message}")

    async def fetch_live(self, ctx: EstateContext,
                         names: Collection[str] | None) -> dict[str, Live]:
        target = auth_target(ctx, names)
        if target is None:
            return {}
        from natsops.auth.edit import revoked_at, scoped_key

        store, op = target
        out: dict[str, Live] = {}
        for acc in store.account_names(op):
            entity = store.account(op, acc)
            for user in store.users(op, acc):
                key = f"{acc}/{user.name}"
                if names is None or key in names:
                    role = scoped_key(entity, user.token.issuer)
                    out[key] = Live(self.kind, key, live_claims(user.token.claims), detail={
                        "issuer": user.token.issuer, "account": acc, "user": user.name,
                        "role": role.get("role") if role else None,
                        "expires": user.token.expires,
                        "revoked": revoked_at(entity, user) is not None})
        return out

    def export(self, live: Live) -> dict[str, Any]:
        """The store's user as a recipe: its role (then only tags and expires besides), or
        its non-default claims with human sizes; never a key, seed or JWT."""
        from natsops.estate.fields import human_size

        nats, role = live.config, live.detail.get("role")
        spec: dict[str, Any] = {"role": role} if role else {}
        for key in (_ROLE_FIELDS[1:] if role else _FIELDS):
            v = nats.get(key)
            if key == "role" or v is None or v == [] or _DEFAULTS.get(key, object()) == v:
                continue
            spec[key] = human_size(v) if key in ("data", "payload") else copy.deepcopy(v)
        return {"kind": self.kind,
                "metadata": {"name": live.detail["user"], "account": live.detail["account"]},
                "spec": spec}

    def diff(self, desired: Resource, live: Live | None) -> Action:
        if live is None:
            return Action(self.kind, desired.name, Op.CREATE, desired=desired)
        want = _desired(desired.spec, live.config)
        changes = []
        detail = live.detail or {}
        if _role_moves(desired.spec, detail.get("role"), detail.get("issuer")):
            changes.append(Change("role", detail.get("role"), desired.spec["role"]))
            want = _through_role(want)
        changes += diff_configs(live.config, want)
        if changes and detail.get("revoked"):
            # re-signing issues a JWT newer than the revocation, which would lift it
            account = detail.get("account")
            msg = (f"user {detail.get('user')} is revoked in account {account}: "
                   "re-issuing it would lift the revocation")
            hint = (f"natsops auth revocations rm -a {account} -n {detail.get('user')} "
                    "first, if that is meant")
            if desired.doc is not None:
                raise RecipeError(desired.doc.file, desired.doc.line,
                                  f"{desired.doc.kind} {desired.name}: {msg}", hint=hint)
            raise UsageError(f"{desired.source}: {msg}", hint=hint)
        op = Op.UPDATE if changes else Op.NOOP
        return Action(self.kind, desired.name, op, tuple(changes), desired=desired, live=live)

    async def apply(self, ctx: EstateContext, action: Action) -> str:
        from natsops.auth import ops, roles
        from natsops.auth.edit import resign_user, scoped_key

        assert action.desired is not None
        store = auth_store(ctx)
        op = auth_operator(ctx, store)
        spec = action.desired.spec
        account, name = spec["metadata"]["account"], spec["metadata"]["user"]
        expires = _unix(spec["expires"]) if spec.get("expires") else None
        if action.op is Op.CREATE:
            if spec.get("role"):
                roles.add_role_user(store, op, account, name, str(spec["role"]),
                                    tags=tuple(spec.get("tags") or ()), expires=expires)
                return "created through role " + str(spec["role"])
            ops.add_user(store, op, account, name, expires=expires)
        user = store.user(op, account, name)
        current = live_claims(user.token.claims)
        want = _desired(spec, current)
        acc = store.account(op, account)
        now = scoped_key(acc, user.token.issuer) or {}
        if _role_moves(spec, now.get("role"), user.token.issuer):
            from natsops.auth.rotate import reissue_user

            _, signer = roles.role_signer(store, op, account, str(spec["role"]))
            note = reissue_user(store, op, acc, name, signer,
                                mutate=_set_claims(_through_role(want)))
            return f"{note}: role {now.get('role')} -> {spec['role']} (same user key)"
        if diff_configs(current, want):
            resign_user(store, op, account, name, _set_claims(want))
        return f"creds: {store.creds_path(op, account, name)}"
