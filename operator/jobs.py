"""Object builders: one ``batch/v1`` Job per stage (and a headless Service for multi-node stages).

Pure functions from the typed manifest to Kubernetes manifests (plain dicts); the runtime applies
them. The container's command and environment come from the stage contract
(:func:`ensemw2s.spec.stage_command`, :func:`ensemw2s.spec.stage_environment`), so the operator and
the trainer agree by construction.

Resources: ``prepare`` and ``weak-*`` use ``spec.weak.resources`` (prepare may train weak models for
k-fold difficulty), ``strong-*`` use ``spec.strong.resources``, ``aggregate`` uses the weak resources
for generation (ensemble decoding loads the weak learners) and a small CPU request for
classification, ``report`` always a small CPU request. What the spec leaves out comes from the
operator's :class:`.stage_defaults.StageDefaults` (``--stage-defaults``), and so does the image when
``spec.image`` is unset: every pod carries CPU and memory requests, as a ResourceQuota demands.

The cleanup Job (``runPolicy.deleteArtifacts``) runs ``python -m ensemw2s.trainer clean`` in the same
pod template (image, store volume or URI and credentials, security context, scheduling) with a small
CPU request. It has no ownerReference: it must outlive the experiment whose artifacts it deletes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ensemw2s.spec import (
    ExperimentManifest,
    Stage,
    StageKind,
    Task,
    cleanup_command,
    stage_command,
)
from ensemw2s.spec.contract import (
    DEFAULT_TERMINATION_LOG,
    ENV_RANK_HINT,
    ENV_TRAINER_METRICS_PORT,
    TRAINER_METRICS_PORT,
    ExitCode,
    experiment_environment,
)

from .errors import PermanentError
from .naming import (
    ANNOTATION_COMPLETION_INDEX,
    ANNOTATION_EXPERIMENT_UID,
    LABEL_QUEUE,
    cleanup_job_name,
    cleanup_labels,
    job_name,
    service_name,
    stage_labels,
)
from .stage_defaults import BUILT_IN_DEFAULTS, PodResources, StageDefaults

CONTAINER = "trainer"
ARTIFACTS_MOUNT = "/artifacts"
ARTIFACTS_VOLUME = "artifacts"
TMP_VOLUME = "tmp"
SHM_VOLUME = "dshm"
RUN_AS_USER = 1000
RENDEZVOUS_PORT = 29500
TRAINING_KINDS = frozenset({StageKind.WEAK, StageKind.STRONG})
SMALL_RESOURCES = PodResources(gpus=0, cpu="500m", memory="2Gi")
"""The report, and the aggregate of a classification experiment: they read predictions and load no model."""
CLEANUP_RESOURCES = PodResources(gpus=0, cpu="100m", memory="512Mi")
"""``trainer clean`` loads no model: it lists and deletes files (torch is never imported)."""
CLEANUP_BACKOFF_LIMIT = 2
CLEANUP_DEADLINE_SECONDS = 900
"""The cleanup Job fails after 15 minutes (a pod that cannot start or a store that hangs), so deletion goes on."""
CLEANUP_TTL_SECONDS = 300
HF_TOKEN_KEY = "HF_TOKEN"
SCRATCH_ENV = {
    "HOME": "/tmp",
    "HF_HOME": "/tmp/hf-home",
    "XDG_CACHE_HOME": "/tmp/.cache",
    "MPLCONFIGDIR": "/tmp/.matplotlib",
}
"""The root filesystem is read-only: every cache goes to the ``/tmp`` emptyDir."""


@dataclass(frozen=True)
class Owner:
    """The experiment that owns a Job (its ownerReference)."""

    api_version: str
    kind: str
    name: str
    namespace: str
    uid: str

    def reference(self) -> dict[str, Any]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


def owner_from_body(body: Mapping[str, Any]) -> Owner:
    """The owner of an experiment's objects, from the custom resource as the API returns it."""
    metadata: Mapping[str, Any] = body.get("metadata") or {}
    fields = {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata.name": metadata.get("name"),
        "metadata.namespace": metadata.get("namespace"),
        "metadata.uid": metadata.get("uid"),
    }
    missing = [path for path, value in fields.items() if not value]
    if missing:
        raise PermanentError(
            f"experiment {metadata.get('name') or '?'}: {', '.join(missing)} missing (got {body.get('kind')!r} body); "
            "pass the object as read from the API server"
        )
    return Owner(
        api_version=str(body["apiVersion"]),
        kind=str(body["kind"]),
        name=str(metadata["name"]),
        namespace=str(metadata["namespace"]),
        uid=str(metadata["uid"]),
    )


