"""Rules for one nats-server config: the traps `nats-server -t` lets through, and the guide's
Performance Tuning and Best Practices tables, each checked against what the 2.15 server does."""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from natsops.conf.parser import Config, Node
from natsops.conf.registry import Hit, rule
from natsops.conf.values import (
    BLOCK_ALIASES,
    BLOCK_KEYS,
    INT_SECONDS_DURATIONS,
    STRING_ONLY_DURATIONS,
    TOP_LEVEL_KEYS,
    duration_seconds,
    go_duration,
    jetstream_enabled,
    js_size,
)
from natsops.findings import Severity
from natsops.units import format_bytes

FAIL, WARN, INFO = Severity.FAIL, Severity.WARN, Severity.INFO
DEFAULT_MAX_PENDING = 64 * 1024 * 1024
DEFAULT_MAX_PAYLOAD = 1024 * 1024
# names the operations guide uses that the server does not know
_GUIDE_SPELLINGS = {"max_memory": "max_memory_store"}
_AEAD_MARKERS = ("GCM", "CHACHA20", "TLS_AES_")


def _blocks(cfg: Config) -> Iterator[tuple[str, Node]]:
    """("", root), then ("cluster", node) ... for every known block present."""
    yield "", cfg.root
    for key, node in cfg.root.items():
        name = BLOCK_ALIASES.get(key.lower(), key.lower())
        if node.kind == "map" and name in ("cluster", "gateway", "leafnodes", "websocket",
                                           "mqtt", "jetstream"):
            yield name, node


def _path(block: str, key: str) -> str:
    return f"{block}.{key}" if block else key


def _int(node: Node | None) -> int | None:
    return int(node.value) if node is not None and node.kind == "integer" else None


def _str(node: Node | None) -> str | None:
    return node.value if node is not None and node.kind == "string" else None


def _clustered_js(cfg: Config) -> bool:
    return jetstream_enabled(cfg.get("jetstream")) and cfg.get("cluster") is not None


@rule("conf/unknown-field", FAIL, "Option names the server does not know")
def unknown_field(cfg: Config) -> Iterator[Hit]:
    for key, node in cfg.root.items():
        if node.used or key.lower() in TOP_LEVEL_KEYS:
            continue
        if key.lower() == "prevent_gateway_dial_through_routes":
            yield Hit(node, "prevent_gateway_dial_through_routes is an unknown field for current "
                      "servers (2.15.1 `-t`: unknown field): the operations guide lists it, but "
                      "no nats-server release has it",
                      "remove it; gateway discovery is controlled by gateway { gateways: [...] } "
                      "and reject_unknown_cluster", subject=key)
            continue
        close = difflib.get_close_matches(key.lower(), TOP_LEVEL_KEYS, n=1)
        hint = f"did you mean {close[0]!r}?" if close else (
            "remove it, or reference it as $" + key + " if it is a variable")
        yield Hit(node, f"unknown field {key!r}: nats-server -t rejects it", hint, subject=key)
    for block, node in _blocks(cfg):
        known = BLOCK_KEYS.get(block)
        if not known:
            continue
        for key, child in node.items():
            if not child.used and key.lower() not in known:
                close = [_GUIDE_SPELLINGS[key.lower()]] if key.lower() in _GUIDE_SPELLINGS \
                    else difflib.get_close_matches(key.lower(), known, n=1)
                note = " (the operations guide's spelling; the server has no such key)" \
                    if key.lower() in _GUIDE_SPELLINGS else ""
                yield Hit(child, f"unknown field {key!r} in {block} {{}}{note}",
                          f"did you mean {close[0]!r}?" if close else "remove it",
                          subject=_path(block, key))


