"""Observing a stage from its Job and pods, on dicts shaped like the API server's."""

from __future__ import annotations

import pytest
from ensemw2s.operator.errors import ForeignObjectError
from ensemw2s.operator.observe import LOG_TAIL_LINES, JobPhase, failure_reason, observe_job, observe_jobs, stage_of_job
from ensemw2s.spec import Stage, StageKind, StrongVariant

WEAK = Stage(StageKind.WEAK, 1, round=0)
LOG = "\n".join(f"line {i}" for i in range(30)) + "\nRuntimeError: CUDA error"


def test_a_new_job_without_pods_is_pending(manifest, k8s_job):
    observed = observe_job(k8s_job(manifest, WEAK), [])
    assert observed.stage == WEAK
    assert observed.name == "exp-weak-s1-r0"
    assert (observed.phase, observed.attempts, observed.started, observed.reason) == (JobPhase.PENDING, 0, None, None)


@pytest.mark.parametrize(
    ("pod_kwargs", "reason"),
    [
        ({"phase": "Pending", "waiting": "ImagePullBackOff"}, "ImagePullBackOff"),
        ({"phase": "Pending", "waiting": "CreateContainerConfigError"}, "CreateContainerConfigError"),
        ({"phase": "Pending", "unschedulable": True}, "Unschedulable"),
        ({"phase": "Pending", "waiting": "ContainerCreating"}, None),
    ],
)
def test_a_pending_stage_says_why_it_waits(manifest, k8s_job, k8s_pod, pod_kwargs, reason):
    job = k8s_job(manifest, WEAK, active=1)
    observed = observe_job(job, [k8s_pod(job, **pod_kwargs)])
    assert observed.phase is JobPhase.PENDING
    assert observed.reason == reason
    assert observed.attempts == 1


def test_running(manifest, k8s_job, k8s_pod):
    job = k8s_job(manifest, WEAK, active=1, ready=1)
    observed = observe_job(job, [k8s_pod(job)])
    assert (observed.phase, observed.attempts, observed.started) == (JobPhase.RUNNING, 1, "2024-05-01T12:00:01Z")
    assert observed.finished is None and observed.summary is None


def test_running_after_a_failed_pod_counts_the_attempt(manifest, k8s_job, k8s_pod):
    job = k8s_job(manifest, WEAK, active=1, failed=1)
    pods = [k8s_pod(job, phase="Failed", created=1, exit_code=1), k8s_pod(job, created=5)]
    observed = observe_job(job, pods)
    assert (observed.phase, observed.attempts, observed.reason) == (JobPhase.RUNNING, 2, None)
    assert failure_reason(job, pods) == "exit code 1"


def test_succeeded_with_summary(manifest, k8s_job, k8s_pod, summary_for):
    job = k8s_job(manifest, WEAK, succeeded=1, conditions=[{"type": "Complete"}])
    summary = summary_for(WEAK, accuracy=0.81, eps=0.2)
    pod = k8s_pod(job, phase="Succeeded", exit_code=0, message=summary.termination_message())
    observed = observe_job(job, [pod])
    assert observed.phase is JobPhase.SUCCEEDED
    assert observed.summary == summary
    assert (observed.finished, observed.reason, observed.log_tail) == ("2024-05-01T12:01:00Z", None, None)


def test_success_criteria_met_counts_as_succeeded(manifest, k8s_job):
    job = k8s_job(manifest, WEAK, succeeded=1, conditions=[{"type": "SuccessCriteriaMet"}])
    assert observe_job(job, []).phase is JobPhase.SUCCEEDED


def test_succeeded_without_a_summary(manifest, k8s_job, k8s_pod):
    job = k8s_job(manifest, WEAK, succeeded=1, conditions=[{"type": "Complete"}])
    observed = observe_job(job, [k8s_pod(job, phase="Succeeded", exit_code=0, message="done")])
    assert observed.phase is JobPhase.SUCCEEDED and observed.summary is None


def test_oom_killed_after_retries(manifest, k8s_job, k8s_pod):
    job = k8s_job(manifest, WEAK, failed=3, conditions=[{"type": "Failed", "reason": "BackoffLimitExceeded"}])
    pods = [
        k8s_pod(job, phase="Failed", created=1, exit_code=1, message=LOG),
        k8s_pod(job, phase="Failed", created=2, exit_code=1, message=LOG),
        k8s_pod(job, phase="Failed", created=3, exit_code=137, reason="OOMKilled"),
    ]
    observed = observe_job(job, pods)
    assert (observed.phase, observed.attempts, observed.reason) == (JobPhase.FAILED, 3, "OOMKilled")
    assert observed.finished == "2024-05-01T12:01:00Z"
    assert observed.log_tail is not None and observed.log_tail.endswith("RuntimeError: CUDA error")


def test_exit_code_and_log_tail(manifest, k8s_job, k8s_pod):
    job = k8s_job(manifest, WEAK, failed=1, conditions=[{"type": "Failed", "reason": "BackoffLimitExceeded"}])
    observed = observe_job(job, [k8s_pod(job, phase="Failed", exit_code=3, message=LOG)])
    assert observed.reason == "exit code 3"
    assert observed.log_tail is not None
    lines = observed.log_tail.splitlines()
    assert len(lines) == LOG_TAIL_LINES and lines[-1] == "RuntimeError: CUDA error"


