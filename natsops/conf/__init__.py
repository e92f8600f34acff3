"""nats-server configuration: a parser that reads values exactly as the server does (with
file:line:col on every value) and the lint rules that run on it.

    >>> from natsops.conf import parse_text
    >>> parse_text("max_payload: 2MB").get("max_payload").value
    2097152
"""

from natsops.conf.lint import LintReport, lint_paths, lint_texts
from natsops.conf.parser import Config, ConfSyntaxError, Node, Pos, parse_file, parse_text
from natsops.conf.registry import RULES, Rule

__all__ = [
    "RULES", "ConfSyntaxError", "Config", "LintReport", "Node", "Pos", "Rule", "lint_paths",
    "lint_texts", "parse_file", "parse_text",
]
