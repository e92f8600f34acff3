"""Scoped signing keys ("roles"): an account signing key with a permission template.

A user signed by a scoped key gets the role's template from the server, whatever its own JWT
says; the server refuses a role user whose JWT carries permissions or limits of its own, so
:func:`add_role_user` issues users with none. Teams can be handed a role key to issue users
without being able to grant more than the template. The template may use
``{{name()}}``, ``{{subject()}}``, ``{{account-name()}}``, ``{{tag(x)}}``… (expanded by the
server per user).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from natsops.auth import jwt as jwtmod
from natsops.auth.creds import format_creds
from natsops.auth.edit import Edited, UserEdit, apply_user_edit, claim_diff
from natsops.auth.nkey import KeyPair, generate
from natsops.auth.ops import Change, _update_account
from natsops.auth.store import Store, valid_name
from natsops.errors import Conflict, NotFound, UsageError

__all__ = ["TEMPLATE_DEFAULTS", "Role", "add_role", "add_role_user", "check_role_options",
           "declared_roles", "edit_role", "find_role", "full_template", "list_roles",
           "remove_role", "role_signer", "short_template", "sync_roles"]


@dataclass(frozen=True)
class Role:
    """A scoped signing key of an account (public data only)."""

    account: str
    role: str
    key: str
    template: Mapping[str, Any]
    description: str | None
    has_seed: bool


def _roles(store: Store, op: str, account: str) -> list[Role]:
    out = []
    for sk in store.account(op, account).nats.get("signing_keys") or []:
        if isinstance(sk, Mapping) and sk.get("kind") == "user_scope":
            key = str(sk.get("key"))
            out.append(Role(account, str(sk.get("role") or ""), key,
                            dict(sk.get("template") or {}), sk.get("description"),
                            store.has_key(key)))
    return out


def list_roles(store: Store, op: str, account: str) -> list[Role]:
    """The scoped signing keys of an account."""
    return _roles(store, op, account)


def find_role(store: Store, op: str, account: str, role: str) -> Role:
    """The role named ``role`` (or whose key is ``role``); NotFound otherwise."""
    for r in _roles(store, op, account):
        if role in (r.role, r.key):
            return r
    raise NotFound(f"account {account} has no role {role!r}",
                   hint=f"add it: natsops auth account signing-key add {account} --role {role}")


def template_of(edit: UserEdit) -> dict[str, Any]:
    """A role's template from user-edit options (nsc's defaults: limits -1)."""
    tpl: dict[str, Any] = {"pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1}
    apply_user_edit(tpl, edit)
    tpl.pop("tags", None)  # tags belong to users, not to the template
    return tpl


def add_role(store: Store, op: str, account: str, role: str, template: UserEdit, *,
             description: str | None = None, dry_run: bool = False) -> Edited:
    """Add a scoped signing key named ``role`` with its permission template."""
    if template.expires is not None or template.add_tags or template.revoke_previous:
        raise UsageError("a role template holds permissions and limits only")
    return _add_scoped(store, op, account, role, template_of(template), description, dry_run)


def _add_scoped(store: Store, op: str, account: str, role: str, template: Mapping[str, Any],
                description: str | None, dry_run: bool) -> Edited:
    valid_name(role, "role")
    if any(r.role == role for r in _roles(store, op, account)):
        raise Conflict(f"account {account} already has a role {role!r}")
    kp = generate("account")
    before = dict(store.account(op, account).token.claims)
    scoped: dict[str, Any] = {"kind": "user_scope", "key": kp.public_key, "role": role,
                              "template": dict(template)}
    if description:
        scoped["description"] = description

    def mutate(nats: dict[str, Any]) -> None:
        nats["signing_keys"] = [*(nats.get("signing_keys") or []), scoped]

    ch = _update_account(store, op, account, mutate, dry_run, [kp],
                         notes=(f"role {role}: key {kp.public_key}",))
    return Edited(ch, claim_diff(before, ch.claims))


def edit_role(store: Store, op: str, account: str, role: str, change: UserEdit, *,
              description: str | None = None, dry_run: bool = False) -> Edited:
    """Change a role's template (same key). Once the account is pushed, the server closes the
    live connections of the role's users; they get the new template when they reconnect."""
    if change.expires is not None or change.add_tags or change.rm_tags or change.revoke_previous:
        raise UsageError("a role template holds permissions and limits only")
    return _edit_scoped(store, op, account, role, lambda tpl: apply_user_edit(tpl, change),
                        description, dry_run)


def _edit_scoped(store: Store, op: str, account: str, role: str,
                 change: Callable[[dict[str, Any]], None], description: str | None,
                 dry_run: bool) -> Edited:
    r = find_role(store, op, account, role)
    before = dict(store.account(op, account).token.claims)

    def mutate(nats: dict[str, Any]) -> None:
        keys = []
        for sk in nats.get("signing_keys") or []:
            if isinstance(sk, Mapping) and sk.get("key") == r.key:
                sk = dict(sk)
                tpl = dict(sk.get("template") or {})
                change(tpl)
                sk["template"] = tpl
                if description is not None:
                    if description:
                        sk["description"] = description
                    else:
                        sk.pop("description", None)
            keys.append(sk)
        nats["signing_keys"] = keys

    users = [u.name for u in store.users(op, account) if u.token.issuer == r.key]
    notes = (f"once pushed, connected users of role {r.role} are disconnected and get the new "
             f"template when they reconnect ({', '.join(users) or 'none in the store'})",)
    ch = _update_account(store, op, account, mutate, dry_run, notes=notes)
    return Edited(ch, claim_diff(before, ch.claims))