def test_usage_error_fails_by_pod_failure_policy(manifest, k8s_job, k8s_pod):
    job = k8s_job(manifest, WEAK, failed=1, conditions=[{"type": "Failed", "reason": "PodFailurePolicy"}])
    pods = [k8s_pod(job, phase="Failed", exit_code=2, message="Error: spec.weak.rounds: must be >= 1 (got 0)")]
    observed = observe_job(job, pods)
    assert observed.reason == "exit code 2"
    assert observed.log_tail == "Error: spec.weak.rounds: must be >= 1 (got 0)"


def test_deadline_wins_over_the_killed_pod(manifest, k8s_job, k8s_pod):
    job = k8s_job(manifest, WEAK, failed=1, conditions=[{"type": "Failed", "reason": "DeadlineExceeded"}])
    assert observe_job(job, [k8s_pod(job, phase="Failed", exit_code=143)]).reason == "DeadlineExceeded"


def test_failure_target_counts_as_failed_while_pods_terminate(manifest, k8s_job, k8s_pod):
    job = k8s_job(manifest, WEAK, active=1, conditions=[{"type": "FailureTarget", "reason": "PodFailurePolicy"}])
    assert observe_job(job, [k8s_pod(job)]).phase is JobPhase.FAILED


@pytest.mark.parametrize("reason", ["BackoffLimitExceeded", None])
def test_failed_without_pods_uses_the_job_reason(manifest, k8s_job, reason):
    condition = {"type": "Failed"} | ({"reason": reason} if reason else {})
    job = k8s_job(manifest, WEAK, failed=3, conditions=[condition])
    assert observe_job(job, []).reason == (reason or "Failed")


def test_evicted_pod(manifest, k8s_job, k8s_pod):
    job = k8s_job(manifest, WEAK, failed=1, conditions=[{"type": "Failed", "reason": "BackoffLimitExceeded"}])
    pod = k8s_pod(job, phase="Failed")
    pod["status"].update(reason="Evicted", containerStatuses=[])
    assert observe_job(job, [pod]).reason == "Evicted"


def test_nothing_failed_means_no_reason(manifest, k8s_job, k8s_pod):
    job = k8s_job(manifest, WEAK, active=1)
    assert failure_reason(job, [k8s_pod(job)]) is None


@pytest.mark.parametrize("how", ["spec", "condition"])
def test_suspended(manifest, k8s_job, how):
    if how == "spec":
        job = k8s_job(manifest, WEAK, suspend=True)
    else:
        job = k8s_job(manifest, WEAK, conditions=[{"type": "Suspended", "reason": "JobSuspended"}])
    assert observe_job(job, []).phase is JobPhase.SUSPENDED


def test_deleting(manifest, k8s_job):
    assert observe_job(k8s_job(manifest, WEAK, deleting=True), []).deleting is True
    assert observe_job(k8s_job(manifest, WEAK), []).deleting is False


def test_indexed_job_summary_comes_from_rank_zero(make_manifest, k8s_job, k8s_pod, summary_for):
    manifest = make_manifest(spec={"strong": {"model": "minilm", "nodes": 2}})
    stage = Stage(StageKind.STRONG, 1, variant=StrongVariant.CEILING)
    job = k8s_job(manifest, stage, succeeded=2, conditions=[{"type": "Complete"}])
    rank0, rank1 = summary_for(stage, accuracy=0.9), summary_for(stage, accuracy=0.1)
    pods = [
        k8s_pod(job, phase="Succeeded", created=1, exit_code=0, index=1, message=rank1.termination_message()),
        k8s_pod(job, phase="Succeeded", created=2, exit_code=0, index=0, message=rank0.termination_message()),
    ]
    observed = observe_job(job, pods)
    assert observed.summary == rank0
    assert observed.attempts == 1


def test_a_job_without_a_stage_label_is_foreign(manifest, k8s_job):
    job = k8s_job(manifest, WEAK)
    job["metadata"]["labels"]["ensemw2s.io/stage"] = "not-a-stage"
    with pytest.raises(ForeignObjectError, match=r"job exp-weak-s1-r0: metadata.labels.ensemw2s.io/stage"):
        stage_of_job(job)


def test_observe_jobs_groups_pods_and_skips_foreign_jobs(manifest, k8s_job, k8s_pod):
    weak = k8s_job(manifest, WEAK, active=1, ready=1)
    prepare = k8s_job(manifest, Stage(StageKind.PREPARE, 1), succeeded=1, conditions=[{"type": "Complete"}])
    foreign = k8s_job(manifest, WEAK)
    foreign["metadata"]["labels"].pop("ensemw2s.io/stage")
    pods = [k8s_pod(weak), k8s_pod(prepare, phase="Succeeded", exit_code=0)]
    pods[1]["metadata"]["ownerReferences"] = []  # matched by the job-name label alone
    observed = {o.stage.name: o for o in observe_jobs([weak, prepare, foreign], pods)}
    assert set(observed) == {"weak-s1-r0", "prepare-s1"}
    assert observed["weak-s1-r0"].phase is JobPhase.RUNNING
    assert observed["prepare-s1"].phase is JobPhase.SUCCEEDED


def test_status_patch_compares_values_as_a_merge_patch_stores_them() -> None:
    from ensemw2s.operator.k8s import status_patch

    # The server drops None fields of an object under a merge patch: what it stored is already up to date.
    stored = {"phase": "Succeeded", "results": {"experiment": "x", "meanPgrInterval": {}}}
    new = {"phase": "Succeeded", "results": {"experiment": "x", "weakModel": None, "meanPgrInterval": {"w2s": None}}}
    assert status_patch(stored, new) == {}
    assert status_patch(stored, {**new, "phase": "Failed"}) == {"phase": "Failed"}
    assert status_patch(stored, {"phase": "Succeeded"}) == {"results": None}
