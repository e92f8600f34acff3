"""Read recipe files: YAML, many documents per file, files or directories, with line numbers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from natsops.errors import UsageError
from natsops.estate.model import Doc, RecipeError, Resource
from natsops.files import read_text

__all__ = ["load_docs", "load_resources", "load_text", "recipe_files"]

SUFFIXES = (".yaml", ".yml")


def recipe_files(paths: Iterable[str | Path]) -> list[Path]:
    """The files named, and every ``*.yaml``/``*.yml`` below each directory named (sorted)."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.suffix in SUFFIXES and f.is_file())
            if not found:
                raise UsageError(f"{p}: no *.yaml recipe files in this directory")
            out.extend(found)
        elif p.exists():
            out.append(p)
        else:
            raise UsageError(f"{p}: no such file or directory")
    if not out:
        raise UsageError("give at least one recipe file or directory")
    return out


def _lines(node: Any, prefix: str, out: dict[str, int]) -> None:
    import yaml

    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                path = f"{prefix}{key.value}"
                out[path] = key.start_mark.line + 1
                _lines(value, path + ".", out)


def load_docs(path: Path) -> list[Doc]:
    """Every non-empty document of one YAML file, with the line of each field."""
    return load_text(read_text(path, what="recipe"), path)


def load_text(text: str, path: str | Path) -> list[Doc]:
    """Every non-empty document of recipe ``text`` read from ``path``."""
    import yaml

    # libyaml's parser when present (10x faster on a big estate), the same nodes and marks
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    docs: list[Doc] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            data = loader.construct_document(node)
            line = node.start_mark.line + 1
            if data is None:
                continue
            docs.append(_doc(path, line, node, data))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise RecipeError(str(path), mark.line + 1 if mark else 1,
                          f"not valid YAML: {problem}") from None
    finally:
        loader.dispose()
    return docs


def _doc(path: str | Path, line: int, node: Any, data: Any) -> Doc:
    lines: dict[str, int] = {}
    _lines(node, "", lines)
    file = str(path)
    if not isinstance(data, Mapping):
        raise RecipeError(file, line, "a recipe document is a mapping with kind, metadata and "
                          "spec")
    if "kind" not in data:
        raise RecipeError(file, line, f"no 'kind' (one of {', '.join(_kinds())})",
                          hint="a bare StreamConfig file goes to `natsops stream add --config`")
    extra = sorted(set(data) - {"kind", "metadata", "spec", "apiVersion"})
    if extra:
        raise RecipeError(file, lines.get(extra[0], line), f"unknown top-level field "
                          f"{extra[0]!r}: a recipe document has kind, metadata and spec")
    meta, spec = data.get("metadata") or {}, data.get("spec") or {}
    for key, value in (("metadata", meta), ("spec", spec)):
        if not isinstance(value, Mapping):
            raise RecipeError(file, lines.get(key, line), f"{key!r} must be a mapping")
    return Doc(kind=str(data["kind"]), metadata=dict(meta), spec=dict(spec), file=str(path),
               line=line, lines=lines)


def _kinds() -> list[str]:
    from natsops.estate.kinds import kinds

    return sorted(kinds())


def load_resources(paths: Iterable[str | Path]) -> list[Resource]:
    """Load and validate every resource of the recipe files/directories, in file order.

    A resource named twice, an unknown kind or an invalid field is a UsageError naming
    ``file:line`` and the field.
    """
    from natsops.estate.kinds import handler

    out: list[Resource] = []
    seen: dict[tuple[str, str], str] = {}
    for f in recipe_files(paths):
        for doc in load_docs(f):
            res = handler(doc.kind, doc=doc).load(doc)
            key = (res.kind, res.name)
            if key in seen:
                raise RecipeError(str(f), doc.line, f"{res.kind} {res.name} is also defined "
                                  f"at {seen[key]}")
            seen[key] = res.source
            out.append(res)
    if not out:
        # an empty recipe set would plan every managed resource away under --prune
        raise UsageError("no resources in the recipe files (each document needs kind and "
                         "metadata.name)")
    return out
