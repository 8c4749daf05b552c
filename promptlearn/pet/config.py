"""PetConfig: the whole PET / iPET pipeline, built once, validated once, saved as ``pipeline.json``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from promptlearn.errors import PromptlearnError
from promptlearn.pet.ensemble import REDUCTIONS
from promptlearn.run.config import RunConfig

#: what wmean weighs each model by: its accuracy on its training set before training (PET), or on dev after
WEIGHTS_FROM = ("train", "dev")
#: the unlabelled pool is cut to this many examples (a seeded sample), as the final classifier reads at most that
MAX_UNLABELED = 10_000
#: ``fewshot``'s PET pseudo-modes -> (iPET generations, what is evaluated: the first ensemble or the final model)
PET_MODES = {"pet-ensemble": (0, "ensemble"), "pet-distill": (0, "final"), "ipet": (2, "final")}


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
    repetitions: int = 3
    generations: int = 0
    reduction: str = "wmean"
    weights_from: str = "train"
    temperature: float = 2.0
    scale_factor: float = 5.0
    zero_shot: bool = False
    zero_shot_start: int = 10
    unlabeled: str | None = None
    max_unlabeled: int = MAX_UNLABELED
    final_mode: str = "finetune"
    final_steps: int | None = None

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
