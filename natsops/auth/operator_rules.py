"""Operator signing-key rules: ``strict_signing_key_usage`` and removing operator signing keys.

With strict usage the server accepts accounts signed only by an operator *signing* key, and
users signed only by an account signing key (with ``issuer_account``). Turning it on is refused
without an operator signing key; the notes name every account and user that the stricter
servers would refuse until it is re-signed. Removing an operator signing key likewise names the
accounts it signed (re-sign them: ``natsops auth account edit NAME`` signs with a current key).
"""

from __future__ import annotations

from typing import Any

from natsops.auth.store import Store
from natsops.errors import NotFound, UsageError

__all__ = ["apply_operator_rules"]


def apply_operator_rules(store: Store, op: str, nats: dict[str, Any], strict: bool | None,
                         remove: tuple[str, ...], adding_key: bool) -> list[str]:
    """Change ``nats`` (the operator's) in place; returns notes for the user."""
    notes: list[str] = []
    keys = [str(k) for k in nats.get("signing_keys") or []]
    for key in remove:
        if key not in keys:
            raise NotFound(f"{key} is not a signing key of operator {op}")
        keys.remove(key)
        signed = [a.name for a in store.accounts(op) if a.token.issuer == key]
        if signed:
            notes.append(f"accounts signed by {key} must be re-signed and pushed: "
                         f"{', '.join(signed)} (natsops auth account edit NAME)")
    if remove:
        if keys:
            nats["signing_keys"] = keys
        else:
            nats.pop("signing_keys", None)
    if strict is True:
        if not keys and not adding_key:
            raise UsageError("--require-signing-keys needs an operator signing key",
                             hint="add one in the same command: --add-signing-key")
        nats["strict_signing_key_usage"] = True
        notes += _strict_notes(store, op, nats)
    elif strict is False:
        nats.pop("strict_signing_key_usage", None)
    return notes


def _strict_notes(store: Store, op: str, nats: dict[str, Any]) -> list[str]:
    """What a strict operator would refuse in this store."""
    out = []
    identity = store.operator(op).public_key
    for acc in store.accounts(op):
        if acc.token.issuer == identity:
            out.append(f"account {acc.name} is signed by the operator identity key: re-sign it "
                       f"(natsops auth account edit {acc.name}) and push it")
        direct = [u.name for u in store.users(op, acc.name) if u.token.issuer == acc.public_key]
        if direct:
            out.append(f"users of {acc.name} signed by its identity key will be refused: "
                       f"{', '.join(direct)} (give the account a signing key and re-issue them)")
    return out