@rule("conf/duration-integer", FAIL, "Durations written as numbers (ping_interval: 2m = 23 days)")
def duration_integer(cfg: Config) -> Iterator[Hit]:
    for block, node in _blocks(cfg):
        for key, child in node.items():
            if key.lower() not in INT_SECONDS_DURATIONS.get(block, ()):
                continue
            if child.kind == "integer":
                secs = int(child.value)
                yield Hit(child, f"{_path(block, key)}: {child.raw} is an integer, which the "
                          f"server takes as {secs:,} seconds (≈ {secs / 86400:,.1f} days); "
                          "`-t` fails on it, a real start silently uses it",
                          f'quote it as a duration: {key}: "{_suggest(child.raw)}"',
                          subject=_path(block, key), evidence={"seconds": secs})
            elif child.kind == "float":
                yield Hit(child, f"{_path(block, key)}: a float is a type error",
                          f'{key}: "{child.raw}s"', subject=_path(block, key))
        for key, child in node.items():
            if key.lower() in STRING_ONLY_DURATIONS.get(block, ()) and child.kind != "string":
                yield Hit(child, f"{_path(block, key)} accepts only a duration string; "
                          f"{child.raw} is a type error", f'{key}: "{_suggest(child.raw)}"',
                          subject=_path(block, key))


def _suggest(raw: str) -> str:
    if raw and raw[-1:].lower() in "kmgtpe" and raw[:-1].isdigit():
        return raw[:-1] + {"m": "m", "k": "s", "g": "s"}.get(raw[-1].lower(), "s")
    return f"{raw}s" if raw.isdigit() else raw


@rule("conf/duration-invalid", FAIL, "Duration strings Go cannot parse (1d, 2x)")
def duration_invalid(cfg: Config) -> Iterator[Hit]:
    names = {"ping_interval", "write_deadline", "lame_duck_duration", "lame_duck_grace_period",
             "sync_interval", "sync", "reconnect", "dial_timeout", "ack_wait"}
    for block, node in _blocks(cfg):
        for key, child in node.items():
            if key.lower() not in names or child.kind != "string" or \
                    child.value.lower() == "always":
                continue
            secs = go_duration(child.value)
            if secs is None:
                yield Hit(child, f"{_path(block, key)}: {child.value!r} is not a Go duration "
                          "(units ns, us, ms, s, m, h; no d)", 'e.g. "24h", "90s"',
                          subject=_path(block, key))
            elif secs < 0:
                yield Hit(child, f"{_path(block, key)}: negative duration {child.value!r} is "
                          "accepted by the server and makes no sense", "use a positive "
                          "duration", subject=_path(block, key), severity=Severity.WARN)


@rule("conf/duration-unquoted", INFO, "Durations should be quoted")
def duration_unquoted(cfg: Config) -> Iterator[Hit]:
    for block, node in _blocks(cfg):
        for key, child in node.items():
            names = INT_SECONDS_DURATIONS.get(block, frozenset()) | STRING_ONLY_DURATIONS.get(
                block, frozenset())
            if key.lower() in names and child.kind == "string" and child.form == "bare":
                yield Hit(child, f"{_path(block, key)}: {child.raw} works unquoted, but 2m, 5M or "
                          "1g would silently become sizes", f'{key}: "{child.raw}"',
                          subject=_path(block, key))


_SIZE_KEYS = {"": ("max_payload", "max_pending", "max_control_line"),
              "jetstream": ("max_memory_store", "max_mem_store", "max_mem", "max_file_store",
                            "max_file")}


@rule("conf/size-decimal-suffix", INFO, "1G is 10^9 bytes; 1GB (or quoted \"1G\") is 2^30")
def size_decimal(cfg: Config) -> Iterator[Hit]:
    for block, node in _blocks(cfg):
        for key, child in node.items():
            if key.lower() in _SIZE_KEYS.get(block, ()) and child.kind == "integer" \
                    and child.raw[-1:].lower() in "kmgtpe" and child.raw[-1:].isalpha():
                yield Hit(child, f"{_path(block, key)}: {child.raw} means {child.value:,} bytes "
                          f"(decimal {child.raw[-1].upper()}), not "
                          f"{child.raw[:-1]} {child.raw[-1].upper()}iB",
                          f"write {child.raw[:-1]}{child.raw[-1].upper()}B for binary units",
                          subject=_path(block, key))


