"""The experiment spec: everything an EnsemW2S experiment declares.

Same shape as the ``spec`` of the ``EnsemW2SExperiment`` custom resource; the CRD's
openAPIV3Schema is generated from these models (``ensemw2s.operator.crd``).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator, model_validator

from .base import WHOLE_NUMBER, Integer, OptionalInteger, SpecEnum, StrictSpecModel
from .fields import Location, Output, RuntimeOnly

QUANTITY_PATTERN = r"^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$"


class Task(SpecEnum):
    CLASSIFICATION = "classification"
    GENERATION = "generation"


class SplitStrategy(SpecEnum):
    EASY_TO_HARD = "e2h"
    RANDOM = "random"


class DifficultyMethod(SpecEnum):
    COLUMN = "column"
    KFOLD = "kfold"
    PROXY = "proxy"


class DifficultyProxy(SpecEnum):
    LENGTH = "length"
    STEPS = "steps"


class ExampleFormat(SpecEnum):
    """How a multiple-choice item becomes an example (text items pass through either way)."""

    BINARY = "binary"
    """One (question, shown answer) pair labelled true or false, as the original W2S code."""
    CHOICES = "choices"
    """One K-way example listing every choice, labelled with the answer's index."""


class SampleWeighting(SpecEnum):
    WEIGHTED_LOSS = "weighted_loss"
    RESAMPLE = "resample"


class ErrorEstimate(SpecEnum):
    """Where the boosting errors e_i come from."""

    CROSSFIT = "crossfit"
    """Out of sample: k fold models, each scoring the easy items it did not train on (the default)."""
    TRAIN = "train"
    """In sample: the learner scores its own training items (the authors' choice; degenerates when it fits them)."""


class EnsembleMethod(SpecEnum):
    ADABOOST = "adaboost"
    BAGGING = "bagging"


class CombineMethod(SpecEnum):
    PROB = "prob"
    VOTE = "vote"


class RoundSelection(SpecEnum):
    VAL = "val"
    """The r whose prefix ensemble has the lowest Brier score on val (easy side); ties to the larger r."""
    LAST = "last"
    """Every learner."""


class StudentLoss(SpecEnum):
    XENT = "xent"
    LOGCONF = "logconf"


class LabelKind(SpecEnum):
    SOFT = "soft"
    HARD = "hard"


class Schedule(SpecEnum):
    COSINE = "cosine"
    CONSTANT = "constant"


class HeadKind(SpecEnum):
    AUTO = "auto"
    LAST_TOKEN = "last_token"
    SEQUENCE_CLASSIFICATION = "sequence_classification"


class ChoiceAnswer(SpecEnum):
    """What a multiple-choice item's gold answer is (``task: generation``): the correct option's text or its letter."""

    TEXT = "text"
    LETTER = "letter"


class MixedPrecision(SpecEnum):
    AUTO = "auto"
    """bf16 on a CUDA device that supports it, else fp32."""
    NO = "no"
    BF16 = "bf16"
    FP16 = "fp16"


# Every field carries one role (``Output``, ``RuntimeOnly`` or ``Location``), on itself or on the section
# that holds it: see ``fields.py``. Sections whose fields differ (weak, strong, training, runtime, storage)
# tag each field; the others are tagged where ExperimentSpec holds them.


class Difficulty(StrictSpecModel):
    method: DifficultyMethod = Field(DifficultyMethod.COLUMN, description="Where per-example difficulty comes from.")
    folds: Integer = Field(4, ge=2, le=20, description="k for k-fold cross-fitting with the weak model (method kfold).")
    proxy: DifficultyProxy = Field(DifficultyProxy.LENGTH, description="Cheap proxy (method proxy).")


class SplitSizes(StrictSpecModel):
    easy: Integer = Field(ge=1, description="Labelled easy examples the weak models train on.")
    val: Integer = Field(ge=1, description="Easy-side validation examples (model and round selection).")
    hard_train: Integer = Field(ge=1, description="Hard examples the ensemble labels for the strong students.")
    hard_test: Integer = Field(ge=1, description="Held-out hard examples every accuracy is measured on.")

    @property
    def total(self) -> int:
        return self.easy + self.val + self.hard_train + self.hard_test


class Dataset(StrictSpecModel):
    name: str = Field(min_length=1, description="Registry name (e.g. sciq, synthetic-sentiment) or 'local'.")
    source: str | None = Field(None, description="A local JSONL/CSV file or fsspec URL; overrides the registry.")
    max_items: OptionalInteger = Field(None, ge=4, description="Cap on the loaded pool before splitting.")
    split: SplitStrategy = SplitStrategy.EASY_TO_HARD
    difficulty: Difficulty = Field(default_factory=Difficulty)
    sizes: SplitSizes
    format: ExampleFormat = Field(
        ExampleFormat.BINARY,
        description="Multiple-choice items as binary true/false pairs, or as one K-way example per item (choices).",
    )
    num_classes: OptionalInteger = Field(
        None, ge=2, le=1024, description="K, the number of classes (labels 0..K-1); default: max label + 1."
    )


