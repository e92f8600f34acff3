"""How nats-server interprets parsed values: durations, sizes, JetStream switches, known keys."""

from __future__ import annotations

import re

from natsops.conf.parser import Node

__all__ = ["go_duration", "jetstream_enabled", "js_size"]

_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
             "h": 3600.0}
_GO_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def go_duration(text: str) -> float | None:
    """Seconds for a Go ``time.ParseDuration`` string, or None when Go would reject it."""
    s = text
    sign = 1.0
    if s[:1] in ("+", "-"):
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        return None
    pos, total = 0, 0.0
    for m in _GO_PART.finditer(s):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * _GO_UNITS[m.group(2)]
        pos = m.end()
    return sign * total if pos == len(s) and pos else None


def duration_seconds(node: Node) -> float | None:
    """The duration a node means to the server: integers are seconds, strings Go durations."""
    if node.kind == "integer":
        return float(node.value)
    if node.kind == "string":
        return go_duration(node.value)
    return None


def js_size(node: Node) -> int | None:
    """A JetStream size as the server reads it (a quoted ``"1G"`` is binary: 1024^3)."""
    if node.kind == "integer":
        return int(node.value)
    if node.kind == "string":
        m = re.fullmatch(r"(\d+)([KMGT])", node.value)
        if m:
            return int(m.group(1)) << {"K": 10, "M": 20, "G": 30, "T": 40}[m.group(2)]
    return None


def jetstream_enabled(node: Node | None) -> bool:
    """Whether a ``jetstream`` value turns JetStream on (bool, enabled/disabled, or a block)."""
    if node is None:
        return False
    if node.kind == "bool":
        return bool(node.value)
    if node.kind == "string":
        return node.value.lower() in ("enabled", "enable", "true")
    if node.kind == "map":
        en = node.child("enabled", "enable")
        if en is not None and en.kind == "bool":
            return bool(en.value)
        dis = node.child("disabled", "disable")
        return not (dis is not None and dis.kind == "bool" and dis.value)
    return False


TOP_LEVEL_KEYS = frozenset([
    "account_resolver", "accounts", "accounts_resolver", "allow_non_tls", "authorization",
    "client_advertise", "cluster", "connect_error_reports", "debug", "default_js_domain",
    "default_sentinel", "disable_sublist_cache", "feature_flags", "gateway", "host", "http",
    "http_base_path", "http_port", "https", "https_port", "jetstream", "lame_duck_duration",
    "lame_duck_grace_period", "leaf", "leafnodes", "listen", "log_file", "log_max_num",
    "log_size_limit", "logfile", "logfile_max_num", "logfile_size_limit", "logtime", "logtime_utc",
    "mappings", "maps", "max_closed_clients", "max_conn", "max_connections", "max_control_line",
    "max_payload", "max_pending", "max_sub_tokens", "max_subs", "max_subscription_tokens",
    "max_subscriptions", "max_traced_msg_len", "monitor_port", "mqtt", "net", "no_auth_user",
    "no_fast_producer_stall", "no_header_support", "no_sublist_cache", "no_sys_acc", "no_system",
    "no_system_account", "ocsp", "ocsp_cache", "operator", "operators", "pid_file", "pidfile",
    "ping_interval", "ping_max", "port", "ports_file_dir", "prof_block_rate", "prof_port",
    "proxies", "proxy_protocol", "reconnect_error_reports", "remote_syslog", "resolver",
    "resolver_pinned_accounts", "resolver_preload", "resolver_tls", "root", "root_operator",
    "root_operators", "roots", "server_metadata", "server_name", "server_tags", "store_dir",
    "storedir", "syslog", "system", "system_account", "tls", "trace", "trace_headers",
    "trace_verbose", "trusted", "trusted_keys", "websocket", "write_deadline", "write_timeout", "ws"
])

BLOCK_KEYS = {
    "cluster": frozenset([
        "accounts", "advertise", "authorization", "cluster_advertise", "compression",
        "connect_backoff", "connect_retries", "host", "listen", "name", "net", "no_advertise",
        "permissions", "ping_interval", "ping_max", "pool_size", "port", "routes", "tls",
        "write_deadline", "write_timeout"
    ]),
    "jetstream": frozenset([
        "cipher", "disable", "disabled", "domain", "ek", "enable", "enabled", "encryption_key",
        "extension_hint", "info_queue_limit", "key", "limits", "max_buffered_msgs",
        "max_buffered_size", "max_concurrent_io", "max_file", "max_file_store", "max_mem",
        "max_mem_store", "max_memory_store", "max_outstanding_catchup", "meta_compact",
        "meta_compact_size", "meta_compact_sync", "prev_ek", "prev_encryption_key", "prev_key",
        "request_queue_limit", "store", "store_dir", "storedir", "strict", "sync", "sync_interval",
        "tpm", "unique_tag"
    ]),
    "gateway": frozenset([
        "advertise", "authorization", "connect_backoff", "connect_retries", "gateways", "host",
        "listen", "name", "net", "port", "reject_unknown", "reject_unknown_cluster", "tls",
        "write_deadline", "write_timeout"
    ]),
    "leafnodes": frozenset([
        "advertise", "authorization", "compression", "dial_timeout", "host", "isolate",
        "isolate_leafnode_interest", "leafnode_advertise", "listen", "min_version",
        "minimum_version", "net", "no_advertise", "port", "reconnect", "reconnect_delay",
        "reconnect_interval", "remotes", "tls", "write_deadline", "write_timeout"
    ]),
}

# Options where an integer is taken as seconds, with a warning that fails `-t`.
INT_SECONDS_DURATIONS: dict[str, frozenset[str]] = {
    "": frozenset({"ping_interval", "write_deadline"}),
    "cluster": frozenset({"ping_interval", "write_deadline"}),
    "gateway": frozenset({"write_deadline"}),
    "leafnodes": frozenset({"write_deadline", "reconnect", "dial_timeout"}),
    "websocket": frozenset({"ping_interval"}),
    "mqtt": frozenset({"ack_wait", "js_api_timeout", "consumer_inactive_threshold"}),
    "jetstream": frozenset({"sync_interval", "sync"}),
}
# Options that accept only a duration string (an integer is a type error).
STRING_ONLY_DURATIONS: dict[str, frozenset[str]] = {
    "": frozenset({"lame_duck_duration", "lame_duck_grace_period"}),
}
BLOCK_ALIASES = {"leaf": "leafnodes", "ws": "websocket"}
