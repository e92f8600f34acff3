"""nats-server processes and local clusters.

``process`` starts and stops servers by pid; ``local`` is a cluster directory and its state file;
``ready`` waits until a cluster is usable and holds the one start-then-roll-back (``started``);
``status`` reports the nodes; ``contexts`` writes and removes the natscli contexts.
``deployment`` is a whole local topology (clusters and leaf sites, each a local cluster), with
its readiness (``deployment_ready``) and status (``deployment_status``); ``target`` lets the
``cluster`` commands take either.
"""

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
