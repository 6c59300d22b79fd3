"""The stage graph of an experiment: which stages exist and what each waits for.

One graph serves both modes: ``w2sctl run`` walks it in order in-process, the operator creates one
Job per stage as soon as its dependencies have succeeded.

    prepare ─> weak-r0 ─> weak-r1 ─> ... ─> aggregate ─> strong-ensemble ─┐
       │          └─────────────────────────────────────> strong-w2s ────┼─> report
       └────────────────────────────────────────────────> strong-ceiling ┘

Everything but ``report`` is per seed; ``report`` gathers all seeds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from .experiment import EnsembleMethod, ExperimentSpec


class StageKind(StrEnum):
    PREPARE = "prepare"
    WEAK = "weak"
    AGGREGATE = "aggregate"
    STRONG = "strong"
    REPORT = "report"


class StrongVariant(StrEnum):
    CEILING = "ceiling"
    W2S = "w2s"
    ENSEMBLE = "ensemble"


@dataclass(frozen=True, order=True)
class Stage:
    """One node of the graph. ``seed`` is None only for ``report``."""

    kind: StageKind
    seed: int | None = None
    round: int | None = None
    variant: StrongVariant | None = None

    def __post_init__(self) -> None:
        needs_seed = self.kind is not StageKind.REPORT
        if needs_seed != (self.seed is not None):
            raise ValueError(f"stage {self.kind.value}: seed is {'required' if needs_seed else 'not allowed'}")
        if (self.kind is StageKind.WEAK) != (self.round is not None):
            raise ValueError(f"stage {self.kind.value}: round is only for weak stages")
        if (self.kind is StageKind.STRONG) != (self.variant is not None):
            raise ValueError(f"stage {self.kind.value}: variant is only for strong stages")

    @property
    def name(self) -> str:
        """Deterministic, DNS-label safe: ``prepare-s42``, ``weak-s42-r3``, ``strong-s42-w2s``, ``report``."""
        parts = [self.kind.value]
        if self.seed is not None:
            parts.append(f"s{self.seed}")
        if self.round is not None:
            parts.append(f"r{self.round}")
        if self.variant is not None:
            parts.append(self.variant.value)
        return "-".join(parts)

    @classmethod
    def parse(cls, name: str) -> Stage:
        """Inverse of :attr:`name`."""
        parts = name.split("-")
        try:
            kind = StageKind(parts[0])
            seed = round_ = variant = None
            for part in parts[1:]:
                if part.startswith("s") and seed is None and part[1:].isdigit():
                    seed = int(part[1:])
                elif part.startswith("r") and part[1:].isdigit():
                    round_ = int(part[1:])
                else:
                    variant = StrongVariant(part)
            return cls(kind, seed, round_, variant)
        except (ValueError, IndexError):
            raise ValueError(f"stage name: not a stage of the graph (got {name!r}); e.g. weak-s42-r0") from None


@dataclass(frozen=True)
class StageGraph:
    stages: tuple[Stage, ...]
    dependencies: dict[Stage, tuple[Stage, ...]] = field(hash=False)

    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    def by_name(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(name)

    def ready(self, succeeded: Iterable[Stage], started: Iterable[Stage] = ()) -> list[Stage]:
        """Stages whose dependencies all succeeded and that are not started yet, in graph order."""
        done, begun = set(succeeded), set(started) | set(succeeded)
        return [s for s in self.stages if s not in begun and all(d in done for d in self.dependencies[s])]

    def downstream(self, stage: Stage) -> set[Stage]:
        """Every stage that (transitively) depends on ``stage``."""
        out: set[Stage] = set()
        frontier = [stage]
        while frontier:
            current = frontier.pop()
            for s, deps in self.dependencies.items():
                if current in deps and s not in out:
                    out.add(s)
                    frontier.append(s)
        return out


def strong_variants(spec: ExperimentSpec) -> list[StrongVariant]:
    variants = [StrongVariant.ENSEMBLE]
    if spec.baselines.w2s:
        variants.append(StrongVariant.W2S)
    if spec.baselines.ceiling:
        variants.append(StrongVariant.CEILING)
    return variants


def build_stage_graph(spec: ExperimentSpec) -> StageGraph:
    """All stages in a valid execution order (topological, cheap stages of a seed first)."""
    stages: list[Stage] = []
    deps: dict[Stage, tuple[Stage, ...]] = {}
    bagging = spec.ensemble.method is EnsembleMethod.BAGGING
    for seed in spec.seeds:
        prepare = Stage(StageKind.PREPARE, seed)
        weak = [Stage(StageKind.WEAK, seed, round=t) for t in range(spec.weak.rounds)]
        aggregate = Stage(StageKind.AGGREGATE, seed)
        deps[prepare] = ()
        for t, stage in enumerate(weak):
            deps[stage] = (prepare,) if t == 0 or bagging else (weak[t - 1],)
        deps[aggregate] = tuple(weak)
        stages += [prepare, *weak, aggregate]
        for variant in strong_variants(spec):
            stage = Stage(StageKind.STRONG, seed, variant=variant)
            deps[stage] = {
                StrongVariant.ENSEMBLE: (aggregate,),
                StrongVariant.W2S: (weak[0],),
                StrongVariant.CEILING: (prepare,),
            }[variant]
            stages.append(stage)
    report = Stage(StageKind.REPORT)
    deps[report] = tuple(s for s in stages if s.kind in {StageKind.AGGREGATE, StageKind.STRONG})
    stages.append(report)
    return StageGraph(tuple(stages), deps)
