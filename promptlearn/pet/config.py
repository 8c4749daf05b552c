"""PetConfig: the whole PET / iPET pipeline, built once, validated once, saved as ``pipeline.json``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from promptlearn.errors import PromptlearnError
from promptlearn.pet.ensemble import REDUCTIONS
from promptlearn.run.config import RunConfig
from promptlearn.run.unlabeled import MAX_UNLABELED

#: what wmean weighs each model by: its accuracy on its training set before training (PET), or on dev after
WEIGHTS_FROM = ("train", "dev")
#: the unlabelled pool is cut to this many examples (a seeded sample), as the final classifier reads at most that
#: ``fewshot``'s PET pseudo-modes -> (iPET generations, what is evaluated: the first ensemble or the final model)
PET_MODES = {"pet-ensemble": (0, "ensemble"), "pet-distill": (0, "final"), "ipet": (2, "final")}


def _option(default, help: str):
    """A field that is also a ``promptlearn pet`` option."""
    return field(default=default, metadata={"help": help})


#: RunConfig fields that ``promptlearn pet`` sets for every component run, with what they mean there
RUN_OPTIONS = {
    "shots": "K labelled examples per label (and K for dev, sampled from train).",
    "seed": "Seed of the K-shot sample; repetition r trains with seed + r.",
    "mode": "Mode of the pattern models.",
    "learning_rate": "Learning rate of the pattern models (default: the mode's).",
    "max_steps": "Optimizer steps per model (default 250).",
    "batch_size": "Training batch size.",
    "eval_every": "Evaluate on dev every N steps; the best-on-dev weights are kept.",
    "max_length": "Token budget per example; only input slots are truncated.",
    "precision": "auto (bf16 on GPU, fp32 on CPU), fp32, bf16 or fp16.",
}


@dataclass
class PetConfig:
    """One PET pipeline: a model per pattern x repetition, iPET generations, a distilled final model.

    ``base`` is the template of every component run (model, data, verbalizer, K, seed, training
    settings); its ``pattern`` is replaced by each of ``patterns``. Repetition r trains with seed
    ``base.seed + r`` on the same K examples (sampled once with ``base.seed``).
    ``generations``: iPET generations after the first (0 = plain PET). ``zero_shot``: no labelled
    example at all; the untrained patterns label the pool and iPET starts from their
    ``zero_shot_start`` most likely examples. ``final_mode``: the mode of the distilled classifier
    (``finetune`` = PET's sequence classifier), trained for ``final_steps`` (default: ``base``'s).
    """

    base: RunConfig
    patterns: list[str]
    pattern_ids: list[int | None] = field(default_factory=list)
    repetitions: int = _option(3, "Models per pattern (PET: 3).")
    generations: int = _option(0, "iPET generations after the first (0: PET).")
    reduction: str = _option("wmean", "Merge the models' logits by 'mean' or 'wmean'.")
    weights_from: str = _option(
        "train",
        "wmean weights: accuracy on the training set before training (train, PET) or on dev after training (dev).",
    )
    temperature: float = _option(2.0, "Softening of the ensemble's logits for distillation (PET: 2).")
    scale_factor: float = _option(5.0, "iPET: each generation's training set grows by this factor.")
    zero_shot: bool = _option(False, "Zero-shot iPET: no labelled example; needs --generations.")
    zero_shot_start: int = _option(10, "Zero-shot iPET: examples its first generation learns from.")
    unlabeled: str | None = _option(None, "Unlabelled examples (a data file); default: the rest of train.")
    max_unlabeled: int = _option(MAX_UNLABELED, "At most this many unlabelled examples (a seeded sample).")
    final_mode: str = _option("finetune", "Mode of the distilled final classifier.")
    final_steps: int | None = _option(None, "Training steps of the final classifier (default: --max-steps).")

    def __post_init__(self):
        if not self.patterns:
            raise PromptlearnError("PET needs at least one pattern: give --patterns or --pattern")
        if not self.pattern_ids:
            self.pattern_ids = [None] * len(self.patterns)
        if len(self.pattern_ids) != len(self.patterns):
            raise PromptlearnError("pattern_ids must name one id (or null) per pattern")
        if self.reduction not in REDUCTIONS:
            raise PromptlearnError(f"--reduction must be one of {', '.join(REDUCTIONS)}, got {self.reduction!r}")
        if self.weights_from not in WEIGHTS_FROM:
            choices = ", ".join(WEIGHTS_FROM)
            raise PromptlearnError(f"--weights-from must be one of {choices}, got {self.weights_from!r}")
        for name in ("repetitions", "zero_shot_start", "max_unlabeled", "final_steps"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise PromptlearnError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
        if self.generations < 0:
            raise PromptlearnError(f"--generations must be >= 0, got {self.generations}")
        if self.temperature <= 0:
            raise PromptlearnError(f"--temperature must be positive, got {self.temperature}")
        if self.scale_factor <= 1:
            raise PromptlearnError(f"--scale-factor must be above 1 (iPET grows its data), got {self.scale_factor}")
        if self.zero_shot:
            if self.generations < 1:
                raise PromptlearnError("Zero-shot iPET trains on the untrained models' labels: give --generations 1+")
            self.reduction = "mean"  # untrained models have neither a labelled training set nor a dev score
        elif self.base.shots is None:
            raise PromptlearnError("PET is a few-shot pipeline: give --shots K (or --zero-shot)")
        if self.generations and self.members_per_generation() < 2:
            raise PromptlearnError(
                "iPET labels each model's data with the *other* models of the previous generation: "
                "give at least two patterns or --repetitions 2"
            )

    def members_per_generation(self) -> int:
        return len(self.patterns) * self.repetitions

    def to_dict(self) -> dict:
        values = dataclasses.asdict(self)
        values["base"] = self.base.to_dict()
        return values

    @classmethod
    def from_dict(cls, values: dict, origin: str = "pipeline.json") -> PetConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise PromptlearnError(f"{origin}: unknown keys {unknown}")
        values = dict(values)
        values["base"] = RunConfig.from_dict(values.get("base", {}), origin=f"{origin} (base)")
        return cls(**values)
