"""Export: the live estate as recipe files, server defaults and metadata stripped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from natsops.errors import NotFound, UsageError
from natsops.estate.context import AuthStore, EstateContext
from natsops.estate.kinds import handler
from natsops.estate.model import Live

if TYPE_CHECKING:
    from natsops.connection import Conn

__all__ = ["ExportFile", "Exported", "check_selection", "export_estate", "export_live",
           "write_export"]

_BUCKETS = (("KeyValue", "KV_"), ("ObjectStore", "OBJ_"))


@dataclass(frozen=True)
class ExportFile:
    """One recipe file: a stream with its durable consumers, or one bucket."""

    name: str
    documents: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Exported:
    """What export found: the recipe files, and why accounts and users were left out of an
    ``--all`` export (None: they were exported, or not asked for)."""

    files: tuple[ExportFile, ...]
    skipped_auth: str | None = None


def _pick(names: Sequence[str], lives: dict[str, dict[str, Live]]) -> dict[str, set[str]]:
    chosen: dict[str, set[str]] = {k: set() for k in lives}
    missing = []
    for n in names:
        if n in lives["Stream"]:
            chosen["Stream"].add(n)
            continue
        for kind, prefix in _BUCKETS:
            bucket = n[len(prefix):] if n.startswith(prefix) else n
            if bucket in lives[kind]:
                chosen[kind].add(bucket)
                break
        else:
            missing.append(n)
    if missing:
        raise NotFound(f"no stream, KV bucket or object store named {', '.join(missing)}")
    return chosen


def check_selection(names: Sequence[str], everything: bool,
                    accounts: Sequence[str] = (), out: Path | None = None) -> None:
    """Names or ``--all`` (not both), or only accounts, and a usable ``out`` folder (checked
    before connecting)."""
    if names and everything:
        raise UsageError("give stream or bucket names, or --all (not both)")
    if not (names or everything or accounts):
        raise UsageError("give stream or bucket names, or --all (or --account NAME)")
    if out is not None:
        from natsops.files import check_output_dir

        check_output_dir(out)


async def _accounts(ctx: EstateContext, accounts: Sequence[str] | None) -> list[ExportFile]:
    """One file per account of the auth store as the servers hold it (roles included), with
    its users from the store (revoked and expired ones left out). ``accounts`` None: every
    account the servers hold but the system account."""
    import time

    if accounts is not None and not accounts:
        return []
    h, uh = handler("Account"), handler("User")
    lives = await h.fetch_live(ctx, None if accounts is None else set(accounts))
    if accounts is None:
        from natsops.estate.kinds.account import auth_store

        ops = {lv.detail["operator"] for lv in lives.values()}
        sys_names = {auth_store(ctx).system_account(op).name for op in ops}
        accounts = [a for a in lives if a not in sys_names]
    missing = [a for a in accounts if a not in lives]
    if missing:
        raise NotFound(f"no account {', '.join(missing)} on the servers (or in the store)",
                       hint="natsops auth ls; natsops auth push --account NAME")
    users = await uh.fetch_live(ctx, None)
    now = int(time.time())
    files = []
    for a in sorted(set(accounts)):
        docs = [h.export(lives[a])] + [
            uh.export(u) for key, u in sorted(users.items()) if u.detail["account"] == a
            and not u.detail["revoked"] and not 0 < (u.detail["expires"] or 0) <= now]
        files.append(ExportFile(f"account-{a}.yaml", tuple(docs)))
    return files


async def _servers_operator(ctx: EstateContext) -> str | None:
    """The operator of the auth store (ctx.auth) whose account the connection's user is in,
    or None; ``UsageError`` naming the reason when it cannot be told (for the caller's note)."""
    import json

    from natsops.auth.store import Store, default_store_root

    store = Store(ctx.auth.root or default_store_root())
    if not store.operators():
        raise UsageError(f"no auth store given (--store, --operator) and no operator in "
                         f"{store.root}")
    try:
        msg = await ctx.conn.nc.request("$SYS.REQ.USER.INFO", b"",
                                        timeout=min(2.0, ctx.conn.settings.timeout))
        data = json.loads(msg.data).get("data") or {}
    except Exception as exc:  # no permission, no answer, not JSON: the reason is the note
        raise UsageError("cannot tell which operator the servers run ($SYS.REQ.USER.INFO: "
                         f"{type(exc).__name__}); pass --store and --operator") from None
    key = str(data.get("account") or "")
    if not (key.startswith("A") and len(key) == 56):
        raise UsageError("the servers do not run in operator mode (their accounts are in "
                         "config files, not in an auth store)")
    for op in store.operators():
        if any(a.public_key == key for a in store.accounts(op)):
            return op
    raise UsageError(f"the servers' operator is not in the auth store {store.root}; pass "
                     "--store and --operator")


async def _auth_all(ctx: EstateContext) -> tuple[EstateContext, str | None]:
    """For ``--all``: the context whose auth store exports accounts and users, or the reason
    they cannot be (``--store``/``--operator`` given: that store; else the default store when
    it holds the operator the servers run)."""
    from dataclasses import replace

    if ctx.auth.root is not None or ctx.auth.operator is not None:
        return ctx, None
    try:
        op = await _servers_operator(ctx)
    except UsageError as exc:
        return ctx, f"accounts and users not exported: {exc.message}"
    return replace(ctx, auth=AuthStore(ctx.auth.root, op)), None


async def export_estate(ctx: EstateContext, names: Sequence[str] = (), *,
                        everything: bool = False,
                        accounts: Sequence[str] = ()) -> Exported:
    """Recipe documents for the streams/buckets ``names`` (or all with ``everything``) and
    the ``accounts`` of the auth store (``ctx.auth``), each with its users.

    A stream's file holds its durable consumers too; ephemeral consumers are left out.
    ``everything`` also exports every account but the system account, with its users, when
    the auth store is given or holds the operator the servers run; otherwise
    ``Exported.skipped_auth`` says why not.
    """
    check_selection(names, everything, accounts)
    if not (names or everything):
        return Exported(tuple(await _accounts(ctx, accounts)))
    kinds = ("Stream", "Consumer", "KeyValue", "ObjectStore")
    lives = {k: await handler(k).fetch_live(ctx, None) for k in kinds}
    chosen = ({k: set(v) for k, v in lives.items()} if everything else _pick(names, lives))
    files: list[ExportFile] = []
    st, cons = handler("Stream"), handler("Consumer")
    for name in sorted(chosen["Stream"]):
        docs = [st.export(lives["Stream"][name])]
        docs += [cons.export(lv) for key, lv in sorted(lives["Consumer"].items())
                 if key.startswith(f"{name}/") and lv.config.get("durable_name")]
        files.append(ExportFile(f"stream-{name}.yaml", tuple(docs)))
    for kind, _ in _BUCKETS:
        h = handler(kind)
        files.extend(ExportFile(f"{kind.lower()}-{b}.yaml", (h.export(lives[kind][b]),))
                     for b in sorted(chosen[kind]))
    skipped = None
    if everything and not accounts:
        ctx, skipped = await _auth_all(ctx)
        if skipped is None:
            return Exported(tuple(files + await _accounts(ctx, None)))
    return Exported(tuple(files + await _accounts(ctx, accounts)), skipped)


def write_export(files: Sequence[ExportFile], out: Path, *, dry_run: bool = False) -> list[Path]:
    """Write each file under ``out`` (created if needed), atomically; return the paths (with
    ``dry_run``: the paths it would write, and nothing is written)."""
    import yaml

    from natsops.files import check_output_dir, write_atomic

    folder = check_output_dir(out)
    if dry_run:
        return [folder / f.name for f in files]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for f in files:
        text = "---\n".join(yaml.safe_dump(d, sort_keys=False) for d in f.documents)
        path = folder / f.name
        write_atomic(path, "# exported by `natsops export`; `natsops plan` on it shows no "
                     "change\n" + text)
        paths.append(path)
    return paths


async def export_live(conn: Conn, names: Sequence[str] = (), *, everything: bool = False,
                      accounts: Sequence[str] = (),
                      auth: AuthStore | None = None) -> Exported:
    """:func:`export_estate` over a connection (what ``natsops export`` runs)."""
    return await export_estate(EstateContext(conn, auth=auth or AuthStore()), names,
                               everything=everything, accounts=accounts)
