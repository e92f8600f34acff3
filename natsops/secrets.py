"""Mask secrets in text before it is shown: config lines, messages, logs.

What is masked (the value is replaced by ``•••``; quotes are kept as ``"•••"``):

- the value of a key that holds a secret: ``password``, ``pass``, ``token``, ``auth_token``,
  ``bearer_token``, ``seed``, ``user_seed``, ``nkey_seed``, ``secret``, ``client_secret``,
  ``private_key``, ``jwt``, ``user_jwt`` (``password: "x"``, ``"token": "x"``, ``pass=x``), bcrypt
  hashes included: a hash can be cracked offline, and nobody needs to read one in a report;
- nkey seeds anywhere (``SU…``, ``SA…``, ``SO…``, ``SN…``, ``SC…``, ``SX…``, ``SP…``: 58
  characters of base32 starting with S);
- JWTs anywhere (``eyJ….….…``): a user JWT can be a bearer token;
- the password (or token) in a URL: ``nats://user:•••@host:4222``, ``nats://•••@host``,
  ``user:•••@host`` (a URL missing its scheme).

Kept: variable and environment references (``password: $APP_PASS``, ``env://VAR``), which name
where a secret lives rather than the secret itself, and public nkeys (``U…``, ``A…``, ``O…``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["MASK", "MaskingFilter", "mask_data", "mask_line", "mask_text"]

MASK = "•••"

_KEYS = (r"password|pass|passwd|token|auth_token|bearer_token|seed|user_seed|nkey_seed|secret|"
         r"client_secret|private_key|jwt|user_jwt")
_VALUE = r"""(?P<v>"(?:[^"\\\n]|\\.)*"?|'[^'\n]*'?|[^\s,;}\])]+)"""
# key then ':' or '=' (JSON, YAML, nats-server config, k=v); not the last part of a path
# (`/etc/passwd: ... is not a directory` names a file, it holds no secret)
_KEYED = re.compile(r"""(?P<k>(?<![\w./\\-])["']?(?:""" + _KEYS + r""")["']?\s*[:=]\s*)"""
                    + _VALUE, re.IGNORECASE)
# nats-server config also separates a key from its value with blanks: `password s3cret`
_BLANK = re.compile(r"""(?P<k>(?:^|[{,\[])\s*(?:""" + _KEYS + r""")[ \t]+)(?![:=])""" + _VALUE,
                    re.IGNORECASE)
_SEED = re.compile(r"\bS[UAONCXP][A-Z2-7]{56}\b")
_JWT = re.compile(r"\beyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]+")
_URL_AUTH = re.compile(r"(?P<s>\b[a-z][a-z0-9+.-]*://)(?P<u>[^\s/@:]+)(?::(?P<p>[^\s/@]*))?@",
                       re.IGNORECASE)
# a URL written without its scheme: user:password@host
_BARE_AUTH = re.compile(r"""(?P<u>(?<![\w:/.@-])[\w.-]+):[^\s/@:'"]+@(?=[\w\[])""")
_REFERENCE = re.compile(r"""^["']?(\$(?!2[aby]?\$)\{?[A-Za-z_]\w*\}?|env://\w+)["']?$""")


def _keyed(m: re.Match[str]) -> str:
    value = m.group("v")
    if _REFERENCE.match(value) or value in ('""', "''"):
        return m.group(0)
    return f'{m.group("k")}"{MASK}"'


def _url(m: re.Match[str]) -> str:
    if m.group("p") is None:  # nats://TOKEN@host
        return f"{m.group('s')}{MASK}@"
    return f"{m.group('s')}{m.group('u')}:{MASK}@"


def mask_text(text: str) -> str:
    """``text`` with every secret value, seed, JWT and URL password replaced by ``•••``."""
    if not text:
        return text
    text = _SEED.sub(MASK, text)
    text = _JWT.sub(MASK, text)
    text = _URL_AUTH.sub(_url, text)
    text = _BARE_AUTH.sub(lambda m: f"{m.group('u')}:{MASK}@", text)
    return _KEYED.sub(_keyed, text)


def mask_line(line: str) -> str:
    """One source line of a config (any of natsops' formats) with its secrets masked.

    Besides :func:`mask_text`, a nats-server config key separated from its value by blanks
    (``password s3cret``) is masked.
    """
    return _BLANK.sub(_keyed, mask_text(line))


def mask_data(value: Any) -> Any:
    """A JSON-like value with its strings masked and secret keys' values replaced."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {k: (MASK if _is_secret_key(k) and isinstance(v, str) and v
                    and not _REFERENCE.match(v) else mask_data(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_data(v) for v in value]
    return value


def _is_secret_key(key: object) -> bool:
    return isinstance(key, str) and re.fullmatch(_KEYS, key, re.IGNORECASE) is not None


class MaskingFilter(logging.Filter):
    """A logging filter (for handlers) that masks secrets in every record's message."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler's error path
            return True
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
