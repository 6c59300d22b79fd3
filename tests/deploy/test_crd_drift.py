"""The checked-in CRD is the one the typed models generate."""

from __future__ import annotations

from pathlib import Path

import yaml
from ensemw2s.operator.crd import CRD_FILE, REGENERATE, build_crd, render_crd

ROOT = Path(__file__).resolve().parents[2]
HOW = f"the CRD is out of date with the models; regenerate it: {REGENERATE}"


def test_checked_in_crd_equals_the_generated_one():
    path = ROOT / CRD_FILE
    assert path.is_file(), f"{path}: missing; {HOW}"
    text = path.read_text(encoding="utf-8")
    assert yaml.safe_load(text) == build_crd(), HOW
    assert text == render_crd(), HOW
