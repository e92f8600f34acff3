"""Settings resolution: flags, then ``NATS_*`` environment, then a natscli context, then defaults.

natscli contexts are read from (and written to) the same files natscli uses:
``$XDG_CONFIG_HOME/nats/context/<name>.json`` (default ``~/.config``), the selected one named in
``nats/context.txt``. ``NATS_CONTEXT`` / ``--context`` may also name a ``.json`` file directly.
natsops' own optional defaults live in ``~/.config/natsops/config.yaml`` (same keys as a context,
plus ``context``), below the context and above the built-in defaults.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from natsops._version import __version__
from natsops.errors import NotFound, UsageError
from natsops.files import mkdir_private, read_text, write_private
from natsops.units import parse_duration

__all__ = [
    "AUTH_FIELDS",
    "CONTEXT_KEYS",
    "DEFAULT_URL",
    "Secret",
    "Settings",
    "config_root",
    "context_settings",
    "list_contexts",
    "load_context",
    "resolve_settings",
    "save_context",
    "selected_context",
    "write_private",  # re-exported from natsops.files (the one atomic writer)
]

DEFAULT_URL = "nats://127.0.0.1:4222"
DEFAULT_TIMEOUT = 5.0

# Every key natscli writes (jsm.go natscontext); written in full on save, optional on read.
CONTEXT_KEYS: tuple[str, ...] = (
    "description", "url", "socks_proxy", "token", "user", "password", "creds", "nkey",
    "cert", "key", "ca", "nsc", "jetstream_domain", "jetstream_api_prefix",
    "jetstream_event_prefix", "inbox_prefix", "user_jwt", "user_seed", "color_scheme",
    "tls_first", "windows_cert_store", "windows_cert_match_by", "windows_cert_match",
    "windows_ca_certs_match",
)  # fmt: skip

_PATH_KEYS = ("creds", "nkey", "cert", "key", "ca")
# natscli writes every field as a string but these
_KEY_TYPES: dict[str, tuple[type, str]] = {
    "tls_first": (bool, "true or false"), "windows_cert_match": (list, "a list"),
    "windows_ca_certs_match": (list, "a list")}
_NAME_RE = re.compile(r"^[^/\\]+$")


@dataclass(frozen=True)
class Secret:
    """A password, token, seed or JWT: never shown by repr/str/logging."""

    _value: str = field(repr=False)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class Settings:
    """How to reach a NATS deployment. Build it with :func:`resolve_settings`."""

    servers: tuple[str, ...] = (DEFAULT_URL,)
    context: str | None = None
    user: str | None = None
    password: Secret | None = None
    token: Secret | None = None
    creds: str | None = None
    nkey: str | None = None
    user_jwt: Secret | None = None
    user_seed: Secret | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_ca: str | None = None
    tls_first: bool = False
    timeout: float = DEFAULT_TIMEOUT
    inbox_prefix: str | None = None
    js_domain: str | None = None
    js_api_prefix: str | None = None
    js_event_prefix: str | None = None
    socks_proxy: str | None = None
    connection_name: str = f"natsops {__version__}"
    # where each non-default value came from: "flag", "env", "context:<name>", "config"
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def url(self) -> str:
        return ",".join(self.servers)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def describe(self) -> dict[str, Any]:
        """A JSON-safe view with secrets masked (for `--json` and debug logs)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Secret):
                v = "***" if v else None
            elif isinstance(v, tuple):
                v = list(v)
            elif isinstance(v, Mapping):
                v = dict(v)
            out[f.name] = v
        return out


