"""Type-check the packages under their real names (``ensemw2s.*``).

The folders ``spec/ trainer/ operator/ cli/`` map to ``ensemw2s.*`` through setuptools' editable finder,
which mypy cannot follow; this script builds a symlink view ``build/typing/ensemw2s/`` and runs mypy
(strict, from pyproject) on it. Run from anywhere: ``python tools/mypy_check.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("spec", "trainer", "operator", "cli")


def main() -> int:
    view = ROOT / "build" / "typing" / "ensemw2s"
    view.mkdir(parents=True, exist_ok=True)
    for name in PACKAGES:
        link = view / name
        if not link.is_symlink():
            link.symlink_to(ROOT / name, target_is_directory=True)
    env = {**os.environ, "MYPYPATH": str(view.parent)}
    command = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), "-p", "ensemw2s"]
    return subprocess.call(command, cwd=view.parent, env=env)


if __name__ == "__main__":
    sys.exit(main())
