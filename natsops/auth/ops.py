"""Create and change operators, accounts and users in a :class:`~natsops.auth.store.Store`.

Every function plans first and, unless ``dry_run``, writes. It returns a :class:`Change` with
public data only (names, public keys, the decoded claims): seeds never leave the store, except
into creds files, which are written 0600.

Signing rules: an account is signed by the first operator signing key the store holds a seed
for, else by the operator identity key (refused when the operator is strict); a user likewise
by an account signing key (with ``issuer_account``), else by the account identity key. Every
re-signed JWT gets ``iat = max(now, previous iat + 1)``.
"""

from __future__ import annotations

import copy
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from natsops.auth import jwt as jwtmod
from natsops.auth.claims import (
    NO_LIMITS,
    NO_PERMISSIONS,
    AccountLimits,
    Permissions,
    account_claims,
    activation_claims,
    apply_limits,
    apply_permissions,
    operator_claims,
    sys_exports,
    user_claims,
)
from natsops.auth.creds import format_creds
from natsops.auth.nkey import KeyPair, generate, is_public_key
from natsops.auth.store import Entity, Store, valid_name
from natsops.context import write_private
from natsops.errors import Conflict, NotFound, UsageError
from natsops.validate import subject

__all__ = [
    "Change",
    "ExportSpec",
    "ImportSpec",
    "account_signer",
    "add_account",
    "add_export",
    "add_import",
    "add_operator",
    "add_user",
    "edit_account",
    "edit_operator",
    "generate_activation",
    "generate_creds",
    "remove_account",
    "remove_export",
    "remove_import",
    "remove_user",
    "revoke_user",
]


@dataclass(frozen=True)
class Change:
    """What a command did (or, with ``dry_run``, would do)."""

    action: str  # create | update | delete | write
    kind: str  # operator | account | user | creds | activation
    name: str
    public_key: str | None = None
    path: Path | None = None
    claims: Mapping[str, Any] = field(default_factory=dict)
    dry_run: bool = False
    notes: tuple[str, ...] = ()


def _now() -> int:
    return int(time.time())


def _claims_of(token: str) -> dict[str, Any]:
    return dict(jwtmod.decode(token).claims)


def _operator_signer(store: Store, op: Entity) -> KeyPair:
    for key in op.signing_keys:
        if store.has_key(key):
            return store.load_key(key, "operator")
    if op.nats.get("strict_signing_key_usage"):
        raise NotFound(f"operator {op.name} is strict and the store holds none of its signing "
                       "key seeds")
    return store.load_key(op.public_key, "operator")


def account_signer(store: Store, acc: Entity, strict: bool) -> tuple[KeyPair, str | None]:
    """(signer, issuer_account): an account signing key when the store holds one."""
    for sk in acc.nats.get("signing_keys") or []:
        if isinstance(sk, Mapping):  # scoped keys need permission-free users; not used here
            continue
        if store.has_key(str(sk)):
            return store.load_key(str(sk), "account"), acc.public_key
    if strict:
        raise NotFound(f"the operator is strict: account {acc.name} needs a signing key "
                       "(natsops auth account edit --add-signing-key)")
    return store.load_key(acc.public_key, "account"), None


def _strict(store: Store, op: str) -> bool:
    return bool(store.operator(op).nats.get("strict_signing_key_usage"))


def _write(store: Store, path: Path, token: str, keys: list[KeyPair], dry_run: bool) -> None:
    if dry_run:
        return
    for kp in keys:
        store.save_key(kp)
    store.write_jwt(path, token)


def _sign_account(store: Store, op: str, claims: dict[str, Any], previous_iat: int | None) -> str:
    claims["iat"] = jwtmod.next_iat(previous_iat)
    return jwtmod.encode(claims, _operator_signer(store, store.operator(op)))