def config_root(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME`` if set and non-empty, else ``~/.config``."""
    env = os.environ if env is None else env
    xdg = env.get("XDG_CONFIG_HOME", "")
    if xdg:
        return Path(xdg)
    return _home(env) / ".config"


def _home(env: Mapping[str, str]) -> Path:
    home = env.get("HOME")
    return Path(home) if home else Path.home()


def _expand(value: str, env: Mapping[str, str]) -> str:
    """Expand ``$VAR``/``${VAR}`` and a leading ``~`` like natscli does for path fields."""

    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        return env.get(name, "")

    value = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", sub, value)
    if value == "~" or value.startswith("~/"):
        value = str(_home(env)) + value[1:]
    return value


def _context_dir(env: Mapping[str, str]) -> Path:
    return config_root(env) / "nats" / "context"


def _valid_name(name: str) -> bool:
    return bool(name) and ".." not in name and bool(_NAME_RE.match(name))


def selected_context(env: Mapping[str, str] | None = None) -> str | None:
    """The context natscli has selected (``nats/context.txt``), or None."""
    env = os.environ if env is None else env
    path = config_root(env) / "nats" / "context.txt"
    if not path.exists():
        return None
    name = read_text(path, what="selected-context file").strip()
    return name or None


def list_contexts(env: Mapping[str, str] | None = None) -> list[str]:
    """Names of the saved natscli contexts, sorted."""
    env = os.environ if env is None else env
    d = _context_dir(env)
    if not d.is_dir():
        return []
    names = []
    for p in d.glob("*.json"):
        if p.is_file() and p.stat().st_size > 0 and _valid_name(p.stem):
            names.append(p.stem)
    return sorted(names)


def load_context(name: str, env: Mapping[str, str] | None = None) -> tuple[str, dict[str, Any]]:
    """Load a context by name or by a path to a ``.json`` file; returns (name, fields)."""
    env = os.environ if env is None else env
    if name.endswith(".json") and Path(name).is_file():
        path = Path(name)
        cname = path.stem
    else:
        if not _valid_name(name):
            raise UsageError(f"invalid context name {name!r}")
        path = _context_dir(env) / f"{name}.json"
        cname = name
        if not path.is_file():
            raise NotFound(
                f"context '{name}' not found (looked for {path})",
                hint="list contexts with `nats context ls`, or pass --no-context",
            )
    text = read_text(path, what=f"context '{cname}' in")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"context '{cname}' in {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"context '{cname}' in {path} is not a JSON object")
    for key in CONTEXT_KEYS:
        want, words = _KEY_TYPES.get(key, (str, "a string"))
        if data.get(key) is not None and not isinstance(data[key], want):
            raise UsageError(f"context '{cname}' in {path}: {key} is {data[key]!r}, expected "
                             f"{words}")
    for key in _PATH_KEYS:
        if isinstance(data.get(key), str) and data[key]:
            data[key] = _expand(data[key], env)
    return cname, data


def save_context(
    name: str,
    values: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
    *,
    select: bool = False,
) -> Path:
    """Write a natscli-compatible context file (0600, atomically); returns its path."""
    env = os.environ if env is None else env
    if not _valid_name(name) or name.endswith(".json"):
        raise UsageError(f"invalid context name {name!r}")
    unknown = set(values) - set(CONTEXT_KEYS)
    if unknown:
        raise UsageError(f"unknown context keys: {', '.join(sorted(unknown))}")
    doc: dict[str, Any] = {}
    for key in CONTEXT_KEYS:
        default: Any = False if key == "tls_first" else None if key.endswith("_match") else ""
        if key == "windows_ca_certs_match":
            default = None
        doc[key] = values.get(key, default)
    d = _context_dir(env)
    mkdir_private(d)
    path = d / f"{name}.json"
    write_private(path, json.dumps(doc, indent=2) + "\n")
    if select:
        write_private(config_root(env) / "nats" / "context.txt", name + "\n")
    return path


def _load_natsops_config(env: Mapping[str, str]) -> dict[str, Any]:
    path = config_root(env) / "natsops" / "config.yaml"
    if not path.is_file():
        return {}
    import yaml  # only when the file exists: keeps start-up light

    text = read_text(path, what="natsops config")
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a mapping of settings")
    return data


# Settings field <- (context key, env var, flag key). Order of the tuple is irrelevant.
_MAP: tuple[tuple[str, str, str | None, str | None], ...] = (
    ("servers", "url", "NATS_URL", "server"),
    ("user", "user", "NATS_USER", "user"),
    ("password", "password", "NATS_PASSWORD", "password"),
    ("token", "token", "NATS_TOKEN", "token"),
    ("creds", "creds", "NATS_CREDS", "creds"),
    ("nkey", "nkey", "NATS_NKEY", "nkey"),
    ("user_jwt", "user_jwt", "NATS_JWT", "jwt"),
    ("user_seed", "user_seed", "NATS_SEED", "seed"),
    ("tls_cert", "cert", "NATS_CERT", "tlscert"),
    ("tls_key", "key", "NATS_KEY", "tlskey"),
    ("tls_ca", "ca", "NATS_CA", "tlsca"),
    ("tls_first", "tls_first", None, "tlsfirst"),
    ("timeout", "timeout", "NATS_TIMEOUT", "timeout"),
    ("inbox_prefix", "inbox_prefix", None, "inbox_prefix"),
    ("js_domain", "jetstream_domain", None, "js_domain"),
    ("js_api_prefix", "jetstream_api_prefix", None, "js_api_prefix"),
    ("js_event_prefix", "jetstream_event_prefix", None, "js_event_prefix"),
    ("socks_proxy", "socks_proxy", "NATS_SOCKS_PROXY", None),
    ("connection_name", "connection_name", None, "connection_name"),
)
_SECRETS = {"password", "token", "user_jwt", "user_seed"}


def _given(v: Any) -> bool:
    return v is not None and v != "" and v != [] and v != ()


def resolve_settings(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    no_context: bool = False,
) -> Settings:
    """Resolve settings once: flag > ``NATS_*`` env > natscli context > natsops config > default.

    ``flags`` uses the CLI's names (``server``, ``context``, ``creds``, ``user``, ``password``,
    ``token``, ``nkey``, ``tlscert``, ``tlskey``, ``tlsca``, ``timeout``...). Empty values never
    override (as in natscli). ``env`` defaults to ``os.environ``.
    """
    flags = dict(flags or {})
    env = os.environ if env is None else env
    cfg = _load_natsops_config(env)

    ctx_name: str | None = None
    ctx: dict[str, Any] = {}
    if not no_context and not flags.get("no_context"):
        wanted = flags.get("context") or env.get("NATS_CONTEXT") or cfg.get("context")
        if wanted:
            ctx_name, ctx = load_context(str(wanted), env)
        else:
            sel = selected_context(env)
            if sel:
                ctx_name, ctx = _load_selected(sel, env)

    # natscli: --user without --password (flag/env) is a token.
    flag_user = flags.get("user") or env.get("NATS_USER")
    flag_pass = flags.get("password") or env.get("NATS_PASSWORD")
    # an auth method given by a flag/env replaces the context's whole method (and so on down)
    user_is_token = bool(flag_user) and not flag_pass
    auth_rank = _auth_owner(flags, env, ctx, cfg)

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for fname, ckey, envvar, flagkey in _MAP:
        layers: list[tuple[str, Any]] = [
            ("flag", flags.get(flagkey) if flagkey else None),
            ("env", env.get(envvar) if envvar else None),
            (f"context:{ctx_name}", ctx.get(ckey)),
            ("config", cfg.get(ckey, cfg.get(fname))),
        ]
        for rank, (source, value) in zip((0, 0, 1, 2), layers, strict=True):
            if fname in AUTH_FIELDS and rank > auth_rank:
                break
            if _given(value) and value is not False:
                values[fname] = value
                sources[fname] = source
                break

    if user_is_token and "token" not in values:
        values["token"] = values.pop("user")
        sources["token"] = sources.pop("user")

    return _build(values, sources, ctx_name, env)


# Settings fields that carry credentials, and the keys that choose an auth method (a password
# alone does not: ``--password`` completes the user of the layer that names one).
AUTH_FIELDS = ("user", "password", "token", "creds", "nkey", "user_jwt", "user_seed")
_METHOD_FLAGS = ("user", "token", "creds", "nkey", "jwt", "seed")
_METHOD_ENV = ("NATS_USER", "NATS_TOKEN", "NATS_CREDS", "NATS_NKEY", "NATS_JWT", "NATS_SEED")
_METHOD_KEYS = ("user", "token", "creds", "nkey", "user_jwt", "user_seed", "nsc")


def _auth_owner(flags: Mapping[str, Any], env: Mapping[str, str], ctx: Mapping[str, Any],
                cfg: Mapping[str, Any]) -> int:
    """The layer whose auth method is used: 0 flags/env, 1 the context, 2 natsops' config.

    Credentials are one choice (user/password, creds, nkey, JWT/seed, token), never a mix of
    layers: ``--creds`` with a context holding a user and password logs in with the creds only.
    Flags and ``NATS_*`` variables are one layer, as in natscli (a variable is a flag's default).
    """
    if any(_given(flags.get(k)) for k in _METHOD_FLAGS) or any(env.get(k) for k in _METHOD_ENV):
        return 0
    for rank, layer in ((1, ctx), (2, cfg)):
        if any(_given(layer.get(k)) for k in _METHOD_KEYS):
            return rank
    return 3


def _load_selected(name: str, env: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    """The context named in ``context.txt``: a missing one is an error naming it (exit 4).

    Falling back to the defaults would silently talk to whatever listens on 127.0.0.1:4222.
    natscli unselects a missing context; natsops leaves the user's files alone.
    """
    path = config_root(env) / "nats" / "context.txt"
    try:
        return load_context(name, env)
    except NotFound:
        raise NotFound(
            f"context '{name}' is selected (in {path}) but does not exist",
            hint="select another with `nats context select NAME`, pass --context NAME, "
            "or --no-context") from None


def context_settings(base: Settings, name: str, env: Mapping[str, str] | None = None) -> Settings:
    """``base`` resolved with context ``name`` in place of its own: what came from flags or the
    environment stays, the rest (servers, credentials, TLS...) comes from ``name``.

    Raises :class:`NotFound` when there is no such context.
    """
    env = os.environ if env is None else env
    explicit = {k: v for k, v in base.sources.items() if v in ("flag", "env")}
    # rebuild from the new context alone, then put the explicit values back on top
    fresh = resolve_settings({"context": name}, {k: v for k, v in env.items()
                                                 if not k.startswith("NATS_")})
    kept = {k: getattr(base, k) for k in explicit}
    if any(k in AUTH_FIELDS for k in explicit):  # an explicit auth method replaces the context's
        kept.update({k: getattr(base, k) for k in AUTH_FIELDS})
    sources = {**fresh.sources, **explicit}
    return replace(fresh, **kept, connection_name=base.connection_name, sources=sources)


def _build(
    values: dict[str, Any], sources: dict[str, str], ctx_name: str | None, env: Mapping[str, str]
) -> Settings:
    kw: dict[str, Any] = {"context": ctx_name, "sources": sources}
    for name, value in values.items():
        if name == "servers":
            if isinstance(value, (list, tuple)):
                items = [str(v).strip() for v in value]
            else:
                items = [s.strip() for s in str(value).split(",")]
            servers = tuple(normalise_url(s) for s in items if s)
            if not servers:
                raise UsageError("no server URL given")
            kw["servers"] = servers
        elif name == "timeout":
            secs = parse_duration(str(value), what="timeout")
            if secs <= 0:
                raise UsageError(f"invalid timeout {value!r}: must be above zero")
            kw["timeout"] = secs
        elif name == "tls_first":
            kw["tls_first"] = value in (True, "true", "1", 1, "yes")
        elif name in _SECRETS:
            kw[name] = Secret(_resolve_ref(str(value), name, env))
        else:
            kw[name] = str(value)
    return Settings(**kw)


def normalise_url(url: str) -> str:
    """A server URL with its scheme (nats:// when none); UsageError for another scheme."""
    if "://" not in url:
        url = "nats://" + url
    scheme = url.split("://", 1)[0].lower()
    if scheme not in ("nats", "tls", "ws", "wss"):
        raise UsageError(f"invalid server URL {url!r}: scheme must be nats, tls, ws or wss")
    return url


def _resolve_ref(value: str, what: str, env: Mapping[str, str]) -> str:
    """Resolve the credential references natscli main accepts in secret fields."""
    if value.startswith("env://"):
        var = value[len("env://") :]
        got = env.get(var, "")
        if not got:
            raise UsageError(f"{what}: environment variable {var} is not set")
        return got
    if value.startswith("data:") and ";base64," in value:
        try:
            return base64.b64decode(value.split(";base64,", 1)[1]).decode()
        except (ValueError, UnicodeDecodeError):
            raise UsageError(f"{what}: invalid base64 data: URI") from None
    return value
