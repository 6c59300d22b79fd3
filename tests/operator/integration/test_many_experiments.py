"""Twenty experiments at once, in two namespaces, one operator watching all namespaces."""

from __future__ import annotations

import asyncio
import time

NAMESPACES = ("team-a", "team-b")
COUNT = 20


async def test_twenty_experiments_run_concurrently_to_succeeded(cluster, operator, drive, experiment_spec, wait_for):
    cluster.namespaces_known.update(NAMESPACES)
    process = await operator("--all-namespaces", interval=2.0)
    names = [(NAMESPACES[i % 2], f"exp-{i:02d}") for i in range(COUNT)]

    started = time.monotonic()
    await asyncio.gather(*(cluster.create_experiment(ns, name, experiment_spec()) for ns, name in names))
    orders = await asyncio.gather(*(drive(ns, name, timeout=90, poll=0.25) for ns, name in names))
    elapsed = time.monotonic() - started

    assert all(order[0] == "prepare-s1" and order[-1] == "report" and len(order) == 6 for order in orders)
    for ns, name in names:
        status = cluster.experiment(ns, name)["status"]
        assert status["phase"] == "Succeeded", (ns, name, status)
        assert len(cluster.jobs(ns, name)) == 6
    job_creations = [count for (kind, _, _), count in cluster.creations.items() if kind == "jobs"]
    assert len(job_creations) == COUNT * 6 and set(job_creations) == {1}

    text = await process.scrape()
    for ns in NAMESPACES:
        assert f'ensemw2s_experiments{{namespace="{ns}",phase="Succeeded"}} 10.0' in text
    assert elapsed < 60, f"20 experiments took {elapsed:.1f}s"
