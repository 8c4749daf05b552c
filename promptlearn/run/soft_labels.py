"""Soft labels for distillation: one distribution over the labels per training example, read from a file.

The file (``RunConfig.soft_labels``) holds one JSON list per line, in the order of the train split's
examples and of ``RunConfig.labels``, e.g. ``[0.82, 0.18]``; PET's pipeline writes it
(``data/final/soft_labels.jsonl``). A run with soft labels learns them through the objective's KL
loss at ``RunConfig.temperature`` (:class:`promptlearn.training.objective.Objective`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from promptlearn.errors import PromptlearnError
from promptlearn.run.feature import Feature, Fitting, RunSettings, option

if TYPE_CHECKING:
    from promptlearn.model.prompt_model import PromptModel
    from promptlearn.prompt.pvp import PVP
    from promptlearn.tasks.base import TaskShape

SOFT_LABELS = option(
    None,
    "Distillation: label distributions, one JSON list per train example, learned by KL (no --shots).",
    path=True,
)
TEMPERATURE = option(1.0, "With --soft-labels: the temperature of the KL (PET distils at 2).")

#: how far a row's sum may be from 1 (the file stores rounded probabilities)
TOLERANCE = 1e-4


def read_soft_labels(path: str | Path, count: int, num_labels: int, sum_to_one: bool = True) -> list[list[float]]:
    """``count`` rows of ``num_labels`` probabilities each, summing to 1 (``sum_to_one``: a distribution over the
    labels) or each at most 1 (multi-label: one probability per label); anything else is an error naming the line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise PromptlearnError(f"Cannot read the soft labels {path}: {err}") from err
    if len(lines) != count:
        raise PromptlearnError(
            f"{path} holds {len(lines)} soft labels, but the train split has {count} examples: "
            "one line per training example, in the same order"
        )
    rows = []
    for number, line in enumerate(lines, start=1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            row = None
        valid = isinstance(row, list) and len(row) == num_labels
        valid = valid and all(isinstance(p, int | float) and math.isfinite(p) and p >= 0 for p in row)
        if sum_to_one and (not valid or abs(sum(row) - 1) > TOLERANCE):
            raise PromptlearnError(
                f"{path}, line {number}: expected a list of {num_labels} non-negative probabilities summing to 1, "
                f"got {line[:80]!r}"
            )
        if not sum_to_one and (not valid or max(row) > 1):
            raise PromptlearnError(
                f"{path}, line {number}: expected a list of {num_labels} probabilities between 0 and 1, one per "
                f"label, got {line[:80]!r}"
            )
        rows.append([float(p) for p in row])
    return rows


class SoftLabels(Feature):
    """``--soft-labels FILE``: training learns the file's distributions, by KL at ``--temperature``."""

    options: ClassVar = {"soft_labels": ("str | None", SOFT_LABELS), "temperature": ("float", TEMPERATURE)}
    #: a soft label is one value per label of the run; a multiple-choice example's labels are its own choices
    shapes: ClassVar = ("single", "multi-label", "regression")

    def used(self, config: RunSettings) -> str | None:
        return None if config.soft_labels is None else "--soft-labels"

    def check_shape(self, config: RunSettings, shape: TaskShape) -> None:
        """A shape that merges probabilities (:attr:`~promptlearn.tasks.base.TaskShape.merges_probabilities`)
        learns its soft labels as they are: softening per-label probabilities or a score's pole distribution by a
        temperature would change what they stand for."""
        if shape.merges_probabilities and config.soft_labels is not None and config.temperature != 1:
            raise PromptlearnError(
                f"--temperature softens a distribution over the labels; {shape.name} soft labels (per-label "
                "probabilities, a score's pole distribution) are learned as they are: leave --temperature out"
            )

    def check(self, config: RunSettings) -> None:
        if config.temperature <= 0:
            raise PromptlearnError(f"--temperature must be positive, got {config.temperature}")
        if config.temperature != 1 and config.soft_labels is None:
            raise PromptlearnError("--temperature softens soft labels: give --soft-labels FILE too")
        if config.soft_labels is not None and config.shots is not None:
            raise PromptlearnError(
                "--soft-labels has one line per example of the whole train split; sampling K with --shots would "
                "misalign them: leave --shots out"
            )

    def soft_targets(self, fitting: Fitting, pvp: PVP) -> list[list[float]] | None:
        if fitting.config.soft_labels is None:
            return None
        sum_to_one = pvp.shape.soft_targets_sum_to_one
        return read_soft_labels(fitting.config.soft_labels, len(fitting.train), len(pvp.labels), sum_to_one)

    def objective(self, fitting: Fitting, pvp: PVP, model: PromptModel) -> dict:
        return {} if fitting.config.soft_labels is None else {"temperature": fitting.config.temperature}


FEATURE = SoftLabels()
