"""``natsops auth push --prune``: the plan, the question, the deletion (helpers of push)."""

from typing import TYPE_CHECKING

from natsops.cli import output

if TYPE_CHECKING:
    from natsops.auth.prune import Doomed
    from natsops.auth.store import Store
    from natsops.auth.sysuser import SysAccess


def ask(store: "Store", op: str, access: "SysAccess", timeout: float, yes: bool,
        dry_run: bool) -> "list[Doomed]":
    """Print what a prune deletes (stderr) and ask, before anything is pushed or deleted."""
    from natsops.auth.prune import plan_prune
    from natsops.cli._run import run
    from natsops.cli.prompt import confirm

    doomed = run(plan_prune(store, op, access, timeout=timeout))
    verb = "would delete" if dry_run else "will delete"
    for d in doomed:
        output.info(f"prune {verb} account {d.name or '(unnamed)'} {d.public_key} from "
                    f"{', '.join(d.servers)}")
    if not doomed:
        output.info("prune: the servers hold no account the store lacks")
    elif not dry_run:
        confirm(f"delete {len(doomed)} account(s) the store no longer has from the servers? "
                "Their clients are disconnected", force=yes, flag="--yes")
    return doomed


def delete(store: "Store", op: str, access: "SysAccess", doomed: "list[Doomed]",
           timeout: float, dry_run: bool) -> list[dict[str, object]]:
    """Delete the planned accounts (unless a dry run); the JSON rows of ``pruned``."""
    from natsops.auth.prune import prune
    from natsops.cli._run import run

    status = "would delete"
    if doomed and not dry_run:
        replies = run(prune(store, op, access, [d.public_key for d in doomed], timeout=timeout))
        status = "deleted"
        output.success(f"pruned {len(doomed)} account(s) from {len(replies)} server(s)")
    return [{"account": d.name, "public_key": d.public_key, "servers": d.servers,
             "status": status} for d in doomed]
