"""Every ownerReference the operator builds with ``blockOwnerDeletion: true`` is allowed by its RBAC.

Clusters that enforce the OwnerReferencesPermissionEnforcement admission plugin (OpenShift) accept an
object whose ownerReference blocks the owner's deletion only from a client that may ``update`` the
owner's ``<plural>/finalizers``; no API request of the operator uses that permission, so the RBAC
coverage test cannot see it missing.
"""

from __future__ import annotations

from typing import Any

from ensemw2s.operator.jobs import build_cleanup_job, build_rendezvous_service, build_stage_job
from ensemw2s.operator.rbac import PERMISSIONS, covering, granted
from ensemw2s.spec import API_GROUP, KIND, PLURAL, Stage, StageKind, StrongVariant

PLURALS = {(API_GROUP, KIND): PLURAL}
"""The plural of each kind the operator's objects are owned by."""

MULTI_NODE = {"strong": {"model": "minilm", "nodes": 2, "resources": {"gpus": 1}}}


def built_objects(make_manifest: Any, owner: Any) -> list[dict[str, Any]]:
    """Every object the operator creates: each stage Job, the rendezvous Service, the cleanup Job."""
    manifest = make_manifest(spec=MULTI_NODE)
    stages = [
        Stage(StageKind.PREPARE, 1),
        Stage(StageKind.WEAK, 1, round=0),
        Stage(StageKind.STRONG, 1, variant=StrongVariant.W2S),
    ]
    objects = [build_stage_job(manifest, stage, owner) for stage in stages]
    objects += [s for stage in stages if (s := build_rendezvous_service(manifest, stage, owner)) is not None]
    return [*objects, build_cleanup_job(manifest, owner)]


def blocking_references(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        reference
        for obj in objects
        for reference in obj["metadata"].get("ownerReferences") or []
        if reference.get("blockOwnerDeletion")
    ]


def test_every_blocking_owner_reference_has_finalizers_update(make_manifest, owner):
    objects = built_objects(make_manifest, owner)
    kinds = {obj["kind"] for obj in objects if obj["metadata"].get("ownerReferences")}
    assert kinds == {"Job", "Service"}, "the check must see the Jobs and the rendezvous Service"
    references = blocking_references(objects)
    assert references, "no ownerReference blocks the owner's deletion: drop this test and the permission"
    for reference in references:
        group = reference["apiVersion"].rpartition("/")[0]
        plural = PLURALS[(group, reference["kind"])]
        permission = covering(group, f"{plural}/finalizers", "update")
        assert permission is not None, f"blockOwnerDeletion on {reference} needs update on {plural}/finalizers"
        assert not permission.optional and permission in granted(), "the installed ClusterRole must grant it"


def test_the_check_fails_without_the_permission(make_manifest, owner):
    without = [p for p in PERMISSIONS if not p.resource.endswith("/finalizers")]
    reference = blocking_references(built_objects(make_manifest, owner))[0]
    group = reference["apiVersion"].rpartition("/")[0]
    assert covering(group, f"{PLURALS[(group, reference['kind'])]}/finalizers", "update", without) is None
