"""The operator's stage defaults: they fill what a spec leaves out (image, CPU, memory, GPUs), never override it."""

from __future__ import annotations

import json

import pytest
from ensemw2s.operator.jobs import (
    CLEANUP_RESOURCES,
    SMALL_RESOURCES,
    build_cleanup_job,
    build_stage_job,
    stage_resources,
)
from ensemw2s.operator.stage_defaults import (
    BUILT_IN_DEFAULTS,
    PodResources,
    StageDefaults,
    StageDefaultsError,
    parse_stage_defaults,
)
from ensemw2s.spec import Resources, Stage, StageKind, StrongVariant
from ensemw2s.spec.images import TRAINER_IMAGE

PREPARE = Stage(StageKind.PREPARE, 1)
WEAK = Stage(StageKind.WEAK, 1, round=0)
AGGREGATE = Stage(StageKind.AGGREGATE, 1)
STRONG = Stage(StageKind.STRONG, 1, variant=StrongVariant.W2S)
REPORT = Stage(StageKind.REPORT)

CLUSTER = StageDefaults(
    image="registry.example/mirror/trainer:7",
    weak=Resources(gpus=0, cpu="3", memory="6Gi"),
    strong=Resources(gpus=2, cpu="12", memory="48Gi"),
)


def container(job):
    return job["spec"]["template"]["spec"]["containers"][0]


def volume_names(job):
    return {v["name"] for v in job["spec"]["template"]["spec"]["volumes"]}


# -- resolution -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "task", "expected"),
    [
        (PREPARE, "classification", CLUSTER.weak),
        (WEAK, "classification", CLUSTER.weak),
        (AGGREGATE, "generation", CLUSTER.weak),
        (STRONG, "classification", CLUSTER.strong),
    ],
)
def test_defaults_of_the_stages_kind_fill_a_spec_without_resources(make_manifest, stage, task, expected):
    resources = stage_resources(make_manifest(spec={"task": task}), stage, CLUSTER)
    assert resources == PodResources(gpus=expected.gpus, cpu=expected.cpu, memory=expected.memory)


@pytest.mark.parametrize(("stage", "task"), [(AGGREGATE, "classification"), (REPORT, "classification")])
def test_stages_that_load_no_model_keep_their_small_fixed_resources(make_manifest, stage, task):
    assert stage_resources(make_manifest(spec={"task": task}), stage, CLUSTER) == SMALL_RESOURCES


def test_the_built_in_defaults_give_every_pod_cpu_and_memory_requests(manifest, owner):
    for stage in (PREPARE, WEAK, AGGREGATE, STRONG, REPORT):
        requests = container(build_stage_job(manifest, stage, owner))["resources"]["requests"]
        assert set(requests) == {"cpu", "memory"}, stage.name
    assert stage_resources(manifest, WEAK) == PodResources(gpus=0, cpu="1", memory="4Gi")
    assert stage_resources(manifest, STRONG) == PodResources(gpus=0, cpu="2", memory="8Gi")


def test_spec_values_win_field_by_field(make_manifest):
    manifest = make_manifest(spec={"strong": {"resources": {"cpu": "500m"}}, "weak": {"resources": {"memory": "1Gi"}}})
    assert stage_resources(manifest, STRONG, CLUSTER) == PodResources(gpus=2, cpu="500m", memory="48Gi")
    assert stage_resources(manifest, WEAK, CLUSTER) == PodResources(gpus=0, cpu="3", memory="1Gi")


def test_zero_gpus_in_the_spec_is_explicit_and_stays_zero(make_manifest, owner):
    manifest = make_manifest(spec={"strong": {"resources": {"gpus": 0}}})
    job = build_stage_job(manifest, STRONG, owner, defaults=CLUSTER)
    assert stage_resources(manifest, STRONG, CLUSTER).gpus == 0
    assert "nvidia.com/gpu" not in container(job)["resources"]["limits"]
    assert "dshm" not in volume_names(job)
    assert container(job)["command"][:3] == ["python", "-m", "ensemw2s.trainer"]


