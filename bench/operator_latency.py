"""Operator latency: time from an experiment's creation to its first Job (target: median < 1 s).

Runs the real operator (``python -m ensemw2s.operator``, a subprocess) against the test API server
of ``tests/operator/conftest.py`` (KMock plus uid/resourceVersion/selectors) on localhost. Both
timestamps come from the API server (``metadata.creationTimestamp`` with microseconds), so polling
adds no error. Two runs: experiments created one at a time (the latency a user sees), then all at
once (a burst: queueing in the operator included).

    .venv/bin/python bench/operator_latency.py [--experiments 20] [--burst 50]

Finishes in well under 3 minutes on two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NAMESPACE = "bench"
TARGET_SECONDS = 1.0


def load_fixtures() -> ModuleType:
    """The emulator, kubelet and operator process helpers of the operator tests."""
    spec = importlib.util.spec_from_file_location("ensemw2s_operator_fixtures", ROOT / "tests/operator/conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


fixtures = load_fixtures()


@asynccontextmanager
async def harness(*operator_args: str, interval: float = 15.0) -> AsyncIterator[tuple[Any, Any]]:
    """An API server on localhost and the real operator against it: yields ``(cluster, process)``."""
    import kmock

    with tempfile.TemporaryDirectory(prefix="ensemw2s-bench-") as tmp:
        workdir = Path(tmp)
        async with fixtures.ClusterEmulator() as cluster, kmock.Server(cluster):
            for resource, info in fixtures.RESOURCES.items():
                cluster.resources[resource] = info
            cluster.namespaces_known.add(NAMESPACE)
            kubeconfig = workdir / "kubeconfig"
            server = str(cluster.url).rstrip("/")
            kubeconfig.write_text(
                json.dumps(
                    {
                        "apiVersion": "v1",
                        "kind": "Config",
                        "clusters": [{"name": "bench", "cluster": {"server": server}}],
                        "users": [{"name": "bench", "user": {"token": "bench"}}],
                        "contexts": [{"name": "bench", "context": {"cluster": "bench", "user": "bench"}}],
                        "current-context": "bench",
                    }
                )
            )
            process = fixtures.OperatorProcess(
                workdir, kubeconfig, [*operator_args, "--reconcile-interval", str(interval)]
            )
            await process.start()
            try:
                yield cluster, process
            finally:
                await process.stop()
                cluster.close_streams()


def created_at(obj: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(obj["metadata"]["creationTimestamp"]).replace("Z", "+00:00"))


async def first_job_latency(cluster: Any, name: str, timeout: float = 30.0) -> float:
    """Seconds from the experiment's creation to its first Job's creation (both server timestamps)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = cluster.jobs(NAMESPACE, name)
        if jobs:
            return (min(created_at(j) for j in jobs) - created_at(cluster.experiment(NAMESPACE, name))).total_seconds()
        await asyncio.sleep(0.002)
    raise TimeoutError(f"experiment {NAMESPACE}/{name}: no Job after {timeout}s")


def summary(label: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    median = statistics.median(ordered)
    verdict = "PASS" if median < TARGET_SECONDS else "FAIL"
    return (
        f"{label:<28} n={len(ordered):<4} median={median * 1000:7.1f} ms  p95={p95 * 1000:7.1f} ms  "
        f"max={ordered[-1] * 1000:7.1f} ms  [{verdict}: median < {TARGET_SECONDS:g} s]"
    )


async def main(experiments: int, burst: int) -> int:
    spec = fixtures.tiny_spec()
    async with harness("--namespace", NAMESPACE) as (cluster, _process):
        await cluster.create_experiment(NAMESPACE, "warmup", spec)  # imports and first connections
        await first_job_latency(cluster, "warmup")

        one_by_one = []
        for i in range(experiments):
            name = f"single-{i:03d}"
            await cluster.create_experiment(NAMESPACE, name, spec)
            one_by_one.append(await first_job_latency(cluster, name))
            await asyncio.sleep(0.1)

        names = [f"burst-{i:03d}" for i in range(burst)]
        await asyncio.gather(*(cluster.create_experiment(NAMESPACE, name, spec) for name in names))
        in_burst = list(await asyncio.gather(*(first_job_latency(cluster, name, timeout=120) for name in names)))

    print(summary("one at a time", one_by_one))
    print(summary(f"burst of {burst}", in_burst))
    return 0 if statistics.median(one_by_one) < TARGET_SECONDS else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--experiments", type=int, default=20, help="experiments created one at a time")
    parser.add_argument("--burst", type=int, default=50, help="experiments created at once")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.experiments, args.burst)))
