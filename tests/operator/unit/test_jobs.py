"""The stage Job builder: the contract, ownership, security, storage, resources, scheduling, multi-node."""

from __future__ import annotations

import json

import pytest
from ensemw2s.operator.errors import PermanentError
from ensemw2s.operator.jobs import (
    SMALL_RESOURCES,
    build_rendezvous_service,
    build_stage_job,
    owner_from_body,
    stage_resources,
)
from ensemw2s.operator.naming import LABEL_QUEUE, LABEL_STAGE, job_name
from ensemw2s.operator.stage_defaults import PodResources
from ensemw2s.spec import (
    ENV_MANIFEST,
    ENV_STORE,
    ENV_TERMINATION_LOG,
    ExitCode,
    Stage,
    StageKind,
    StrongVariant,
    decode_invocation,
    invocation_from_environment,
    parse_stage_argv,
)

WEAK = Stage(StageKind.WEAK, 1, round=0)
STRONG = Stage(StageKind.STRONG, 1, variant=StrongVariant.W2S)


def container(job):
    return job["spec"]["template"]["spec"]["containers"][0]


def env_of(job):
    return {e["name"]: e for e in container(job)["env"]}


def plain_env(job):
    return {name: e["value"] for name, e in env_of(job).items() if "value" in e}


def test_job_runs_the_stage_contract(manifest, owner):
    job = build_stage_job(manifest, WEAK, owner)
    assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job"
    assert job["metadata"]["name"] == job_name("exp", WEAK)
    assert job["metadata"]["namespace"] == "research"
    command = container(job)["command"]
    assert command[:3] == ["python", "-m", "ensemw2s.trainer"]
    assert parse_stage_argv(command[3:]) == WEAK
    invocation = invocation_from_environment(WEAK, plain_env(job))
    assert invocation.manifest == manifest
    assert invocation.store == "/artifacts"
    assert invocation.termination_log == "/dev/termination-log"
    assert json.loads(plain_env(job)[ENV_MANIFEST])["metadata"]["name"] == "exp"


def test_job_is_owned_by_the_experiment(manifest, owner):
    job = build_stage_job(manifest, WEAK, owner)
    assert job["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "ensemw2s.io/v1alpha1",
            "kind": "EnsemW2SExperiment",
            "name": "exp",
            "uid": "uid-123",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


def test_labels_on_job_and_pods(manifest, owner):
    job = build_stage_job(manifest, WEAK, owner)
    assert job["metadata"]["labels"][LABEL_STAGE] == "weak-s1-r0"
    assert job["spec"]["template"]["metadata"]["labels"] == job["metadata"]["labels"]


def test_run_policy_defaults(manifest, owner):
    spec = build_stage_job(manifest, WEAK, owner)["spec"]
    assert spec["backoffLimit"] == 2
    assert spec["suspend"] is False
    assert "activeDeadlineSeconds" not in spec and "ttlSecondsAfterFinished" not in spec
    assert "completionMode" not in spec
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"


def test_run_policy_passes_through(make_manifest, owner):
    manifest = make_manifest(
        spec={
            "runPolicy": {
                "backoffLimit": 5,
                "activeDeadlineSeconds": 600,
                "ttlSecondsAfterFinished": 30,
                "suspend": True,
            }
        }
    )
    spec = build_stage_job(manifest, WEAK, owner)["spec"]
    assert (spec["backoffLimit"], spec["activeDeadlineSeconds"], spec["ttlSecondsAfterFinished"]) == (5, 600, 30)
    assert spec["suspend"] is True


def test_pod_failure_policy_fails_fast_on_permanent_failures_and_ignores_disruptions(manifest, owner):
    rules = build_stage_job(manifest, WEAK, owner)["spec"]["podFailurePolicy"]["rules"]
    assert rules[0] == {
        "action": "FailJob",
        "onExitCodes": {"containerName": "trainer", "operator": "In", "values": [ExitCode.PERMANENT]},
    }
    assert ExitCode.PERMANENT == 2 and ExitCode.TRANSIENT not in rules[0]["onExitCodes"]["values"]
    assert rules[1] == {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}


def test_termination_message_and_restricted_security(manifest, owner):
    job = build_stage_job(manifest, WEAK, owner)
    c = container(job)
    assert c["terminationMessagePath"] == "/dev/termination-log"
    assert c["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert plain_env(job)[ENV_TERMINATION_LOG] == "/dev/termination-log"
    assert c["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    pod = job["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 1000
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts["/tmp"]] == {"name": "tmp", "emptyDir": {}}
    assert plain_env(job)["HF_HOME"].startswith("/tmp/")
    assert plain_env(job)["HOME"] == "/tmp"


@pytest.mark.parametrize(
    ("sub_path", "store"), [(None, "/artifacts"), ("runs", "/artifacts/runs"), ("/a/b/", "/artifacts/a/b")]
)
def test_pvc_is_mounted_at_artifacts(make_manifest, owner, sub_path, store):
    manifest = make_manifest(spec={"storage": {"pvc": {"claimName": "data", "subPath": sub_path}}})
    job = build_stage_job(manifest, WEAK, owner)
    pod = job["spec"]["template"]["spec"]
    assert {"name": "artifacts", "persistentVolumeClaim": {"claimName": "data"}} in pod["volumes"]
    assert {"name": "artifacts", "mountPath": "/artifacts"} in container(job)["volumeMounts"]
    assert plain_env(job)[ENV_STORE] == store
    assert "envFrom" not in container(job)


def test_object_store_uses_the_uri_and_credentials_from_a_secret(make_manifest, owner):
    manifest = make_manifest(spec={"storage": {"pvc": None, "uri": "s3://bucket/x", "secretRef": "s3-creds"}})
    job = build_stage_job(manifest, WEAK, owner)
    assert plain_env(job)[ENV_STORE] == "s3://bucket/x"
    assert container(job)["envFrom"] == [{"secretRef": {"name": "s3-creds"}}]
    assert all(v["name"] != "artifacts" for v in job["spec"]["template"]["spec"]["volumes"])


def test_no_storage_is_a_permanent_error(make_manifest, owner):
    manifest = make_manifest(spec={"storage": {"pvc": None}})
    with pytest.raises(PermanentError, match=r"spec.storage.*\(got neither\); set spec.storage"):
        build_stage_job(manifest, WEAK, owner)


def test_hf_token_comes_from_a_secret_and_is_never_inlined(make_manifest, owner):
    manifest = make_manifest(spec={"storage": {"hfTokenSecretRef": "hf"}})
    job = build_stage_job(manifest, WEAK, owner)
    assert env_of(job)["HF_TOKEN"] == {
        "name": "HF_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": "hf", "key": "HF_TOKEN"}},
    }
    assert "HF_TOKEN" not in plain_env(job)
    assert "HF_TOKEN" not in env_of(build_stage_job(make_manifest(), WEAK, owner))


