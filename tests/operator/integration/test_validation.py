"""Invalid experiments: ``Accepted=False`` with a precise message, phase Invalid, an event, no Job."""

from __future__ import annotations

from typing import Any

NS = "default"


def invalid_specs(experiment_spec: Any) -> dict[str, tuple[dict[str, Any], str]]:
    """name -> (spec, the exact first line of the Accepted=False message)."""
    rounds = experiment_spec(weak={"model": "tiny-weak", "rounds": 0})
    dataset = experiment_spec(dataset={"name": "sciqq", "sizes": {"easy": 8, "val": 4, "hardTrain": 8, "hardTest": 4}})
    storage = experiment_spec()
    del storage["storage"]
    unknown = experiment_spec(strong={"model": "tiny-strong", "epochz": 3})
    return {
        "bad-rounds": (rounds, "spec.weak.rounds: must be >= 1 (got 0)"),
        "bad-dataset": (dataset, "spec.dataset.name: unknown dataset (got 'sciqq'); did you mean 'sciq'? known: "),
        "no-storage": (
            storage,
            "spec.storage: needs pvc or uri on a cluster (stages share artifacts); "
            "set spec.storage.pvc.claimName or spec.storage.uri",
        ),
        "bad-field": (unknown, "spec.strong.epochz: unknown field"),
    }


async def test_invalid_experiments_are_rejected_with_the_problem_and_create_nothing(
    cluster, operator, experiment_spec, wait_for
):
    await operator("--namespace", NS)
    cases = invalid_specs(experiment_spec)
    for name, (spec, _) in cases.items():
        await cluster.create_experiment(NS, name, spec)

    for name, (_, expected) in cases.items():
        status = await wait_for(
            lambda name=name: (s := cluster.experiment(NS, name).get("status")) and s.get("phase") == "Invalid" and s,
            what=f"{name} rejected",
        )
        accepted = next(c for c in status["conditions"] if c["type"] == "Accepted")
        assert (accepted["status"], accepted["reason"]) == ("False", "InvalidSpec"), name
        assert accepted["message"].startswith(expected), (name, accepted["message"])
        assert status["message"].startswith(expected)
        assert status["observedGeneration"] == 1
        events = await wait_for(
            lambda name=name: [e for e in cluster.events(NS, name) if e["reason"] == "InvalidSpec"], what="event"
        )
        assert events[0]["type"] == "Warning" and events[0]["message"].startswith(expected)
    assert cluster.jobs(NS) == []


async def test_fixing_a_rejected_spec_starts_the_experiment(cluster, operator, experiment_spec, wait_for):
    await operator("--namespace", NS)
    await cluster.create_experiment(NS, "fixme", experiment_spec(weak={"model": "tiny-weak", "rounds": 0}))
    await wait_for(
        lambda: cluster.experiment(NS, "fixme").get("status", {}).get("phase") == "Invalid", what="rejection"
    )

    await cluster.patch_experiment(NS, "fixme", {"spec": {"weak": {"rounds": 2}}})

    jobs = await wait_for(lambda: cluster.jobs(NS, "fixme"), what="the first Job")
    assert [j["metadata"]["name"] for j in jobs] == ["fixme-prepare-s1"]
    # The Job can be seen before the status patch lands (objects first, then status): wait for it.
    status = await wait_for(
        lambda: (s := cluster.experiment(NS, "fixme")["status"])["observedGeneration"] == 2 and s, what="status"
    )
    accepted = next(c for c in status["conditions"] if c["type"] == "Accepted")
    assert (accepted["status"], accepted["reason"], accepted["observedGeneration"]) == ("True", "SpecValid", 2)
    assert status["observedGeneration"] == 2
    reasons = await wait_for(
        lambda: (r := [e["reason"] for e in cluster.events(NS, "fixme")]) and "Accepted" in r and r, what="events"
    )
    assert reasons[0] == "InvalidSpec"


async def test_spec_warnings_become_warning_events_once_per_generation(cluster, operator, experiment_spec, wait_for):
    await operator("--namespace", NS, interval=0.1)
    upside_down = experiment_spec(weak={"model": "tiny-strong", "rounds": 2}, strong={"model": "tiny-weak"})
    await cluster.create_experiment(NS, "upside", upside_down)

    await wait_for(lambda: cluster.jobs(NS, "upside"), what="accepted despite the warning")
    warnings = await wait_for(
        lambda: [e for e in cluster.events(NS, "upside") if e["reason"] == "SpecWarning"], what="SpecWarning"
    )
    assert warnings[0]["type"] == "Warning"
    assert warnings[0]["message"] == (
        "spec.strong.model: is not bigger than the weak model 'tiny-strong' (got 'tiny-weak'); "
        "weak-to-strong needs a stronger student"
    )
    # The warning event and the Jobs can be seen before the status patch lands: wait for the condition.
    conditions = await wait_for(
        lambda: (cluster.experiment(NS, "upside").get("status") or {}).get("conditions"), what="status conditions"
    )
    accepted = next(c for c in conditions if c["type"] == "Accepted")
    assert accepted["status"] == "True" and "is not bigger than the weak model" in accepted["message"]
    # Several more reconciliations of the same generation (each starts with a read of the experiment,
    # after the previous one has emitted its events), then: still the one warning.
    reads = cluster.experiment_reads(NS, "upside")
    await wait_for(lambda: cluster.experiment_reads(NS, "upside") >= reads + 3, what="3 more reconciliations")
    assert len([e for e in cluster.events(NS, "upside") if e["reason"] == "SpecWarning"]) == 1


async def test_objects_the_api_refuses_reject_the_experiment(cluster, operator, experiment_spec, wait_for):
    """A 422 on a Job (an admission policy, a bad nodeSelector) is permanent: Accepted=False, no retry loop."""
    cluster.admission = lambda request: (
        "image registry.evil/trainer is not allowed"
        if request.resource == cluster.resource("batch/v1/jobs") and request.namespace == NS
        else None
    )
    await operator("--namespace", NS)
    await cluster.create_experiment(NS, "denied", experiment_spec(image="registry.evil/trainer:1"))

    status = await wait_for(
        lambda: (s := cluster.experiment(NS, "denied").get("status")) and s.get("phase") == "Invalid" and s,
        what="rejection",
    )
    accepted = next(c for c in status["conditions"] if c["type"] == "Accepted")
    assert accepted["status"] == "False"
    assert accepted["message"].startswith(
        "EnsemW2SExperiment default/denied: create Job default/denied-prepare-s1: rejected by the API server "
        '(got HTTP 422 Invalid: admission webhook "policy.example.com" denied the request: '
        "image registry.evil/trainer is not allowed); fix the experiment spec"
    )
    events = await wait_for(
        lambda: [e for e in cluster.events(NS, "denied") if e["reason"] == "InvalidSpec"], what="InvalidSpec"
    )
    assert events[0]["type"] == "Warning" and events[0]["message"] == accepted["message"]
    assert cluster.jobs(NS) == []