@rule("conf/size-quoted", FAIL, "Quoted sizes: a type error outside jetstream {}, odd inside")
def size_quoted(cfg: Config) -> Iterator[Hit]:
    for block, node in _blocks(cfg):
        for key, child in node.items():
            if key.lower() not in _SIZE_KEYS.get(block, ()) or child.kind != "string":
                continue
            if block == "jetstream":
                if child.value == "":
                    yield Hit(child, f"{_path(block, key)}: an empty string means 0 bytes, so "
                              "this storage type is silently disabled", f"{key}: 1GB, or remove "
                              "it", subject=_path(block, key), severity=Severity.WARN)
                elif js_size(child) is None:
                    yield Hit(child, f"{_path(block, key)}: {child.value!r} is rejected; quoted "
                              "sizes must be an integer plus one of K, M, G, T",
                              f"{key}: {child.value.rstrip('bB')}B (unquoted)",
                              subject=_path(block, key))
                else:
                    yield Hit(child, f"{_path(block, key)}: quoted {child.value!r} is "
                              f"{js_size(child):,} bytes (binary) while unquoted it would be "
                              "decimal", f"write {child.value}B unquoted to say what you mean",
                              subject=_path(block, key), severity=INFO)
            else:
                yield Hit(child, f"{_path(block, key)}: a quoted size is a string, a type error "
                          "for this option", f"{key}: {child.value} (unquoted)",
                          subject=_path(block, key))


@rule("conf/max-payload", FAIL, "max_payload above max_pending, above 8 MB, or above 2^31-1")
def max_payload(cfg: Config) -> Iterator[Hit]:
    mp = cfg.get("max_payload")
    pend = cfg.get("max_pending")
    payload = _int(mp) if mp is not None else DEFAULT_MAX_PAYLOAD
    pending = _int(pend) if pend is not None else DEFAULT_MAX_PENDING
    if payload is None or pending is None:
        return
    anchor = mp or pend
    if payload > pending:
        yield Hit(anchor, f"max_payload ({payload:,}) is higher than max_pending ({pending:,}): "
                  "`-t` passes but the server refuses to start",
                  "lower max_payload or raise max_pending", subject="max_payload")
    if payload > (1 << 31) - 1:
        yield Hit(anchor, "max_payload above 2^31-1 is rejected", "use at most 8MB",
                  subject="max_payload")
    elif mp is not None and payload > 8 * 1024 * 1024:
        yield Hit(mp, f"max_payload {format_bytes(payload)} is above 8 MB: the server warns, and "
                  "every connection's buffers grow with it", "keep messages small; store large "
                  "payloads in an object store", subject="max_payload", severity=Severity.WARN)
    if pend is not None and pending < 1024 * 1024 and pending >= 0:
        yield Hit(pend, f"max_pending {format_bytes(pending)} is tiny: subscribers become slow "
                  "consumers on small bursts", "keep the 64MB default unless you mean it",
                  subject="max_pending", severity=Severity.WARN)


@rule("conf/write-deadline", WARN, "write_deadline far from the 10s default")
def write_deadline(cfg: Config) -> Iterator[Hit]:
    for block, node in _blocks(cfg):
        wd = node.child("write_deadline")
        if wd is None or wd.kind != "string":
            continue
        secs = go_duration(wd.value)
        if secs is None:
            continue
        if secs < 1:
            yield Hit(wd, f"{_path(block, 'write_deadline')} {wd.value} is below 1s: clients on "
                      "a busy network are cut off as slow consumers", 'write_deadline: "10s" '
                      "(default) or a few seconds", subject=_path(block, "write_deadline"))
        elif secs > 60:
            yield Hit(wd, f"{_path(block, 'write_deadline')} {wd.value}: a stuck client holds "
                      "its buffers this long", 'write_deadline: "10s"',
                      subject=_path(block, "write_deadline"), severity=INFO)


