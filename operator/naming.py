"""Names and labels of the objects the operator owns: deterministic, so a re-create is a 409.

Job names are ``<experiment>-<stage>`` (``quickstart-weak-s42-r3``). Names longer than a DNS label
keep the whole stage name and shorten the experiment part with a hash of the full name, so two
long experiments never collide and ``kubectl get jobs`` still shows which stage a Job runs.
"""

from __future__ import annotations

import hashlib
import re

from ensemw2s.spec import Stage, StageKind
from ensemw2s.spec.cluster_limits import DNS_LABEL_MAX, LABEL_VALUE_MAX, is_dns_label, is_label_value
from ensemw2s.spec.contract import ANNOTATION_REDO, ANNOTATION_RETRY  # the user's verbs; re-exported here

LABEL_EXPERIMENT = "ensemw2s.io/experiment"
LABEL_STAGE = "ensemw2s.io/stage"
LABEL_SEED = "ensemw2s.io/seed"
LABEL_ROUND = "ensemw2s.io/round"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "ensemw2s-operator"
LABEL_QUEUE = "kueue.x-k8s.io/queue-name"
LABEL_JOB_NAME = "batch.kubernetes.io/job-name"
"""Set by the Job controller on every pod of a Job (older clusters: ``job-name``)."""
ANNOTATION_COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
ANNOTATION_EXPERIMENT_UID = "ensemw2s.io/experiment-uid"
"""On the cleanup Job (which has no ownerReference): the uid of the experiment whose artifacts it deletes."""
CLEANUP = "cleanup"
"""The stage label and name suffix of the Job that deletes an experiment's artifacts (never a stage name)."""

INDEXED_SUFFIX_MAX = 4
"""``-127``: an Indexed Job's pod hostname is ``<job>-<index>`` and must stay a DNS label too."""
HASH_LENGTH = 8


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_LENGTH]


def bounded_name(prefix: str, suffix: str, limit: int = DNS_LABEL_MAX) -> str:
    """``<prefix>-<suffix>`` within ``limit`` chars; when too long, ``<prefix[:n]>-<hash>-<suffix>``."""
    full = f"{prefix}-{suffix}"
    if len(full) <= limit:
        return full
    digest = short_hash(full)
    room = limit - len(suffix) - len(digest) - 2
    if room >= 1:
        head = prefix[:room].rstrip("-.")
        return f"{head}-{digest}-{suffix}" if head else f"{digest}-{suffix}"
    return f"{full[: limit - len(digest) - 1].rstrip('-.')}-{digest}"


def _limit_for(stage: Stage) -> int:
    # Only strong stages can become Indexed Jobs (spec.strong.nodes > 1); keep room for the index.
    return DNS_LABEL_MAX - INDEXED_SUFFIX_MAX if stage.kind is StageKind.STRONG else DNS_LABEL_MAX


def job_name(experiment: str, stage: Stage) -> str:
    """The Job of one stage: deterministic, a valid DNS label of at most 63 characters."""
    return bounded_name(experiment, stage.name, _limit_for(stage))


def service_name(experiment: str, stage: Stage) -> str:
    """The headless Service of a multi-node stage: a DNS-1035 label (starts with a letter)."""
    name = job_name(experiment, stage)
    return name if name[0].isalpha() else bounded_name("w2s", name, _limit_for(stage))


def cleanup_job_name(experiment: str) -> str:
    """The Job that deletes an experiment's artifacts: ``<experiment>-cleanup``, a DNS label."""
    return bounded_name(experiment, CLEANUP)


def label_value(value: str) -> str:
    """A label value (<= 63 chars, alphanumeric ends); long values keep a prefix and a hash."""
    if is_label_value(value):
        return value
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "-", value)
    digest = short_hash(value)
    head = cleaned[: LABEL_VALUE_MAX - HASH_LENGTH - 1].strip("-_.")
    return f"{head}-{digest}" if head else digest


def experiment_labels(experiment: str) -> dict[str, str]:
    return {LABEL_EXPERIMENT: label_value(experiment), LABEL_MANAGED_BY: MANAGER}


def stage_labels(experiment: str, stage: Stage) -> dict[str, str]:
    """Labels of a stage's Job and pods: experiment, stage, seed and round, managed-by."""
    labels = {**experiment_labels(experiment), LABEL_STAGE: stage.name}
    if stage.seed is not None:
        labels[LABEL_SEED] = label_value(str(stage.seed))
    if stage.round is not None:
        labels[LABEL_ROUND] = str(stage.round)
    return labels


def cleanup_labels(experiment: str) -> dict[str, str]:
    """Labels of the cleanup Job and its pod: the experiment's, with the stage label ``cleanup``."""
    return {**experiment_labels(experiment), LABEL_STAGE: CLEANUP}


def experiment_selector(experiment: str) -> str:
    """Label selector of every object the operator owns for one experiment."""
    return ",".join(f"{key}={value}" for key, value in experiment_labels(experiment).items())


__all__ = [
    "ANNOTATION_COMPLETION_INDEX",
    "ANNOTATION_EXPERIMENT_UID",
    "ANNOTATION_REDO",
    "ANNOTATION_RETRY",
    "CLEANUP",
    "LABEL_EXPERIMENT",
    "LABEL_JOB_NAME",
    "LABEL_MANAGED_BY",
    "LABEL_QUEUE",
    "LABEL_ROUND",
    "LABEL_SEED",
    "LABEL_STAGE",
    "MANAGER",
    "bounded_name",
    "cleanup_job_name",
    "cleanup_labels",
    "experiment_labels",
    "experiment_selector",
    "is_dns_label",
    "job_name",
    "label_value",
    "service_name",
    "stage_labels",
]
