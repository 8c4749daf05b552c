"""Regression as a cloze task: LM-BFF's two poles of label words (Gao et al., ACL 2021, sec. 4.2).

A score y in the declared range [v_l, v_u] is read from two label words at the mask, the lower pole
(e.g. ``no`` / ``terrible``) and the upper pole (``yes`` / ``great``). With p_u the softmax over the
two poles' scores,

- the prediction is ``v_l + (v_u - v_l) * p_u``;
- the target is the distribution ``(1 - t, t)`` with ``t = (y - v_l) / (v_u - v_l)``, the score's
  position in the range, and the loss is KL(target || (p_l, p_u)), averaged over the batch.

LM-BFF's code (``src/models.py``) passes that target to ``KLDivLoss(log_target=True)`` as
probabilities, not log-probabilities, so its loss is not the KL its paper writes; this is the KL.

A run's two labels are the ends of its score range, lower first, named by their values: the
verbalizer maps each to its pole's words (``verbalizers/stsb.yaml``: ``"0": [no]``, ``"5": [yes]``), so
``config.json`` records the range with the labels. Head modes (``head``, ``finetune``, ``readout=cls``;
no verbalizer) take the range of the data's scores and predict with a linear head of **one** output s,
trained by mean squared error as BERT's regression head is, on the score standardised to the range:
the target is ``z = (2y - v_l - v_u) / (v_u - v_l)`` (the range's middle is 0, its ends -1 and 1), so a
new head (weights near 0, bias 0) starts near the middle of the range and the loss does not depend on the
score's units. The prediction ``(v_l + v_u) / 2 + (v_u - v_l) / 2 * s`` is clipped to the range: gold scores lie
in it, so clipping moves no prediction further from its gold score. The rest of the pipeline reads it
as a pole distribution ``(1 - t, t)``, t its position in the range, so records, ensembles (averaging
those averages the predictions) and ONNX graphs treat every mode alike.

Few-shot sampling by score bins: the data's range splits into two equal-width bins and K means K
examples per bin, for train and again for dev (LM-BFF samples STS-B as two classes split at 2.5, the
middle of 0-5, K = 16 each).
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import pearsonr, spearmanr

from promptlearn.data.examples import Example, TaskData
from promptlearn.data.sampling import few_shot
from promptlearn.errors import PromptlearnError
from promptlearn.tasks.base import TaskShape, register_shape

if TYPE_CHECKING:
    import torch

#: equal-width score bins a K-shot sample takes K examples from (LM-BFF's STS-B split at the middle)
BINS = 2


def pole_targets(scores: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Gold scores (B,) -> target pole distributions (B, 2): ``(1 - t, t)``, t the position in [low, high]."""
    import torch

    position = (scores.float() - low) / (high - low)
    return torch.stack([1 - position, position], dim=-1)