def remove_role(store: Store, op: str, account: str, role: str, *,
                dry_run: bool = False) -> Edited:
    """Remove a role's scoped key: once pushed, the users it issued can no longer connect.

    Its seed moves to ``<store>/keys/retired/`` (as a rotated key's does)."""
    r = find_role(store, op, account, role)
    before = dict(store.account(op, account).token.claims)
    users = [u.name for u in store.users(op, account) if u.token.issuer == r.key]

    def mutate(nats: dict[str, Any]) -> None:
        nats["signing_keys"] = [sk for sk in nats.get("signing_keys") or []
                                if not (isinstance(sk, Mapping) and sk.get("key") == r.key)]
        if not nats["signing_keys"]:
            nats.pop("signing_keys")

    notes = (f"users issued through it lose access: {', '.join(users)}",) if users else ()
    ch = _update_account(store, op, account, mutate, dry_run, notes=notes)
    if not dry_run:
        store.retire_key(r.key)  # to keys/retired: no JWT of the store names it any more
    return Edited(ch, claim_diff(before, ch.claims))


def role_signer(store: Store, op: str, account: str, role: str) -> tuple[Role, KeyPair]:
    """The role named ``role`` (or whose key is ``role``) and its key pair; NotFound when the
    account has no such role or the store holds no seed for its key."""
    r = find_role(store, op, account, role)
    if not r.has_seed:
        raise NotFound(f"the store holds no seed for role {r.role}'s key {r.key}")
    return r, store.load_key(r.key, "account")


def check_role_options(no_permissions: bool) -> None:
    """UsageError when permissions were given for a role user (the template gives them)."""
    if not no_permissions:
        raise UsageError("a user issued through a role takes its permissions from the role's "
                         "template: drop --allow-*/--deny-*/--bearer, or edit the role")


def add_role_user(store: Store, op: str, account: str, name: str, role: str, *,
                  expires: int | None = None, tags: tuple[str, ...] = (),
                  dry_run: bool = False) -> Change:
    """Create a user signed by the role's key (no permissions of its own) and its creds."""
    valid_name(name, "user")
    acc = store.account(op, account)
    if name in store.user_names(op, account):
        raise Conflict(f"user '{name}' already exists in account {account}")
    r, signer = role_signer(store, op, account, role)
    if expires is not None and expires <= int(time.time()):
        raise UsageError("the expiry is in the past")
    kp = generate("user")
    nats: dict[str, Any] = {"issuer_account": acc.public_key}
    if tags:
        nats["tags"] = [t.lower() for t in tags]
    nats.update({"type": "user", "version": 2})
    claims: dict[str, Any] = {"iat": int(time.time()), "name": name, "sub": kp.public_key,
                              "nats": nats}
    if expires:
        claims["exp"] = expires
    token = jwtmod.encode(claims, signer)
    path = store.user_path(op, account, name)
    creds = store.creds_path(op, account, name)
    if not dry_run:
        store.save_key(kp)
        store.write_jwt(path, token)
        store.write_text_private(creds, format_creds(token, kp.seed))
    return Change("create", "user", name, kp.public_key, path, dict(jwtmod.decode(token).claims),
                  dry_run, (f"role: {r.role} (its template applies)", f"creds: {creds}"))


# ---- declared roles (Account recipes) ---------------------------------------------------------
TEMPLATE_DEFAULTS: Mapping[str, Any] = {"pub": {}, "sub": {}, "subs": -1, "data": -1,
                                        "payload": -1}


def full_template(template: Mapping[str, Any] | None) -> dict[str, Any]:
    """A template as the account JWT holds it: nsc's defaults (no permissions, limits -1)
    with ``template`` laid over them."""
    return {**TEMPLATE_DEFAULTS, **dict(template or {})}


def short_template(template: Mapping[str, Any]) -> dict[str, Any]:
    """A template without the fields that equal nsc's defaults (for recipes)."""
    return {k: v for k, v in template.items()
            if not (k in TEMPLATE_DEFAULTS and v in (TEMPLATE_DEFAULTS[k], None, {}, []))}


def declared_roles(nats: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """role name -> {"template": (full), "description"?} of an account's ``nats`` object."""
    out: dict[str, dict[str, Any]] = {}
    for sk in nats.get("signing_keys") or []:
        if isinstance(sk, Mapping) and sk.get("kind") == "user_scope":
            entry: dict[str, Any] = {"template": full_template(sk.get("template"))}
            if sk.get("description"):
                entry["description"] = sk["description"]
            out[str(sk.get("role") or sk.get("key"))] = entry
    return out


def sync_roles(store: Store, op: str, account: str, wanted: Mapping[str, Mapping[str, Any]], *,
               dry_run: bool = False) -> list[Edited]:
    """Make the account's roles exactly ``wanted`` (role -> {"template", "description"}):
    add the missing ones (new keys), replace the templates and descriptions that differ (same
    keys), remove the others (their users lose access once pushed). Plain signing keys stay."""
    current = declared_roles(store.account(op, account).nats)
    out = []
    for role in sorted(set(current) - set(wanted)):
        out.append(remove_role(store, op, account, role, dry_run=dry_run))
    for role, spec in sorted(wanted.items()):
        template = full_template(spec.get("template"))
        description = spec.get("description")
        if role not in current:
            out.append(_add_scoped(store, op, account, role, template, description, dry_run))
        elif current[role] != {"template": template,
                               **({"description": description} if description else {})}:
            out.append(_edit_scoped(store, op, account, role, _replacing(template),
                                    description or "", dry_run))
    return out


def _replacing(template: Mapping[str, Any]) -> Callable[[dict[str, Any]], None]:
    def replace(tpl: dict[str, Any]) -> None:
        tpl.clear()
        tpl.update(template)

    return replace