@rule("conf/lame-duck", FAIL, "Lame duck: duration >= 30s and grace period < duration")
def lame_duck(cfg: Config) -> Iterator[Hit]:
    dur_n, grace_n = cfg.get("lame_duck_duration"), cfg.get("lame_duck_grace_period")
    dur = duration_seconds(dur_n) if dur_n is not None and dur_n.kind == "string" else 120.0
    grace = duration_seconds(grace_n) if grace_n is not None and grace_n.kind == "string" \
        else 10.0
    if dur is None or grace is None:
        return
    if dur_n is not None and dur < 30:
        yield Hit(dur_n, f"lame_duck_duration {dur_n.value} is below the 30s minimum",
                  'lame_duck_duration: "30s" or more', subject="lame_duck_duration")
    if grace >= dur:
        yield Hit(grace_n or dur_n, f"lame_duck_grace_period ({grace:g}s) is not shorter than "
                  f"lame_duck_duration ({dur:g}s): `-t` passes, the start fails",
                  "make the grace period shorter, e.g. 10s", subject="lame_duck_grace_period")


@rule("conf/server-name", FAIL, "server_name: required for clustered JetStream, subject-safe")
def server_name(cfg: Config) -> Iterator[Hit]:
    sn = cfg.get("server_name")
    if sn is None:
        if _clustered_js(cfg):
            yield Hit(cfg.get("cluster"), "clustered JetStream without server_name: the server "
                      "refuses to start", "server_name: <unique name per node>",
                      subject="server_name")
        return
    name = _str(sn)
    if name is None:
        return
    if any(c.isspace() for c in name):
        yield Hit(sn, f"server_name {name!r} contains spaces (rejected)", "use - or _",
                  subject="server_name")
    elif any(c in name for c in ".*>"):
        yield Hit(sn, f"server_name {name!r} contains . * or >, which break $SYS subjects and "
                  "tag filters", "use letters, digits, - and _", subject="server_name",
                  severity=Severity.WARN)


@rule("conf/cluster-name", FAIL, "Clustered JetStream needs cluster.name; gateway name = cluster")
def cluster_name(cfg: Config) -> Iterator[Hit]:
    cl = cfg.get("cluster")
    gw = cfg.get("gateway")
    name = cl.child("name") if cl is not None else None
    if cl is not None and name is None and _clustered_js(cfg):
        yield Hit(cl, "clustered JetStream requires cluster.name (start-time error)",
                  "cluster { name: C1 ... }", subject="cluster.name")
    if name is not None and _str(name) and " " in name.value:
        yield Hit(name, "cluster name cannot contain spaces", "use - or _", subject="cluster.name")
    if gw is not None and gw.kind == "map":
        gname = gw.child("name")
        if gname is None:
            yield Hit(gw, "gateway has no name (start-time error)", "gateway { name: <cluster> }",
                      subject="gateway.name")
        elif name is not None and _str(gname) != _str(name):
            yield Hit(gname, f"gateway name {gname.value!r} differs from cluster name "
                      f"{name.value!r} (start-time error)", "use the cluster name",
                      subject="gateway.name")


@rule("conf/cluster-settings", WARN, "Cluster ping, pool size, compression, routes")
def cluster_settings(cfg: Config) -> Iterator[Hit]:
    cl = cfg.get("cluster")
    if cl is None or cl.kind != "map":
        return
    pi = cl.child("ping_interval")
    if pi is not None and pi.kind == "string":
        secs = go_duration(pi.value)
        if secs is not None and secs > 30:
            yield Hit(pi, f"cluster.ping_interval {pi.value} is above 30s: the server warns and "
                      "`-t` fails", 'ping_interval: "30s" or less', subject="cluster.ping_interval",
                      severity=FAIL)
    ps = cl.child("pool_size")
    if _int(ps) == -1 and ps is not None:
        yield Hit(ps, "pool_size -1 disables route pooling: one connection carries all accounts",
                  "remove it (default 3) or raise it for high cross-route fan-out",
                  subject="cluster.pool_size")
    comp = cl.child("compression")
    modes = {"off", "disabled", "false", "on", "enabled", "true", "accept", "s2_auto", "auto",
             "s2_uncompressed", "s2_fast", "s2_better", "s2_best"}
    mode = comp.child("mode") if comp is not None and comp.kind == "map" else comp
    if mode is not None and mode.kind == "string" and mode.value.lower() not in modes:
        yield Hit(mode, f"unsupported compression mode {mode.value!r}: `-t` passes, the start "
                  "fails", "one of: " + ", ".join(sorted(modes)), subject="cluster.compression",
                  severity=FAIL)
    routes = cl.child("routes")
    for r in routes.elements() if routes is not None else []:
        if r.kind == "string" and not r.value.lower().startswith(("nats://", "nats-route://",
                                                                  "tls://")):
            yield Hit(r, f"route {r.value!r} has no nats:// scheme: Go parses 'host:port' as "
                      "scheme 'host', so `-t` passes but the route never connects",
                      f"nats://{r.value}", subject="cluster.routes", severity=FAIL)
    if _clustered_js(cfg) and (routes is None or not routes.elements()):
        yield Hit(cl, "clustered JetStream without routes: this node never finds its peers",
                  "routes: [nats://n1:6222, nats://n2:6222, nats://n3:6222]",
                  subject="cluster.routes", severity=FAIL)
    if cl.child("no_advertise") is None and cl.child("advertise", "cluster_advertise") is None:
        yield Hit(cl, "cluster gossips the routes' own addresses; behind a load balancer or NAT "
                  "set no_advertise", "cluster { no_advertise: true } (guide: Performance "
                  "Tuning)", subject="cluster.no_advertise", severity=INFO)