def stage_resources(
    manifest: ExperimentManifest, stage: Stage, defaults: StageDefaults = BUILT_IN_DEFAULTS
) -> PodResources:
    """What a stage's pod requests: the spec's resources over the operator's defaults, or the small
    fixed ones of a stage that loads no model (see the module docstring)."""
    spec = manifest.spec
    if stage.kind is StageKind.REPORT or (stage.kind is StageKind.AGGREGATE and spec.task is not Task.GENERATION):
        return SMALL_RESOURCES
    return defaults.stage_resources(spec, stage.kind)


def container_resources(resources: PodResources) -> dict[str, Any]:
    """Requests for CPU and memory, a memory limit equal to the request, GPUs as a limit.

    No CPU limit: throttling a training loop only slows it; the request keeps scheduling fair.
    """
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    if resources.cpu:
        requests["cpu"] = resources.cpu
    if resources.memory:
        requests["memory"] = resources.memory
        limits["memory"] = resources.memory
    if resources.gpus:
        limits["nvidia.com/gpu"] = str(resources.gpus)
    out: dict[str, Any] = {}
    if requests:
        out["requests"] = requests
    if limits:
        out["limits"] = limits
    return out


def store_location(manifest: ExperimentManifest) -> str:
    """The artifact store root the trainer gets: the PVC mount (plus subPath) or the store URI."""
    storage = manifest.spec.storage
    if storage.pvc is not None:
        sub_path = (storage.pvc.sub_path or "").strip("/")
        return f"{ARTIFACTS_MOUNT}/{sub_path}" if sub_path else ARTIFACTS_MOUNT
    if storage.uri is not None:
        return str(storage.uri)
    raise PermanentError(
        f"experiment {manifest.name}: spec.storage needs pvc or uri on a cluster (got neither); "
        "set spec.storage.pvc.claimName or spec.storage.uri"
    )


def artifacts_location(manifest: ExperimentManifest) -> str:
    """Where the experiment's artifacts are, for people: ``pvc/<claim>/<subPath>/<ns>/<name>/`` or ``<uri>/<ns>/<name>/``."""
    storage = manifest.spec.storage
    tail = f"{manifest.namespace}/{manifest.name}/"
    if storage.pvc is not None:
        sub_path = (storage.pvc.sub_path or "").strip("/")
        return "/".join(part for part in ("pvc", storage.pvc.claim_name, sub_path, tail) if part)
    if storage.uri is not None:
        return f"{str(storage.uri).rstrip('/')}/{tail}"
    return f"nowhere (spec.storage is empty; got no pvc and no uri for {tail})"


def is_multi_node(manifest: ExperimentManifest, stage: Stage) -> bool:
    return stage.kind is StageKind.STRONG and manifest.spec.strong.nodes > 1


def _store_env(manifest: ExperimentManifest) -> list[dict[str, Any]]:
    """The contract's environment (manifest, store, termination log) and the scratch caches."""
    contract = experiment_environment(manifest, store_location(manifest), DEFAULT_TERMINATION_LOG)
    env: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in contract.items()]
    return env + [{"name": k, "value": v} for k, v in SCRATCH_ENV.items()]


def _env(manifest: ExperimentManifest, stage: Stage, resources: PodResources) -> list[dict[str, Any]]:
    env = _store_env(manifest)
    token_secret = manifest.spec.storage.hf_token_secret_ref
    if token_secret:
        env.append({"name": HF_TOKEN_KEY, "valueFrom": {"secretKeyRef": {"name": token_secret, "key": HF_TOKEN_KEY}}})
    if is_multi_node(manifest, stage):
        env += _rendezvous_env(manifest, stage, resources)
    if stage.kind in TRAINING_KINDS:
        env.append({"name": ENV_TRAINER_METRICS_PORT, "value": str(TRAINER_METRICS_PORT)})
    return env


def _rendezvous_env(manifest: ExperimentManifest, stage: Stage, resources: PodResources) -> list[dict[str, Any]]:
    """What ``torchrun``/``accelerate launch`` need to rendezvous across the pods of an Indexed Job."""
    nodes = manifest.spec.strong.nodes
    per_node = max(1, resources.gpus)
    master = f"{job_name(manifest.name, stage)}-0.{service_name(manifest.name, stage)}"
    index_ref = {"fieldRef": {"fieldPath": f"metadata.annotations['{ANNOTATION_COMPLETION_INDEX}']"}}
    return [
        {"name": "MASTER_ADDR", "value": master},
        {"name": "MASTER_PORT", "value": str(RENDEZVOUS_PORT)},
        {"name": "NNODES", "value": str(nodes)},
        {"name": ENV_RANK_HINT, "value": str(nodes)},
        {"name": "NPROC_PER_NODE", "value": str(per_node)},
        {"name": "WORLD_SIZE", "value": str(nodes * per_node)},
        {"name": "NODE_RANK", "valueFrom": index_ref},
        {"name": "JOB_COMPLETION_INDEX", "valueFrom": index_ref},
    ]


