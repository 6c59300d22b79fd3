"""The architecture you can see: packages listed, layers pointing one way, no heavy imports in the CLI root.

The import rules are checked on the source (every ``import`` statement of every module), so a lazy
import inside a function counts too: the operator image has no torch, the trainer has no kopf.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "spec": "ensemw2s.spec",
    "trainer": "ensemw2s.trainer",
    "operator": "ensemw2s.operator",
    "cli": "ensemw2s.cli",
}

FORBIDDEN = {
    "spec": {
        "torch",
        "transformers",
        "accelerate",
        "kopf",
        "kubernetes",
        "typer",
        "rich",
        "ensemw2s.trainer",
        "ensemw2s.operator",
        "ensemw2s.cli",
    },
    "trainer": {"kopf", "kubernetes", "typer", "rich", "ensemw2s.operator", "ensemw2s.cli"},
    "operator": {"torch", "transformers", "accelerate", "typer", "rich", "ensemw2s.trainer", "ensemw2s.cli"},
    "cli": set(),
}


def imported_modules(path: Path, package: str) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    relative_base = package + "." + ".".join(path.relative_to(ROOT / package.split(".")[-1]).parent.parts)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = relative_base.rstrip(".").split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                found.add(f"{base}.{node.module}" if node.module else base)
            elif node.module:
                found.add(node.module)
    return found


def sources(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("folder", sorted(PACKAGES))
def test_layers_point_one_way(folder: str) -> None:
    violations = []
    for path in sources(folder):
        for module in imported_modules(path, PACKAGES[folder]):
            for banned in FORBIDDEN[folder]:
                if module == banned or module.startswith(banned + "."):
                    violations.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not violations, "\n".join(violations)


def test_no_top_level_operator_import_of_ours() -> None:
    """``import operator`` must always mean the standard library."""
    for folder in PACKAGES:
        for path in sources(folder):
            for module in imported_modules(path, PACKAGES[folder]):
                assert not module.startswith(("trainer.", "operator.", "spec.", "cli.")), f"{path}: {module}"


def test_every_package_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {
        PACKAGES[init.relative_to(ROOT).parts[0]] + "".join(f".{p}" for p in init.relative_to(ROOT).parts[1:-1])
        for folder in PACKAGES
        for init in (ROOT / folder).rglob("__init__.py")
    }
    assert on_disk == listed


@pytest.mark.parametrize("argv", [["--help"], ["validate", "--help"]])
def test_cli_root_does_not_import_the_ml_or_cluster_stack(argv: list[str], tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from ensemw2s.cli.main import main\n"
        f"rc = main({argv!r})\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'kubernetes', 'kopf') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout


def test_spec_imports_only_pydantic_and_yaml(tmp_path: Path) -> None:
    code = (
        "import sys, ensemw2s.spec; print(sorted(m for m in ('torch','numpy','kopf','kubernetes') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_operator_imports_without_the_ml_stack(tmp_path: Path) -> None:
    """The operator image installs ``ensemw2s[operator]`` only: no torch, transformers, numpy or fsspec."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'torch', 'transformers', 'accelerate', 'numpy', 'fsspec', 'typer', 'rich'}:\n"
        "            raise ImportError(f'blocked: {name}')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import ensemw2s.operator, ensemw2s.operator.handlers, ensemw2s.operator.__main__\n"
        "print('OK')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0 and "OK" in out.stdout, out.stderr
