"""The credentials that push, pull, verify and ``account rm --from-servers`` connect with.

They need a system-account user. Credentials count only when given on purpose (flags, env,
an explicitly chosen context): the natscli context that is merely selected usually holds an
application user, so its credentials are dropped (its URL is kept), and
:func:`natsops.auth.push.system_settings` then mints a short-lived system user from the store.
"""

from __future__ import annotations

from pathlib import Path

from natsops.auth.creds import parse_creds
from natsops.context import Settings
from natsops.errors import UsageError

__all__ = ["AUTH_FIELDS", "push_settings"]

# every Settings field that carries credentials
AUTH_FIELDS = ("creds", "user", "password", "token", "nkey", "user_jwt", "user_seed")


def push_settings(settings: Settings, *, explicit_context: bool,
                  sys_creds: str | Path | None = None) -> Settings:
    """``settings`` with the credentials a system-account connection should use.

    Args:
        explicit_context: a context was chosen on purpose (``--context``, ``NATS_CONTEXT``);
            its credentials are then kept.
        sys_creds: a system user's creds file; it replaces every other credential.

    A creds file that cannot be read or is malformed is a :class:`UsageError` here, before
    any connection is tried.
    """
    from_selected = [k for k in AUTH_FIELDS
                     if str(settings.sources.get(k, "")).startswith("context:")]
    if from_selected and not explicit_context:
        settings = settings.with_(**dict.fromkeys(AUTH_FIELDS))
    if sys_creds is not None:
        settings = settings.with_(creds=str(sys_creds), user=None, token=None, nkey=None,
                                  user_jwt=None)
    if settings.creds:
        try:
            text = Path(settings.creds).read_text()
        except OSError as exc:
            raise UsageError(f"cannot read creds file {settings.creds}: {exc.strerror}") from None
        parse_creds(text, source=settings.creds)  # malformed creds: one clear line
    return settings
