"""Operator load: CPU and memory of the operator process with 200 experiments in flight (target RSS < 300 MB).

The real operator (a subprocess) runs against the test API server of ``tests/operator/conftest.py``
on localhost. A kubelet loop keeps every experiment moving: each Job runs for a few seconds, then
succeeds, so all experiments stay in flight (Jobs being created, running, finishing) for the whole
measurement. The operator's process is sampled with psutil once a second.

    .venv/bin/python bench/operator_load.py [--experiments 200] [--duration 60] [--interval 15]

Finishes in well under 3 minutes on two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from typing import Any

import psutil
from operator_latency import NAMESPACE, fixtures, harness  # the shared harness (bench/ is on sys.path)

TARGET_RSS_MB = 300.0


async def keep_moving(cluster: Any, kubelet: Any, stop: asyncio.Event, run_seconds: tuple[float, float]) -> int:
    """Start every new Job, and finish each after a few seconds; returns how many stages finished."""
    due: dict[str, float] = {}
    finished = 0
    rng = random.Random(0)
    while not stop.is_set():
        now = time.monotonic()
        for job in cluster.jobs(NAMESPACE):
            name = job["metadata"]["name"]
            if not job.get("status"):
                await kubelet.start(job)
                due[name] = now + rng.uniform(*run_seconds)
            elif name in due and due[name] <= now:
                del due[name]
                experiment = job["metadata"]["ownerReferences"][0]["name"]
                stage = kubelet.stage(job)
                summary = fixtures.report_summary(experiment) if stage == "report" else None
                await kubelet.succeed(cluster.read("batch/v1/jobs", NAMESPACE, name), summary)
                finished += 1
        await asyncio.sleep(0.2)
    return finished


def sample_metric(text: str, name: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + "{") or line.startswith(name + " ")
    )


async def main(experiments: int, duration: float, interval: float) -> int:
    spec = fixtures.tiny_spec(weak={"model": "tiny-weak", "rounds": 4})  # 8 stages: in flight for the whole run
    async with harness("--namespace", NAMESPACE, interval=interval) as (cluster, process):
        operator = psutil.Process(process.process.pid)
        operator.cpu_percent(None)
        baseline_rss = operator.memory_info().rss / 2**20
        kubelet = fixtures.Kubelet(cluster)
        stop = asyncio.Event()
        mover = asyncio.create_task(keep_moving(cluster, kubelet, stop, (2.0, 6.0)))

        started = time.monotonic()
        for start in range(0, experiments, 20):
            names = [f"load-{i:03d}" for i in range(start, min(start + 20, experiments))]
            await asyncio.gather(*(cluster.create_experiment(NAMESPACE, name, spec) for name in names))
        rss: list[float] = []
        cpu: list[float] = []
        while time.monotonic() - started < duration:
            await asyncio.sleep(1.0)
            rss.append(operator.memory_info().rss / 2**20)
            cpu.append(operator.cpu_percent(None))
        text = await process.scrape()
        stop.set()
        finished = await mover

        phases: dict[str, int] = {}
        for i in range(experiments):
            phase = (cluster.experiment(NAMESPACE, f"load-{i:03d}").get("status") or {}).get("phase", "None")
            phases[phase] = phases.get(phase, 0) + 1
        duplicates = [key for key, count in cluster.creations.items() if key[0] == "jobs" and count > 1]

    reconciles = sample_metric(text, "ensemw2s_reconcile_total")
    seconds = sample_metric(text, "ensemw2s_reconcile_duration_seconds_sum")
    print(
        f"experiments: {experiments}  duration: {duration:.0f} s  resync interval: {interval:g} s  phases at end: {phases}"
    )
    print(
        f"stages finished: {finished}  reconciles: {reconciles:.0f}  mean reconcile: {seconds / max(reconciles, 1) * 1000:.0f} ms"
    )
    print(f"duplicate Jobs: {len(duplicates)}")
    print(f"operator CPU: mean {statistics.mean(cpu):.0f}%  peak {max(cpu):.0f}% (of one core)")
    verdict = "PASS" if max(rss) < TARGET_RSS_MB else "FAIL"
    print(
        f"operator RSS: start {baseline_rss:.0f} MB  mean {statistics.mean(rss):.0f} MB  peak {max(rss):.0f} MB"
        f"  [{verdict}: peak < {TARGET_RSS_MB:.0f} MB]"
    )
    return 0 if verdict == "PASS" and not duplicates else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--experiments", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of measurement")
    parser.add_argument("--interval", type=float, default=15.0, help="the operator's --reconcile-interval")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.experiments, args.duration, args.interval)))