@rule("conf/leaf-remote-url", FAIL, "Leafnode remote URLs need a real scheme")
def leaf_remote_url(cfg: Config) -> Iterator[Hit]:
    leaf = cfg.get("leafnodes") or cfg.get("leaf")
    remotes = leaf.child("remotes") if leaf is not None else None
    for remote in remotes.elements() if remotes is not None else []:
        many = remote.child("urls")
        urls = [remote.child("url"), *(many.elements() if many is not None else [])]
        for u in urls:
            if u is not None and u.kind == "string" and not u.value.lower().startswith(
                    ("nats://", "nats-leaf://", "tls://", "ws://", "wss://")):
                yield Hit(u, f"leafnode remote {u.value!r} has no known scheme: `-t` passes "
                          "(Go reads 'host:' as a scheme) but it never connects",
                          f"nats-leaf://{u.value}", subject="leafnodes.remotes.url")


# the server-level JetStream limits: (key and its aliases, kind, what the server takes if unset)
JS_LIMIT_KEYS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("max_memory_store", "max_mem_store", "max_mem"), "memory", "75% of RAM"),
    (("max_file_store", "max_file"), "file", "75% of the free disk at start-up"),
)


def unset_jetstream_limits(cfg: Config) -> list[tuple[str, str, str]]:
    """(key, kind, server default) of each JetStream limit a JetStream-enabled config omits."""
    js = cfg.get("jetstream")
    if not jetstream_enabled(js) or js is None:
        return []
    return [(keys[0], what, default) for keys, what, default in JS_LIMIT_KEYS
            if (js.child(*keys) if js.kind == "map" else None) is None]


@rule("conf/jetstream-limits", WARN, "JetStream without max_memory_store / max_file_store")
def jetstream_limits(cfg: Config) -> Iterator[Hit]:
    js = cfg.get("jetstream")
    if not jetstream_enabled(js) or js is None:
        return
    for keys, what, default in JS_LIMIT_KEYS:
        node = js.child(*keys) if js.kind == "map" else None
        if node is None:
            yield Hit(js, f"jetstream {what} limit not set: the server takes {default}, and "
                      "lowering it later needs a restart", f"jetstream {{ {keys[0]}: <size> }} "
                      "(natsops sizing computes one)", subject=f"jetstream.{keys[0]}")
        else:
            size = js_size(node)
            if size is not None and size < 0:
                yield Hit(node, f"negative or overflowed {keys[0]} ({size:,}) is silently "
                          "replaced by the dynamic default", "give a positive size",
                          subject=f"jetstream.{keys[0]}")
            elif size == 0 and what == "memory":
                yield Hit(node, "max_memory_store 0: memory streams cannot be created",
                          "remove it or give a size", subject=f"jetstream.{keys[0]}",
                          severity=INFO)


