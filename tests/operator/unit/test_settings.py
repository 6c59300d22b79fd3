"""``--stage-defaults`` / ``W2S_STAGE_DEFAULTS``: the operator's stage defaults from its command line or environment."""

from __future__ import annotations

import json

import pytest
from ensemw2s.operator.settings import STAGE_DEFAULTS_ENV, parse_args
from ensemw2s.operator.stage_defaults import BUILT_IN_DEFAULTS
from ensemw2s.spec import Resources

CHART = {
    "image": "mirror.example/ensemw2s/trainer:0.1.0",
    "weak": {"cpu": "1", "memory": "4Gi", "gpus": 0},
    "strong": {"cpu": "8", "memory": "32Gi", "gpus": 1},
}


def test_without_the_flag_or_the_variable_the_built_in_defaults_apply():
    assert parse_args(["-A"], environ={}).stage_defaults == BUILT_IN_DEFAULTS
    assert parse_args(["-A"], environ={STAGE_DEFAULTS_ENV: "  "}).stage_defaults == BUILT_IN_DEFAULTS


def test_the_variable_sets_them_as_the_chart_does():
    config = parse_args(["-A"], environ={STAGE_DEFAULTS_ENV: json.dumps(CHART)})
    assert config.stage_defaults.image == CHART["image"]
    assert config.stage_defaults.strong == Resources(gpus=1, cpu="8", memory="32Gi")


def test_the_flag_wins_over_the_variable():
    environ = {STAGE_DEFAULTS_ENV: json.dumps(CHART)}
    config = parse_args(["-A", "--stage-defaults", '{"image": "flag.example/trainer:1"}'], environ=environ)
    assert config.stage_defaults.image == "flag.example/trainer:1"
    assert config.stage_defaults.strong == BUILT_IN_DEFAULTS.strong


@pytest.mark.parametrize(
    ("args", "environ", "message"),
    [
        (["--stage-defaults", "{"], {}, "--stage-defaults: is not JSON: "),
        (["--stage-defaults", '{"weak": {"cpu": "lots"}}'], {}, "--stage-defaults: weak.cpu: must match "),
        (
            [],
            {STAGE_DEFAULTS_ENV: '{"strong": {"gpus": 65}}'},
            "W2S_STAGE_DEFAULTS: strong.gpus: must be <= 64 (got 65)",
        ),
        ([], {STAGE_DEFAULTS_ENV: '{"trainerImage": "x"}'}, "W2S_STAGE_DEFAULTS: trainerImage: unknown field"),
    ],
)
def test_bad_stage_defaults_exit_2_with_one_error_line_naming_the_field(args, environ, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        parse_args(["-A", *args], environ=environ)

    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"python -m ensemw2s.operator: error: {message}")
    assert [line for line in err if "error:" in line] == [err[-1]]
