"""Checks beyond the schema: the same function serves ``w2sctl validate``, local runs and the operator."""

from __future__ import annotations

import difflib
from enum import StrEnum

from .catalog import (
    DATA_FILE_SUFFIXES,
    DATASETS,
    GENERATION_DATASETS,
    KNOWN_BARE_HUB_MODELS,
    MODEL_PRESETS,
    SYNTHETIC_WORD_OPS,
    causal_lm_presets,
    hub_id_problem,
    is_model_reference,
    model_parameters,
    model_path,
)
from .cluster_limits import spec_object_problems
from .errors import Problem, problem, raise_if_errors
from .experiment import (
    ALL_LINEAR,
    CombineMethod,
    Dataset,
    DifficultyMethod,
    EnsembleMethod,
    ExperimentSpec,
    Lora,
    SampleWeighting,
    StudentLoss,
    Task,
)
from .pool import split_shortfalls


class Target(StrEnum):
    LOCAL = "local"
    CLUSTER = "cluster"


def _close(name: str, options: list[str]) -> str:
    match = difflib.get_close_matches(name, options, n=1)
    return f"did you mean '{match[0]}'? " if match else ""


def _check_model(path: str, model: str) -> list[Problem]:
    if model in MODEL_PRESETS or model in KNOWN_BARE_HUB_MODELS or model_path(model) is not None:
        return []
    if "/" in model:
        reason = hub_id_problem(model)
        if reason is None:
            return []
        return [
            problem(
                path,
                f"is not a well-formed Hugging Face id: {reason}",
                model,
                "fix the id, or write a local directory with a path prefix (./models/mine, /models/mine)",
            )
        ]
    if is_model_reference(model):
        return []
    known = sorted([*MODEL_PRESETS, *KNOWN_BARE_HUB_MODELS])
    return [
        problem(
            path,
            "is not a preset, a Hugging Face id (org/name) or a path",
            model,
            f"{_close(model, known)}presets: {', '.join(sorted(MODEL_PRESETS))}",
        )
    ]


def _dataset_problems(ds: Dataset) -> list[Problem]:
    """The source's file type, and the split sizes against maxItems (the pool can hold no more)."""
    found: list[Problem] = []
    if ds.source is not None and not ds.source.lower().endswith(DATA_FILE_SUFFIXES):
        found.append(
            problem(
                "spec.dataset.source",
                f"must be a {' or '.join(s.lstrip('.').upper() for s in DATA_FILE_SUFFIXES)} file "
                f"({', '.join(DATA_FILE_SUFFIXES)})",
                ds.source,
                "convert the file to JSONL or CSV",
            )
        )
    if ds.max_items is None:
        return found
    if ds.sizes.total > ds.max_items:
        found.append(
            problem(
                "spec.dataset.sizes",
                f"easy + val + hardTrain + hardTest = {ds.sizes.total} exceeds spec.dataset.maxItems",
                ds.max_items,
                "lower the sizes or raise maxItems",
            )
        )
    else:
        found += split_shortfalls(ds.sizes, ds.split, ds.max_items, "examples spec.dataset.maxItems allows")
    return found


def _multi_node_problems(spec: ExperimentSpec) -> list[Problem]:
    """Multi-node strong training needs GPUs the spec names: the operator's default may be none, and
    the rendezvous runs one process per GPU of each pod."""
    strong = spec.strong
    gpus = strong.resources.gpus
    if strong.nodes <= 1 or (gpus is not None and gpus >= 1):
        return []
    got = "nothing" if gpus is None else gpus
    return [
        problem(
            "spec.strong.resources.gpus",
            f"must be set to 1 or more when spec.strong.nodes is {strong.nodes} (got {got})",
            fix="set the GPUs of each node, or spec.strong.nodes to 1",
        )
    ]


