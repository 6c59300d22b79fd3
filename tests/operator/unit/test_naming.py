"""Job names and labels: deterministic, valid, within limits for long experiments and many rounds."""

from __future__ import annotations

import re

import pytest
from ensemw2s.operator.naming import (
    LABEL_EXPERIMENT,
    LABEL_MANAGED_BY,
    LABEL_ROUND,
    LABEL_SEED,
    LABEL_STAGE,
    MANAGER,
    experiment_selector,
    is_dns_label,
    job_name,
    label_value,
    service_name,
    stage_labels,
)
from ensemw2s.spec import Stage, StageKind, StrongVariant, build_stage_graph, parse_spec

LONG = "a-very-long-experiment-name-that-uses-every-one-of-63-characters"
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def big_graph_stages() -> list[Stage]:
    spec = parse_spec(
        {
            "seeds": [1, 22, 333333333],
            "dataset": {"name": "sciq", "sizes": {"easy": 1, "val": 1, "hardTrain": 1, "hardTest": 1}},
            "weak": {"model": "gpt2", "rounds": 30},
            "strong": {"model": "gpt2-medium"},
        }
    )
    return list(build_stage_graph(spec).stages)


def test_short_names_are_experiment_dash_stage():
    assert job_name("exp", Stage(StageKind.WEAK, 42, round=3)) == "exp-weak-s42-r3"
    assert job_name("exp", Stage(StageKind.REPORT)) == "exp-report"


@pytest.mark.parametrize("experiment", ["x", "exp", LONG[:40], LONG, "9starts-with-digit" + "z" * 45])
def test_every_stage_of_a_30_round_experiment_gets_a_distinct_valid_name(experiment):
    stages = big_graph_stages()
    names = [job_name(experiment, s) for s in stages]
    assert all(is_dns_label(n) for n in names), [n for n in names if not is_dns_label(n)]
    assert len(set(names)) == len(names)
    assert all(n.endswith(s.name) for n, s in zip(names, stages, strict=True))


def test_names_are_deterministic_and_long_names_do_not_collide():
    stage = Stage(StageKind.WEAK, 1, round=29)
    assert job_name(LONG, stage) == job_name(LONG, stage)
    other = LONG[:-1] + "x"
    assert job_name(LONG, stage) != job_name(other, stage)
    assert len(job_name(LONG, stage)) <= 63


def test_strong_jobs_leave_room_for_the_pod_index_of_indexed_jobs():
    stage = Stage(StageKind.STRONG, 333333333, variant=StrongVariant.ENSEMBLE)
    name = job_name(LONG, stage)
    assert len(f"{name}-127") <= 63


def test_service_names_start_with_a_letter():
    stage = Stage(StageKind.STRONG, 1, variant=StrongVariant.W2S)
    assert service_name("exp", stage) == job_name("exp", stage)
    digit = service_name("1exp", stage)
    assert digit[0].isalpha() and is_dns_label(digit) and len(digit) <= 59


def test_stage_labels_carry_experiment_stage_seed_round():
    labels = stage_labels("exp", Stage(StageKind.WEAK, 7, round=2))
    assert labels == {
        LABEL_EXPERIMENT: "exp",
        LABEL_MANAGED_BY: MANAGER,
        LABEL_STAGE: "weak-s7-r2",
        LABEL_SEED: "7",
        LABEL_ROUND: "2",
    }
    report = stage_labels("exp", Stage(StageKind.REPORT))
    assert LABEL_SEED not in report and LABEL_ROUND not in report


def test_selector_matches_the_labels():
    assert experiment_selector("exp") == "ensemw2s.io/experiment=exp,app.kubernetes.io/managed-by=ensemw2s-operator"
    labels = stage_labels("exp", Stage(StageKind.PREPARE, 1))
    for term in experiment_selector("exp").split(","):
        key, value = term.split("=")
        assert labels[key] == value


@pytest.mark.parametrize("value", ["ok", "x" * 80, "-1", "a/b c", "_x_"])
def test_label_values_are_always_valid(value):
    out = label_value(value)
    assert len(out) <= 63 and LABEL_VALUE.match(out)
    if len(value) <= 63 and LABEL_VALUE.match(value):
        assert out == value