@rule("conf/store-dir", WARN, "JetStream store_dir missing or in a temporary directory")
def store_dir(cfg: Config) -> Iterator[Hit]:
    js = cfg.get("jetstream")
    if not jetstream_enabled(js) or js is None:
        return
    sd = (js.child("store_dir", "store", "storedir") if js.kind == "map" else None) or \
        cfg.get("store_dir") or cfg.get("storedir")
    if sd is None:
        yield Hit(js, "no store_dir: JetStream data goes to $TMPDIR/nats/jetstream and can be "
                  "lost on reboot", 'jetstream { store_dir: "/var/lib/nats" }',
                  subject="jetstream.store_dir")
    elif sd.kind == "string" and sd.value.rstrip("/").startswith(("/tmp", "/var/tmp", "/dev/shm")):
        yield Hit(sd, f"store_dir {sd.value!r} is in a temporary directory: data is lost on "
                  "reboot or tmp cleaning", 'store_dir: "/var/lib/nats"', subject="store_dir")
    if js.kind == "map" and js.child("store_dir", "store", "storedir") is not None and (
            cfg.get("store_dir") or cfg.get("storedir")) is not None:
        yield Hit(sd, "store_dir is set both at top level and in jetstream {} (rejected)",
                  "keep the one in jetstream {}", subject="store_dir", severity=FAIL)


@rule("conf/jetstream-domain", FAIL, "JetStream domain must not contain . * >")
def jetstream_domain(cfg: Config) -> Iterator[Hit]:
    d = cfg.get("jetstream", "domain")
    if d is not None and d.kind == "string" and any(c in d.value for c in ".*> "):
        yield Hit(d, f"jetstream domain {d.value!r} contains . * > or a space: `-t` passes, "
                  "the start fails", "use letters, digits, - and _", subject="jetstream.domain")


@rule("conf/system-account", WARN, "A system account exists and is named correctly")
def system_account(cfg: Config) -> Iterator[Hit]:
    accounts = cfg.get("accounts")
    sa = cfg.get("system_account") or cfg.get("system")
    if accounts is None or accounts.kind != "map":
        return
    names = {k for k, _ in accounts.items()}
    if sa is None:
        if "$SYS" not in names and cfg.get("operator") is None and cfg.get("no_system_account") \
                is None:
            yield Hit(accounts, "accounts are defined but no system_account: monitoring tools "
                      "have no sys user to log in with", "add a SYS account with a dedicated "
                      "user and set system_account: SYS", subject="system_account")
    elif sa.kind == "string" and sa.value not in names and not sa.value.startswith("A"):
        yield Hit(sa, f"system_account {sa.value!r} is not defined under accounts (start-time "
                  "error: account missing)", f"define accounts {{ {sa.value} {{ ... }} }}",
                  subject="system_account", severity=FAIL)
    nau = cfg.get("no_auth_user")
    if nau is not None and nau.kind == "string":
        users = set()
        for _, acc in accounts.items():
            for u in (acc.child("users") or Node("array", [], acc.pos)).elements():
                un = u.child("user", "username") if u.kind == "map" else None
                if un is not None and un.kind == "string":
                    users.add(un.value)
        if nau.value not in users and (cfg.get("authorization") is None):
            yield Hit(nau, f"no_auth_user {nau.value!r} is not a defined user (start-time "
                      "error)", "name an existing user", subject="no_auth_user", severity=FAIL)


def _tls_blocks(cfg: Config) -> Iterator[tuple[str, Node]]:
    for block, node in _blocks(cfg):
        tls = node.child("tls") if node.kind == "map" else None
        if tls is not None and tls.kind == "map":
            yield _path(block, "tls"), tls