def _lora_problems(path: str, lora: Lora | None, model: str) -> list[Problem]:
    """Target names peft can match (all-linear alone, no repeats, no spaces), and adapters on a random model."""
    if lora is None:
        return []
    found: list[Problem] = []
    targets = lora.target_modules
    if ALL_LINEAR in targets and len(targets) > 1:
        found.append(
            problem(
                f"{path}.targetModules",
                f"names {ALL_LINEAR!r} beside other modules",
                targets,
                f"write [{ALL_LINEAR}] alone for every linear layer, or only module names",
            )
        )
    repeated = sorted({name for name in targets if targets.count(name) > 1})
    if repeated:
        found.append(problem(f"{path}.targetModules", "names a module twice", repeated, "list each name once"))
    blank = [name for name in targets if any(character.isspace() for character in name)]
    if blank:
        found.append(
            problem(
                f"{path}.targetModules",
                "holds a name with spaces; module names are dotted identifiers",
                blank,
                "write names such as c_attn (GPT-2) or query, value (BERT)",
            )
        )
    facts = MODEL_PRESETS.get(model)
    if facts is not None and not facts.pretrained:
        found.append(
            problem(
                path,
                f"trains adapters on the randomly initialised preset {model!r}: its frozen weights are noise",
                None,
                "use LoRA with a pretrained model, or full fine-tuning (no lora) for this preset",
                warning=True,
            )
        )
    return found


def _dataset_name_problems(spec: ExperimentSpec) -> list[Problem]:
    """A registry name the task can load: class labels for classification, answer texts for generation."""
    ds = spec.dataset
    if ds.source is not None:
        return []
    if ds.name == "local":
        return [
            problem(
                "spec.dataset.source",
                "is required when spec.dataset.name is 'local'",
                fix="give a JSONL or CSV path",
            )
        ]
    generation = spec.task is Task.GENERATION
    known = GENERATION_DATASETS if generation else DATASETS
    if ds.name in known:
        return []
    if generation and ds.name in DATASETS:
        return [
            problem(
                "spec.dataset.name",
                "has no questions with answer texts, which task generation trains on",
                ds.name,
                f"use one of {', '.join(GENERATION_DATASETS)}, or a local question file (spec.dataset.source)",
            )
        ]
    if ds.name == SYNTHETIC_WORD_OPS:
        return [
            problem(
                "spec.dataset.name",
                "is a generation task (answer texts, no class labels), but spec.task is classification",
                ds.name,
                "set spec.task to generation, or pick a classification dataset",
            )
        ]
    listed = list(known) if "local" in known else [*known, "local"]
    return [
        problem(
            "spec.dataset.name",
            "unknown dataset",
            ds.name,
            f"{_close(ds.name, listed)}known: {', '.join(listed)}; or set spec.dataset.source",
        )
    ]


CLASSIFICATION_ONLY_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("dataset", "num_classes", "spec.dataset.numClasses"),
    ("dataset", "format", "spec.dataset.format"),
    ("weak", "head", "spec.weak.head"),
    ("strong", "head", "spec.strong.head"),
    ("strong", "pseudo_labels", "spec.strong.pseudoLabels"),
)
"""Fields only classification reads ``(section, field, path)``: a generation spec that sets one is confused."""