def test_default_gpus_become_a_limit_shared_memory_and_one_process_each(manifest, owner):
    job = build_stage_job(manifest, STRONG, owner, defaults=CLUSTER)
    assert container(job)["resources"] == {
        "requests": {"cpu": "12", "memory": "48Gi"},
        "limits": {"memory": "48Gi", "nvidia.com/gpu": "2"},
    }
    assert "dshm" in volume_names(job)
    assert container(job)["command"][0] == "torchrun" and "--nproc_per_node=2" in container(job)["command"]


def test_null_defaults_request_nothing(manifest, owner):
    bare = parse_stage_defaults('{"weak": {"cpu": null, "memory": null, "gpus": null}}')
    assert stage_resources(manifest, WEAK, bare) == PodResources(gpus=0, cpu=None, memory=None)
    assert container(build_stage_job(manifest, WEAK, owner, defaults=bare))["resources"] == {}


# -- the image --------------------------------------------------------------------------------------


def test_an_experiment_without_an_image_runs_the_operators_default(manifest, owner):
    assert manifest.spec.image is None
    assert container(build_stage_job(manifest, WEAK, owner))["image"] == TRAINER_IMAGE
    assert container(build_stage_job(manifest, WEAK, owner, defaults=CLUSTER))["image"] == CLUSTER.image
    assert container(build_cleanup_job(manifest, owner, defaults=CLUSTER))["image"] == CLUSTER.image


def test_the_spec_image_wins_over_the_default(make_manifest, owner):
    manifest = make_manifest(spec={"image": "registry.example/mine:2"})
    assert container(build_stage_job(manifest, WEAK, owner, defaults=CLUSTER))["image"] == "registry.example/mine:2"
    assert container(build_cleanup_job(manifest, owner, defaults=CLUSTER))["image"] == "registry.example/mine:2"


def test_the_cleanup_job_keeps_its_small_resources_whatever_the_defaults(make_manifest, owner):
    manifest = make_manifest(spec={"runPolicy": {"deleteArtifacts": True}})
    job = build_cleanup_job(manifest, owner, defaults=CLUSTER)
    assert container(job)["resources"]["requests"] == {"cpu": CLEANUP_RESOURCES.cpu, "memory": CLEANUP_RESOURCES.memory}


# -- parsing ----------------------------------------------------------------------------------------


def test_the_built_in_defaults_round_trip_as_json():
    text = BUILT_IN_DEFAULTS.model_dump_json(by_alias=True)
    assert parse_stage_defaults(text) == BUILT_IN_DEFAULTS == StageDefaults()
    assert json.loads(text)["image"] == TRAINER_IMAGE


def test_the_charts_json_parses():
    chart = {
        "image": "ghcr.io/ensemw2s/trainer@sha256:" + "a" * 64,
        "weak": {"cpu": "1", "memory": "4Gi", "gpus": 0},
        "strong": {"cpu": "4", "memory": "16Gi", "gpus": 1},
    }
    parsed = parse_stage_defaults(json.dumps(chart))
    assert parsed.image == chart["image"]
    assert parsed.strong == Resources(gpus=1, cpu="4", memory="16Gi")


def test_a_partial_section_keeps_the_other_built_in_defaults():
    parsed = parse_stage_defaults('{"strong": {"gpus": 1}}')
    assert parsed.strong == Resources(gpus=1, cpu="2", memory="8Gi")
    assert parsed.weak == BUILT_IN_DEFAULTS.weak and parsed.image == TRAINER_IMAGE


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{weak: 1}", "--stage-defaults: is not JSON: Expecting property name enclosed in double quotes at column 2"),
        ('{"weak": {"memory": "4GB"}}', "--stage-defaults: weak.memory: must match"),
        ('{"strong": {"gpus": "1"}}', "--stage-defaults: strong.gpus: must be an integer (got '1')"),
        ('{"strong": {"gpus": -1}}', "--stage-defaults: strong.gpus: must be >= 0 (got -1)"),
        ('{"image": ""}', "--stage-defaults: image: must have at least 1 characters"),
        ('{"images": "x"}', "--stage-defaults: images: unknown field"),
        ('{"weak": null}', "--stage-defaults: weak: "),
        ("[]", "--stage-defaults: "),
    ],
)
def test_bad_defaults_are_one_line_naming_the_field(text, message):
    with pytest.raises(StageDefaultsError) as error:
        parse_stage_defaults(text)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value) and str(error.value).endswith('"gpus": 0}}')  # the example
