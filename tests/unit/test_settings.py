"""Settings resolution: flag > NATS_* env > natscli context > natsops config > defaults."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from natsops.context import (
    CONTEXT_KEYS,
    DEFAULT_URL,
    Secret,
    list_contexts,
    load_context,
    resolve_settings,
    save_context,
    selected_context,
)
from natsops.errors import NotFound, UsageError


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}


def write_ctx(env: dict[str, str], name: str, **fields: object) -> Path:
    d = Path(env["XDG_CONFIG_HOME"]) / "nats" / "context"
    d.mkdir(parents=True, exist_ok=True)
    p = d / f"{name}.json"
    p.write_text(json.dumps(fields))
    return p


def select(env: dict[str, str], name: str) -> None:
    (Path(env["XDG_CONFIG_HOME"]) / "nats").mkdir(parents=True, exist_ok=True)
    (Path(env["XDG_CONFIG_HOME"]) / "nats" / "context.txt").write_text(f"  {name}\n")


def test_defaults(env: dict[str, str]) -> None:
    s = resolve_settings({}, env)
    assert s.servers == (DEFAULT_URL,)
    assert s.timeout == 5.0
    assert s.context is None
    assert s.user is None and s.password is None


def test_env_overrides_default_and_flag_overrides_env(env: dict[str, str]) -> None:
    env["NATS_URL"] = "nats://a:4222,nats://b:4222"
    s = resolve_settings({}, env)
    assert s.servers == ("nats://a:4222", "nats://b:4222")
    assert s.sources["servers"] == "env"
    s = resolve_settings({"server": "c:4222"}, env)
    assert s.servers == ("nats://c:4222",)
    assert s.sources["servers"] == "flag"


def test_selected_context_is_used(env: dict[str, str]) -> None:
    write_ctx(env, "stage", url="nats://stage:4222", user="u", password="p", description="x")
    select(env, "stage")
    assert selected_context(env) == "stage"
    s = resolve_settings({}, env)
    assert s.context == "stage"
    assert s.servers == ("nats://stage:4222",)
    assert s.user == "u"
    assert isinstance(s.password, Secret) and s.password.reveal() == "p"
    assert s.sources["servers"] == "context:stage"


def test_nats_context_env_beats_selection_and_flag_beats_env(env: dict[str, str]) -> None:
    write_ctx(env, "a", url="nats://a:1")
    write_ctx(env, "b", url="nats://b:2")
    write_ctx(env, "c", url="nats://c:3")
    select(env, "a")
    env["NATS_CONTEXT"] = "b"
    assert resolve_settings({}, env).servers == ("nats://b:2",)
    assert resolve_settings({"context": "c"}, env).servers == ("nats://c:3",)


def test_env_var_overrides_context_value(env: dict[str, str]) -> None:
    write_ctx(env, "a", url="nats://a:1", creds="/x.creds")
    select(env, "a")
    env["NATS_URL"] = "nats://env:9"
    s = resolve_settings({}, env)
    assert s.servers == ("nats://env:9",)
    assert s.creds == "/x.creds"


def test_empty_flag_never_clears_context_value(env: dict[str, str]) -> None:
    write_ctx(env, "a", url="nats://a:1")
    select(env, "a")
    s = resolve_settings({"server": "", "user": None}, env)
    assert s.servers == ("nats://a:1",)


def test_context_as_json_path(env: dict[str, str], tmp_path: Path) -> None:
    p = tmp_path / "standalone.json"
    p.write_text(json.dumps({"url": "nats://file:4", "inbox_prefix": "_I"}))
    s = resolve_settings({"context": str(p)}, env)
    assert s.context == "standalone"
    assert s.servers == ("nats://file:4",)
    assert s.inbox_prefix == "_I"


def test_path_fields_expand_home_and_vars(env: dict[str, str]) -> None:
    env["KEYS"] = "/keys"
    write_ctx(env, "a", creds="~/x.creds", nkey="$KEYS/u.nk", ca="${KEYS}/ca.pem", url="")
    _, data = load_context("a", env)
    assert data["creds"] == f"{env['HOME']}/x.creds"
    assert data["nkey"] == "/keys/u.nk"
    assert data["ca"] == "/keys/ca.pem"
    # an empty url in the context leaves the default
    assert resolve_settings({"context": "a"}, env).servers == (DEFAULT_URL,)


def test_user_without_password_is_a_token_for_flags_only(env: dict[str, str]) -> None:
    s = resolve_settings({"user": "s3cret"}, env)
    assert s.user is None and s.token is not None and s.token.reveal() == "s3cret"
    write_ctx(env, "a", user="bob")
    s = resolve_settings({"context": "a"}, env)
    assert s.user == "bob" and s.token is None


def test_no_context_ignores_selection(env: dict[str, str]) -> None:
    write_ctx(env, "a", url="nats://a:1")
    select(env, "a")
    assert resolve_settings({}, env, no_context=True).servers == (DEFAULT_URL,)


def test_selected_but_missing_context_is_an_error_naming_it(env: dict[str, str]) -> None:
    """Never a silent fallback to nats://127.0.0.1:4222 (another cluster may listen there)."""
    select(env, "gone")
    with pytest.raises(NotFound, match=r"context 'gone' is selected .* but does not exist") as exc:
        resolve_settings({}, env)
    assert exc.value.exit_code == 4
    # and natsops does not unselect it (natscli would rewrite context.txt)
    assert selected_context(env) == "gone"
    # --no-context and an explicit context still work
    assert resolve_settings({}, env, no_context=True).context is None
    write_ctx(env, "here", url="nats://here:1")
    assert resolve_settings({"context": "here"}, env).servers == ("nats://here:1",)


