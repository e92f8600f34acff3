"""The one confirmation prompt of the CLI: on stderr, and never waiting on a missing terminal."""

import sys

from natsops.errors import UsageError


def interactive() -> bool:
    """True when stdin is a terminal (prompts, and natscli's questions for missing values)."""
    return sys.stdin.isatty()


def confirm(question: str, *, force: bool, flag: str = "--force") -> None:
    """Ask ``question`` unless ``force``; "no" aborts with exit 1.

    Without a terminal on stdin (CI, a pipe, cron) nobody can answer: that is a usage error
    (exit 2) naming ``flag`` (the command's option that skips the question: ``--force``, or
    ``--yes`` where ``--force`` means something else), never a hang and never a silent "yes".
    """
    if force:
        return
    if not interactive():
        raise UsageError(f"cannot ask {question!r}: stdin is not a terminal",
                         hint=f"pass {flag} to go ahead without asking")
    import typer

    typer.confirm(question, default=False, abort=True, err=True)
