"""Checks beyond the schema, shared by w2sctl validate, local runs and the operator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ensemw2s.spec import Severity, SpecError, Target, load_manifest, parse_spec, semantic_problems, validate_spec

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart.yaml"


def spec_with(**changes: Any) -> Any:
    data = load_manifest(QUICKSTART).spec.to_json_dict()
    for dotted, value in changes.items():
        target = data
        keys = dotted.split("__")
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return parse_spec(data)


def messages(spec: Any, target: Target = Target.LOCAL) -> list[str]:
    return [str(p) for p in semantic_problems(spec, target)]


def test_quickstart_is_valid_locally() -> None:
    assert validate_spec(load_manifest(QUICKSTART).spec) == []


def test_unknown_dataset_suggests_the_closest_name() -> None:
    found = messages(spec_with(dataset__name="sciqq"))
    assert found == [
        "spec.dataset.name: unknown dataset (got 'sciqq'); did you mean 'sciq'? known: amazon_polarity, arc-challenge, "
        "arc-easy, boolq, cosmos_qa, local, quartz, sciq, synthetic-sentiment, synthetic-topics; "
        "or set spec.dataset.source"
    ]


def test_unknown_model_preset() -> None:
    found = messages(spec_with(weak__model="tiny-wek"))
    assert len(found) == 1
    assert found[0].startswith(
        "spec.weak.model: is not a preset, a Hugging Face id (org/name) or a path (got 'tiny-wek'); did you mean 'tiny-weak'?"
    )


@pytest.mark.parametrize("model", ["gpt2", "Qwen/Qwen1.5-0.5B", "./models/mine", "/abs/path", "minilm"])
def test_model_references_accepted(model: str) -> None:
    assert not [
        p
        for p in semantic_problems(spec_with(strong__model=model))
        if p.path == "spec.strong.model" and p.severity is Severity.ERROR
    ]


def test_strong_not_bigger_than_weak_is_a_warning() -> None:
    found = semantic_problems(spec_with(weak__model="gpt2-medium", strong__model="gpt2"))
    assert [(p.path, p.severity) for p in found] == [("spec.strong.model", Severity.WARNING)]


@pytest.mark.parametrize(("gpus", "got"), [(None, "nothing"), (0, "0")])
def test_multi_node_training_needs_gpus_the_spec_names(gpus: int | None, got: str) -> None:
    """The operator's default GPUs may be none: nodes > 1 needs an explicit spec.strong.resources.gpus."""
    resources = {} if gpus is None else {"gpus": gpus}
    spec = spec_with(strong__nodes=2, strong__resources=resources)
    assert messages(spec) == [
        f"spec.strong.resources.gpus: must be set to 1 or more when spec.strong.nodes is 2 (got {got}); "
        "set the GPUs of each node, or spec.strong.nodes to 1"
    ]
    with pytest.raises(SpecError):
        validate_spec(spec, Target.CLUSTER)


def test_multi_node_training_with_gpus_and_one_node_without_are_fine() -> None:
    assert messages(spec_with(strong__nodes=2, strong__resources={"gpus": 1})) == []
    assert messages(spec_with(strong__nodes=1, strong__resources={})) == []


def test_unset_resources_and_image_stay_unset() -> None:
    """The CRD defaults neither: the operator's defaults fill them when it builds the Jobs."""
    spec = load_manifest(QUICKSTART).spec
    assert spec.image is None
    assert (spec.weak.resources.gpus, spec.weak.resources.cpu, spec.weak.resources.memory) == (None, None, None)


def test_sizes_above_max_items() -> None:
    found = messages(spec_with(dataset__maxItems=100))
    assert any(
        m.startswith(
            "spec.dataset.sizes: easy + val + hardTrain + hardTest = 1800 exceeds spec.dataset.maxItems (got 100)"
        )
        for m in found
    )


def test_local_dataset_needs_a_source() -> None:
    assert "spec.dataset.source: is required when spec.dataset.name is 'local'; give a JSONL or CSV path" in messages(
        spec_with(dataset__name="local")
    )


def test_cluster_needs_shared_storage() -> None:
    spec = spec_with()
    assert messages(spec) == []
    found = messages(spec, Target.CLUSTER)
    assert found == [
        "spec.storage: needs pvc or uri on a cluster (stages share artifacts); set spec.storage.pvc.claimName or spec.storage.uri"
    ]
    with pytest.raises(SpecError):
        validate_spec(spec, Target.CLUSTER)