# ---- operator --------------------------------------------------------------------------------
def add_operator(store: Store, name: str, *, sys: bool = True,
                 account_server_url: str | None = None, service_urls: tuple[str, ...] = (),
                 signing_key: bool = False, strict: bool = False,
                 dry_run: bool = False) -> list[Change]:
    """Create an operator (and, with ``sys``, the SYS account and its ``sys`` user)."""
    valid_name(name, "operator")
    if strict and not signing_key:
        raise UsageError("--strict needs --signing-key (accounts must be signed by one)")
    if account_server_url:
        _check_url(account_server_url)
    for u in service_urls:
        _check_url(u)
    if name in store.operators():
        raise Conflict(f"operator '{name}' already exists in {store.root}")
    okp = generate("operator")
    osk = [generate("operator")] if signing_key else []
    sys_kp = generate("account") if sys else None
    claims = operator_claims(name, okp.public_key, _now(), signing_keys=[k.public_key for k in osk],
                             account_server_url=account_server_url, service_urls=service_urls,
                             system_account=sys_kp.public_key if sys_kp else None, strict=strict)
    token = jwtmod.encode(claims, okp)
    _write(store, store.operator_path(name), token, [okp, *osk], dry_run)
    if not dry_run:
        store.write_nsc_marker(name)
    changes = [Change("create", "operator", name, okp.public_key, store.operator_path(name),
                      _claims_of(token), dry_run)]
    if sys_kp is not None:
        changes += _add_sys_account(store, name, token, okp, osk, sys_kp, dry_run)
    return changes


def _check_url(url: str) -> None:
    if "://" not in url or url.split("://", 1)[0] not in ("nats", "tls", "ws", "wss", "http",
                                                          "https"):
        raise UsageError(f"invalid URL {url!r}: give a scheme, e.g. nats://host:4222")


def _add_sys_account(store: Store, op: str, op_token: str, okp: KeyPair, osk: list[KeyPair],
                     sys_kp: KeyPair, dry_run: bool) -> list[Change]:
    ssk = generate("account")
    claims = account_claims("SYS", sys_kp.public_key, _now(), signing_keys=[ssk.public_key])
    claims["nats"]["exports"] = sys_exports()
    token = jwtmod.encode(claims, osk[0] if osk else okp)
    path = store.account_path(op, "SYS")
    _write(store, path, token, [sys_kp, ssk], dry_run)
    ukp = generate("user")
    uclaims = user_claims("sys", ukp.public_key, _now(), issuer_account=sys_kp.public_key)
    utoken = jwtmod.encode(uclaims, ssk)
    upath = store.user_path(op, "SYS", "sys")
    _write(store, upath, utoken, [ukp], dry_run)
    if not dry_run:
        store.write_text_private(store.creds_path(op, "SYS", "sys"), format_creds(utoken, ukp.seed))
    return [Change("create", "account", "SYS", sys_kp.public_key, path, _claims_of(token), dry_run),
            Change("create", "user", "sys", ukp.public_key, upath, _claims_of(utoken), dry_run,
                   (f"creds: {store.creds_path(op, 'SYS', 'sys')}",))]


def edit_operator(store: Store, op: str, *, account_server_url: str | None = None,
                  service_urls: tuple[str, ...] | None = None, add_signing_key: bool = False,
                  strict: bool | None = None, remove_signing_keys: tuple[str, ...] = (),
                  dry_run: bool = False) -> Change:
    """Change the operator JWT. Servers need a restart to see it (no reload, no push).

    ``strict`` sets ``strict_signing_key_usage`` (see :mod:`natsops.auth.operator_rules`).
    """
    from natsops.auth.operator_rules import apply_operator_rules

    ent = store.operator(op)
    claims = copy.deepcopy(dict(ent.token.claims))
    nats = claims["nats"]
    keys: list[KeyPair] = []
    notes = apply_operator_rules(store, op, nats, strict, remove_signing_keys, add_signing_key)
    if account_server_url is not None:
        _check_url(account_server_url)
        nats["account_server_url"] = account_server_url
    if service_urls is not None:
        for u in service_urls:
            _check_url(u)
        nats["operator_service_urls"] = list(service_urls)
    if add_signing_key:
        kp = generate("operator")
        keys.append(kp)
        nats["signing_keys"] = [*(nats.get("signing_keys") or []), kp.public_key]
    claims["iat"] = jwtmod.next_iat(ent.token.iat)
    token = jwtmod.encode(claims, store.load_key(ent.public_key, "operator"))
    _write(store, ent.path, token, keys, dry_run)
    return Change("update", "operator", op, ent.public_key, ent.path, _claims_of(token), dry_run,
                  (*notes,
                   "restart the servers with the new operator JWT (a reload does not apply it)"))


