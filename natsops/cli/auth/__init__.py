"""``natsops auth``: operators, accounts, users, creds, push and verify (the nsc workflow).

One module per sub-group, wired here; library imports stay inside the command bodies.
"""

import typer

from natsops.cli import options
from natsops.cli.auth import (
    account,
    creds,
    exports,
    keys,
    lifecycle,
    mapping,
    operator,
    push,
    revocations,
    rotate,
    signing,
    store,
    user,
    useredit,
)
from natsops.cli.auth._common import OPERATOR_KEY, STORE_KEY

EPILOG = """\b
Examples (the nsc recipe):
  natsops auth operator add DEMO --sys --account-jwt-server-url nats://a:4222
  natsops auth account add APP --js-enable
  natsops auth user add service --account APP
  natsops auth creds generate --account APP --name service -o service.creds
  natsops auth render-config > operator.conf  # include it in the config
  natsops auth push --all
  natsops auth verify

\b
Day two:
  natsops auth expirations --within 30d   # exit 6 when one expires (CI)
  natsops auth describe jwt service.creds  # claims, chain check; no seed
  natsops auth user edit service -a APP --allow-pubsub 'billing.>' --dry-run
  natsops auth account edit APP --js-disable --js-tier R3 --js-disk 10GB
  natsops auth account signing-key add APP --role reader --allow-sub 'feed.>'
  natsops auth user add alice --account APP --role reader
  natsops auth operator edit --require-signing-keys --resign --dry-run
  natsops auth keys prune --dry-run              # orphan seeds to <store>/keys/retired
"""

app = typer.Typer(
    help="Operators, accounts, users, creds; push and verify account JWTs.",
    no_args_is_help=True,
    epilog=EPILOG,
)
# the root commands come first in `natsops auth --help`, in this order
_ROOT = {c.name: c for c in (*store.app.registered_commands, *push.app.registered_commands,
                              *lifecycle.app.registered_commands)}
app.registered_commands += [_ROOT[name] for name in ("ls", "describe", "render-config", "push",
                                                     "verify", "pull", "backup", "restore",
                                                     "expirations")]
app.add_typer(operator.app, name="operator")
app.add_typer(account.app, name="account")
account.app.add_typer(exports.export_app, name="export")
account.app.add_typer(exports.import_app, name="import")
account.app.add_typer(mapping.app, name="mapping")
account.app.add_typer(signing.app, name="signing-key")
user.app.registered_commands += useredit.app.registered_commands
app.add_typer(user.app, name="user")
app.add_typer(creds.app, name="creds")
app.add_typer(revocations.app, name="revocations")
app.add_typer(keys.app, name="keys")
account.app.registered_commands += rotate.app.registered_commands


@app.callback()
def auth(
    ctx: typer.Context,
    store_root: options.AuthStore = None,
    operator_name: options.AuthOperator = None,
) -> None:
    """Operators, accounts, users, creds; push and verify account JWTs."""
    ctx.meta[STORE_KEY] = store_root
    ctx.meta[OPERATOR_KEY] = operator_name
