"""The checked-in CRD is the one the typed models generate."""

from __future__ import annotations

from pathlib import Path

import yaml
from ensemw2s.operator.crd import CHART_CRD_FILE, CRD_FILE, REGENERATE, build_crd, render_crd

ROOT = Path(__file__).resolve().parents[2]
HOW = f"the CRD is out of date with the models; regenerate it: {REGENERATE}"


def test_checked_in_crd_equals_the_generated_one():
    path = ROOT / CRD_FILE
    assert path.is_file(), f"{path}: missing; {HOW}"
    text = path.read_text(encoding="utf-8")
    assert yaml.safe_load(text) == build_crd(), HOW
    assert text == render_crd(), HOW


def test_the_charts_crd_is_the_generated_one_too():
    """Helm installs ``charts/ensemw2s/crds/`` before the templates: the same CRD as ``manifests/crd/``."""
    chart_copy = ROOT / CHART_CRD_FILE
    assert chart_copy.is_file(), f"{chart_copy}: missing; {HOW}"
    assert chart_copy.read_text(encoding="utf-8") == render_crd(), HOW
    assert chart_copy.read_bytes() == (ROOT / CRD_FILE).read_bytes(), HOW