# ---- accounts --------------------------------------------------------------------------------
def add_account(store: Store, op: str, name: str, *, limits: AccountLimits = NO_LIMITS,
                jetstream: bool = False, signing_key: bool = False,
                default_permissions: Permissions = NO_PERMISSIONS,
                dry_run: bool = False) -> Change:
    """Create an account signed by the operator (or its signing key)."""
    valid_name(name, "account")
    if name in store.account_names(op):
        raise Conflict(f"account '{name}' already exists under operator {op}")
    kp = generate("account")
    keys = [kp]
    sk = None
    if signing_key or _strict(store, op):
        sk = generate("account")
        keys.append(sk)
    claims = account_claims(name, kp.public_key, _now(),
                            signing_keys=[sk.public_key] if sk else ())
    apply_limits(claims["nats"], limits, js=jetstream or None)
    apply_permissions(claims["nats"]["default_permissions"], default_permissions)
    token = _sign_account(store, op, claims, None)
    path = store.account_path(op, name)
    _write(store, path, token, keys, dry_run)
    return Change("create", "account", name, kp.public_key, path, _claims_of(token), dry_run)


def _update_account(store: Store, op: str, name: str, mutate: Callable[[dict[str, Any]], None],
                    dry_run: bool, keys: list[KeyPair] | None = None,
                    notes: tuple[str, ...] = ()) -> Change:
    ent = store.account(op, name)
    claims = copy.deepcopy(dict(ent.token.claims))
    mutate(claims["nats"])
    token = _sign_account(store, op, claims, ent.token.iat)
    _write(store, ent.path, token, keys or [], dry_run)
    return Change("update", "account", name, ent.public_key, ent.path, _claims_of(token), dry_run,
                  (*notes, "push it: natsops auth push --account " + name))


def edit_account(store: Store, op: str, name: str, *, limits: AccountLimits = NO_LIMITS,
                 jetstream: bool | None = None, allow: Permissions = NO_PERMISSIONS,
                 remove: Permissions = NO_PERMISSIONS, add_signing_key: bool = False,
                 also: Callable[[dict[str, Any]], None] | None = None,
                 dry_run: bool = False) -> Change:
    """Change limits, JetStream, default permissions or signing keys of an account.

    ``also`` changes the ``nats`` object further, last (see :mod:`natsops.auth.edit`).
    """
    keys: list[KeyPair] = []
    if add_signing_key:
        keys.append(generate("account"))

    def mutate(nats: dict[str, Any]) -> None:
        apply_limits(nats, limits, js=jetstream)
        dp = nats.setdefault("default_permissions", {"pub": {}, "sub": {}})
        apply_permissions(dp, allow)
        apply_permissions(dp, remove, remove=True)
        if keys:
            nats["signing_keys"] = [*(nats.get("signing_keys") or []), keys[0].public_key]
        if also is not None:
            also(nats)

    return _update_account(store, op, name, mutate, dry_run, keys)


def remove_account(store: Store, op: str, name: str, *, dry_run: bool = False) -> Change:
    """Delete an account, its users and creds from the store (servers keep their copy)."""
    ent = store.account(op, name)
    if ent.public_key == store.operator(op).nats.get("system_account"):
        raise UsageError("the system account cannot be removed")
    if not dry_run:
        shutil.rmtree(ent.path.parent)
        shutil.rmtree(store.root / "keys" / "creds" / op / name, ignore_errors=True)
    return Change("delete", "account", name, ent.public_key, ent.path, dry_run=dry_run,
                  notes=("servers keep the account until it is deleted from their resolver",))


# ---- exports / imports -----------------------------------------------------------------------
@dataclass(frozen=True)
class ExportSpec:
    subject: str
    kind: str = "service"  # service | stream
    name: str | None = None
    private: bool = False  # importers need an activation token
    response_type: str | None = None  # Singleton | Stream | Chunked (services)

    def __post_init__(self) -> None:
        subject(self.subject, "the exported subject")


@dataclass(frozen=True)
class ImportSpec:
    subject: str
    from_account: str  # account name in the store, or an A… public key
    kind: str = "service"
    local_subject: str | None = None
    name: str | None = None
    token: str | None = None  # activation JWT for private exports

    def __post_init__(self) -> None:
        subject(self.subject, "the imported subject")
        if self.local_subject:
            subject(self.local_subject, "--local-subject")


