"""The stage graph and stage names (the contract itself: test_contract.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ensemw2s.spec import (
    Stage,
    StageKind,
    StageSummary,
    StrongVariant,
    build_stage_graph,
    load_manifest,
    parse_spec,
    parse_stage_argv,
    stage_argv,
)

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart.yaml"


@pytest.fixture
def manifest():  # type: ignore[no-untyped-def]
    return load_manifest(QUICKSTART)


def test_graph_has_every_stage_per_seed(manifest) -> None:  # type: ignore[no-untyped-def]
    graph = build_stage_graph(manifest.spec)
    rounds = manifest.spec.weak.rounds
    per_seed = 1 + rounds + 1 + 3
    assert len(graph.stages) == per_seed * len(manifest.spec.seeds) + 1
    assert graph.stages[-1] == Stage(StageKind.REPORT)
    assert len(set(graph.names())) == len(graph.stages)


def test_dependencies_follow_the_method(manifest) -> None:  # type: ignore[no-untyped-def]
    graph = build_stage_graph(manifest.spec)
    seed = manifest.spec.seeds[0]
    prepare = Stage(StageKind.PREPARE, seed)
    weak = [Stage(StageKind.WEAK, seed, round=t) for t in range(manifest.spec.weak.rounds)]
    assert graph.dependencies[weak[0]] == (prepare,)
    assert graph.dependencies[weak[2]] == (weak[1],)
    assert graph.dependencies[Stage(StageKind.STRONG, seed, variant=StrongVariant.CEILING)] == (prepare,)
    assert graph.dependencies[Stage(StageKind.STRONG, seed, variant=StrongVariant.W2S)] == (weak[0],)
    assert graph.dependencies[Stage(StageKind.AGGREGATE, seed)] == tuple(weak)


def test_ceiling_is_ready_beside_the_first_weak_round(manifest) -> None:  # type: ignore[no-untyped-def]
    graph = build_stage_graph(manifest.spec)
    seed = manifest.spec.seeds[0]
    prepared = [Stage(StageKind.PREPARE, s) for s in manifest.spec.seeds]
    ready = graph.ready(prepared)
    assert Stage(StageKind.WEAK, seed, round=0) in ready
    assert Stage(StageKind.STRONG, seed, variant=StrongVariant.CEILING) in ready
    assert Stage(StageKind.WEAK, seed, round=1) not in ready
    assert graph.ready(prepared, started=ready) == []


def test_bagging_runs_weak_rounds_in_parallel(manifest) -> None:  # type: ignore[no-untyped-def]
    data = manifest.spec.to_json_dict()
    data["ensemble"]["method"] = "bagging"
    spec = parse_spec(data)
    graph = build_stage_graph(spec)
    seed = spec.seeds[0]
    ready = graph.ready([Stage(StageKind.PREPARE, seed)])
    assert {s.round for s in ready if s.kind is StageKind.WEAK and s.seed == seed} == set(range(spec.weak.rounds))


def test_baselines_can_be_switched_off(manifest) -> None:  # type: ignore[no-untyped-def]
    data = manifest.spec.to_json_dict()
    data["baselines"] = {"w2s": False, "ceiling": False}
    names = build_stage_graph(parse_spec(data)).names()
    assert not [n for n in names if n.endswith(("-w2s", "-ceiling"))]


def test_downstream_of_a_weak_round(manifest) -> None:  # type: ignore[no-untyped-def]
    graph = build_stage_graph(manifest.spec)
    seed = manifest.spec.seeds[0]
    down = graph.downstream(Stage(StageKind.WEAK, seed, round=0))
    assert Stage(StageKind.REPORT) in down
    assert Stage(StageKind.STRONG, seed, variant=StrongVariant.CEILING) not in down


def test_stage_names_round_trip(manifest) -> None:  # type: ignore[no-untyped-def]
    for stage in build_stage_graph(manifest.spec).stages:
        assert Stage.parse(stage.name) == stage
        assert parse_stage_argv(stage_argv(stage)) == stage
    assert Stage(StageKind.WEAK, 42, round=3).name == "weak-s42-r3"


@pytest.mark.parametrize("bad", ["", "weak-s1", "strong-s1-best", "nothing"])
def test_bad_stage_names(bad: str) -> None:
    with pytest.raises(ValueError, match="stage name: not a stage of the graph"):
        Stage.parse(bad)


def test_termination_message_fits_and_parses() -> None:
    summary = StageSummary(stage="report", key="k", seconds=1.0, notes=["x" * 3000, "y" * 3000], results={"a": 1})
    message = summary.termination_message()
    assert len(message.encode()) <= 4096
    parsed = StageSummary.from_termination_message(message)
    assert parsed is not None and parsed.results == {"a": 1} and parsed.notes == []
    assert StageSummary.from_termination_message("Traceback (most recent call last)") is None