class Training(StrictSpecModel):
    epochs: Output[float] = Field(2.0, gt=0, le=100)
    batch_size: Output[Integer] = Field(32, ge=1, le=4096)
    learning_rate: Output[float] = Field(5e-5, gt=0, le=1)
    weight_decay: Output[float] = Field(0.0, ge=0, le=1)
    schedule: Output[Schedule] = Schedule.COSINE
    max_length: Output[Integer] = Field(128, ge=8, le=32768)
    checkpoint_every_steps: RuntimeOnly[Integer] = Field(
        200, ge=0, description="0 disables mid-stage checkpoints; a resumed stage computes the same outputs."
    )
    eval_batch_size: Output[Integer] = Field(128, ge=1, le=8192)


class Resources(StrictSpecModel):
    """What each pod of these stages requests; a field left out takes the operator's default for them."""

    # The operator's defaults (--stage-defaults) give every pod CPU and memory requests, so namespaces
    # with a ResourceQuota accept it; the CRD sets no default, so a stored spec keeps "unset".

    gpus: OptionalInteger = Field(
        None, ge=0, le=64, description="nvidia.com/gpu per pod; default: the operator's; 0 for none."
    )
    cpu: str | None = Field(None, pattern=QUANTITY_PATTERN, description="CPU request per pod; default: the operator's.")
    memory: str | None = Field(
        None,
        pattern=QUANTITY_PATTERN,
        description="Memory request and limit per pod; default: the operator's.",
    )


ALL_LINEAR = "all-linear"
"""peft's name for every linear layer of the backbone but the output layer (``LoraConfig.target_modules``)."""


class Lora(StrictSpecModel):
    """Low-rank adapters (peft LoRA) instead of full fine-tuning: the backbone is frozen, the adapters and
    the classification head train, and a stage stores only those (see docs/design.md, "LoRA")."""

    r: Integer = Field(8, ge=1, le=4096, description="Rank of the adapters.")
    alpha: float = Field(16.0, gt=0, le=1e6, description="lora_alpha: the update is scaled by alpha / r.")
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout on the adapters' input.")
    target_modules: list[Annotated[str, Field(min_length=1, max_length=253)]] = Field(
        default_factory=lambda: [ALL_LINEAR],
        min_length=1,
        max_length=64,
        description="Module names (suffixes, as peft matches them: c_attn for GPT-2, query and value for BERT), "
        f"or [{ALL_LINEAR}] alone for every linear layer.",
    )


class Weak(StrictSpecModel):
    model: Output[str] = Field(min_length=1, description="Preset (tiny-weak), Hugging Face id or local path.")
    head: Output[HeadKind] = HeadKind.AUTO
    rounds: Output[Integer] = Field(4, ge=1, le=100, description="AdaBoost rounds T.")
    sample_weighting: Output[SampleWeighting] = SampleWeighting.WEIGHTED_LOSS
    error_estimate: Output[ErrorEstimate] = Field(
        ErrorEstimate.CROSSFIT,
        description="crossfit: honest out-of-sample boosting errors from k fold models; train: in-sample errors.",
    )
    error_folds: Output[Integer] = Field(2, ge=2, le=10, description="k for errorEstimate crossfit.")
    lora: Output[Lora | None] = Field(
        None,
        exclude_if=lambda lora: lora is None,  # absent from dumps, so the stage keys of specs without it stay
        description="Train every learner as LoRA adapters on the frozen weak model; default: full fine-tuning.",
    )
    training: Training = Field(default_factory=Training)
    resources: RuntimeOnly[Resources] = Field(default_factory=Resources)


class Ensemble(StrictSpecModel):
    method: EnsembleMethod = EnsembleMethod.ADABOOST
    combine: CombineMethod = CombineMethod.PROB
    round_selection: RoundSelection = RoundSelection.VAL


class Strong(StrictSpecModel):
    model: Output[str] = Field(min_length=1, description="Preset (minilm), Hugging Face id or local path.")
    head: Output[HeadKind] = HeadKind.AUTO
    loss: Output[StudentLoss] = Field(
        StudentLoss.XENT, description="Loss of the two students (W2S, EnsemW2S); the ceiling always uses xent."
    )
    pseudo_labels: Output[LabelKind] = Field(
        LabelKind.SOFT,
        description="Labels the supervisors give both students: soft probabilities or their hard argmax.",
    )
    lora: Output[Lora | None] = Field(
        None,
        exclude_if=lambda lora: lora is None,  # absent from dumps, so the stage keys of specs without it stay
        description="Train every student as LoRA adapters on the frozen strong model; default: full fine-tuning.",
    )
    training: Training = Field(default_factory=Training)
    resources: RuntimeOnly[Resources] = Field(default_factory=Resources)
    nodes: RuntimeOnly[Integer] = Field(
        1, ge=1, le=128, description="Nodes for multi-node strong training (Indexed Job)."
    )