def _check_kind(kind: str) -> None:
    if kind not in ("service", "stream"):
        raise UsageError(f"export/import type must be service or stream, not {kind!r}")


def add_export(store: Store, op: str, account: str, spec: ExportSpec, *,
               dry_run: bool = False) -> Change:
    """Export a service or stream subject from an account (public, or private with tokens)."""
    _check_kind(spec.kind)
    if spec.response_type not in (None, "Singleton", "Stream", "Chunked"):
        raise UsageError("--response-type must be Singleton, Stream or Chunked")

    def mutate(nats: dict[str, Any]) -> None:
        exports = list(nats.get("exports") or [])
        if any(e.get("subject") == spec.subject for e in exports):
            raise Conflict(f"account {account} already exports {spec.subject}")
        e: dict[str, Any] = {"name": spec.name or spec.subject, "subject": spec.subject,
                             "type": spec.kind}
        if spec.private:
            e["token_req"] = True
        if spec.response_type:
            e["response_type"] = spec.response_type
        exports.append(e)
        nats["exports"] = exports

    return _update_account(store, op, account, mutate, dry_run)


def _drop(nats: dict[str, Any], key: str, match: Callable[[Mapping[str, Any]], bool],
          missing: str) -> None:
    """Remove the matching entries of ``nats[key]``; NotFound when none matched."""
    before = list(nats.get(key) or [])
    kept = [item for item in before if not match(item)]
    if len(kept) == len(before):
        raise NotFound(missing)
    if kept:
        nats[key] = kept
    else:
        nats.pop(key, None)


def remove_export(store: Store, op: str, account: str, subject: str, *,
                  dry_run: bool = False) -> Change:
    """Stop exporting ``subject``."""

    def mutate(nats: dict[str, Any]) -> None:
        _drop(nats, "exports", lambda e: e.get("subject") == subject,
              f"account {account} does not export {subject}")

    return _update_account(store, op, account, mutate, dry_run)


def _account_key(store: Store, op: str, ref: str) -> str:
    if is_public_key(ref, "account"):
        return ref
    return store.account(op, ref).public_key


def add_import(store: Store, op: str, account: str, spec: ImportSpec, *,
               dry_run: bool = False) -> Change:
    """Import a service or stream another account exports."""
    _check_kind(spec.kind)
    src = _account_key(store, op, spec.from_account)
    if src == store.account(op, account).public_key:
        raise UsageError("an account cannot import from itself")
    if spec.token:
        act = jwtmod.decode(spec.token, kind="activation")
        if act.subject != store.account(op, account).public_key:
            raise UsageError(f"the activation token was issued for another account "
                             f"({act.subject[:8]}…)")

    def mutate(nats: dict[str, Any]) -> None:
        imports = list(nats.get("imports") or [])
        local = spec.local_subject or spec.subject
        if any((i.get("local_subject") or i.get("subject")) == local for i in imports):
            raise Conflict(f"account {account} already imports onto {local}")
        i: dict[str, Any] = {"name": spec.name or spec.subject, "subject": spec.subject,
                             "account": src, "type": spec.kind}
        if spec.local_subject:
            i["local_subject"] = spec.local_subject
        if spec.token:
            i["token"] = spec.token
        imports.append(i)
        nats["imports"] = imports

    return _update_account(store, op, account, mutate, dry_run)


def remove_import(store: Store, op: str, account: str, subject: str, *,
                  dry_run: bool = False) -> Change:
    """Remove the import whose (local) subject is ``subject``."""

    def mutate(nats: dict[str, Any]) -> None:
        _drop(nats, "imports", lambda i: subject in (i.get("subject"), i.get("local_subject")),
              f"account {account} has no import of {subject}")

    return _update_account(store, op, account, mutate, dry_run)


