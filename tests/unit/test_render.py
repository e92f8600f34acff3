from __future__ import annotations

import stat
from pathlib import Path

import pytest

from natsops.cluster.local import validate_node_count
from natsops.errors import Conflict, NatsopsError, UsageError
from natsops.render import data_dir, render
from natsops.render.production import render_production


def test_templates_ship_and_strict_undefined() -> None:
    assert (data_dir("templates") / "server.conf.j2").is_file()
    with pytest.raises(NatsopsError, match="undefined"):
        render("server.conf.j2", server_name="x")


def test_production_render(tmp_path: Path) -> None:
    hosts = render_production(["h1", "h2", "h3"], tmp_path, name="PROD")
    assert [h.host for h in hosts] == ["h1", "h2", "h3"]
    conf = (tmp_path / "h2" / "nats-server.conf").read_text()
    assert 'server_name: "h2"' in conf
    # accepted passwords are bcrypt hashes; the routes it dials (clear passwords) are in the
    # 0600 include
    assert "$2a$" in conf and "nats-route://" not in conf
    routes = (tmp_path / "h2" / "nats-server.secrets").read_text()
    assert "nats-route://route:" in routes and "@h1:6222" in routes and "@h3:6222" in routes
    assert "@h2:6222" not in routes
    assert stat.S_IMODE((tmp_path / "h2" / "nats-server.secrets").stat().st_mode) == 0o600
    assert 'http: "127.0.0.1:8222"' in conf  # the monitor is local unless asked otherwise
    assert "no_auth_user" not in conf
    assert 'store_dir: "/var/lib/nats/jetstream"' in conf
    assert stat.S_IMODE((tmp_path / "h2" / "nats-server.conf").stat().st_mode) == 0o600
    unit = (tmp_path / "h2" / "nats-server.service").read_text()
    assert "KillSignal=SIGUSR2" in unit and "TimeoutStopSec=150" in unit
    with pytest.raises(Conflict, match="--force"):
        render_production(["h1", "h2", "h3"], tmp_path)
    render_production(["h1", "h2", "h3"], tmp_path, force=True)


@pytest.mark.parametrize(
    ("hosts", "kw", "match"),
    [
        (["h1", "h2"], {}, "even"),
        (["h1", "h1", "h2"], {}, "twice"),
        (["h1:4222"], {}, "without a port"),
        ([" "], {}, "at least one"),
        (["h1"], {"lame_duck_duration": "10s", "lame_duck_grace_period": "5s"}, "at least 30s"),
        (["h1"], {"lame_duck_duration": "30s", "lame_duck_grace_period": "30s"}, "shorter"),
        (["h1"], {"name": "my cluster"}, "invalid cluster name"),
    ],
)
def test_production_render_rejects(tmp_path: Path, hosts: list[str], kw: dict[str, str],
                                   match: str) -> None:
    with pytest.raises(UsageError, match=match):
        render_production(hosts, tmp_path, **kw)  # type: ignore[arg-type]


def test_node_counts() -> None:
    validate_node_count(3, False)
    validate_node_count(1, False)
    validate_node_count(4, True)
    with pytest.raises(UsageError, match="Raft"):
        validate_node_count(4, False)
    with pytest.raises(UsageError):
        validate_node_count(0, True)