@rule("conf/tls", WARN, "TLS: AEAD cipher suites only, verify client certs, no insecure")
def tls_rules(cfg: Config) -> Iterator[Hit]:
    for where, tls in _tls_blocks(cfg):
        suites = tls.child("cipher_suites")
        for s in suites.elements() if suites is not None else []:
            if s.kind == "string" and not any(m in s.value.upper() for m in _AEAD_MARKERS):
                yield Hit(s, f"{where}.cipher_suites: {s.value} is not an AEAD cipher (CBC/RC4/"
                          "3DES)", "keep only *_GCM_* and *_CHACHA20_POLY1305* suites",
                          subject=f"{where}.cipher_suites")
        ins = tls.child("insecure")
        if ins is not None and ins.kind == "bool" and ins.value:
            yield Hit(ins, f"{where}.insecure: true skips certificate verification",
                      "remove it; give ca_file instead", subject=f"{where}.insecure")
        mv = tls.child("min_version")
        if mv is not None and mv.kind in ("string", "float") and str(mv.value) not in ("1.2",
                                                                                       "1.3"):
            yield Hit(mv, f"{where}.min_version {mv.raw}: only 1.2 and 1.3 are accepted",
                      'min_version: "1.3"', subject=f"{where}.min_version", severity=FAIL)
        if where in ("cluster.tls", "gateway.tls") and tls.child("verify", "verify_and_map") \
                is None:
            yield Hit(tls, f"{where} without verify: any peer with a valid cert can join",
                      "verify: true (mutual TLS between servers)", subject=f"{where}.verify",
                      severity=INFO)


@rule("conf/monitor", WARN, "Monitoring endpoint exposure and https without tls")
def monitor(cfg: Config) -> Iterator[Hit]:
    https = cfg.get("https") or cfg.get("https_port")
    if https is not None and cfg.get("tls") is None:
        yield Hit(https, "https monitoring without a tls {} block: the server exits at start",
                  "add tls { cert_file, key_file } or use http", subject="https", severity=FAIL)
    http = cfg.get("http") or cfg.get("http_port") or cfg.get("monitor_port")
    if http is None:
        return
    host = _str(cfg.get("host") or cfg.get("net")) or "0.0.0.0"
    text = str(http.value)
    bound = text.rsplit(":", 1)[0] if ":" in text else host
    if bound in ("0.0.0.0", "", "::", "[::]"):
        yield Hit(http, f"monitoring ({text}) listens on all interfaces and has no "
                  "authentication: /connz and /varz reveal clients and topology",
                  'bind it to a private address, e.g. http: "10.0.0.5:8222", or firewall it',
                  subject="http", severity=INFO)


@rule("conf/websocket-mqtt", FAIL, "websocket needs TLS or no_tls; mqtt needs JetStream")
def websocket_mqtt(cfg: Config) -> Iterator[Hit]:
    ws = cfg.get("websocket") or cfg.get("ws")
    if ws is not None and ws.kind == "map" and ws.child("tls") is None:
        nt = ws.child("no_tls")
        if nt is None or not (nt.kind == "bool" and nt.value):
            yield Hit(ws, "websocket without tls {} and without no_tls: true (start-time error)",
                      "add tls {} or no_tls: true", subject="websocket")
    mq = cfg.get("mqtt")
    if mq is not None and not jetstream_enabled(cfg.get("jetstream")):
        yield Hit(mq, "mqtt requires JetStream (start-time error)", "enable jetstream {}",
                  subject="mqtt")


@rule("conf/write-timeout", FAIL, "write_timeout must be default, close or retry (lower case)")
def write_timeout(cfg: Config) -> Iterator[Hit]:
    for block, node in _blocks(cfg):
        wt = node.child("write_timeout")
        if wt is not None and not (wt.kind == "string" and wt.value in ("default", "close",
                                                                       "retry")):
            yield Hit(wt, f"{_path(block, 'write_timeout')} {wt.raw!r} is rejected",
                      "default, close or retry", subject=_path(block, "write_timeout"))


