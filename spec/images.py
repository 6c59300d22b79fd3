"""The images of a release and their tags: the one place that sets them.

The package version (pyproject reads :data:`VERSION`), the chart's ``appVersion`` and image values, the
kustomize ``images`` of ``manifests/install``, the examples, the image build workflow and the operator's
default trainer image all come from here; ``tests/deploy/test_images.py`` fails when one disagrees.
"""

from __future__ import annotations

VERSION = "0.1.0"
"""The release: the Python package, the chart's appVersion and the tag of both images."""
REGISTRY = "ghcr.io/ensemw2s"
OPERATOR_REPOSITORY = f"{REGISTRY}/operator"
TRAINER_REPOSITORY = f"{REGISTRY}/trainer"
OPERATOR_IMAGE = f"{OPERATOR_REPOSITORY}:{VERSION}"
TRAINER_IMAGE = f"{TRAINER_REPOSITORY}:{VERSION}"
"""The trainer image a stage runs when neither its experiment (``spec.image``) nor the operator's
stage defaults (``--stage-defaults``, chart value ``experimentDefaults.image``) name one."""

__all__ = ["OPERATOR_IMAGE", "OPERATOR_REPOSITORY", "REGISTRY", "TRAINER_IMAGE", "TRAINER_REPOSITORY", "VERSION"]
