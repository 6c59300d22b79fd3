"""Fixtures of the cluster verbs' tests: KMock as the API server (the operator tests' emulator), w2sctl in a thread.

The emulator, the kubelet, the kubeconfig and the operator process are the operator tests' own
(``tests/operator/conftest.py``, loaded here by path: a conftest's fixtures reach only its folder).
Added for the CLI: server-side apply creates a missing object, as a real API server does (KMock answers
404; the merge that follows is KMock's, not the field-manager semantics, which the ``cluster`` suite
tests on a real control plane). :func:`w2sctl` runs ``main(argv)`` in a worker thread, because the
emulator serves from this test's event loop and the ``kubernetes`` client blocks.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import attrs
import kmock
import pytest
import yaml
from ensemw2s.cli.main import main

_OPERATOR_CONFTEST = Path(__file__).resolve().parents[2] / "operator" / "conftest.py"
_spec = importlib.util.spec_from_file_location("w2s_operator_test_fixtures", _OPERATOR_CONFTEST)
assert _spec is not None and _spec.loader is not None
fixtures = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = fixtures
_spec.loader.exec_module(fixtures)

EXPERIMENTS = fixtures.EXPERIMENTS
RESOURCES = fixtures.RESOURCES
APPLY_PATCH = "application/apply-patch+yaml"

# The operator tests' fixtures, by name (they use ``cluster`` below).
kubelet = fixtures.kubelet
kubeconfig = fixtures.kubeconfig
operator = fixtures.operator
drive = fixtures.drive
wait_for = fixtures.wait_for
experiment_spec = fixtures.experiment_spec
unused_port = fixtures.unused_port
report_summary = fixtures.report_summary
tiny_spec = fixtures.tiny_spec


@attrs.define(kw_only=True)
class ApplyingEmulator(fixtures.ClusterEmulator):  # type: ignore[misc,name-defined]
    """The operator tests' emulator, plus: a server-side apply of a missing object creates it."""

    async def _handle(self, request: kmock.Request) -> Any:
        content_type = str(request.headers.get("Content-Type", ""))
        if (
            request.method == kmock.method.PATCH
            and content_type.startswith(APPLY_PATCH)
            and request.resource is not None
            and request.name
            and isinstance(request.data, dict)
            and self._stored(request.resource, request.namespace, request.name) is None
        ):
            path = request.url.path.rsplit("/", 1)[0]
            status, data = await self.call("POST", path, request.data)
            assert status < 300, data
        return await super()._handle(request)


@pytest.fixture
async def cluster() -> AsyncIterator[Any]:
    async with ApplyingEmulator() as emulator, kmock.Server(emulator):
        for resource, info in RESOURCES.items():
            emulator.resources[resource] = info
        try:
            yield emulator
        finally:
            emulator.close_streams()


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("Error:")]


@pytest.fixture
def w2sctl(
    kubeconfig: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Awaitable[Result]]:
    """``await w2sctl("list", "-n", "default")``: exit code, stdout, stderr; $KUBECONFIG names the emulator."""
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.delenv("W2SCTL_DEBUG", raising=False)
    monkeypatch.setattr("ensemw2s.cli.wait.POLL_SECONDS", 0.05)

    async def run(*argv: str) -> Result:
        capsys.readouterr()
        code = await asyncio.to_thread(main, list(argv))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def experiment_file(tmp_path: Path) -> Callable[..., Path]:
    """``experiment_file("exp", namespace=None, **spec overrides)``: the tiny cluster spec as a YAML file
    (an override of None leaves that field out)."""

    def write(name: str, namespace: str | None = None, **overrides: Any) -> Path:
        metadata: dict[str, Any] = {"name": name}
        if namespace is not None:
            metadata["namespace"] = namespace
        body = {
            "apiVersion": EXPERIMENTS.rsplit("/", 1)[0],
            "kind": RESOURCES[EXPERIMENTS].kind,
            "metadata": metadata,
            "spec": {k: v for k, v in tiny_spec(**overrides).items() if v is not None},
        }
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(body))
        return path

    return write