def test_bagging_ignores_resampling_with_a_warning() -> None:
    found = semantic_problems(spec_with(ensemble__method="bagging", weak__sampleWeighting="resample"))
    assert [p.severity for p in found] == [Severity.WARNING]


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        ("org/na me", "each part of a Hugging Face id uses letters, digits"),
        ("a/b/c", "a Hugging Face id has at most one '/' (org/name)"),
        ("org/", "a Hugging Face id has no empty part"),
        ("-org/name", "starts and ends with a letter or digit"),
        ("org/name.", "starts and ends with a letter or digit"),
        ("org/na--me", "has no '--' or '..'"),
        ("org/" + "n" * 97, "at most 96 characters (one has 97)"),
    ],
)
def test_malformed_hub_ids_are_refused_here_and_by_the_operator(model: str, reason: str) -> None:
    for target in Target:
        found = [p for p in semantic_problems(spec_with(strong__model=model), target) if p.path == "spec.strong.model"]
        assert len(found) == 1 and found[0].severity is Severity.ERROR
        assert found[0].message.startswith("is not a well-formed Hugging Face id: ")
        assert reason in found[0].message
        assert "write a local directory with a path prefix" in found[0].message


@pytest.mark.parametrize("model", ["org/name", "Qwen/Qwen2.5-0.5B", "a_b/c.d-e", "org/" + "n" * 96, "file:///models/x"])
def test_well_formed_hub_ids_and_paths_pass(model: str) -> None:
    assert [p for p in semantic_problems(spec_with(strong__model=model)) if p.path == "spec.strong.model"] == []


def test_model_path_reads_the_path_prefixes() -> None:
    from ensemw2s.spec.catalog import model_path

    assert model_path("file:///models/x") == Path("/models/x")
    assert model_path("file:models/x") == Path("models/x")
    assert model_path("./m") == Path("m")
    assert model_path("org/name") is None and model_path("tiny-weak") is None


def test_sizes_the_max_items_halves_cannot_hold() -> None:
    """e2h draws easy + val from the easier half of the pool: maxItems 64 gives 32 there."""
    found = messages(
        spec_with(dataset__maxItems=64, dataset__sizes={"easy": 30, "val": 5, "hardTrain": 20, "hardTest": 9})
    )
    assert found == [
        "spec.dataset.sizes: easy + val = 35 but the easy half holds 32 of 64 examples spec.dataset.maxItems allows; "
        "lower spec.dataset.sizes.easy/val or raise spec.dataset.maxItems"
    ]
    random = spec_with(
        dataset__maxItems=64,
        dataset__split="random",
        dataset__sizes={"easy": 30, "val": 5, "hardTrain": 20, "hardTest": 9},
    )
    assert messages(random) == []


def test_source_must_be_jsonl_or_csv() -> None:
    assert messages(spec_with(dataset__name="local", dataset__source="s3://bucket/data.parquet")) == [
        "spec.dataset.source: must be a JSONL or CSV file (.jsonl, .csv) (got 's3://bucket/data.parquet'); "
        "convert the file to JSONL or CSV"
    ]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"storage__pvc": {"claimName": "My_Claim"}}, "spec.storage.pvc.claimName: must be a DNS-1123 subdomain"),
        ({"storage__hfTokenSecretRef": "x" * 254}, "spec.storage.hfTokenSecretRef: must have at most 253 characters"),
        ({"scheduling__queueName": "team queue"}, "spec.scheduling.queueName: must be a label value"),
        ({"scheduling__nodeSelector": {"gpu/": "a"}}, "spec.scheduling.nodeSelector['gpu/']: key name must be"),
        ({"scheduling__tolerations": [{"key": "a b", "operator": "Exists"}]}, "spec.scheduling.tolerations[0].key"),
    ],
)
def test_names_the_api_server_refuses(changes: dict[str, Any], expected: str) -> None:
    for target in Target:
        assert any(m.startswith(expected) for m in messages(spec_with(**changes), target))


def test_an_object_over_the_etcd_limit_is_refused() -> None:
    """The whole object as stored (1.5 MiB), here through a huge image field (w2sctl validate --cluster)."""
    from ensemw2s.spec import parse_manifest
    from ensemw2s.spec.cluster_limits import OBJECT_MAX_BYTES, manifest_object_problems

    manifest = load_manifest(QUICKSTART).to_json_dict()
    assert manifest_object_problems(parse_manifest(manifest)) == []
    manifest["spec"]["image"] = "registry.example/" + "i" * OBJECT_MAX_BYTES
    found = [str(p) for p in manifest_object_problems(parse_manifest(manifest))]
    assert len(found) == 1
    assert found[0].startswith("manifest: the object must be at most 1572864 bytes (1.5 MiB, etcd's limit) (got '")
