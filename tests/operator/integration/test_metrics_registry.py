"""``OperatorMetrics``: exact per-experiment series (removed on deletion, no uid) in a private registry."""

from __future__ import annotations

import prometheus_client
from ensemw2s.operator.metrics import OperatorMetrics
from ensemw2s.spec.results import PGRs


def value(metrics: OperatorMetrics, name: str, **labels: str) -> float | None:
    found = metrics.registry.get_sample_value(name, labels)
    return None if found is None else float(found)


def test_the_phase_gauge_counts_experiments_per_namespace_and_drops_empty_namespaces():
    metrics = OperatorMetrics()
    metrics.set_experiment("a", "x", "Running", None)
    metrics.set_experiment("a", "y", "Running", None)
    metrics.set_experiment("b", "z", "Failed", None)
    metrics.set_experiment("a", "y", "Succeeded", None)

    assert value(metrics, "ensemw2s_experiments", namespace="a", phase="Running") == 1
    assert value(metrics, "ensemw2s_experiments", namespace="a", phase="Succeeded") == 1
    assert value(metrics, "ensemw2s_experiments", namespace="a", phase="Failed") == 0
    assert value(metrics, "ensemw2s_experiments", namespace="b", phase="Failed") == 1

    metrics.forget_experiment("b", "z")

    assert value(metrics, "ensemw2s_experiments", namespace="b", phase="Failed") is None
    assert value(metrics, "ensemw2s_experiments", namespace="a", phase="Failed") == 0


def test_pgr_series_follow_the_results_and_go_with_the_experiment():
    metrics = OperatorMetrics()
    metrics.set_experiment("a", "x", "Succeeded", PGRs(w2s_vs_weak=0.2, ensemw2s_vs_weak=0.5))

    assert value(metrics, "ensemw2s_experiment_pgr", namespace="a", experiment="x", baseline="ensemw2s_vs_weak") == 0.5
    assert (
        value(metrics, "ensemw2s_experiment_pgr", namespace="a", experiment="x", baseline="ensemw2s_vs_ensemble")
        is None
    )

    metrics.set_experiment("a", "x", "Succeeded", PGRs(ensemw2s_vs_weak=0.6))
    assert value(metrics, "ensemw2s_experiment_pgr", namespace="a", experiment="x", baseline="w2s_vs_weak") is None

    metrics.forget_experiment("a", "x")
    assert "ensemw2s_experiment_pgr{" not in metrics.render().decode()
    metrics.forget_experiment("a", "x")  # twice is fine


def test_counters_and_histograms():
    metrics = OperatorMetrics()
    metrics.observe_stage("weak", 90.0)
    metrics.count_retries("OOMKilled", 2)
    metrics.count_retries("", 1)
    metrics.count_retries("Error", 0)
    metrics.observe_reconcile("ok", 0.02)

    assert value(metrics, "ensemw2s_stage_duration_seconds_count", kind="weak") == 1
    assert value(metrics, "ensemw2s_stage_retries_total", reason="OOMKilled") == 2
    assert value(metrics, "ensemw2s_stage_retries_total", reason="Unknown") == 1
    assert value(metrics, "ensemw2s_stage_retries_total", reason="Error") is None
    assert value(metrics, "ensemw2s_reconcile_total", result="ok") == 1
    assert value(metrics, "ensemw2s_reconcile_duration_seconds_bucket", le="0.025") == 1


def test_the_registry_is_private():
    OperatorMetrics()
    OperatorMetrics()  # a second instance does not clash with the first

    assert prometheus_client.REGISTRY.get_sample_value("ensemw2s_reconcile_total", {"result": "ok"}) is None