def _volumes(
    manifest: ExperimentManifest, resources: PodResources
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    volumes: list[dict[str, Any]] = [{"name": TMP_VOLUME, "emptyDir": {}}]
    mounts: list[dict[str, Any]] = [{"name": TMP_VOLUME, "mountPath": "/tmp"}]
    pvc = manifest.spec.storage.pvc
    if pvc is not None:
        volumes.append({"name": ARTIFACTS_VOLUME, "persistentVolumeClaim": {"claimName": pvc.claim_name}})
        mounts.append({"name": ARTIFACTS_VOLUME, "mountPath": ARTIFACTS_MOUNT})
    if resources.gpus:
        # NCCL and DataLoader workers need more shared memory than the runtime's 64 MiB default.
        volumes.append({"name": SHM_VOLUME, "emptyDir": {"medium": "Memory"}})
        mounts.append({"name": SHM_VOLUME, "mountPath": "/dev/shm"})
    return volumes, mounts


def _command(manifest: ExperimentManifest, stage: Stage, resources: PodResources, redo: bool) -> list[str]:
    """One process per GPU; strong stages with ``nodes > 1`` (or several GPUs) start through torchrun."""
    nodes = manifest.spec.strong.nodes if stage.kind is StageKind.STRONG else 1
    return stage_command(stage, nodes=nodes, processes_per_node=max(resources.gpus, 1), redo=redo)


def _container(
    manifest: ExperimentManifest,
    stage: Stage,
    image: str,
    resources: PodResources,
    mounts: list[dict[str, Any]],
    redo: bool,
) -> dict[str, Any]:
    command = _command(manifest, stage, resources, redo)
    container = _base_container(manifest, image, command, _env(manifest, stage, resources), resources, mounts)
    ports = []
    if stage.kind in TRAINING_KINDS:
        ports.append({"name": "metrics", "containerPort": TRAINER_METRICS_PORT, "protocol": "TCP"})
    if is_multi_node(manifest, stage):
        ports.append({"name": "rendezvous", "containerPort": RENDEZVOUS_PORT, "protocol": "TCP"})
    if ports:
        container["ports"] = ports
    return container


def _base_container(
    manifest: ExperimentManifest,
    image: str,
    command: list[str],
    env: list[dict[str, Any]],
    resources: PodResources,
    mounts: list[dict[str, Any]],
) -> dict[str, Any]:
    """The trainer container: image, command, environment, store credentials, a locked-down security context."""
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": command,
        "env": env,
        "resources": container_resources(resources),
        "volumeMounts": mounts,
        "terminationMessagePath": DEFAULT_TERMINATION_LOG,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    if manifest.spec.storage.secret_ref:
        container["envFrom"] = [{"secretRef": {"name": manifest.spec.storage.secret_ref}}]
    return container


def _pod_spec(manifest: ExperimentManifest, stage: Stage, defaults: StageDefaults, redo: bool) -> dict[str, Any]:
    resources = stage_resources(manifest, stage, defaults)
    volumes, mounts = _volumes(manifest, resources)
    image = defaults.trainer_image(manifest.spec)
    pod = _base_pod_spec(manifest, _container(manifest, stage, image, resources, mounts, redo), volumes)
    if is_multi_node(manifest, stage):
        pod["subdomain"] = service_name(manifest.name, stage)
    return pod


def _base_pod_spec(
    manifest: ExperimentManifest, container: dict[str, Any], volumes: list[dict[str, Any]]
) -> dict[str, Any]:
    """One container, never restarted in place, non-root, with the spec's scheduling."""
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "enableServiceLinks": False,
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS_USER,
            "runAsGroup": RUN_AS_USER,
            "fsGroup": RUN_AS_USER,
            "fsGroupChangePolicy": "OnRootMismatch",
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": volumes,
    }
    scheduling = manifest.spec.scheduling
    if scheduling.node_selector:
        pod["nodeSelector"] = dict(scheduling.node_selector)
    if scheduling.tolerations:
        pod["tolerations"] = [
            t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in scheduling.tolerations
        ]
    if scheduling.priority_class_name:
        pod["priorityClassName"] = scheduling.priority_class_name
    return pod


def pod_failure_policy() -> dict[str, Any]:
    """A permanent failure (``ExitCode.PERMANENT``: bad spec, arguments, data or model) fails the Job at
    once; other failures are retried up to ``backoffLimit``; disruptions (preemption, eviction, node drain)
    do not count against it."""
    return {
        "rules": [
            {
                "action": "FailJob",
                "onExitCodes": {"containerName": CONTAINER, "operator": "In", "values": [int(ExitCode.PERMANENT)]},
            },
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
        ]
    }


