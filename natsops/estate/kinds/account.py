"""Kind ``Account``: an account of the auth store, as the servers hold it.

The spec uses the account JWT's own field names (its ``nats`` object, as ``natsops auth describe
account`` shows it), with human sizes::

    kind: Account
    metadata: {name: APP, operator: DEMO}      # operator: default the only one in the store
    spec:
      jetstream: true                          # shorthand: JetStream on, unlimited (or false)
      limits: {conn: 100, payload: 1MB, disk_storage: 10GB, streams: 10}
      limits: {tiered_limits: {R3: {disk_storage: 1GB, streams: 2}}}
      default_permissions: {pub: {deny: ["admin.>"]}}
      exports: [...]; mappings: {...}; description: "..."
      imports: [{name: svc, subject: "svc.>", account: OTHER, type: service}]   # name or key
      signing_keys:                            # roles: scoped signing keys and their template
        - role: reader
          description: read-only feeds
          template: {sub: {allow: ["feed.>", "_INBOX.>"]}, payload: 1MB}

Only the fields the recipe names are compared (``limits`` key by key, the others whole). An
import without ``token`` keeps the activation token the account holds for it: export leaves
tokens (JWTs) out of recipes; on a fresh store, issue them again (``auth account export
token``). The
live side is what the servers store (``CLAIMS.LOOKUP`` through a system user minted from the
store; the oldest copy when they differ); a server copy that is not the store's JWT is a change
too (``jwt``: apply pushes). Apply edits the store (creating the account if needed), signs,
pushes, and fails unless every server then holds the new JWT. Accounts are never pruned.

``signing_keys`` declares the account's **roles** (JWT ``signing_keys`` entries of kind
``user_scope``): ``role``, ``template`` (user claim names: ``pub``, ``sub``, ``resp``, ``subs``,
``data``, ``payload``, ``src``, ``times``, ``times_location``, ``allowed_connection_types``,
``bearer_token``; nsc's defaults for the rest) and ``description``. Keys are generated, never
written in a recipe. When the field is given, the roles are exactly those listed: plan shows
``signing_keys.ROLE...`` changes, apply adds, changes (same key) and removes roles through
:mod:`natsops.auth.roles` (users issued through a removed role lose access once pushed). Plain
(unscoped) signing keys are left as they are; without the field roles are not compared.

The store is ``ctx.auth.root`` (``natsops plan/apply --store``) when a caller sets it, else the
one ``natsops auth`` uses by default (``NATSOPS_STORE``, else the per-user data folder); the
operator is :func:`auth_operator`'s.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping
from typing import Any

from natsops.auth.store import Store, default_store_root
from natsops.errors import NatsopsError, ServerError
from natsops.estate.context import EstateContext
from natsops.estate.fields import boolean, check_fields, mapping, size_bytes, string
from natsops.estate.kinds import Kind, register
from natsops.estate.model import Action, Doc, Live, Op, Resource
from natsops.jetstream.spec import Change, diff_configs

__all__ = ["AccountKind", "auth_operator", "auth_store", "auth_target", "sys_settings"]

_SIZES = ("data", "payload", "mem_storage", "disk_storage", "mem_max_stream_bytes",
          "disk_max_stream_bytes")
_JS = ("mem_storage", "disk_storage", "streams", "consumer", "max_ack_pending",
       "mem_max_stream_bytes", "disk_max_stream_bytes", "max_bytes_required")
_FIELDS = ("jetstream", "limits", "default_permissions", "exports", "imports", "mappings",
           "description", "info_url", "signing_keys")
_TEMPLATE = ("pub", "sub", "resp", "subs", "data", "payload", "src", "times", "times_location",
             "allowed_connection_types", "bearer_token")


def auth_store(ctx: EstateContext) -> Store:
    """The auth store of this run (see the module docstring)."""
    return Store(ctx.auth.root or default_store_root())


def auth_operator(ctx: EstateContext, store: Store, named: str | None = None) -> str:
    """The operator: the recipe's ``metadata.operator``, ``ctx.auth.operator`` (``--operator``
    or ``NATSOPS_OPERATOR``, as ``natsops auth``), else the only one in the store."""
    return store.resolve_operator(named or ctx.auth.operator)


def auth_target(ctx: EstateContext, names: Collection[str] | None) -> tuple[Store, str] | None:
    """The store and operator to read, or None when no resource of the kind is asked for."""
    if names is not None and not names:
        return None
    store = auth_store(ctx)
    return store, auth_operator(ctx, store)


def sys_settings(ctx: EstateContext) -> Any:
    """The run's settings without credentials: auth commands mint a system user from the
    store (the recipe connection is usually an application user)."""
    from natsops.context import AUTH_FIELDS

    return ctx.conn.settings.with_(**dict.fromkeys(AUTH_FIELDS))


def _limits(doc: Doc, value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, v in dict(value).items():
        if key == "tiered_limits":
            out[key] = {str(t): _limits(doc, lim) for t, lim in dict(v).items()}
        elif key in _SIZES:
            try:
                out[key] = size_bytes(v, f"limits.{key}")
            except NatsopsError as exc:
                raise doc.error(f"spec.limits.{key}", str(exc)) from None
        else:
            out[key] = v
    return out


def _roles(doc: Doc, value: Any) -> dict[str, dict[str, Any]]:
    """``spec.signing_keys`` as role -> {"template" (nsc defaults filled in), "description"}."""
    from natsops.auth.roles import full_template
    from natsops.auth.store import valid_name

    path = "spec.signing_keys"
    if not isinstance(value, list):
        raise doc.error(path, f"expected a list of roles ({{role, template, description}}), "
                              f"got {value!r}")
    out: dict[str, dict[str, Any]] = {}
    for i, item in enumerate(value):
        if not isinstance(item, Mapping) or not isinstance(item.get("role"), str):
            raise doc.error(path, f"entry {i + 1}: give role (a name), template and "
                                  "description; keys are generated")
        extra = set(item) - {"role", "template", "description"}
        if extra:
            raise doc.error(path, f"role {item['role']}: unknown field(s) {sorted(extra)} "
                                  "(role, template, description; keys are generated)")
        tpl = dict(item.get("template") or {})
        unknown = sorted(set(tpl) - set(_TEMPLATE))
        try:
            role = valid_name(item["role"], "role")
            if role in out:
                raise NatsopsError(f"role {role} is listed twice")
            if unknown:
                raise NatsopsError(f"unknown template field(s) {unknown}: one of "
                                   f"{', '.join(_TEMPLATE)}")
            for key in ("data", "payload"):
                if key in tpl:
                    tpl[key] = size_bytes(tpl[key], f"template.{key}")
        except NatsopsError as exc:
            raise doc.error(path, str(exc)) from None
        entry: dict[str, Any] = {"template": full_template(tpl)}
        if item.get("description"):
            entry["description"] = str(item["description"])
        out[role] = entry
    return out


def _role_changes(spec: Mapping[str, Any], live: Mapping[str, Any]) -> list[Change]:
    """``signing_keys.ROLE`` (added or removed role) and ``signing_keys.ROLE.template.…``
    (changed role) between the declared roles and the live ones."""
    from natsops.auth.roles import declared_roles, short_template

    if "signing_keys" not in spec:
        return []
    have, want = declared_roles(live), spec["signing_keys"]

    def short(entry: Mapping[str, Any] | None) -> Any:
        return None if entry is None else {**entry, "template": short_template(entry["template"])}

    out: list[Change] = []
    for role in sorted(set(have) | set(want)):
        a, b = have.get(role), want.get(role)
        if a is None or b is None:
            out.append(Change(f"signing_keys.{role}", short(a), short(b)))
        else:
            out += diff_configs({"signing_keys": {role: a}}, {"signing_keys": {role: b}})
    return out


# ``nsc add account`` limits: what export leaves out
_LIMIT_DEFAULTS: Mapping[str, Any] = {"subs": -1, "data": -1, "payload": -1, "imports": -1,
                                      "exports": -1, "wildcards": True, "conn": -1, "leaf": -1}


def _human_limits(lim: Mapping[str, Any]) -> dict[str, Any]:
    from natsops.estate.fields import human_size

    out: dict[str, Any] = {}
    for key, v in lim.items():
        if key == "tiered_limits" and isinstance(v, Mapping):
            out[key] = {t: _human_limits(x) for t, x in v.items()}
        else:
            out[key] = human_size(v) if key in _SIZES else v
    return out


def _role_doc(role: str, entry: Mapping[str, Any]) -> dict[str, Any]:
    from natsops.auth.roles import short_template
    from natsops.estate.fields import human_size

    tpl = short_template(entry["template"])
    for key in ("data", "payload"):
        if key in tpl:
            tpl[key] = human_size(tpl[key])
    doc: dict[str, Any] = {"role": role}
    if entry.get("description"):
        doc["description"] = entry["description"]
    if tpl:
        doc["template"] = tpl
    return doc


def _named_imports(imports: Any, keys: Mapping[str, str]) -> Any:
    """Imports whose ``account`` is an account name of the store get its public key."""
    if not isinstance(imports, list):
        return imports
    return [{**i, "account": keys.get(str(i.get("account")), i.get("account"))}
            if isinstance(i, Mapping) else i for i in imports]


def desired_nats(spec: Mapping[str, Any], current: Mapping[str, Any],
                 keys: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``current`` (an account's ``nats`` object) with the recipe's fields laid over it.

    ``keys``: account name -> public key, for imports that name their account.
    """
    nats = copy.deepcopy(dict(current))
    lim = dict(nats.get("limits") or {})
    if spec.get("jetstream") is False:
        for k in (*_JS, "tiered_limits"):
            lim.pop(k, None)
    elif spec.get("jetstream") and not (lim.get("mem_storage") or lim.get("disk_storage")
                                        or lim.get("tiered_limits")):
        lim.update({"mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1})
    given = dict(spec.get("limits") or {})
    if "tiered_limits" in given:
        for k in _JS:
            lim.pop(k, None)
    elif any(k in given for k in _JS):
        lim.pop("tiered_limits", None)
    lim.update(given)
    nats["limits"] = lim
    for key in _FIELDS[2:]:
        if key in spec and key != "signing_keys":  # roles: natsops.auth.roles.sync_roles
            nats[key] = copy.deepcopy(spec[key])
    if "imports" in spec and keys:
        nats["imports"] = _named_imports(nats["imports"], keys)
    if "imports" in spec:
        nats["imports"] = _keep_tokens(nats["imports"], current.get("imports"))
    return nats


def _import_id(i: Mapping[str, Any]) -> tuple[Any, ...]:
    return i.get("account"), i.get("subject"), i.get("type")


def _keep_tokens(imports: Any, current: Any) -> Any:
    """An import the recipe gives without ``token`` keeps the activation token the account
    already holds for it (recipes never carry a JWT: export leaves tokens out)."""
    if not isinstance(imports, list) or not isinstance(current, list):
        return imports
    held = {_import_id(c): c["token"] for c in current
            if isinstance(c, Mapping) and c.get("token")}
    return [{**i, "token": held[_import_id(i)]}
            if isinstance(i, Mapping) and "token" not in i and _import_id(i) in held else i
            for i in imports]


def _keys(store: Store, op: str) -> dict[str, str]:
    return {a.name: a.public_key for a in store.accounts(op)}


@register
class AccountKind(Kind):
    kind = "Account"
    order = 0
    prunable = False

    def load(self, doc: Doc) -> Resource:
        from natsops.estate.fields import name_of

        spec = check_fields(doc, _FIELDS, {"jetstream": boolean, "limits": mapping,
                                           "default_permissions": mapping,
                                           "mappings": mapping, "description": string,
                                           "info_url": string})
        if "limits" in spec:
            spec["limits"] = _limits(doc, spec["limits"])
        if "signing_keys" in spec:
            spec["signing_keys"] = _roles(doc, spec["signing_keys"])
        meta = {"operator": doc.metadata["operator"]} if doc.metadata.get("operator") else {}
        return Resource(self.kind, name_of(doc), {**spec, "metadata": meta}, doc.where(), doc)

    async def fetch_live(self, ctx: EstateContext,
                         names: Collection[str] | None) -> dict[str, Live]:
        from natsops.access import system_connection
        from natsops.auth.sysreq import discover, lookup
        from natsops.auth.sysuser import auth_access

        target = auth_target(ctx, names)
        if target is None:
            return {}
        store, op = target
        wanted = [n for n in store.account_names(op) if names is None or n in names]
        out: dict[str, Live] = {}
        if not wanted:
            return out
        timeout = ctx.conn.settings.timeout
        access = auth_access(store, op, sys_settings(ctx))
        async with system_connection(access, "natsops plan") as (conn, _):
            servers = await discover(conn.nc, timeout)
            for name in wanted:
                acc = store.account(op, name)
                copies = await lookup(conn.nc, acc.public_key, len(servers), timeout)
                held = [c for c in copies if c is not None]
                if not held:
                    continue
                oldest = min(held, key=lambda t: t.iat)
                same = all(c is not None and c.jti == acc.token.jti for c in copies) and \
                    len(copies) == len(servers)
                out[name] = Live(self.kind, name, dict(oldest.nats), detail={
                    "store_jti": acc.token.jti, "store_iat": acc.token.iat,
                    "server_iat": oldest.iat, "current": same, "operator": op,
                    "keys": _keys(store, op)})
        return out

    def diff(self, desired: Resource, live: Live | None) -> Action:
        if live is None:
            return Action(self.kind, desired.name, Op.CREATE, desired=desired)
        want = desired_nats(desired.spec, live.config, live.detail["keys"])
        changes = diff_configs(live.config, want) + _role_changes(desired.spec, live.config)
        if not changes and not live.detail["current"]:
            changes = [Change("jwt.iat", live.detail["server_iat"], live.detail["store_iat"])]
        if not changes:
            return Action(self.kind, desired.name, Op.NOOP, desired=desired, live=live)
        gone = [c.field.split(".", 1)[1] for c in changes
                if c.field.startswith("signing_keys.") and c.field.count(".") == 1
                and c.new is None]
        reason = f"removes role(s) {', '.join(gone)}: users issued through them lose " \
                 "access" if gone else ""
        return Action(self.kind, desired.name, Op.UPDATE, tuple(changes), reason,
                      desired=desired, live=live, drops_access=bool(gone))

    def export(self, live: Live) -> dict[str, Any]:
        """The server's copy of the account as a recipe: non-default limits (human sizes),
        the fields the kind knows, imports by account name, roles with short templates."""
        from natsops.auth.roles import declared_roles

        nats = live.config
        spec: dict[str, Any] = {}
        lim = {k: v for k, v in (nats.get("limits") or {}).items()
               if _LIMIT_DEFAULTS.get(k, None) != v}
        if lim:
            spec["limits"] = _human_limits(lim)
        perms = nats.get("default_permissions") or {}
        if any(perms.get(k) for k in perms):
            spec["default_permissions"] = copy.deepcopy(dict(perms))
        names = {key: name for name, key in (live.detail or {}).get("keys", {}).items()}
        for key in ("exports", "imports", "mappings", "description", "info_url"):
            if nats.get(key):
                spec[key] = copy.deepcopy(nats[key])
        if spec.get("imports"):  # activation tokens (JWTs) stay in the store: _keep_tokens
            spec["imports"] = [{**{k: v for k, v in i.items() if k != "token"},
                                "account": names.get(i.get("account"), i.get("account"))}
                               for i in spec["imports"]]
        roles = declared_roles(nats)
        if roles:
            spec["signing_keys"] = [_role_doc(r, e) for r, e in sorted(roles.items())]
        return {"kind": self.kind, "metadata": {"name": live.name,
                                                "operator": live.detail["operator"]},
                "spec": spec}

    async def apply(self, ctx: EstateContext, action: Action) -> str:
        from natsops.auth import ops
        from natsops.auth.push import push
        from natsops.auth.roles import sync_roles
        from natsops.findings import Severity

        assert action.desired is not None
        store = auth_store(ctx)
        meta = action.desired.spec.get("metadata") or {}
        op = auth_operator(ctx, store, meta.get("operator"))
        name = action.desired.name
        if name not in store.account_names(op):
            ops.add_account(store, op, name)
        current = store.account(op, name).nats
        want = desired_nats(action.desired.spec, current, _keys(store, op))
        if diff_configs(current, want):
            def replace_nats(nats: dict[str, Any]) -> None:
                nats.clear()
                nats.update(want)

            ops._update_account(store, op, name, replace_nats, False)
        if "signing_keys" in action.desired.spec:
            sync_roles(store, op, name, action.desired.spec["signing_keys"])
        report = await push(store, op, sys_settings(ctx), [name],
                            timeout=ctx.conn.settings.timeout)
        failed = [f for f in report.findings if f.severity >= Severity.FAIL]
        if failed:
            raise ServerError(f"account {name}: {failed[0].message}",
                              hint=failed[0].fix or "natsops auth verify")
        return f"signed and pushed to {len(report.servers)} server(s), verified"
