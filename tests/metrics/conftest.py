"""Fixtures of the metrics tests: Debian's ``prometheus`` package (``promtool``, the server) and exposition checks.

``make setup`` installs the package (``apt-get install prometheus``) where it can; a test that needs it is
skipped, saying so, only on a machine where it is not installed.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

INSTALL_HINT = "install Debian's prometheus package (make setup does: apt-get install prometheus)"


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} not installed; {INSTALL_HINT}")
    return found


@pytest.fixture(scope="session")
def promtool() -> str:
    return _binary("promtool")


@pytest.fixture(scope="session")
def prometheus_server() -> str:
    return _binary("prometheus")


@pytest.fixture
def check_exposition(promtool: str, tmp_path: Path) -> Callable[[bytes], None]:
    """``promtool check metrics`` on an exporter's output: fails on any problem (naming, units, help, types)."""

    def check(text: bytes) -> None:
        checked = subprocess.run(
            [promtool, "check", "metrics"], input=text, capture_output=True, timeout=30, check=False
        )
        assert checked.returncode == 0, (checked.stdout + checked.stderr).decode()
        assert not checked.stdout.strip() and not checked.stderr.strip(), (checked.stdout + checked.stderr).decode()

    return check
