"""What a running stage sees: its spec, its upstream outputs, its workspace, a progress sink."""

from __future__ import annotations

from dataclasses import dataclass, field

from ensemw2s.spec import ExperimentManifest, ExperimentSpec, Stage, StageKind, StrongVariant

from ..errors import MissingInput
from ..progress import ProgressSink
from ..store import ExperimentStore, StageOutput, StageWorkspace


@dataclass
class StageResult:
    """What a stage reports: metrics for the summary, notes for humans, results for the report stage."""

    metrics: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    results: dict[str, object] | None = None


@dataclass
class StageContext:
    manifest: ExperimentManifest
    stage: Stage
    store: ExperimentStore
    keys: dict[Stage, str]
    workspace: StageWorkspace
    progress: ProgressSink
    inputs: dict[str, str] = field(default_factory=dict)
    """Each upstream stage read so far (by name) with its fingerprint: recorded in this stage's stage.json."""

    @property
    def spec(self) -> ExperimentSpec:
        return self.manifest.spec

    @property
    def seed(self) -> int:
        assert self.stage.seed is not None
        return self.stage.seed

    def input(self, stage: Stage) -> StageOutput:
        """A finished upstream stage's output (its files are checked as they are read), or MissingInput
        naming what to run first."""
        key = self.keys[stage]
        output = self.store.output(stage, key)
        if output is None:
            raise MissingInput(self.stage.name, f"needs {stage.name} (key {key}) to have finished; run it first")
        self.inputs[stage.name] = output.record.fingerprint
        return output

    def prepared(self) -> StageOutput:
        return self.input(Stage(StageKind.PREPARE, self.seed))

    def weak_round(self, round_: int, seed: int | None = None) -> StageOutput:
        return self.input(Stage(StageKind.WEAK, self.seed if seed is None else seed, round=round_))

    def aggregated(self, seed: int | None = None) -> StageOutput:
        return self.input(Stage(StageKind.AGGREGATE, self.seed if seed is None else seed))

    def strong(self, variant: StrongVariant, seed: int) -> StageOutput:
        return self.input(Stage(StageKind.STRONG, seed, variant=variant))
