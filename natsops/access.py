"""System access found, not demanded: the one way every command reaches the system account.

doctor, ``server``, ``top``, ``sizing --from-cluster`` and ``auth push/verify/pull`` need a
system-account user. :func:`system_access` lists the logins worth trying, in this order:

1. the credentials given explicitly (``--creds``/``--user``/``NATS_*``..., ``--sys-creds``):
   the only login then, as the user asked for it;
2. the context in use (``--context``, ``NATS_CONTEXT`` or natscli's selection), which may be a
   system-account context;
3. the ``<context>-sys`` context beside it (``natsops bootstrap`` writes ``natsops-C1`` and
   ``natsops-C1-sys``);
4. a local cluster's own sys user: ``--dir``, the cluster that owns the context in use, or a
   cluster (or topology) in ``./.natsops/*`` whose URLs are the ones in use (or when none were
   chosen);
5. for auth, a short-lived system user minted from the auth store.

:func:`system_connection` tries them in that order and keeps the first that is a system-account
user (a ``$SYS.REQ.SERVER.PING`` has responders). When none is, the error names what was tried
and why each failed.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from natsops.context import AUTH_FIELDS, Secret, Settings, context_settings
from natsops.errors import AuthError, NatsopsError, Timeout, Unreachable

if TYPE_CHECKING:
    from natsops.connection import Conn

__all__ = ["Login", "SystemAccess", "explicit_timeout", "local_login", "system_access",
           "system_connection"]

LOCAL_SEARCH = Path(".natsops")  # where `natsops bootstrap` puts clusters by default
PROBE_TIMEOUT = 2.0


@dataclass(frozen=True)
class Login:
    """One way to reach the system account, and the local cluster it belongs to (if any)."""

    label: str
    settings: Settings
    cluster_dir: Path | None = None


@dataclass(frozen=True)
class SystemAccess:
    """The logins to try, in order, and what was looked for but not found.

    ``final``: the logins were given explicitly, nothing else is to be tried (auth commands add
    no minted user). ``base``: the settings they were derived from (for auth, the servers).
    """

    logins: tuple[Login, ...]
    missing: tuple[str, ...] = ()
    cluster_dir: Path | None = None  # --dir: its nodes are expected whatever login works
    final: bool = False
    base: Settings | None = None
    gather_timeout: float | None = None  # --timeout/NATS_TIMEOUT: the gatherings' deadline

    @classmethod
    def of(cls, settings: Settings | SystemAccess | None, cluster_dir: Path | None = None,
           *, final: bool = True) -> SystemAccess:
        """Library callers pass Settings (used as given) or None (the local cluster's login)."""
        if isinstance(settings, SystemAccess):
            return settings
        if settings is not None:
            return cls((Login("the given settings", settings, cluster_dir),),
                       cluster_dir=cluster_dir, final=final, base=settings)
        if cluster_dir is None:
            return cls((), ("no settings and no local cluster",))
        login = local_login(cluster_dir, Settings())
        return cls((login,) if login else (), () if login else (f"no sys user in {cluster_dir}",),
                   cluster_dir=cluster_dir)

    def then(self, login: Login) -> SystemAccess:
        """These logins, then ``login`` (the minted user of auth commands)."""
        return replace(self, logins=(*self.logins, login))

    def only(self, login: Login) -> SystemAccess:
        """Just ``login`` (the one that worked: a second gathering need not search again)."""
        return replace(self, logins=(login,), missing=(), final=True)


def _explicit_auth(settings: Settings) -> list[str]:
    return [k for k in AUTH_FIELDS if settings.sources.get(k) in ("flag", "env")]


def _flag_names(fields: list[str]) -> str:
    names = {"creds": "--creds", "user": "--user", "password": "--password", "token": "--token",
             "nkey": "--nkey", "user_jwt": "NATS_JWT", "user_seed": "NATS_SEED"}
    return "/".join(names[f] for f in fields)


def local_login(directory: Path, base: Settings) -> Login | None:
    """The system-account login of a natsops local cluster: its ``sys`` user, or in operator
    mode the store's ``SYS/sys`` creds (a group of a local topology: the topology's); None when
    the directory holds no cluster."""
    from natsops.cluster.deployment import is_deployment
    from natsops.cluster.local import LocalCluster

    if is_deployment(directory):
        return _topology_login(directory, base)
    if is_deployment(directory.parent):  # a cluster or leaf site of a local topology
        return _topology_login(directory.parent, base)
    try:
        cluster = LocalCluster.load(directory)
    except NatsopsError:
        return None
    where = f"the local cluster in {directory}"
    servers = tuple(cluster.client_urls)
    auth = dict.fromkeys(AUTH_FIELDS)
    creds = _operator_sys_creds(directory)
    if creds is not None:
        auth["creds"] = str(creds)
    else:
        try:
            password = cluster.credentials().get("sys")
        except NatsopsError:
            return None
        if not password:
            return None
        auth.update(user="sys", password=Secret(password))
    return Login(f"{where} (sys user)", base.with_(servers=servers, **auth), directory)


def _topology_login(directory: Path, base: Settings) -> Login | None:
    """A local topology's ``sys`` user, on its clusters' servers (the system account spans the
    gateways and, when the leaf sites bind it, the leaf sites), with its CA when TLS is on."""
    from natsops.cluster.deployment import LocalDeployment

    try:
        s = LocalDeployment.load(directory).settings("sys")
    except NatsopsError:
        return None
    if s is None:
        return None
    auth = {**dict.fromkeys(AUTH_FIELDS), "user": s.user, "password": s.password,
            "creds": s.creds}  # creds: an operator-mode topology's SYS user in the auth store
    return Login(f"the local topology in {directory} (sys user)",
                 base.with_(servers=s.servers, tls_ca=s.tls_ca, **auth), directory)


def _operator_sys_creds(directory: Path) -> Path | None:
    """An operator-mode local cluster: the creds of its operator's ``SYS/sys`` user."""
    from natsops.auth.localdev import operator_marker
    from natsops.auth.store import Store

    marker = operator_marker(directory)
    if marker is None:
        return None
    op, store = marker
    return Store(store).creds_path(op, "SYS", "sys")


def _local_candidates(base: Settings, search: Path) -> list[Path]:
    """Clusters (and topologies) below ``search`` worth trying: those whose URLs are in use,
    or all of them when no server was chosen (the default URL)."""
    from natsops.cluster.target import load_local

    if not search.is_dir():
        return []
    found = []
    chosen = "servers" in base.sources
    states = [*search.glob("*/cluster.json"),
              *search.glob("*/topology.json")]
    for state in sorted(states):
        try:
            cluster = load_local(state.parent)
        except NatsopsError:
            continue
        if not chosen or set(cluster.client_urls) & set(base.servers):
            found.append(state.parent)
    return found


def local_cluster_in_use(base: Settings, search: Path = Path(".natsops")) -> Path | None:
    """The one local cluster below ``search`` that ``base`` points at (or the only one there
    when no server was chosen); None when there is none, or more than one to choose from."""
    found = _local_candidates(base, search)
    return found[0] if len(found) == 1 else None


def system_access(
    settings: Settings,
    env: Mapping[str, str],
    *,
    cluster_dir: Path | None = None,
    sys_creds: str | Path | None = None,
    search: Path = LOCAL_SEARCH,
) -> SystemAccess:
    """The logins to try for the system account (see the module doc); connects to nothing.

    A timeout given explicitly (``--timeout``, ``NATS_TIMEOUT``) becomes ``gather_timeout``:
    every gathering over this access (doctor, ``server`` views, ``top``...) waits that long.
    """
    access = _system_access(settings, env, cluster_dir, sys_creds, search)
    return replace(access, gather_timeout=explicit_timeout(settings))


def explicit_timeout(settings: Settings) -> float | None:
    """The timeout the user gave (``--timeout`` or ``NATS_TIMEOUT``), else None: how long a
    gathering waits for every server to answer (each command has its own default)."""
    return settings.timeout if settings.sources.get("timeout") in ("flag", "env") else None


def _system_access(settings: Settings, env: Mapping[str, str], cluster_dir: Path | None,
                   sys_creds: str | Path | None, search: Path) -> SystemAccess:
    if sys_creds is not None:
        given = settings.with_(**{**dict.fromkeys(AUTH_FIELDS), "creds": str(sys_creds)})
        return SystemAccess((Login(f"--sys-creds {sys_creds}", given, cluster_dir),),
                            cluster_dir=cluster_dir, final=True, base=settings)
    explicit = _explicit_auth(settings)
    if explicit:
        return SystemAccess((Login(f"the credentials given ({_flag_names(explicit)})", settings,
                                   cluster_dir),), cluster_dir=cluster_dir, final=True,
                            base=settings)
    if cluster_dir is not None:
        login = local_login(cluster_dir, settings.with_(**_defaults()))
        if login is None:
            return SystemAccess((), (f"no natsops cluster with a sys user in {cluster_dir}",),
                                cluster_dir, base=settings)
        return SystemAccess((login,), cluster_dir=cluster_dir, base=settings)
    return _search(settings, env, search)


def _search(settings: Settings, env: Mapping[str, str], search: Path) -> SystemAccess:
    from natsops.cluster.contexts import context_owner

    logins: list[Login] = []
    missing: list[str] = []
    dirs: list[Path] = []
    name = settings.context
    if name:
        logins.append(Login(f"context {name}", settings))
        owner = context_owner(name, env)
        if owner is not None and owner.dir is not None:
            dirs.append(owner.dir)
        if not name.endswith("-sys"):
            sys_name = _sys_beside(name)
            try:
                beside = context_settings(settings, sys_name, env)
            except NatsopsError:
                missing.append(f"no context {Path(sys_name).stem}")
            else:
                logins.append(Login(f"context {beside.context}", beside))
    else:
        logins.append(Login(f"{settings.url} without credentials", settings))
    dirs += _local_candidates(settings, search)
    seen: set[Path] = set()
    for d in dirs:
        key = d.expanduser().resolve()
        if key in seen:
            continue
        seen.add(key)
        login = local_login(d, settings.with_(**_defaults()))
        if login is not None:
            logins.append(login)
    if not seen:
        missing.append(f"no local cluster in {search}/*")
    return SystemAccess(tuple(logins), tuple(missing), base=settings)


def _defaults() -> dict[str, object]:
    """The TLS and prefix fields a local cluster login must not inherit from a context."""
    d = Settings()
    return {k: getattr(d, k) for k in ("tls_cert", "tls_key", "tls_ca", "tls_first",
                                       "inbox_prefix", "js_domain", "js_api_prefix",
                                       "js_event_prefix", "socks_proxy", "context")}


def _sys_beside(name: str) -> str:
    """``natsops-C1`` -> ``natsops-C1-sys``; a context file ``dir/x.json`` -> ``dir/x-sys.json``."""
    if name.endswith(".json"):
        p = Path(name)
        return str(p.with_name(f"{p.stem}-sys.json"))
    return f"{name}-sys"


async def _is_system(conn: Conn, timeout: float) -> str | None:
    """None when the connection is a system-account user, else why not."""
    from natsops.monitoring.sys import sys_ping

    res = await sys_ping(conn.nc, "STATSZ", expected=1, timeout=timeout, gap=timeout)
    if res.no_responders:
        return "not a system-account user"
    if not res.replies:
        return "no answer to $SYS requests"
    return None


@asynccontextmanager
async def system_connection(access: SystemAccess,
                            name: str = "") -> AsyncIterator[tuple[Conn, Login]]:
    """Connect with the first login that is a system-account user; yield it and the login.

    ``name`` names the connection as servers list it (connz), e.g. "natsops top".

    Raises :class:`AuthError` (exit 7) naming every login tried, or :class:`Unreachable`
    (exit 3) when no server answered any of them.
    """
    from natsops.monitoring.sys import sys_connection

    tried: list[str] = []
    unreachable: set[tuple[str, ...]] = set()
    reachable = False
    for login in access.logins:
        s = login.settings.with_(connection_name=name) if name else login.settings
        if s.servers in unreachable:
            continue  # the same servers did not answer a moment ago
        stack = contextlib.AsyncExitStack()
        try:
            conn = await stack.enter_async_context(sys_connection(s))
        except (Unreachable, Timeout) as exc:
            unreachable.add(s.servers)
            tried.append(f"{login.label}: {exc}")
            continue
        except AuthError as exc:
            reachable = True
            tried.append(f"{login.label}: {exc}")
            continue
        reachable = True
        async with stack:
            why = await _is_system(conn, min(s.timeout, PROBE_TIMEOUT))
            if why is None:
                yield conn, login
                return
        tried.append(f"{login.label}: {why}")
    raise _none_worked(access, tried, reachable)


def _none_worked(access: SystemAccess, tried: list[str], reachable: bool) -> NatsopsError:
    parts = tried + list(access.missing)
    text = "; ".join(parts) if parts else "nothing to try"
    hint = ("pass a system user (--context NAME-sys, --creds SYS.creds), --dir of a local "
            "cluster, or the HTTP monitors (--monitor URL)")
    if not reachable and tried:
        return Unreachable(f"no server answered for the system account ({text})", hint=hint)
    return AuthError(f"no system-account access: {text}", hint=hint)
