"""What the Kubernetes API server refuses: name formats, label rules and object sizes.

``w2sctl validate --cluster`` and the operator check a manifest against these before anything is
created, so an experiment fails in one line instead of as an API error (or a Job that never starts).
The numbers are the API server's (``k8s.io/apimachinery`` validation) and etcd's default request limit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .errors import Problem, problem

if TYPE_CHECKING:  # manifest.py reads the name rules from here
    from .experiment import ExperimentSpec
    from .manifest import ExperimentManifest

DNS_LABEL_MAX = 63
DNS_SUBDOMAIN_MAX = 253
LABEL_VALUE_MAX = 63
QUALIFIED_NAME_MAX = 63
ANNOTATIONS_MAX_BYTES = 256 * 1024
"""Total size of an object's annotations (keys and values), the API server's TotalAnnotationSizeLimitB."""
OBJECT_MAX_BYTES = 1536 * 1024
"""An object as stored: etcd's default request limit (1.5 MiB); the API server refuses larger writes."""

_DNS_LABEL_TEXT = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED_NAME_TEXT = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
DNS_LABEL = re.compile(rf"^{_DNS_LABEL_TEXT}$")
"""A DNS-1123 label (names of namespaces, experiments, Jobs): lowercase letters, digits and '-',
starting and ending alphanumeric; at most :data:`DNS_LABEL_MAX` characters."""
_DNS_SUBDOMAIN = re.compile(rf"^{_DNS_LABEL_TEXT}(\.{_DNS_LABEL_TEXT})*$")
_QUALIFIED_NAME = re.compile(rf"^{_QUALIFIED_NAME_TEXT}$")
_LABEL_VALUE = re.compile(rf"^({_QUALIFIED_NAME_TEXT})?$")
_NAME_CHARACTERS = "letters, digits, '-', '_' or '.', starting and ending alphanumeric"
"""What a label value and a key's name may hold."""


def is_dns_label(name: str) -> bool:
    return len(name) <= DNS_LABEL_MAX and bool(DNS_LABEL.match(name))


def is_label_value(value: str) -> bool:
    return len(value) <= LABEL_VALUE_MAX and bool(_LABEL_VALUE.match(value))


def dns_subdomain_problem(path: str, value: str) -> Problem | None:
    """A name most objects use (Secrets, PVCs, PriorityClasses): <= 253 chars, lowercase, digits, '-', '.'."""
    if len(value) > DNS_SUBDOMAIN_MAX:
        return problem(path, f"must have at most {DNS_SUBDOMAIN_MAX} characters", len(value), "shorten the name")
    if not _DNS_SUBDOMAIN.match(value):
        return problem(
            path,
            "must be a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', starting and ending alphanumeric",
            value,
            "rename the object it points to",
        )
    return None


def label_value_problem(path: str, value: str) -> Problem | None:
    """A label value: <= 63 chars of letters, digits, '-', '_', '.', starting and ending alphanumeric (or empty)."""
    if not is_label_value(value):
        return problem(
            path, f"must be a label value: at most {LABEL_VALUE_MAX} {_NAME_CHARACTERS}", value, "shorten or rename it"
        )
    return None


def label_key_problem(path: str, key: str) -> Problem | None:
    """A label or annotation key: ``[prefix/]name``, prefix a DNS subdomain, name a qualified name."""
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > DNS_SUBDOMAIN_MAX or not _DNS_SUBDOMAIN.match(prefix)):
        return problem(path, "key prefix must be a DNS-1123 subdomain (before the '/')", key, "fix the key")
    if len(name) > QUALIFIED_NAME_MAX or not _QUALIFIED_NAME.match(name):
        return problem(path, f"key name must be 1..{QUALIFIED_NAME_MAX} {_NAME_CHARACTERS}", key, "fix the key")
    return None


def labels_problems(path: str, labels: Mapping[str, str]) -> list[Problem]:
    """Every key and value of a label map (metadata.labels, a nodeSelector)."""
    found: list[Problem] = []
    for key, value in labels.items():
        found += [p for p in (label_key_problem(f"{path}[{key!r}]", key),) if p is not None]
        found += [p for p in (label_value_problem(f"{path}[{key!r}]", value),) if p is not None]
    return found


def spec_object_problems(spec: ExperimentSpec) -> list[Problem]:
    """Spec fields that become names or labels of the objects the operator creates."""
    found: list[Problem | None] = []
    storage, scheduling = spec.storage, spec.scheduling
    if storage.pvc is not None:
        found.append(dns_subdomain_problem("spec.storage.pvc.claimName", storage.pvc.claim_name))
    if storage.secret_ref is not None:
        found.append(dns_subdomain_problem("spec.storage.secretRef", storage.secret_ref))
    if storage.hf_token_secret_ref is not None:
        found.append(dns_subdomain_problem("spec.storage.hfTokenSecretRef", storage.hf_token_secret_ref))
    if scheduling.priority_class_name is not None:
        found.append(dns_subdomain_problem("spec.scheduling.priorityClassName", scheduling.priority_class_name))
    if scheduling.queue_name is not None:
        found.append(label_value_problem("spec.scheduling.queueName", scheduling.queue_name))
    for index, toleration in enumerate(scheduling.tolerations):
        if toleration.key:
            found.append(label_key_problem(f"spec.scheduling.tolerations[{index}].key", toleration.key))
    return [p for p in found if p is not None] + labels_problems(
        "spec.scheduling.nodeSelector", scheduling.node_selector
    )


def object_size_problems(document: Mapping[str, object], annotations: Mapping[str, str]) -> list[Problem]:
    """The API server's size limits: annotations in total, and the whole object as stored."""
    found: list[Problem] = []
    annotation_bytes = sum(len(k.encode()) + len(v.encode()) for k, v in annotations.items())
    if annotation_bytes > ANNOTATIONS_MAX_BYTES:
        found.append(
            problem(
                "metadata.annotations",
                f"total size must be at most {ANNOTATIONS_MAX_BYTES} bytes (256 KiB)",
                f"{annotation_bytes} bytes",
                "keep large data out of annotations (a ConfigMap or the artifact store)",
            )
        )
    object_bytes = len(json.dumps(document, separators=(",", ":")).encode())
    if object_bytes > OBJECT_MAX_BYTES:
        found.append(
            problem(
                "manifest",
                f"the object must be at most {OBJECT_MAX_BYTES} bytes (1.5 MiB, etcd's limit)",
                f"{object_bytes} bytes",
                "shrink the largest fields",
            )
        )
    return found


def manifest_object_problems(manifest: ExperimentManifest) -> list[Problem]:
    """Everything the API server would refuse about the object itself: labels, annotation keys, sizes."""
    metadata = manifest.metadata
    found = labels_problems("metadata.labels", metadata.labels)
    for key in metadata.annotations:
        found += [p for p in (label_key_problem(f"metadata.annotations[{key!r}]", key),) if p is not None]
    return found + object_size_problems(manifest.to_json_dict(), metadata.annotations)