def test_auth_flag_replaces_the_contexts_whole_auth_method(env: dict[str, str]) -> None:
    write_ctx(env, "app", url="nats://a:1", user="app", password="pw", token="t0k")
    select(env, "app")
    s = resolve_settings({"creds": "/x/sys.creds"}, env)
    assert s.creds == "/x/sys.creds"
    assert (s.user, s.password, s.token) == (None, None, None)
    assert s.servers == ("nats://a:1",)  # the rest of the context stays
    env["NATS_NKEY"] = "/x/u.nk"
    s = resolve_settings({}, env)
    assert s.nkey == "/x/u.nk" and s.user is None and s.password is None
    del env["NATS_NKEY"]
    s = resolve_settings({"user": "bob", "password": "b"}, env)
    assert s.user == "bob" and s.password is not None and s.password.reveal() == "b"
    assert s.token is None
    # a password alone completes the context's user (it names no method)
    s = resolve_settings({"password": "other"}, env)
    assert s.user == "app" and s.password is not None and s.password.reveal() == "other"
    # a context's creds replace natsops config.yaml's user/password the same way
    cfg = Path(env["XDG_CONFIG_HOME"]) / "natsops"
    cfg.mkdir(parents=True)
    (cfg / "config.yaml").write_text("user: cfguser\npassword: cfgpw\n")
    write_ctx(env, "c", creds="/x/c.creds")
    s = resolve_settings({"context": "c"}, env)
    assert s.creds == "/x/c.creds" and s.user is None and s.password is None


def test_requested_missing_context_is_not_found(env: dict[str, str]) -> None:
    with pytest.raises(NotFound, match="context 'nope' not found"):
        resolve_settings({"context": "nope"}, env)


def test_invalid_context_json_is_usage_error(env: dict[str, str]) -> None:
    p = write_ctx(env, "bad")
    p.write_text("{not json")
    with pytest.raises(UsageError, match="not valid JSON"):
        resolve_settings({"context": "bad"}, env)


@pytest.mark.parametrize("name", ["../x", "a/b", ""])
def test_invalid_context_names(env: dict[str, str], name: str) -> None:
    with pytest.raises((UsageError, NotFound)):
        load_context(name or "..", env)


def test_timeout_parsing(env: dict[str, str]) -> None:
    assert resolve_settings({"timeout": "2s"}, env).timeout == 2.0
    env["NATS_TIMEOUT"] = "500ms"
    assert resolve_settings({}, env).timeout == 0.5
    with pytest.raises(UsageError, match="invalid timeout"):
        resolve_settings({"timeout": "soon"}, env)
    with pytest.raises(UsageError):
        resolve_settings({"timeout": "0"}, env)


def test_bad_url_scheme(env: dict[str, str]) -> None:
    with pytest.raises(UsageError, match="scheme"):
        resolve_settings({"server": "http://x:4222"}, env)


def test_secret_references(env: dict[str, str]) -> None:
    env["MY_PW"] = "from-env"
    s = resolve_settings({"user": "u", "password": "env://MY_PW"}, env)
    assert s.password is not None and s.password.reveal() == "from-env"
    s = resolve_settings({"token": "data:;base64,c2VjcmV0"}, env)
    assert s.token is not None and s.token.reveal() == "secret"
    with pytest.raises(UsageError, match="not set"):
        resolve_settings({"token": "env://MISSING_VAR"}, env)


def test_secrets_never_show(env: dict[str, str]) -> None:
    s = resolve_settings({"user": "u", "password": "hunter2", "token": "tok"}, env)
    text = repr(s) + str(s.describe()) + str(s.password)
    assert "hunter2" not in text and "tok'" not in text
    assert s.describe()["password"] == "***"


def test_natsops_config_is_below_context(env: dict[str, str]) -> None:
    cfg = Path(env["XDG_CONFIG_HOME"]) / "natsops"
    cfg.mkdir(parents=True)
    (cfg / "config.yaml").write_text("url: nats://cfg:1\ntimeout: 3s\n")
    s = resolve_settings({}, env)
    assert s.servers == ("nats://cfg:1",) and s.timeout == 3.0
    write_ctx(env, "a", url="nats://ctx:2")
    assert resolve_settings({"context": "a"}, env).servers == ("nats://ctx:2",)
    (cfg / "config.yaml").write_text("context: a\n")
    assert resolve_settings({}, env).context == "a"
    (cfg / "config.yaml").write_text("[unclosed\n")
    with pytest.raises(UsageError, match="not valid YAML"):
        resolve_settings({}, env)


def test_save_context_is_natscli_compatible_and_private(env: dict[str, str]) -> None:
    p = save_context("dev", {"url": "nats://x:1", "user": "u", "password": "p"}, env, select=True)
    assert stat.S_IMODE(p.stat().st_mode) == 0o600
    doc = json.loads(p.read_text())
    assert set(doc) == set(CONTEXT_KEYS)
    assert doc["tls_first"] is False and doc["windows_ca_certs_match"] is None
    assert list_contexts(env) == ["dev"]
    assert selected_context(env) == "dev"
    assert resolve_settings({}, env).servers == ("nats://x:1",)
    with pytest.raises(UsageError):
        save_context("dev", {"bogus": 1}, env)
