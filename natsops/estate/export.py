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

__all__ = ["ExportFile", "check_selection", "export_estate", "export_live", "write_export"]

_BUCKETS = (("KeyValue", "KV_"), ("ObjectStore", "OBJ_"))


@dataclass(frozen=True)
class ExportFile:
    """One recipe file: a stream with its durable consumers, or one bucket."""

    name: str
    documents: tuple[dict[str, Any], ...]


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


async def _accounts(ctx: EstateContext, accounts: Sequence[str]) -> list[ExportFile]:
    """One file per account of the auth store, as the servers hold it (roles included)."""
    if not accounts:
        return []
    h = handler("Account")
    lives = await h.fetch_live(ctx, set(accounts))
    missing = [a for a in accounts if a not in lives]
    if missing:
        raise NotFound(f"no account {', '.join(missing)} on the servers (or in the store)",
                       hint="natsops auth ls; natsops auth push --account NAME")
    return [ExportFile(f"account-{a}.yaml", (h.export(lives[a]),)) for a in sorted(set(accounts))]


async def export_estate(ctx: EstateContext, names: Sequence[str] = (), *,
                        everything: bool = False,
                        accounts: Sequence[str] = ()) -> list[ExportFile]:
    """Recipe documents for the streams/buckets ``names`` (or all with ``everything``) and
    the ``accounts`` of the auth store (``ctx.auth``).

    A stream's file holds its durable consumers too; ephemeral consumers are left out.
    """
    check_selection(names, everything, accounts)
    if not (names or everything):
        return await _accounts(ctx, accounts)
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
    return files + await _accounts(ctx, accounts)


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
                      auth: AuthStore | None = None) -> list[ExportFile]:
    """:func:`export_estate` over a connection (what ``natsops export`` runs)."""
    return await export_estate(EstateContext(conn, auth=auth or AuthStore()), names,
                               everything=everything, accounts=accounts)
