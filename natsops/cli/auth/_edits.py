"""Options and output shared by the ``auth`` edit commands (user edit, roles, mappings)."""

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from natsops.cli.state import want_json

if TYPE_CHECKING:
    from natsops.auth.edit import Edited, UserEdit

Many = list[str] | None


def inject(options: Callable[..., None], param: str,
           build: Callable[..., Any]) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Put the parameters of ``options`` where a command has ``param``; the command gets
    ``param=build(**those options)``."""
    opts = list(inspect.signature(options).parameters.values())

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        sig = inspect.signature(command)
        params = [q for p in sig.parameters.values()
                  for q in ([o.replace(kind=p.kind) for o in opts] if p.name == param else [p])]

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> None:
            value = build(**{o.name: kwargs.pop(o.name) for o in opts})
            command(**{param: value}, **kwargs)

        wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        return wrapper

    return decorate


def permission_options(
    allow_pub: Annotated[Many, typer.Option("--allow-pub", help="Allow publish (repeatable)")] = None,
    allow_sub: Annotated[Many, typer.Option("--allow-sub", help="Allow subscribe")] = None,
    deny_pub: Annotated[Many, typer.Option("--deny-pub", help="Deny publish")] = None,
    deny_sub: Annotated[Many, typer.Option("--deny-sub", help="Deny subscribe")] = None,
    allow_pubsub: Annotated[Many, typer.Option("--allow-pubsub",
                                               help="Allow publish and subscribe")] = None,
    deny_pubsub: Annotated[Many, typer.Option("--deny-pubsub",
                                              help="Deny publish and subscribe")] = None,
    rm: Annotated[Many, typer.Option("--rm", help="Remove a subject from every permission "
                                                  "list")] = None,
    response_max: Annotated[int | None, typer.Option(
        "--allow-pub-response", help="May publish N replies per request received")] = None,
    response_ttl: Annotated[str | None, typer.Option(
        "--response-ttl", help="How long the reply permission lasts, e.g. 5s")] = None,
    rm_response: Annotated[bool, typer.Option("--rm-response-perms",
                                              help="Drop the reply permission")] = False,
    src: Annotated[Many, typer.Option("--source-network",
                                      help="Allow connections only from this CIDR")] = None,
    rm_src: Annotated[Many, typer.Option("--rm-source-network", help="Remove a CIDR")] = None,
    times: Annotated[Many, typer.Option("--time", help="Allowed connect time window, "
                                                       "HH:MM:SS-HH:MM:SS")] = None,
    rm_times: Annotated[Many, typer.Option("--rm-time", help="Remove the window starting "
                                                             "at HH:MM:SS")] = None,
    time_zone: Annotated[str | None, typer.Option(
        "--time-zone", help="IANA zone of the time windows ('' removes it)")] = None,
    conn_types: Annotated[Many, typer.Option(
        "--conn-type", help="Allowed connection type: STANDARD, WEBSOCKET, LEAFNODE, "
                            "LEAFNODE_WS, MQTT, MQTT_WS, IN_PROCESS")] = None,
    rm_conn_types: Annotated[Many, typer.Option("--rm-conn-type",
                                                help="Remove an allowed connection type")] = None,
    subs: Annotated[int | None, typer.Option("--max-subs",
                                             help="Max subscriptions (-1 unlimited)")] = None,
    data: Annotated[str | None, typer.Option("--max-data",
                                             help="Max data in flight, e.g. 10MB (-1)")] = None,
    payload: Annotated[str | None, typer.Option("--max-payload",
                                                help="Max message payload, e.g. 1MB (-1)")] = None,
    bearer: Annotated[bool | None, typer.Option(
        "--bearer/--no-bearer", help="Bearer token: the server skips the nonce signature",
        show_default=False)] = None,
) -> None:
    """Signature only: the permission and limit options of users and role templates."""


def user_options(
    tags: Annotated[Many, typer.Option("--tag", help="Add a tag")] = None,
    rm_tags: Annotated[Many, typer.Option("--rm-tag", help="Remove a tag")] = None,
    expiry: Annotated[str | None, typer.Option(
        "--expiry", help="Valid for, e.g. 30d, from now; 0 removes the expiry")] = None,
    revoke_previous: Annotated[bool, typer.Option(
        "--revoke-previous", help="Revoke the user's older JWTs in its account: once the "
                                  "account is pushed, connections holding one are closed")] = False,
) -> None:
    """Signature only: what only a user (not a role template) has."""


def _size(text: str | None, flag: str) -> int | None:
    from natsops.units import parse_size

    return None if text is None else parse_size(text, what=flag)


def build_user_edit(*, tags: Many = None, rm_tags: Many = None, expiry: str | None = None,
                    revoke_previous: bool = False, **p: Any) -> "UserEdit":
    """A :class:`UserEdit` from the option values (sizes and durations parsed)."""
    import time

    from natsops.auth.claims import Permissions
    from natsops.auth.edit import UserEdit
    from natsops.errors import UsageError
    from natsops.units import parse_duration

    both_allow, both_deny = tuple(p["allow_pubsub"] or ()), tuple(p["deny_pubsub"] or ())
    rm = tuple(p["rm"] or ())
    windows = []
    for w in p["times"] or ():
        start, sep, end = w.partition("-")
        if not sep:
            raise UsageError(f"invalid --time {w!r}: use HH:MM:SS-HH:MM:SS")
        windows.append((start.strip(), end.strip()))
    expires = None
    if expiry is not None:
        expires = 0 if expiry.strip() in ("0", "never") else \
            int(time.time() + parse_duration(expiry, what="--expiry"))
    return UserEdit(
        permissions=Permissions(tuple(p["allow_pub"] or ()) + both_allow,
                                tuple(p["deny_pub"] or ()) + both_deny,
                                tuple(p["allow_sub"] or ()) + both_allow,
                                tuple(p["deny_sub"] or ()) + both_deny),
        remove=Permissions(rm, rm, rm, rm),
        response_max=p["response_max"],
        response_ttl=None if p["response_ttl"] is None
        else parse_duration(p["response_ttl"], what="--response-ttl"),
        remove_response=p["rm_response"], add_src=tuple(p["src"] or ()),
        rm_src=tuple(p["rm_src"] or ()), add_times=tuple(windows),
        rm_times=tuple(p["rm_times"] or ()), time_zone=p["time_zone"],
        add_conn_types=tuple(p["conn_types"] or ()),
        rm_conn_types=tuple(p["rm_conn_types"] or ()), subs=p["subs"],
        data=_size(p["data"], "--max-data"), payload=_size(p["payload"], "--max-payload"),
        add_tags=tuple(tags or ()), rm_tags=tuple(rm_tags or ()), expires=expires,
        bearer=p["bearer"], revoke_previous=revoke_previous)


def _all_user_options(**kwargs: Any) -> None:
    """Signature only: permission options then user options."""


_all_user_options.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [*inspect.signature(permission_options).parameters.values(),
     *inspect.signature(user_options).parameters.values()])

with_user_edit = inject(_all_user_options, "edit", build_user_edit)
with_template = inject(permission_options, "template", build_user_edit)


def _value(v: Any) -> str:
    import json

    return "-" if v is None else json.dumps(v, sort_keys=True)


def emit_edits(ctx: typer.Context, edits: "Sequence[Edited]", as_json: bool) -> None:
    """The changes and their claim diffs: ``{"changes": [...], "diffs": [...]}`` as JSON."""
    from natsops.cli import output

    if want_json(ctx, as_json):
        output.print_json({"changes": [dict(vars(e.change)) for e in edits],
                           "diffs": [{"kind": e.change.kind, "name": e.change.name,
                                      "diff": [dict(vars(d)) for d in e.diff]} for e in edits]})
        return
    from natsops.cli.auth._common import emit_changes

    for e in edits:
        emit_changes(ctx, [e.change], False)
        if not e.diff:
            output.info("  no claim changes")
        for d in e.diff:  # the diff is the result (of a --dry-run above all): stdout
            typer.echo(f"{e.change.kind} {e.change.name}: {d.path}: {_value(d.before)} -> "
                       f"{_value(d.after)}")
