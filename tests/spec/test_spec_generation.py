"""task: generation in the spec: the generation section, its defaults, and every rule only generation has."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest
from ensemw2s.operator.crd import experiment_json_schema
from ensemw2s.spec import (
    GENERATION_DATASETS,
    ChoiceAnswer,
    ExperimentSpec,
    Generation,
    Severity,
    SpecError,
    parse_manifest,
    parse_spec,
    semantic_problems,
    validate_spec,
)
from ensemw2s.spec.catalog import DATASETS, MODEL_PRESETS, SYNTHETIC_WORD_OPS, causal_lm_presets
from ensemw2s.spec.fields import FieldRole, leaf_roles, output_fields

GENERATION: dict[str, Any] = {
    "task": "generation",
    "seeds": [1, 2],
    "dataset": {"name": "synthetic-word-ops", "sizes": {"easy": 400, "val": 100, "hardTrain": 150, "hardTest": 150}},
    "weak": {"model": "tiny-weak", "rounds": 3},
    "strong": {"model": "smollm2-135m"},
    "generation": {"maxNewTokens": 8},
}
CLASSIFICATION: dict[str, Any] = {
    "dataset": {"name": "synthetic-sentiment", "sizes": {"easy": 8, "val": 4, "hardTrain": 8, "hardTest": 4}},
    "weak": {"model": "tiny-weak"},
    "strong": {"model": "tiny-strong"},
}


def changed(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """``base`` with ``a__b=value`` set at ``a.b`` (``None`` removes the key)."""
    data = copy.deepcopy(base)
    for dotted, value in changes.items():
        node = data
        *parents, leaf = dotted.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return data


def messages(data: dict[str, Any]) -> list[str]:
    return [str(p) for p in semantic_problems(parse_spec(data)) if p.severity is Severity.ERROR]


def test_the_generation_example_is_valid() -> None:
    spec = parse_spec(GENERATION)
    assert validate_spec(spec) == []
    assert spec.generation_settings == Generation(max_new_tokens=8)


def test_generation_settings_default_when_the_section_is_absent() -> None:
    spec = parse_spec(changed(GENERATION, generation=None))
    assert spec.generation is None
    assert spec.generation_settings == Generation()
    assert (Generation().chance_rate, Generation().window, Generation().max_new_tokens) == (None, 0, 16)
    assert Generation().choice_answer is ChoiceAnswer.TEXT


def test_generation_dumps_camel_case_and_is_part_of_the_outputs() -> None:
    spec = parse_spec(changed(GENERATION, generation={"chanceRate": 0.01, "window": 2, "choiceAnswer": "letter"}))
    assert spec.to_json_dict()["generation"] == {
        "chanceRate": 0.01,
        "window": 2,
        "maxNewTokens": 16,
        "choiceAnswer": "letter",
    }
    assert output_fields(spec)["generation"]["window"] == 2
    roles = leaf_roles(ExperimentSpec)
    assert {roles[f"generation.{name}"] for name in ("chanceRate", "window", "maxNewTokens", "choiceAnswer")} == {
        FieldRole.OUTPUT
    }


def test_a_spec_without_generation_dumps_no_generation_key() -> None:
    """Classification's stage keys hash the dump: a new absent section must not change it."""
    spec = parse_spec(CLASSIFICATION)
    assert "generation" not in spec.to_json_dict()
    assert "generation" not in output_fields(spec)


def test_qa_datasets_are_the_generation_datasets_but_the_synthetic_task() -> None:
    from ensemw2s.trainer.data.qa import QA_DATASETS

    assert set(QA_DATASETS) == set(GENERATION_DATASETS) - {SYNTHETIC_WORD_OPS}
    assert set(QA_DATASETS) <= set(DATASETS)


def test_causal_lm_presets() -> None:
    assert set(causal_lm_presets()) >= {"tiny-weak", "smollm2-135m"}
    assert not {"minilm", "minilm-l1", "tiny-strong"} & set(causal_lm_presets())
    assert set(causal_lm_presets()) <= set(MODEL_PRESETS)


