"""Write the images' locks (``docker/*-requirements.lock``) from the versions this environment runs.

Why a lock: the images install ``ensemw2s[...]`` from pyproject's floors, which resolve to whatever is newest
on the day of the build (an unpinned ``transformers`` once resolved to a release that refuses the base image's
torch, and every stage failed to load its model). Each lock pins every package its image installs to the
version the tests run with: ``make setup`` installs ``.venv`` with the locks as constraints and
``tests/deploy/test_images.py`` fails when ``.venv`` and a lock disagree.

How: pip resolves the image's extras (``pip install --dry-run --ignore-installed --report``) for this
interpreter (CPython 3.11 on Linux, the images' Python), constrained to the versions installed here
(``pip freeze``) and, for packages not installed here (``datasets`` and its own dependencies), to the
current lock, so a regeneration moves only what moved here. The lock keeps every package the extras need
except what the base image brings (the trainer's torch) and what only that needs (torch's
sympy, networkx, jinja2, nvidia-* and triton).

Run it with the project's interpreter, from outside the repository (its ``operator/`` folder shadows the
standard library's module):

    cd /tmp && /path/to/repo/.venv/bin/python /path/to/repo/docker/lock.py [--upgrade] [pip options]

``--upgrade`` drops the current locks' pins of packages not installed here (they resolve to the newest
release the rest allows). Other options go to pip, e.g. ``--extra-index-url`` where the installed torch is a
local build (``+cpu``) that the default index does not serve.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
REGENERATE = "cd /tmp && /path/to/repo/.venv/bin/python /path/to/repo/docker/lock.py"


@dataclass(frozen=True)
class ImageLock:
    """One image's lock: the extras its Dockerfile installs and what its base image already provides."""

    image: str
    path: Path
    extras: tuple[str, ...]
    provided_by_base: frozenset[NormalizedName]
    """Left out of the lock, with every package that only they need: the base image's own builds."""

    @property
    def install_target(self) -> str:
        """The requirement the Dockerfile installs, e.g. ``.[train,hub,quickstart]``."""
        return f".[{','.join(self.extras)}]"


LOCKS = (
    ImageLock(
        image="trainer",
        path=ROOT / "docker" / "trainer-requirements.lock",
        extras=("train", "hub", "quickstart"),
        provided_by_base=frozenset({canonicalize_name("torch")}),
    ),
    ImageLock(
        image="operator",
        path=ROOT / "docker" / "operator-requirements.lock",
        extras=("operator",),
        provided_by_base=frozenset(),
    ),
)
PROJECT = canonicalize_name("ensemw2s")


def read_lock(path: Path) -> dict[NormalizedName, str]:
    """The pins of a lock file: normalized name -> version (comments and blank lines skipped)."""
    pins: dict[NormalizedName, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        if not sep or not name.strip() or not version.strip() or any(c in version for c in "<>=!~,; "):
            raise ValueError(f"{path.name}:{number}: not a 'name==version' pin (got {raw!r}); regenerate: {REGENERATE}")
        pins[canonicalize_name(name.strip())] = version.strip()
    return pins


def installed() -> dict[NormalizedName, str]:
    """The distributions of this interpreter (``pip freeze``), our own editable install left out."""
    output = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"], check=True, capture_output=True, text=True
    ).stdout
    pins: dict[NormalizedName, str] = {}
    for line in output.splitlines():
        name, sep, version = line.partition("==")
        if sep:
            pins[canonicalize_name(name)] = version
    return pins


def resolve(lock: ImageLock, constraints: Mapping[NormalizedName, str], pip_options: list[str]) -> list[Any]:
    """pip's resolution of the image's extras under ``constraints``: the ``install`` items of its report."""
    with tempfile.TemporaryDirectory() as scratch:
        constraint_file = Path(scratch) / "constraints.txt"
        constraint_file.write_text("".join(f"{name}=={version}\n" for name, version in sorted(constraints.items())))
        report = Path(scratch) / "report.json"
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--report",
            str(report),
            "-c",
            str(constraint_file),
            *pip_options,
            f"{ROOT}[{','.join(lock.extras)}]",
        ]
        subprocess.run(command, check=True)
        items: list[Any] = json.loads(report.read_text())["install"]
    return items


def closure(items: Iterable[Any], lock: ImageLock) -> dict[NormalizedName, str]:
    """Every package the project's extras reach in pip's resolution, not walking through the base image's."""
    found: dict[NormalizedName, tuple[str, list[str]]] = {}
    for item in items:
        metadata = item["metadata"]
        found[canonicalize_name(metadata["name"])] = (metadata["version"], metadata.get("requires_dist") or [])
    pins: dict[NormalizedName, str] = {}
    seen: set[tuple[NormalizedName, str]] = set()
    pending: list[tuple[NormalizedName, str]] = [(PROJECT, extra) for extra in ("", *lock.extras)]
    while pending:
        name, extra = pending.pop()
        if (name, extra) in seen or name in lock.provided_by_base:
            continue
        seen.add((name, extra))
        if name not in found:
            raise RuntimeError(f"pip's resolution for {lock.image}: {name} is required but was not resolved")
        version, requires = found[name]
        if name != PROJECT:
            pins[name] = version
        for text in requires:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": extra}):
                dependency = canonicalize_name(requirement.name)
                pending.extend((dependency, wanted) for wanted in ("", *requirement.extras))
    return pins


def render(lock: ImageLock, pins: Mapping[NormalizedName, str]) -> str:
    """The lock file: a header that says what it is and how to remake it, then one pin a line."""
    provided = ", ".join(sorted(lock.provided_by_base))
    left_out = f", except {provided} and what only {provided} needs (the base image provides them)" if provided else ""
    about = (
        f"The {lock.image} image's Python packages: every package that docker/{lock.image}.Dockerfile's "
        f'`pip install -c docker/{lock.path.name} "{lock.install_target}"` installs{left_out}, pinned to the '
        "versions the tests run with. `make setup` installs .venv with this file as constraints and "
        "tests/deploy/test_images.py fails when .venv and this file disagree. Made by docker/lock.py: pip's "
        "resolution for CPython 3.11 on Linux (the images' Python), constrained to .venv's versions. Generated: "
        "change pyproject.toml or upgrade a package in .venv, then regenerate and run `make setup`:"
    )
    header = [f"# {line}" for line in textwrap.wrap(about, width=108)] + [f"#   {REGENERATE}"]
    return "\n".join([*header, *(f"{name}=={version}" for name, version in sorted(pins.items())), ""])


def main(argv: list[str]) -> int:
    upgrade = "--upgrade" in argv
    pip_options = [arg for arg in argv if arg != "--upgrade"]
    here = installed()
    for lock in LOCKS:
        current = {} if upgrade or not lock.path.exists() else read_lock(lock.path)
        constraints = {**current, **here}
        pins = closure(resolve(lock, constraints, pip_options), lock)
        lock.path.write_text(render(lock, pins), encoding="utf-8")
        print(f"{lock.path.relative_to(ROOT)}: {len(pins)} packages", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
