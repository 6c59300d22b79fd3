"""The cleanup Job (``runPolicy.deleteArtifacts``): the trainer's ``clean`` in the stage pod template, no owner."""

from __future__ import annotations

import pytest
from ensemw2s.operator.deletion import CLEANUP_POLL, CLEANUP_POLL_MAX, cleanup_delay
from ensemw2s.operator.errors import PermanentError
from ensemw2s.operator.jobs import (
    CLEANUP_RESOURCES,
    artifacts_location,
    build_cleanup_job,
    build_stage_job,
    container_resources,
)
from ensemw2s.operator.naming import (
    ANNOTATION_EXPERIMENT_UID,
    LABEL_EXPERIMENT,
    LABEL_MANAGED_BY,
    LABEL_QUEUE,
    LABEL_STAGE,
    cleanup_job_name,
    is_dns_label,
)
from ensemw2s.operator.observe import JobPhase, job_outcome
from ensemw2s.spec import Stage, StageKind, cleanup_command, invocation_from_environment

WEAK = Stage(StageKind.WEAK, 1, round=0)


def pod_spec(job):
    return job["spec"]["template"]["spec"]


def container(job):
    return pod_spec(job)["containers"][0]


def plain_env(job):
    return {e["name"]: e["value"] for e in container(job)["env"] if "value" in e}


def test_cleanup_job_runs_the_trainers_clean_command_with_the_stage_environment(manifest, owner):
    job = build_cleanup_job(manifest, owner)

    assert container(job)["command"] == cleanup_command() == ["python", "-m", "ensemw2s.trainer", "clean"]
    # `clean` reads the environment as a stage does (the stage itself is unused).
    invocation = invocation_from_environment(Stage(StageKind.REPORT), plain_env(job))
    assert invocation.manifest == manifest and invocation.store == "/artifacts"
    assert invocation.termination_log == "/dev/termination-log"


def test_cleanup_job_has_no_owner_but_names_its_experiment(manifest, owner):
    job = build_cleanup_job(manifest, owner)
    meta = job["metadata"]

    assert "ownerReferences" not in meta  # it must outlive the experiment it cleans
    assert meta["name"] == "exp-cleanup" and meta["namespace"] == "research"
    assert meta["annotations"] == {ANNOTATION_EXPERIMENT_UID: "uid-123"}
    assert meta["labels"] == {LABEL_EXPERIMENT: "exp", LABEL_MANAGED_BY: "ensemw2s-operator", LABEL_STAGE: "cleanup"}
    assert job["spec"]["template"]["metadata"]["labels"] == meta["labels"]


def test_cleanup_job_policy(manifest, owner):
    spec = build_cleanup_job(manifest, owner)["spec"]

    assert spec["backoffLimit"] == 2
    assert spec["ttlSecondsAfterFinished"] == 300
    assert spec["activeDeadlineSeconds"] == 900  # never waits forever
    assert "suspend" not in spec  # deletion waits for it: never created suspended
    assert spec["podFailurePolicy"]["rules"][0]["onExitCodes"]["values"] == [2]  # a bad spec is not retried


def test_cleanup_job_reuses_the_stage_pod_template(make_manifest, owner):
    manifest = make_manifest(
        spec={
            "image": "registry.example.com/w2s:1.2",
            "storage": {"pvc": {"claimName": "shared", "subPath": "runs"}, "secretRef": "store-creds"},
            "scheduling": {
                "nodeSelector": {"pool": "cpu"},
                "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
                "priorityClassName": "batch-low",
                "queueName": "team-a",
            },
            "runPolicy": {"suspend": True, "backoffLimit": 7, "deleteArtifacts": True},
        }
    )
    cleanup, stage = build_cleanup_job(manifest, owner), build_stage_job(manifest, WEAK, owner)

    for key in ("securityContext", "nodeSelector", "tolerations", "priorityClassName", "restartPolicy"):
        assert pod_spec(cleanup)[key] == pod_spec(stage)[key], key
    for key in ("image", "securityContext", "envFrom", "volumeMounts", "terminationMessagePath"):
        assert container(cleanup)[key] == container(stage)[key], key
    assert pod_spec(cleanup)["volumes"] == pod_spec(stage)["volumes"]  # the PVC (no GPU: no /dev/shm)
    assert plain_env(cleanup)["W2S_STORE"] == "/artifacts/runs"
    assert LABEL_QUEUE not in cleanup["metadata"]["labels"]  # not queued, not suspended
    assert cleanup["spec"]["backoffLimit"] == 2  # its own policy, not the stages'


