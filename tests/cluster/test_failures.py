"""On a real API server: a stage pod fails (a permanent exit code, an OOM kill); retry recreates only it.

v1.20 has no Job ``podFailurePolicy`` (1.25+): the server drops the field, so a permanent exit code (2)
is retried up to ``backoffLimit`` like any other failure; the suite's experiment sets ``backoffLimit: 0``
so that one failed pod fails its Job. That a permanent exit fails the Job at once whatever the
backoffLimit is covered by the KMock tests (tests/operator/integration/test_stage_failure.py).
"""

from __future__ import annotations

import pytest
from ensemw2s.operator.status_model import Phase

pytestmark = pytest.mark.cluster

TRAINER_ERROR = "Error: dataset synthetic-sentiment: hard_test has one class (got 120 items of label 1); fix the data"


@pytest.mark.parametrize(
    ("exit_code", "reason", "message", "expected_reason"),
    [
        (2, None, TRAINER_ERROR, "exit code 2"),
        (137, "OOMKilled", None, "OOMKilled"),
    ],
    ids=["permanent-exit", "oom-killed"],
)
def test_a_failed_stage_shows_why_and_retry_recreates_only_its_job(
    cluster, failure, exit_code, reason, message, expected_reason
):
    cluster.submit()
    cluster.drive(fail={"weak-s1-r0": failure(exit_code, reason, message)})

    status = cluster.status()
    assert status.phase is Phase.FAILED and status.failed_stages == ["weak-s1-r0"]
    weak = next(stage for stage in status.stages if stage.name == "weak-s1-r0")
    assert weak.reason == expected_reason and weak.attempts == 1
    assert status.message is not None and expected_reason in status.message
    if message is not None:
        assert weak.message == message
    events = cluster.kubectl("get", "events", "--field-selector", "reason=StageFailed", "-o", "name").stdout
    assert events.strip(), "no StageFailed event"
    before = cluster.job_uids()
    assert "weak-s1-r1" not in before  # the first failure stops new stages

    cluster.annotate("ensemw2s.io/retry=1")
    cluster.drive(until=lambda s: s.get("retryToken") == "1" and s.get("phase") == "Succeeded")

    after = cluster.job_uids()
    assert {stage for stage in before if after[stage] != before[stage]} == {"weak-s1-r0"}
    status = cluster.status()
    weak = next(stage for stage in status.stages if stage.name == "weak-s1-r0")
    assert weak.retries == 1 and not status.failed_stages