def generate_activation(store: Store, op: str, account: str, subject: str,
                        target_account: str, *, expires: int | None = None) -> str:
    """An activation JWT allowing ``target_account`` to import a private export."""
    ent = store.account(op, account)
    exports = [e for e in ent.nats.get("exports") or [] if e.get("subject") == subject]
    if not exports:
        raise NotFound(f"account {account} does not export {subject}")
    signer, issuer_account = account_signer(store, ent, _strict(store, op))
    claims = activation_claims(subject, str(exports[0].get("type", "service")),
                               _account_key(store, op, target_account), _now(),
                               issuer_account=issuer_account, expires=expires)
    return jwtmod.encode(claims, signer)


# ---- users -----------------------------------------------------------------------------------
def add_user(store: Store, op: str, account: str, name: str, *,
             permissions: Permissions = NO_PERMISSIONS, bearer: bool = False,
             expires: int | None = None, dry_run: bool = False) -> Change:
    """Create a user of ``account`` and write its creds file (0600)."""
    valid_name(name, "user")
    acc = store.account(op, account)
    if name in store.user_names(op, account):
        raise Conflict(f"user '{name}' already exists in account {account}")
    if bearer and acc.nats.get("limits", {}).get("disallow_bearer"):
        raise UsageError(f"account {account} disallows bearer tokens")
    if expires is not None and expires <= _now():
        raise UsageError("the expiry is in the past")
    signer, issuer_account = account_signer(store, acc, _strict(store, op))
    kp = generate("user")
    claims = user_claims(name, kp.public_key, _now(), issuer_account=issuer_account,
                         permissions=permissions, bearer=bearer, expires=expires)
    token = jwtmod.encode(claims, signer)
    path = store.user_path(op, account, name)
    creds = store.creds_path(op, account, name)
    _write(store, path, token, [kp], dry_run)
    if not dry_run:
        store.write_text_private(creds, format_creds(token, kp.seed))
    return Change("create", "user", name, kp.public_key, path, _claims_of(token), dry_run,
                  (f"creds: {creds}",))


def revoke_user(store: Store, op: str, account: str, name: str, *,
                dry_run: bool = False) -> Change:
    """Revoke a user in its account JWT (takes effect when the account is pushed)."""
    user = store.user(op, account, name)

    def mutate(nats: dict[str, Any]) -> None:
        revs = dict(nats.get("revocations") or {})
        # the server revokes a user JWT whose iat <= the recorded time
        revs[user.public_key] = max(_now(), user.token.iat)
        nats["revocations"] = revs

    return _update_account(store, op, account, mutate, dry_run,
                           notes=(f"user {name} ({user.public_key}) revoked",))


def remove_user(store: Store, op: str, account: str, name: str, *,
                dry_run: bool = False) -> Change:
    """Delete a user and its creds from the store (revoke it first to lock it out)."""
    user = store.user(op, account, name)
    if not dry_run:
        user.path.unlink()
        store.creds_path(op, account, name).unlink(missing_ok=True)
        store.key_path(user.public_key).unlink(missing_ok=True)
    return Change("delete", "user", name, user.public_key, user.path, dry_run=dry_run)


def creds_text(store: Store, op: str, account: str, name: str) -> str:
    """The user's creds file content: JWT and seed (a secret: never log it)."""
    user = store.user(op, account, name)
    kp = store.load_key(user.public_key, "user")
    return format_creds(user.token.token, kp.seed)


def check_creds_output(output: Path) -> None:
    """UsageError unless ``output`` can be a creds file: not a folder, in a folder that exists
    (a typo in a path must not silently create folders)."""
    if output.is_dir():
        raise UsageError(f"{output} is a directory", hint="give the creds file's name")
    parent = output.parent
    if not parent.is_dir():
        raise UsageError(f"cannot write {output}: directory {parent} does not exist",
                         hint=f"create it first (mkdir -p {parent}) or choose another -o path")


def generate_creds(store: Store, op: str, account: str, name: str,
                   output: Path | None = None, *, dry_run: bool = False) -> Change:
    """Write the user's creds file (0600) to ``output`` or its place in the store; with
    ``dry_run`` check everything and write nothing."""
    user = store.user(op, account, name)
    text = creds_text(store, op, account, name)
    path = output or store.creds_path(op, account, name)
    if output is not None:
        check_creds_output(output)
    if dry_run:
        return Change("write", "creds", name, user.public_key, path, dry_run=True)
    if output is not None:
        write_private(output, text)
    else:
        store.write_text_private(path, text)
    return Change("write", "creds", name, user.public_key, path)
