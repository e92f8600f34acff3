"""nats-server processes and local clusters."""

from natsops.cluster.process import (
    ServerProcess,
    find_server_binary,
    is_running,
    port_is_free,
    server_version,
    stop_pid,
)

__all__ = [
    "ServerProcess",
    "find_server_binary",
    "is_running",
    "port_is_free",
    "server_version",
    "stop_pid",
]