CAUSAL = ", ".join(causal_lm_presets())
PROBLEMS: list[tuple[dict[str, Any], str]] = [
    (
        changed(CLASSIFICATION, generation={"window": 1}),
        "spec.generation: is read only by task generation, not by spec.task (got 'classification'); "
        "remove spec.generation, or set spec.task to generation",
    ),
    (
        changed(GENERATION, dataset__name="synthetic-sentiment"),
        "spec.dataset.name: has no questions with answer texts, which task generation trains on "
        f"(got 'synthetic-sentiment'); use one of {', '.join(GENERATION_DATASETS)}, or a local question file "
        "(spec.dataset.source)",
    ),
    (
        changed(GENERATION, dataset__name="amazon_polarity"),
        "spec.dataset.name: has no questions with answer texts, which task generation trains on "
        f"(got 'amazon_polarity'); use one of {', '.join(GENERATION_DATASETS)}, or a local question file "
        "(spec.dataset.source)",
    ),
    (
        changed(GENERATION, dataset__name="synthetic-word-op"),
        "spec.dataset.name: unknown dataset (got 'synthetic-word-op'); did you mean 'synthetic-word-ops'? "
        f"known: {', '.join(GENERATION_DATASETS)}, local; or set spec.dataset.source",
    ),
    (
        changed(CLASSIFICATION, dataset__name="synthetic-word-ops"),
        "spec.dataset.name: is a generation task (answer texts, no class labels), but spec.task is classification "
        "(got 'synthetic-word-ops'); set spec.task to generation, or pick a classification dataset",
    ),
    (
        changed(GENERATION, ensemble={"combine": "vote"}),
        "spec.ensemble.combine: must be prob for task generation (answers are decoded from the alpha-weighted "
        "mixture of the learners' next-token distributions; there is no vote over texts) (got 'vote'); "
        "set it to prob or leave it out",
    ),
    (
        changed(GENERATION, weak__sampleWeighting="resample"),
        "spec.weak.sampleWeighting: must be weighted_loss for task generation (AdaBoost weighs answer tokens, "
        "which cannot be resampled) (got 'resample'); set it to weighted_loss or leave it out",
    ),
    (
        changed(GENERATION, strong__loss="logconf"),
        "spec.strong.loss: must be xent for task generation (students are fine-tuned on pseudo-answers with the "
        "token NLL; logconf needs class probabilities) (got 'logconf'); set it to xent or leave it out",
    ),
    (
        changed(GENERATION, dataset__difficulty={"method": "kfold"}),
        "spec.dataset.difficulty.method: cannot be kfold for task generation (k-fold rating trains classifiers) "
        "(got 'kfold'); use column (a difficulty column) or proxy",
    ),
    (
        changed(GENERATION, dataset__numClasses=4),
        "spec.dataset.numClasses: is a classification setting that task generation does not read (got 4); remove it",
    ),
    (
        changed(GENERATION, dataset__format="binary"),
        "spec.dataset.format: is a classification setting that task generation does not read (got 'binary'); remove it",
    ),
    (
        changed(GENERATION, weak__head="auto"),
        "spec.weak.head: is a classification setting that task generation does not read (got 'auto'); remove it",
    ),
    (
        changed(GENERATION, strong__head="last_token"),
        "spec.strong.head: is a classification setting that task generation does not read (got 'last_token'); "
        "remove it",
    ),
    (
        changed(GENERATION, strong__pseudoLabels="hard"),
        "spec.strong.pseudoLabels: is a classification setting that task generation does not read (got 'hard'); "
        "remove it",
    ),
    (
        changed(GENERATION, weak__model="tiny-strong"),
        "spec.weak.model: is an encoder preset, which cannot write answers (got 'tiny-strong'); task generation "
        f"needs a causal LM: {CAUSAL}, or a Hugging Face causal LM id or directory",
    ),
    (
        changed(GENERATION, strong__model="minilm"),
        "spec.strong.model: is an encoder preset, which cannot write answers (got 'minilm'); task generation "
        f"needs a causal LM: {CAUSAL}, or a Hugging Face causal LM id or directory",
    ),
    (
        changed(GENERATION, strong__model="minilm-l2"),
        "spec.strong.model: is an encoder preset, which cannot write answers (got 'minilm-l2'); task generation "
        f"needs a causal LM: {CAUSAL}, or a Hugging Face causal LM id or directory",
    ),
]


