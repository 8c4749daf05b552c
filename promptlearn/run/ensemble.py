"""How an ensemble weighs its members: a rule decided on dev only, and the weighted mean of their probabilities.

Averaging runs whose errors differ is the few-shot recipe's gain, but a member that is no better than guessing
only pulls the mean towards noise (issue 29: on one 6-class task the ``head`` member scored below always
predicting the majority class), and one far above the others is drowned by them (on MPQA the ``pet`` members beat
``mlm_head`` and ``head`` by 5-15 points on dev, and the plain mean lost 2 points to ``pet`` alone).
:func:`member_weights` weighs each member by how far its **dev** accuracy is above guessing (the larger of chance,
1 / C, and the majority class's share of dev): a member at or below guessing gets weight 0 and is left out. Dev is
what every member was selected on, so the test split is never read. When no member is above guessing, all weigh
the same: with nothing better than chance there is nothing to choose on, and the plain mean is the
selection-free answer.

The rule was chosen among nine on issue 29's four development tasks (``experiments/recipe_member_rules.py``,
docs/results/recipe.md): equal weights above guessing, the plain mean, the best member alone, members within one
or two standard errors of the best, ``pet`` members only, and the dev margin to the powers 1, 2 and 4.
"""

from __future__ import annotations

import numpy as np

#: the rule's name, part of a fewshot recipe cell's fingerprint (cells combined by another rule run again)
MEMBER_RULE = "dev-margin-weights"


def baseline_accuracy(dev_gold: np.ndarray, num_labels: int) -> float:
    """What guessing scores on dev: the larger of chance (1 / C) and always predicting dev's majority class."""
    majority = np.bincount(dev_gold, minlength=num_labels).max() / len(dev_gold) if len(dev_gold) else 0.0
    return float(max(1.0 / num_labels, majority))


def accuracy(probabilities: np.ndarray, gold: np.ndarray) -> float:
    """The share of rows of ``probabilities`` (N, C) whose most probable class is ``gold``'s (N,)."""
    return float((probabilities.argmax(axis=1) == gold).mean())


def dev_margins(dev_probabilities: list[np.ndarray], dev_gold: np.ndarray) -> list[float]:
    """Per member (its dev probabilities (N, C), all over the same examples ``dev_gold`` (N,)), its dev accuracy
    minus :func:`baseline_accuracy`, 0 at or below it."""
    floor = baseline_accuracy(dev_gold, dev_probabilities[0].shape[1])
    return [max(accuracy(probs, dev_gold) - floor, 0.0) for probs in dev_probabilities]


def member_weights(dev_probabilities: list[np.ndarray], dev_gold: np.ndarray) -> list[float]:
    """Per member, its weight in the ensemble: its :func:`dev_margins` entry, the weights summing to 1; equal
    weights when no member is above guessing."""
    margins = dev_margins(dev_probabilities, dev_gold)
    if not any(margins):
        margins = [1.0] * len(margins)
    total = sum(margins)
    return [margin / total for margin in margins]


def weighted_mean(probabilities: list[np.ndarray], weights: list[float]) -> np.ndarray:
    """The members' probabilities (each (N, C)) averaged with ``weights`` (normalised here), as float32."""
    weights = np.asarray(weights, dtype=np.float64)
    mean = np.tensordot(weights / weights.sum(), np.stack(probabilities).astype(np.float64), axes=1)
    return mean.astype(np.float32)
