"""A strong stage as 2 CPU processes (torchrun, gloo): the command the multi-node Job runs.

It finishes, rank 0 alone publishes and prints progress and the stage summary, and the student's
predictions match the same stage run as 1 process (the same contract command without torchrun) with the
same global batch.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
from ensemw2s.spec import ExperimentManifest, Stage, StageKind, StageSummary, StrongVariant, parse_manifest
from ensemw2s.spec.contract import StageInvocation, stage_command, stage_environment
from ensemw2s.trainer.data.synthetic import generate_synthetic_sentiment
from ensemw2s.trainer.models import load_classifier
from ensemw2s.trainer.progress import SilentProgress
from ensemw2s.trainer.stages.run import run_stage
from torch import nn

TOLERANCE = 1e-4
"""Max |p_2proc - p_1proc| over the student's hard-test probabilities. Dropout is off, so the two runs
compute the same gradients and differ only in float32 summation order (two half-batch sums averaged by
gloo's all-reduce against one batch sum): ~1e-7 per step, measured 6e-8 after 16 Adam steps. 1e-4 leaves
room for that and still fails when the processes do not form one group or see other examples than their
share (those move probabilities by > 1e-3). A uniform loss scale error would pass: Adam is invariant to
it; the 1-process tests of the loss (test_train_loop.py) pin the scale."""


def _student_without_dropout(directory: Path) -> str:
    """tiny-strong with dropout 0, saved as a local model: dropout masks depend on how a batch is split
    across processes, the only intended difference between the runs."""
    corpus = [item.text for item in generate_synthetic_sentiment(2000, seed=0)]
    loaded = load_classifier("tiny-strong", 2, corpus, seed=0)
    config = loaded.model.backbone.config
    for name in [name for name in config.to_dict() if name.endswith(("dropout_prob", "pdrop"))]:
        setattr(config, name, 0.0)  # what the saved config.json rebuilds the model with
    loaded.save(directory)
    rebuilt = load_classifier(str(directory), 2, None, seed=0).model
    assert all(module.p == 0.0 for module in rebuilt.modules() if isinstance(module, nn.Dropout))
    return str(directory)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run_stage_command(
    stage: Stage, manifest: ExperimentManifest, store: Path, processes: int
) -> subprocess.CompletedProcess[str]:
    """The stage's container command from the contract (torchrun for several processes), on CPU only;
    returns the finished process (stdout: the stage summary; stderr: progress lines and errors)."""
    command = stage_command(stage, python=sys.executable, processes_per_node=processes)
    if processes > 1:
        assert command[0] == "torchrun"
        command[0] = str(Path(sys.executable).with_name("torchrun"))
        expand = {"$(NODE_RANK)": "0", "$(MASTER_ADDR)": "127.0.0.1", "$(MASTER_PORT)": str(_free_port())}
        for placeholder, value in expand.items():
            command = [part.replace(placeholder, value) for part in command]
    invocation = StageInvocation(stage, manifest, str(store))
    env = {**os.environ, **stage_environment(invocation), "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=store, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[:6000]
    return done


def _probabilities(store: Path, stage: Stage) -> np.ndarray:
    [folder] = (store / "default/tiny-2p").glob(f"s1/strong/{stage.variant}/*")
    with np.load(folder / "preds.npz") as arrays:
        return np.asarray(arrays["hard_test"])


def test_strong_stage_on_two_cpu_processes_matches_one(tiny_data: dict[str, object], tmp_path: Path) -> None:
    data: dict[str, Any] = copy.deepcopy(tiny_data)
    data["metadata"]["name"] = "tiny-2p"
    data["spec"]["weak"]["rounds"] = 2
    data["spec"]["strong"]["model"] = _student_without_dropout(tmp_path / "student")
    manifest = parse_manifest(data)
    one, two = tmp_path / "one", tmp_path / "two"
    for stage in (
        Stage(StageKind.PREPARE, 1),
        Stage(StageKind.WEAK, 1, round=0),
        Stage(StageKind.WEAK, 1, round=1),
        Stage(StageKind.AGGREGATE, 1),
    ):
        run_stage(manifest, stage, str(one), SilentProgress())
    shutil.copytree(one, two)
    strong = Stage(StageKind.STRONG, 1, variant=StrongVariant.ENSEMBLE)

    done = _run_stage_command(strong, manifest, two, processes=2)
    _run_stage_command(strong, manifest, one, processes=1)  # also on the CPU, whatever this machine has

    assert not list(two.rglob("*.partial")), "a rank left a partial folder"
    records = list((two / "default/tiny-2p/s1/strong").rglob("stage.json"))
    assert len(records) == 1, records
    student = json.loads(next((two / "default/tiny-2p/s1/strong").rglob("student.json")).read_text())
    assert student["resumedFromStep"] == 0
    lines = done.stderr.splitlines()
    assert sum(line.startswith(f"[{strong.name}] training ") for line in lines) == 1, "progress from rank 0 only"
    assert sum(line.startswith(f"[{strong.name}] 16/16") for line in lines) == 1
    summaries = [StageSummary.model_validate_json(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [summary.stage for summary in summaries] == [strong.name], "the summary from rank 0 only"

    difference = np.abs(_probabilities(two, strong) - _probabilities(one, strong)).max()
    assert difference <= TOLERANCE, f"2-process and 1-process students differ by {difference:.2e}"