@rule("conf/duplicate-key", WARN, "A key set twice: the last one wins, blocks are not merged")
def duplicate_key(cfg: Config) -> Iterator[Hit]:
    for ow in cfg.overwrites:
        if ow.old.pos.file != ow.new.pos.file and ow.old.kind != "map":
            continue  # a value in an included file overridden on purpose (layered configs)
        if ow.old.kind == "map" and ow.new.kind == "map":
            yield Hit(ow.new, f"second {ow.key} {{}} block replaces the first ({ow.old.where}) "
                      "entirely: its settings are lost, not merged",
                      f"merge both {ow.key} blocks into one", subject=ow.key, severity=FAIL)
        else:
            yield Hit(ow.new, f"{ow.key} is set again (first at {ow.old.where}); the last value "
                      "wins", "remove one of them", subject=ow.key)
    for block, node in _blocks(cfg):
        seen: dict[str, str] = {}
        for key, child in node.items():
            low = key.lower()
            if low in seen and seen[low] != key:
                yield Hit(child, f"{_path(block, key)} and {seen[low]} differ only in case: the "
                          "server applies them in random order", "keep one spelling",
                          subject=_path(block, key), severity=FAIL)
            seen.setdefault(low, key)


@rule("conf/comment-in-value", WARN, "A # or // glued to a value is part of the value")
def comment_in_value(cfg: Config) -> Iterator[Hit]:
    for node in cfg.root.walk():
        if node.kind == "string" and node.form == "bare" and ("#" in node.value or
                                                             "//" in node.value) \
                and "://" not in node.value:
            yield Hit(node, f"{node.key or 'value'}: {node.value!r} keeps the text after # as "
                      "part of the value (a comment needs a space before it)",
                      "put a space before the comment, or quote the value",
                      subject=node.key or "")


@rule("conf/resolver-memory", WARN, "resolver: MEMORY without an operator does nothing")
def resolver_memory(cfg: Config) -> Iterator[Hit]:
    res = cfg.get("resolver")
    if res is not None and res.kind == "string" and res.value.upper().startswith("MEM") and \
            cfg.get("operator") is None and cfg.get("operators") is None:
        yield Hit(res, "resolver: MEMORY without operator is silently ignored",
                  "add operator: <jwt file> or remove the resolver", subject="resolver")


@rule("conf/plaintext-password", INFO, "Plaintext passwords in the config")
def plaintext_password(cfg: Config) -> Iterator[Hit]:
    for node in cfg.root.walk():
        for key, child in node.items():
            if key.lower() in ("password", "pass") and child.kind == "string" \
                    and not child.value.startswith("$2") and child.var is None:
                yield Hit(child, "plaintext password (the server warns at start-up)",
                          "store a bcrypt hash (nats server passwd), quoted, or use nkeys",
                          subject=key)


@rule("conf/empty", WARN, "An empty config: -t rejects it, the server runs on defaults")
def empty(cfg: Config) -> Iterator[Hit]:
    if not cfg.root.value:
        yield Hit(cfg.root.pos, "config has no values: `nats-server -t` fails, the server starts "
                  "with defaults (no JetStream, no auth)", "add at least server_name and listen")


_INT_OPTIONS = frozenset({"port", "max_payload", "max_pending", "max_control_line",
                          "max_connections", "max_conn", "max_subscriptions", "max_subs",
                          "ping_max", "http_port", "https_port", "monitor_port", "prof_port",
                          "max_closed_clients", "max_sub_tokens"})
_BOOL_OPTIONS = frozenset({"debug", "trace", "trace_verbose", "logtime", "logtime_utc",
                           "syslog", "no_auth_user_required", "no_system_account",
                           "no_header_support", "disable_sublist_cache"})


@rule("conf/quoted-scalar", FAIL, "Numbers and booleans written in quotes are strings")
def quoted_scalar(cfg: Config) -> Iterator[Hit]:
    for key, node in cfg.root.items():
        low = key.lower()
        if node.kind != "string" or node.form not in ("dq", "sq"):
            continue
        if low in _INT_OPTIONS and node.value.lstrip("-").isdigit():
            yield Hit(node, f"{key}: {node.raw!r} is quoted, so it is a string and the server "
                      "rejects it (interface conversion: string, not int64)",
                      f"{key}: {node.value}", subject=key)
        elif low in _BOOL_OPTIONS and node.value.lower() in ("true", "false", "yes", "no", "on",
                                                            "off"):
            yield Hit(node, f"{key}: {node.raw!r} is quoted, so it is a string, not a boolean",
                      f"{key}: {node.value.lower()}", subject=key)