class Baselines(StrictSpecModel):
    w2s: bool = Field(True, description="Train the W2S baseline (strong on round-0 labels).")
    ceiling: bool = Field(True, description="Train the ceiling (strong on gold hard labels).")


class Runtime(StrictSpecModel):
    threads: RuntimeOnly[OptionalInteger] = Field(
        None, ge=1, le=1024, description="torch CPU threads (default: all cores)."
    )
    mixed_precision: Output[MixedPrecision] = Field(
        MixedPrecision.AUTO, description="Training precision; part of the stage keys (bf16 and fp32 outputs differ)."
    )


class Generation(StrictSpecModel):
    """The settings only ``task: generation`` reads: token-level AdaBoost and ensemble decoding
    (docs/design.md, "Generation")."""

    chance_rate: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="q, the chance rate of a token in AdaBoost's alpha; default: 1/V (V: the weak tokenizer's "
        "vocabulary size).",
    )
    window: Integer = Field(
        0, ge=0, le=64, description="Token errors smoothed over this many neighbouring answer tokens; 0: none."
    )
    max_new_tokens: Integer = Field(16, ge=1, le=1024, description="Decoding budget per answer, in tokens.")
    choice_answer: ChoiceAnswer = Field(
        ChoiceAnswer.TEXT, description="Multiple-choice gold answers: the correct option's text, or its letter."
    )


class PvcStorage(StrictSpecModel):
    claim_name: str = Field(min_length=1, max_length=253)
    sub_path: str | None = None


class Storage(StrictSpecModel):
    pvc: Location[PvcStorage | None] = Field(None, description="A PersistentVolumeClaim mounted in every stage pod.")
    uri: Location[str | None] = Field(None, description="An fsspec URL (s3://bucket/prefix) instead of a volume.")
    secret_ref: RuntimeOnly[str | None] = Field(
        None, description="Secret with store credentials, passed as environment."
    )
    hf_token_secret_ref: RuntimeOnly[str | None] = Field(None, description="Secret with HF_TOKEN for gated models.")

    @model_validator(mode="after")
    def _one_backend(self) -> Storage:
        if self.pvc is not None and self.uri is not None:
            raise ValueError("set either pvc or uri, not both")
        return self


class RunPolicy(StrictSpecModel):
    backoff_limit: Integer = Field(2, ge=0, le=20, description="Pod retries per stage Job.")
    active_deadline_seconds: OptionalInteger = Field(None, ge=1)
    ttl_seconds_after_finished: OptionalInteger = Field(None, ge=0)
    suspend: bool = False
    delete_artifacts: bool = Field(False, description="Delete the experiment's artifacts with the resource.")


class Toleration(StrictSpecModel):
    key: str | None = None
    operator: str | None = Field(None, pattern=r"^(Exists|Equal)$")
    value: str | None = None
    effect: str | None = Field(None, pattern=r"^(NoSchedule|PreferNoSchedule|NoExecute)$")
    toleration_seconds: OptionalInteger = None


class Scheduling(StrictSpecModel):
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[Toleration] = Field(default_factory=list)
    priority_class_name: str | None = None
    queue_name: str | None = Field(None, description="Kueue LocalQueue (label kueue.x-k8s.io/queue-name).")


class ExperimentSpec(StrictSpecModel):
    """Everything one EnsemW2S experiment declares."""

    task: Output[Task] = Task.CLASSIFICATION
    seeds: Output[list[Annotated[int, Field(ge=0, le=2**31 - 1), WHOLE_NUMBER]]] = Field(
        default_factory=lambda: [42],
        min_length=1,
        max_length=16,
        description="One replicate per seed (data and torch).",
    )
    dataset: Output[Dataset]
    weak: Weak
    ensemble: Output[Ensemble] = Field(default_factory=Ensemble)
    strong: Strong
    baselines: Output[Baselines] = Field(default_factory=Baselines)
    generation: Output[Generation | None] = Field(
        None,
        exclude_if=lambda generation: generation is None,  # absent from dumps: classification's stage keys stay
        description="Token-level AdaBoost and decoding settings of task generation; default: their defaults.",
    )
    runtime: Runtime = Field(default_factory=Runtime)
    image: RuntimeOnly[str | None] = Field(
        None,
        min_length=1,
        description="Trainer image of every stage; default: the operator's default trainer image "
        "(--stage-defaults, chart value trainerImage), the release's own trainer image unless changed.",
    )
    storage: Storage = Field(default_factory=Storage)
    run_policy: RuntimeOnly[RunPolicy] = Field(default_factory=RunPolicy)
    scheduling: RuntimeOnly[Scheduling] = Field(default_factory=Scheduling)

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise ValueError("seeds must be distinct")
        return seeds

    @property
    def generation_settings(self) -> Generation:
        """``generation``, or its defaults when the spec sets none."""
        return self.generation or Generation()
