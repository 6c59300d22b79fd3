"""One definition of each fact, checked on the source: the project's annotation and label keys, and the
regular expressions (the Kubernetes name rules), are each written in one module and imported elsewhere.

Docstrings are prose and may name a key; code (assignments, arguments, f-string parts) may not repeat it.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("spec", "trainer", "operator", "cli")
PROJECT_KEY = re.compile(r"ensemw2s\.io/[a-z][a-z0-9-]*")


def _parsed_modules() -> list[tuple[str, ast.Module]]:
    paths = sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))
    return [(path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(), filename=str(path))) for path in paths]


def _code_strings(tree: ast.Module) -> list[str]:
    """Every string constant of a module but its docstrings (a string standing alone as a statement)."""
    prose = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose
    ]


def _compiled_patterns(tree: ast.Module) -> list[str]:
    """The literal first argument of every ``re.compile(...)``."""
    return [
        str(call.args[0].value)
        for call in ast.walk(tree)
        if isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "compile"
        and call.args
        and isinstance(call.args[0], ast.Constant)
    ]


def _repeated(found: dict[str, set[str]]) -> dict[str, list[str]]:
    return {fact: sorted(modules) for fact, modules in found.items() if len(modules) > 1}


def test_each_project_annotation_and_label_key_is_written_in_one_module() -> None:
    keys: dict[str, set[str]] = defaultdict(set)
    for module, tree in _parsed_modules():
        for text in _code_strings(tree):
            for key in PROJECT_KEY.findall(text):
                keys[key].add(module)
    assert {"ensemw2s.io/redo", "ensemw2s.io/retry", "ensemw2s.io/stage"} <= set(keys), "the scan finds the keys"
    assert not _repeated(keys), f"import these keys from the module that defines them: {_repeated(keys)}"


def test_each_regular_expression_is_compiled_in_one_module() -> None:
    """The Kubernetes name rules live in spec/cluster_limits.py; nobody keeps a copy."""
    patterns: dict[str, set[str]] = defaultdict(set)
    for module, tree in _parsed_modules():
        for pattern in _compiled_patterns(tree):
            patterns[pattern].add(module)
    assert patterns, "the scan finds re.compile calls"
    assert not _repeated(patterns), f"compile each pattern in one module, import it: {_repeated(patterns)}"