def pole_prediction(pole_scores: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Pole scores (B, 2), lower pole first -> predicted scores (B,): ``low + (high - low) * p(upper)``."""
    import torch

    return low + (high - low) * torch.softmax(pole_scores.float(), dim=-1)[:, 1]


def pole_loss(pole_scores: torch.Tensor, scores: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """KL(target || predicted pole distribution), the batch mean: the cloze loss of regression."""
    import torch
    from torch import nn

    log_probs = torch.log_softmax(pole_scores.float(), dim=-1)
    return nn.functional.kl_div(log_probs, pole_targets(scores, low, high), reduction="batchmean")


def standardised(scores: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Scores (B,) -> their place in [low, high] as -1 .. 1 (the middle is 0): a regression head's target."""
    return (2 * scores.float() - low - high) / (high - low)


def head_position(outputs: torch.Tensor) -> torch.Tensor:
    """A regression head's outputs (B, 1) -> the predicted score's position t in the range (B,), clipped to [0, 1]."""
    return ((outputs.float()[:, 0] + 1) / 2).clamp(0.0, 1.0)


def head_prediction(outputs: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """A regression head's outputs (B, 1) -> predicted scores (B,), clipped to [low, high]."""
    return low + (high - low) * head_position(outputs)


def head_loss(outputs: torch.Tensor, scores: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """A regression head's outputs (B, 1) against gold scores (B,): the mean squared error of the standardised
    score (:func:`standardised`), unclipped so that a prediction past the range still learns."""
    from torch import nn

    return nn.functional.mse_loss(outputs.float()[:, 0], standardised(scores, low, high))


def regression_metrics(gold, predicted) -> dict:
    """Pearson and Spearman correlation (scipy) and mean squared error of predicted scores.

    A constant prediction (or gold) correlates with nothing: its correlations are reported as 0.0, not
    scipy's NaN, so that a collapsed model reads as one and best-on-dev selection can compare it.
    """
    gold = np.asarray(gold, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    constant = np.ptp(gold) == 0 or np.ptp(predicted) == 0
    return {
        "pearson": 0.0 if constant else float(pearsonr(gold, predicted)[0]),
        "spearman": 0.0 if constant else float(spearmanr(gold, predicted)[0]),
        "mse": float(np.mean((gold - predicted) ** 2)),
    }


def score_bin(score: float, low: float, high: float, bins: int) -> int:
    """The equal-width bin (0 .. bins - 1) of [low, high] that ``score`` falls in; ``high`` is in the last."""
    return min(int((score - low) / (high - low) * bins), bins - 1)


def pole_range(labels: list[str]) -> tuple[float, float]:
    """The score range a run's two labels name (lower first); refused unless they are two increasing numbers."""
    values = [_number(label) for label in labels]
    if len(labels) != 2 or None in values or values[0] >= values[1]:
        raise PromptlearnError(
            f"A regression run reads two poles, named by the ends of the score range, lower first; its labels are "
            f'{labels}. Give a verbalizer such as {{"0": ["no"], "5": ["yes"]}} (verbalizers/stsb.yaml).'
        )
    return values[0], values[1]


def _number(text) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _scores(data: TaskData) -> dict[str, list[float]]:
    """Every labelled split's scores, refusing a non-numeric one naming its split and row."""
    scores = {}
    for split, examples in data.splits.items():
        values = []
        for row, example in enumerate(examples, start=1):
            if example.label is None:
                continue
            value = _number(example.label)
            if value is None:
                raise PromptlearnError(
                    f"{data.source}: row {row} of the {split!r} split has the score {example.label!r}, which is not "
                    "a number; a regression label is a number (row 1 is the first example)."
                )
            values.append(value)
        scores[split] = values
    return scores


def _label(value: float) -> str:
    return f"{value:g}"


class Regression(TaskShape):
    """LM-BFF's two-pole regression; bound to its run's range by :meth:`bind`."""

    name = "regression"
    selection_metric = "pearson"
    labels_are_names = False
    report_metrics = ("pearson", "spearman", "mse")
    serves_ipet = False  # iPET adds pool examples hard-labelled per class, keeping the class distribution
    averages = True  # a prediction is linear in p(upper): averaging pole probabilities averages predictions
    merges_probabilities = True
    refusal = "a regression label is a score, not a class."

    def __init__(self, low: float = 0.0, high: float = 1.0):
        self.low, self.high = low, high

    def bind(self, labels: list[str]) -> Regression:
        return Regression(*pole_range(labels))

    def detect(self, data: TaskData) -> bool:
        """Every label a number and some not whole: ``"3.8"`` is a score, ``"1"`` may be a class name."""
        labels = [ex.label for examples in data.splits.values() for ex in examples if ex.label is not None]
        numbers = [_number(label) if isinstance(label, str) else None for label in labels]
        return bool(labels) and None not in numbers and any(not value.is_integer() for value in numbers)

    def labels_of(self, data: TaskData) -> list[str]:
        values = [value for split in _scores(data).values() for value in split]
        return [_label(min(values)), _label(max(values))] if values else []

    def check_data(self, pvp, data: TaskData) -> None:
        low, high = pole_range(pvp.labels)
        for split, values in _scores(data).items():
            outside = [(row, value) for row, value in enumerate(values, start=1) if not low <= value <= high]
            if outside:
                row, value = outside[0]
                more = f" ({len(outside)} such rows)" if len(outside) > 1 else ""
                raise PromptlearnError(
                    f"{data.source}: row {row} of the {split!r} split has the score {value:g}, outside the run's "
                    f"range [{low:g}, {high:g}] (its poles {pvp.labels}){more}. Declare the range with the "
                    "verbalizer's two labels, or fix the row (row 1 is the first example)."
                )

    def target(self, label, index: dict[str, int]) -> float:
        if label is None:
            return math.nan
        value = _number(label)
        if value is None:
            raise PromptlearnError(f"The score {label!r} is not a number; a regression label is a number")
        return value

    def head_outputs(self, num_labels: int) -> int:
        return 1

    def loss(self, scores, targets):
        """Two columns (the poles' scores): the poles' KL; one (a head's output): the head's MSE."""
        if scores.size(-1) == 1:
            return head_loss(scores, targets, self.low, self.high)
        return pole_loss(scores, targets, self.low, self.high)

    def probabilities(self, scores):
        """The pole distribution (B, 2): softmax of the poles' scores, or ``(1 - t, t)`` of a head's prediction."""
        import torch

        if scores.size(-1) == 1:
            position = head_position(scores)
            return torch.stack([1 - position, position], dim=-1)
        return torch.softmax(scores.float(), dim=-1)

    def soft_loss(self, scores, targets, temperature):
        """Soft targets are pole distributions (an ensemble's averaged prediction): the poles learn them by KL,
        a head its score (the upper pole's probability, as -1 .. 1) by MSE. ``temperature`` is 1 (the soft-labels
        feature's ``check_shape`` refuses another): softening a pole distribution would move the score it stands
        for."""
        from torch import nn

        if scores.size(-1) == 1:
            return nn.functional.mse_loss(scores.float()[:, 0], 2 * targets.float()[:, 1] - 1)
        return super().soft_loss(scores, targets, temperature)

    def predictions(self, probabilities: np.ndarray) -> np.ndarray:
        """Pole probabilities (N, 2) -> predicted scores (N,)."""
        return self.low + (self.high - self.low) * np.asarray(probabilities, dtype=np.float64)[:, 1]

    def metrics(self, gold, probabilities, num_labels, decision=None) -> dict:
        return regression_metrics(gold, self.predictions(probabilities))

    def record(self, example: Example, labels, probabilities, decision) -> dict:
        record = {"text": example.text_a}
        if example.text_b is not None:
            record["text_b"] = example.text_b
        return record | {
            "gold": None if example.label is None else _number(example.label),
            "predicted": round(float(self.predictions(probabilities[None])[0]), 6),
            "probabilities": {label: round(float(p), 6) for label, p in zip(labels, probabilities, strict=True)},
        }

    def pool_label(self, probabilities, labels, decision) -> str:
        """The predicted score, as a data file's label."""
        return _label(float(self.predictions(np.asarray(probabilities)[None])[0]))

    def record_metrics(self, records, labels) -> dict:
        return regression_metrics([r["gold"] for r in records], [r["predicted"] for r in records])

    def few_shot(self, data, shots, seed, dev_split):
        """K examples per score bin (two equal-width bins over the data's range) for train and for dev."""
        if shots is None:
            return few_shot(data, None, seed, dev_split)
        low, high = (float(value) for value in self.labels_of(data))
        binned = {}
        for name, examples in data.splits.items():
            binned[name] = [
                dataclasses.replace(
                    ex, label=None if ex.label is None else f"bin {score_bin(float(ex.label), low, high, BINS)}"
                )
                for ex in examples
            ]
        original = {id(b): ex for name in binned for b, ex in zip(binned[name], data.splits[name], strict=True)}
        bins = sorted({ex.label for ex in binned["train"]})
        train, dev = few_shot(dataclasses.replace(data, splits=binned, labels=bins), shots, seed, dev_split)
        return [original[id(ex)] for ex in train], [original[id(ex)] for ex in dev]

    def check_run(self, pvp) -> None:
        pole_range(pvp.labels)


REGRESSION = register_shape(Regression())