RESOURCES = {
    "weak": {"resources": {"gpus": 1, "cpu": "2", "memory": "8Gi"}},
    "strong": {"resources": {"gpus": 4, "cpu": "16", "memory": "64Gi"}},
}
REQUESTED = {
    "weak": PodResources(gpus=1, cpu="2", memory="8Gi"),
    "strong": PodResources(gpus=4, cpu="16", memory="64Gi"),
}


@pytest.mark.parametrize(
    ("stage", "task", "expected"),
    [
        (Stage(StageKind.PREPARE, 1), "classification", "weak"),
        (WEAK, "classification", "weak"),
        (STRONG, "classification", "strong"),
        (Stage(StageKind.AGGREGATE, 1), "classification", "small"),
        (Stage(StageKind.AGGREGATE, 1), "generation", "weak"),
        (Stage(StageKind.REPORT), "classification", "small"),
    ],
)
def test_each_stage_requests_its_resources(make_manifest, owner, stage, task, expected):
    manifest = make_manifest(spec={"task": task, **RESOURCES})
    resources = stage_resources(manifest, stage)
    assert resources == (SMALL_RESOURCES if expected == "small" else REQUESTED[expected])


def test_resources_become_requests_and_limits(make_manifest, owner):
    manifest = make_manifest(spec=RESOURCES)
    strong = container(build_stage_job(manifest, STRONG, owner))
    assert strong["resources"] == {
        "requests": {"cpu": "16", "memory": "64Gi"},
        "limits": {"memory": "64Gi", "nvidia.com/gpu": "4"},
    }
    report = container(build_stage_job(manifest, Stage(StageKind.REPORT), owner))
    assert "nvidia.com/gpu" not in report["resources"].get("limits", {})


def test_gpu_pods_get_shared_memory_and_cpu_pods_do_not(make_manifest, owner):
    gpu = build_stage_job(make_manifest(spec=RESOURCES), STRONG, owner)
    assert {"name": "dshm", "emptyDir": {"medium": "Memory"}} in gpu["spec"]["template"]["spec"]["volumes"]
    cpu = build_stage_job(make_manifest(), STRONG, owner)
    assert "nvidia.com/gpu" not in container(cpu)["resources"]["limits"]  # the built-in defaults: no GPU
    assert all(v["name"] != "dshm" for v in cpu["spec"]["template"]["spec"]["volumes"])


