"""The values natscli asks for when ``stream add``/``consumer add`` leave them out.

The rules (which values, in which order, with which defaults, how answers are read) live here;
whoever asks is a callback (:data:`Ask`), so the CLI prompts on a terminal and a script can
answer from anywhere. Without a callback a missing value is a usage error naming the flags.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from natsops.errors import UsageError

__all__ = ["Ask", "Question", "answer_int", "unanswered"]


@dataclass(frozen=True)
class Question:
    """One value to ask for: ``text`` is the prompt, ``default`` what an empty answer means."""

    key: str
    text: str
    default: str
    show_default: bool = True


Ask = Callable[[Question], str]


def unanswered(flags: Sequence[str]) -> UsageError:
    """The error for values nobody can be asked for (no terminal): it names their flags."""
    return UsageError("missing " + ", ".join(flags),
                      hint="give them, or --defaults to accept natscli's defaults")


def answer_int(text: str, flag: str) -> int:
    """An integer typed as an answer; UsageError (exit 2) otherwise."""
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"invalid {flag} {text!r}: not a whole number") from None
