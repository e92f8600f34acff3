"""``natsops auth account rotate-signing-key``: replace an account signing key, users kept."""

from typing import TYPE_CHECKING, Annotated

import typer

from natsops.cli.auth import _common
from natsops.cli.auth._common import SysCreds, Wait
from natsops.cli.options import DryRun, Force, Json
from natsops.cli.state import want_json

if TYPE_CHECKING:
    from natsops.auth.rotate import RotationReport

app = typer.Typer()  # commands of `natsops auth account` (see __init__)


@app.command("rotate-signing-key")
def rotate_signing_key(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Account name")],
    key: Annotated[str | None, typer.Option(
        "--key", help="The signing key to replace [default: the account's only one]")] = None,
    no_push: Annotated[bool, typer.Option(
        "--no-push", help="Only change the store (push later: old creds stop working then)")
    ] = False,
    sys_creds: SysCreds = None,
    wait: Wait = "2s",
    force: Force = False,
    dry_run: DryRun = False,
    json_out: Json = False,
) -> None:
    """Add a new signing key, re-issue the users (same user keys) and activation tokens the old
    one signed, push, remove the old key, push again.

    Creds files in the store are rewritten; copies deployed elsewhere must be replaced with
    them, since creds signed by the old key stop working at the second push. The old key's
    seed then moves to <store>/keys/retired/.
    """
    from natsops.auth.rotate import plan_rotation
    from natsops.auth.rotate import rotate_signing_key as rotate
    from natsops.cli._run import run
    from natsops.cli.prompt import confirm
    from natsops.units import parse_duration

    store, op = _common.target(ctx)
    plan = plan_rotation(store, op, name, key)
    if not dry_run:
        confirm(f"rotate {plan.old_key} of {name} and re-issue {len(plan.users)} user(s)? "
                "Creds signed by the old key stop working", force=force)
    access = None if no_push else _common.sys_settings(ctx, sys_creds)
    report = run(rotate(store, op, name, access, old=key, dry_run=dry_run,
                        timeout=parse_duration(wait, what="--wait")))
    _print(ctx, report, json_out)


def _print(ctx: typer.Context, report: "RotationReport", json_out: bool) -> None:
    from natsops.cli import output

    if want_json(ctx, json_out):
        output.print_json(report)
        return
    p = report.plan
    if report.dry_run:
        output.info(f"would rotate {p.old_key} of {p.account}"
                    + (f" (role {p.role})" if p.role else ""))
        output.info(f"would re-issue users: {', '.join(p.users) or 'none'}")
        output.info("would re-issue activation tokens imported by: "
                    + (", ".join(sorted({a for a, _ in p.activations})) or "none"))
        output.info("would then move the old key's seed to the store's keys/retired/ folder")
    for step in report.steps:
        output.success(step)
    if p.revoked:
        output.info(f"revoked users left as they are (their JWT stops working with the old "
                    f"key): {', '.join(p.revoked)}")

