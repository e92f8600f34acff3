"""The shape the design promises, checked: a core without the CLI's libraries, thin commands,
comments that state facts instead of pointing at notes outside the repository."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import natsops

PACKAGE = Path(natsops.__file__).parent
COMMAND_BODY_LIMIT = 15


def test_core_imports_neither_typer_nor_rich() -> None:
    """Every module outside natsops.cli imports in a process that never loads typer or rich."""
    code = (
        "import importlib, pkgutil, sys, natsops\n"
        "for m in pkgutil.walk_packages(natsops.__path__, 'natsops.'):\n"
        "    if not m.name.startswith('natsops.cli'):\n"
        "        importlib.import_module(m.name)\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in ('typer', 'rich', 'click')))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert p.stdout.strip() == "[]", p.stdout


def _command_functions() -> list[tuple[Path, ast.FunctionDef, list[str]]]:
    found = []
    for path in sorted((PACKAGE / "cli").rglob("*.py")):
        src = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(src))):
            if isinstance(node, ast.FunctionDef) and any(
                    isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute)
                    and d.func.attr in ("command", "callback") for d in node.decorator_list):
                found.append((path, node, src))
    return found


def _body_lines(node: ast.FunctionDef, src: list[str]) -> int:
    """Lines of code in a function body: no docstring, imports, blank lines or comments."""
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    lines: set[int] = set()
    for stmt in body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            continue
        for n in range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1):
            text = src[n - 1].strip()
            if text and not text.startswith("#"):
                lines.add(n)
    return len(lines)


def test_command_bodies_are_thin() -> None:
    """A command reads its options, calls the library, renders: logic lives in the core."""
    commands = _command_functions()
    assert len(commands) > 50
    fat = [f"{p.relative_to(PACKAGE)}:{n.lineno} {n.name} ({_body_lines(n, s)} lines)"
           for p, n, s in commands if _body_lines(n, s) > COMMAND_BODY_LIMIT]
    assert fat == []


def test_comments_state_facts_not_note_references() -> None:
    """Code must not send readers to reference notes that live outside the repository."""
    hits = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if "errata" in line.lower() or "§" in line or "shared/reference" in line:
                hits.append(f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}")
    assert hits == []