def _generation_problems(spec: ExperimentSpec) -> list[Problem]:
    """What task generation cannot do: class-probability options, classification-only fields, encoders."""
    if spec.task is not Task.GENERATION:
        if spec.generation is None:
            return []
        return [
            problem(
                "spec.generation",
                "is read only by task generation, not by spec.task",
                spec.task.value,
                "remove spec.generation, or set spec.task to generation",
            )
        ]
    found: list[Problem] = []
    if spec.ensemble.combine is CombineMethod.VOTE:
        found.append(
            problem(
                "spec.ensemble.combine",
                "must be prob for task generation (answers are decoded from the alpha-weighted mixture of the "
                "learners' next-token distributions; there is no vote over texts)",
                spec.ensemble.combine.value,
                "set it to prob or leave it out",
            )
        )
    if spec.weak.sample_weighting is SampleWeighting.RESAMPLE:
        found.append(
            problem(
                "spec.weak.sampleWeighting",
                "must be weighted_loss for task generation (AdaBoost weighs answer tokens, which cannot be resampled)",
                spec.weak.sample_weighting.value,
                "set it to weighted_loss or leave it out",
            )
        )
    if spec.strong.loss is StudentLoss.LOGCONF:
        found.append(
            problem(
                "spec.strong.loss",
                "must be xent for task generation (students are fine-tuned on pseudo-answers with the "
                "token NLL; logconf needs class probabilities)",
                spec.strong.loss.value,
                "set it to xent or leave it out",
            )
        )
    if spec.dataset.difficulty.method is DifficultyMethod.KFOLD:
        found.append(
            problem(
                "spec.dataset.difficulty.method",
                "cannot be kfold for task generation (k-fold rating trains classifiers)",
                spec.dataset.difficulty.method.value,
                "use column (a difficulty column) or proxy",
            )
        )
    for section, name, path in CLASSIFICATION_ONLY_FIELDS:
        model = getattr(spec, section)
        if name in model.model_fields_set:
            value = getattr(model, name)
            found.append(
                problem(
                    path,
                    "is a classification setting that task generation does not read",
                    getattr(value, "value", value),
                    "remove it",
                )
            )
    for path, model in (("spec.weak.model", spec.weak.model), ("spec.strong.model", spec.strong.model)):
        facts = MODEL_PRESETS.get(model)
        if facts is not None and not facts.causal_lm:
            found.append(
                problem(
                    path,
                    "is an encoder preset, which cannot write answers",
                    model,
                    f"task generation needs a causal LM: {', '.join(causal_lm_presets())}, or a Hugging Face causal "
                    "LM id or directory",
                )
            )
    return found


def semantic_problems(spec: ExperimentSpec, target: Target = Target.LOCAL) -> list[Problem]:
    """Every error and warning the schema cannot express."""
    found: list[Problem] = [*_dataset_name_problems(spec), *_generation_problems(spec)]
    ds = spec.dataset
    found += _dataset_problems(ds)
    if ds.difficulty.method is DifficultyMethod.KFOLD and ds.difficulty.folds > ds.sizes.total:
        found.append(
            problem("spec.dataset.difficulty.folds", "must not exceed the number of examples", ds.difficulty.folds)
        )
    found += _check_model("spec.weak.model", spec.weak.model)
    found += _check_model("spec.strong.model", spec.strong.model)
    found += _lora_problems("spec.weak.lora", spec.weak.lora, spec.weak.model)
    found += _lora_problems("spec.strong.lora", spec.strong.lora, spec.strong.model)
    weak_size, strong_size = model_parameters(spec.weak.model), model_parameters(spec.strong.model)
    if weak_size is not None and strong_size is not None and strong_size <= weak_size:
        found.append(
            problem(
                "spec.strong.model",
                f"is not bigger than the weak model '{spec.weak.model}'",
                spec.strong.model,
                "weak-to-strong needs a stronger student",
                warning=True,
            )
        )
    if spec.ensemble.method is EnsembleMethod.BAGGING and spec.weak.sample_weighting is SampleWeighting.RESAMPLE:
        found.append(
            problem(
                "spec.weak.sampleWeighting",
                "is ignored with spec.ensemble.method bagging (learners train on uniform weights)",
                spec.weak.sample_weighting.value,
                warning=True,
            )
        )
    found += _multi_node_problems(spec)
    found += spec_object_problems(spec)
    if target is Target.CLUSTER and spec.storage.pvc is None and spec.storage.uri is None:
        found.append(
            problem(
                "spec.storage",
                "needs pvc or uri on a cluster (stages share artifacts)",
                fix="set spec.storage.pvc.claimName or spec.storage.uri",
            )
        )
    return found


def validate_spec(spec: ExperimentSpec, target: Target = Target.LOCAL) -> list[Problem]:
    """Raise SpecError on the first-class errors; return warnings."""
    return raise_if_errors(semantic_problems(spec, target))