@pytest.mark.parametrize(
    ("data", "expected"), PROBLEMS, ids=[e.split(":")[0] + str(i) for i, (_, e) in enumerate(PROBLEMS)]
)
def test_each_generation_rule_is_one_problem(data: dict[str, Any], expected: str) -> None:
    assert messages(data) == [expected]
    with pytest.raises(SpecError):
        validate_spec(parse_spec(data))


@pytest.mark.parametrize(
    "data",
    [
        changed(GENERATION, dataset__name="sciq"),
        changed(GENERATION, dataset__name="local", dataset__source="file:///data/questions.jsonl"),
        changed(GENERATION, dataset__name="amazon_polarity", dataset__source="questions.csv"),
        changed(GENERATION, dataset__difficulty={"method": "proxy"}, dataset__split="random"),
        changed(GENERATION, ensemble={"method": "bagging", "combine": "prob"}, weak__lora={"r": 4}),
        changed(GENERATION, weak__model="gpt2", strong__model="Qwen/Qwen2.5-0.5B"),
        changed(CLASSIFICATION, dataset__name="sciq"),
    ],
    ids=["sciq", "local-file", "any-name-with-source", "proxy-random", "bagging-lora", "hub-models", "classification"],
)
def test_valid_generation_choices(data: dict[str, Any]) -> None:
    assert messages(data) == []


def test_local_without_source_is_one_problem_in_either_task() -> None:
    for base in (GENERATION, CLASSIFICATION):
        assert messages(changed(base, dataset__name="local")) == [
            "spec.dataset.source: is required when spec.dataset.name is 'local'; give a JSONL or CSV path"
        ]


STRICT = experiment_json_schema()
VALIDATOR = jsonschema.validators.validator_for(STRICT)(STRICT)
TYPES: list[tuple[str, Any, bool]] = [
    ("chanceRate", 0.5, True),
    ("chanceRate", 1, False),
    ("chanceRate", 0, False),
    ("chanceRate", "0.1", False),
    ("chanceRate", None, True),
    ("window", 64, True),
    ("window", 65, False),
    ("window", 2.0, True),
    ("window", 2.5, False),
    ("window", True, False),
    ("maxNewTokens", 0, False),
    ("maxNewTokens", "8", False),
    ("maxNewTokens", 1024, True),
    ("choiceAnswer", "letter", True),
    ("choiceAnswer", "LETTER", False),
    ("unknownField", 1, False),
]


@pytest.mark.parametrize(("field", "value", "valid"), TYPES)
def test_generation_fields_are_as_strict_locally_as_in_the_crd(field: str, value: Any, valid: bool) -> None:
    manifest = {
        "apiVersion": "ensemw2s.io/v1alpha1",
        "kind": "EnsemW2SExperiment",
        "metadata": {"name": "generation"},
        "spec": changed(GENERATION, generation={field: value}),
    }
    try:
        parse_manifest(manifest)
        local = True
    except SpecError:
        local = False
    assert (local, bool(VALIDATOR.is_valid(manifest))) == (valid, valid)


def test_generation_has_the_classification_stage_graph() -> None:
    from ensemw2s.spec import build_stage_graph

    generation = parse_spec(changed(GENERATION, seeds=[1], baselines={"w2s": True, "ceiling": True}))
    classification = parse_spec(changed(CLASSIFICATION, seeds=[1], weak__rounds=3))
    assert [s.name for s in build_stage_graph(generation).stages] == [
        s.name for s in build_stage_graph(classification).stages
    ]