def build_stage_job(
    manifest: ExperimentManifest,
    stage: Stage,
    owner: Owner,
    *,
    defaults: StageDefaults = BUILT_IN_DEFAULTS,
    redo: bool = False,
) -> dict[str, Any]:
    """The ``batch/v1`` Job that runs one stage of an experiment; ``defaults`` (the operator's) fill what the
    spec leaves out; ``redo`` (a retry asked for by the user) makes the trainer discard the stage's
    finished output and run it again."""
    spec = manifest.spec
    policy = spec.run_policy
    labels = stage_labels(manifest.name, stage)
    job_labels = dict(labels)
    if spec.scheduling.queue_name:
        # On the Job only: pods with the queue label would also be managed by Kueue's pod integration.
        job_labels[LABEL_QUEUE] = spec.scheduling.queue_name
    job_spec: dict[str, Any] = {
        "backoffLimit": policy.backoff_limit,
        # Kueue admits a queued Job by unsuspending it, so a queued Job starts suspended.
        "suspend": policy.suspend or bool(spec.scheduling.queue_name),
        "podFailurePolicy": pod_failure_policy(),
        "template": {"metadata": {"labels": labels}, "spec": _pod_spec(manifest, stage, defaults, redo)},
    }
    if policy.active_deadline_seconds is not None:
        job_spec["activeDeadlineSeconds"] = policy.active_deadline_seconds
    if policy.ttl_seconds_after_finished is not None:
        job_spec["ttlSecondsAfterFinished"] = policy.ttl_seconds_after_finished
    if is_multi_node(manifest, stage):
        nodes = spec.strong.nodes
        job_spec.update(completionMode="Indexed", completions=nodes, parallelism=nodes)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(manifest.name, stage),
            "namespace": owner.namespace,
            "labels": job_labels,
            "ownerReferences": [owner.reference()],
        },
        "spec": job_spec,
    }


def build_cleanup_job(
    manifest: ExperimentManifest, owner: Owner, *, defaults: StageDefaults = BUILT_IN_DEFAULTS
) -> dict[str, Any]:
    """The ``batch/v1`` Job that deletes an experiment's artifacts (``runPolicy.deleteArtifacts``), in the
    experiment's trainer image (``defaults`` give it when the spec names none).

    No ownerReference (the experiment is being deleted; the Job must outlive it): the experiment's uid
    is an annotation instead, and ``ttlSecondsAfterFinished`` removes the Job. Not suspended and not
    queued: it is small, and deletion waits for it. ``trainer clean`` is idempotent, so a retried pod
    or a second Job is harmless.
    """
    labels = cleanup_labels(manifest.name)
    volumes, mounts = _volumes(manifest, CLEANUP_RESOURCES)
    env = _store_env(manifest)
    image = defaults.trainer_image(manifest.spec)
    container = _base_container(manifest, image, cleanup_command(), env, CLEANUP_RESOURCES, mounts)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": cleanup_job_name(manifest.name),
            "namespace": owner.namespace,
            "labels": labels,
            "annotations": {ANNOTATION_EXPERIMENT_UID: owner.uid},
        },
        "spec": {
            "backoffLimit": CLEANUP_BACKOFF_LIMIT,
            "activeDeadlineSeconds": CLEANUP_DEADLINE_SECONDS,
            "ttlSecondsAfterFinished": CLEANUP_TTL_SECONDS,
            "podFailurePolicy": pod_failure_policy(),
            "template": {"metadata": {"labels": labels}, "spec": _base_pod_spec(manifest, container, volumes)},
        },
    }


def build_rendezvous_service(manifest: ExperimentManifest, stage: Stage, owner: Owner) -> dict[str, Any] | None:
    """The headless Service that gives each pod of a multi-node stage a DNS name; None otherwise."""
    if not is_multi_node(manifest, stage):
        return None
    labels = stage_labels(manifest.name, stage)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": service_name(manifest.name, stage),
            "namespace": owner.namespace,
            "labels": labels,
            "ownerReferences": [owner.reference()],
        },
        "spec": {
            "clusterIP": "None",
            # Rank 0 must be resolvable before any pod is ready: the rendezvous happens at start-up.
            "publishNotReadyAddresses": True,
            "selector": labels,
            "ports": [
                {"name": "rendezvous", "port": RENDEZVOUS_PORT, "targetPort": RENDEZVOUS_PORT, "protocol": "TCP"}
            ],
        },
    }


__all__ = [
    "ARTIFACTS_MOUNT",
    "CLEANUP_RESOURCES",
    "CONTAINER",
    "RENDEZVOUS_PORT",
    "Owner",
    "artifacts_location",
    "build_cleanup_job",
    "build_rendezvous_service",
    "build_stage_job",
    "container_resources",
    "owner_from_body",
    "pod_failure_policy",
    "stage_resources",
    "store_location",
]
