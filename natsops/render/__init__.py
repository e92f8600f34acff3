"""Render files from ``templates/`` with jinja2 (StrictUndefined: a missing value is an error)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from natsops.errors import NatsopsError, UsageError

if TYPE_CHECKING:
    import jinja2

__all__ = ["data_dir", "render", "render_string"]


def data_dir(kind: str) -> Path:
    """The shipped ``templates`` or ``recipes`` folder (inside the wheel, or the source tree)."""
    if kind not in ("templates", "recipes"):
        raise UsageError(f"unknown data folder {kind!r}")
    packaged = Path(str(resources.files("natsops"))) / "_data" / kind
    if packaged.is_dir():
        return packaged
    source = Path(__file__).resolve().parents[2] / kind
    if source.is_dir():
        return source
    raise NatsopsError(f"natsops installation is missing its {kind}/ folder")


def _conf_str(value: Any) -> str:
    """Quote a value for a nats-server config file (double quotes, escaped)."""
    s = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{s}"'


@lru_cache(maxsize=4)
def _env(folder: str) -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["q"] = _conf_str
    return env


def render(template: str, **context: Any) -> str:
    """Render ``templates/<template>`` with ``context``."""
    import jinja2

    try:
        return _env(str(data_dir("templates"))).get_template(template).render(**context)
    except jinja2.TemplateNotFound:
        raise NatsopsError(f"template {template!r} not found") from None
    except jinja2.UndefinedError as exc:
        raise NatsopsError(f"template {template!r}: {exc}") from None


def render_string(source: str, **context: Any) -> str:
    """Render a template given as text (used by tests and recipes)."""
    return _env(str(data_dir("templates"))).from_string(source).render(**context)