def test_cleanup_job_with_a_store_uri_passes_the_uri_and_credentials(make_manifest, owner):
    manifest = make_manifest(spec={"storage": {"pvc": None, "uri": "s3://bucket/w2s", "secretRef": "s3-creds"}})
    job = build_cleanup_job(manifest, owner)

    assert plain_env(job)["W2S_STORE"] == "s3://bucket/w2s"
    assert container(job)["envFrom"] == [{"secretRef": {"name": "s3-creds"}}]
    assert [v["name"] for v in pod_spec(job)["volumes"]] == ["tmp"]


def test_cleanup_job_requests_a_little_cpu_and_no_gpu(make_manifest, owner):
    manifest = make_manifest(spec={"strong": {"model": "minilm", "resources": {"gpus": 4, "memory": "64Gi"}}})
    job = build_cleanup_job(manifest, owner)

    assert container(job)["resources"] == container_resources(CLEANUP_RESOURCES)
    assert container(job)["resources"] == {
        "requests": {"cpu": "100m", "memory": "512Mi"},
        "limits": {"memory": "512Mi"},
    }


def test_cleanup_job_needs_a_store(make_manifest, owner):
    manifest = make_manifest(spec={"storage": {"pvc": None}})

    with pytest.raises(PermanentError, match=r"spec.storage needs pvc or uri"):
        build_cleanup_job(manifest, owner)
    assert artifacts_location(manifest).startswith("nowhere")


@pytest.mark.parametrize("length", [1, 40, 55, 56, 63, 200])
def test_cleanup_job_name_is_a_dns_label_and_deterministic(length):
    experiment = ("e" * length)[:length]

    name = cleanup_job_name(experiment)

    assert is_dns_label(name) and name.endswith("-cleanup")
    assert name == cleanup_job_name(experiment)
    assert cleanup_job_name(experiment + "x") != name


def test_artifacts_location_names_the_store_for_people(make_manifest):
    pvc = make_manifest(spec={"storage": {"pvc": {"claimName": "shared", "subPath": "/runs/"}}})
    uri = make_manifest(spec={"storage": {"pvc": None, "uri": "s3://bucket/w2s/"}})

    assert artifacts_location(pvc) == "pvc/shared/runs/research/exp/"
    assert artifacts_location(uri) == "s3://bucket/w2s/research/exp/"


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ([], None),
        ([{"type": "Complete", "status": "True"}], JobPhase.SUCCEEDED),
        ([{"type": "SuccessCriteriaMet", "status": "True"}], JobPhase.SUCCEEDED),
        ([{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}], JobPhase.FAILED),
        ([{"type": "FailureTarget", "status": "True"}], JobPhase.FAILED),
        ([{"type": "Failed", "status": "False"}, {"type": "Suspended", "status": "True"}], None),
    ],
)
def test_job_outcome(conditions, expected):
    assert job_outcome({"status": {"conditions": conditions}}) is expected


def test_cleanup_delay_starts_short_and_is_bounded():
    delays = [cleanup_delay(retry) for retry in range(0, 3000, 7)]

    assert cleanup_delay(0) == CLEANUP_POLL
    assert delays == sorted(delays) and max(delays) == CLEANUP_POLL_MAX


def test_the_trainer_deletes_what_the_cleanup_job_points_at(make_manifest, owner, tmp_path, monkeypatch):
    """The contract end to end: the Job's command and environment, run by the trainer, remove the experiment."""
    from ensemw2s.trainer.__main__ import main

    manifest = make_manifest(spec={"storage": {"pvc": None, "uri": str(tmp_path)}})
    mine, other = tmp_path / "research" / "exp", tmp_path / "research" / "other"
    for folder in (mine / "s1" / "weak", other):
        folder.mkdir(parents=True)
        (folder / "stage.json").write_text("{}")
    job = build_cleanup_job(manifest, owner)
    for name, value in plain_env(job).items():
        monkeypatch.setenv(name, value)

    assert main(container(job)["command"][3:]) == 0
    assert not mine.exists() and other.exists()
    assert main(container(job)["command"][3:]) == 0  # idempotent
