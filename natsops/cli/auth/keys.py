"""``natsops auth keys``: the seeds the key store holds (public keys and paths only)."""

import typer

from natsops.cli.auth import _common
from natsops.cli.options import Json
from natsops.cli.state import want_json

app = typer.Typer(help="The key store: which seeds exist and where (never the seeds).",
                  no_args_is_help=True)


@app.command("ls")
def keys_ls(ctx: typer.Context, json_out: Json = False) -> None:
    """List every key the store's JWTs name and every seed file: owner, seed yes/no, path.

    Seeds are never printed; a seed file that does not match its name or that others can read
    is flagged.
    """
    from natsops.auth.keys import list_keys
    from natsops.cli import output

    store = _common.store(ctx)
    keys = list_keys(store)
    if want_json(ctx, json_out):
        output.print_json({"store": store.root, "keys": keys})
        return
    output.table(f"keys in {store.root / 'keys' / 'keys'}",
                 ["public key", "owner", "seed", output.Col("path / problem", wrap=True)],
                 [(k.public_key, k.owner, "yes" if k.seed else "no",
                   k.problem or (str(k.path) if k.path else "-")) for k in keys])