def test_scheduling_passes_through_and_the_queue_label_is_on_the_job_only(make_manifest, owner):
    manifest = make_manifest(
        spec={
            "scheduling": {
                "nodeSelector": {"gpu": "a100"},
                "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
                "priorityClassName": "high",
                "queueName": "team-a",
            }
        }
    )
    job = build_stage_job(manifest, WEAK, owner)
    pod = job["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"gpu": "a100"}
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert pod["priorityClassName"] == "high"
    assert job["metadata"]["labels"][LABEL_QUEUE] == "team-a"
    assert LABEL_QUEUE not in job["spec"]["template"]["metadata"]["labels"]
    assert job["spec"]["suspend"] is True  # Kueue admits by unsuspending


def test_no_scheduling_fields_without_scheduling(manifest, owner):
    pod = build_stage_job(manifest, WEAK, owner)["spec"]["template"]["spec"]
    assert not {"nodeSelector", "tolerations", "priorityClassName", "subdomain"} & set(pod)


def multi_node(make_manifest):
    return make_manifest(spec={"strong": {"model": "minilm", "nodes": 3, "resources": {"gpus": 2}}})


def test_multi_node_strong_stage_is_an_indexed_job_that_can_rendezvous(make_manifest, owner):
    manifest = multi_node(make_manifest)
    job = build_stage_job(manifest, STRONG, owner)
    spec = job["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 3, 3)
    service = build_rendezvous_service(manifest, STRONG, owner)
    assert service is not None
    svc = service["metadata"]["name"]
    assert spec["template"]["spec"]["subdomain"] == svc
    env = plain_env(job)
    assert env["MASTER_ADDR"] == f"{job['metadata']['name']}-0.{svc}"
    assert env["MASTER_PORT"] == "29500"
    assert (env["NNODES"], env["W2S_NODES"], env["NPROC_PER_NODE"], env["WORLD_SIZE"]) == ("3", "3", "2", "6")
    rank = env_of(job)["NODE_RANK"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert rank == "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    assert {"name": "rendezvous", "containerPort": 29500, "protocol": "TCP"} in container(job)["ports"]


def test_rendezvous_service_is_headless_and_selects_the_stage_pods(make_manifest, owner):
    manifest = multi_node(make_manifest)
    job = build_stage_job(manifest, STRONG, owner)
    service = build_rendezvous_service(manifest, STRONG, owner)
    assert service is not None
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["publishNotReadyAddresses"] is True
    pod_labels = job["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["metadata"]["ownerReferences"][0]["uid"] == "uid-123"


@pytest.mark.parametrize("stage", [WEAK, Stage(StageKind.PREPARE, 1), Stage(StageKind.REPORT)])
def test_only_strong_stages_go_multi_node(make_manifest, owner, stage):
    manifest = multi_node(make_manifest)
    assert build_rendezvous_service(manifest, stage, owner) is None
    job = build_stage_job(manifest, stage, owner)
    assert "completionMode" not in job["spec"] and "MASTER_ADDR" not in plain_env(job)


def test_single_node_strong_stage_has_no_service(manifest, owner):
    assert build_rendezvous_service(manifest, STRONG, owner) is None


def test_owner_from_body():
    body = {
        "apiVersion": "ensemw2s.io/v1alpha1",
        "kind": "EnsemW2SExperiment",
        "metadata": {"name": "exp", "namespace": "ns", "uid": "u1"},
    }
    owner = owner_from_body(body)
    assert (owner.name, owner.namespace, owner.uid, owner.kind) == ("exp", "ns", "u1", "EnsemW2SExperiment")


def test_owner_from_body_without_uid_is_permanent():
    body = {
        "apiVersion": "ensemw2s.io/v1alpha1",
        "kind": "EnsemW2SExperiment",
        "metadata": {"name": "e", "namespace": "n"},
    }
    with pytest.raises(PermanentError, match=r"experiment e: metadata.uid missing"):
        owner_from_body(body)


def test_multi_node_strong_stage_starts_through_torchrun(make_manifest, owner):
    manifest = multi_node(make_manifest)
    stage = Stage(StageKind.STRONG, 1, variant=StrongVariant.CEILING)
    command = build_stage_job(manifest, stage, owner)["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[:6] == [
        "torchrun",
        "--nnodes=3",
        "--node_rank=$(NODE_RANK)",
        "--nproc_per_node=2",
        "--master_addr=$(MASTER_ADDR)",
        "--master_port=$(MASTER_PORT)",
    ]
    assert command[6:] == ["-m", "ensemw2s.trainer", "strong", "--seed", "1", "--variant", "ceiling"]


def test_single_process_stages_run_the_trainer_module_directly(manifest, owner):
    stage = Stage(StageKind.WEAK, manifest.spec.seeds[0], round=0)
    command = build_stage_job(manifest, stage, owner)["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[:3] == ["python", "-m", "ensemw2s.trainer"]


@pytest.mark.parametrize("redo", [False, True])
def test_a_redo_job_asks_the_trainer_to_redo_its_stage(manifest, owner, redo):
    job = build_stage_job(manifest, WEAK, owner, redo=redo)
    invocation = decode_invocation(container(job)["command"][3:], plain_env(job)).stage_invocation()
    assert (invocation.stage, invocation.redo) == (WEAK, redo)
