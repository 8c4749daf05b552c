"""Which members an ensemble keeps: a rule decided on dev only, and the mean of the kept members' probabilities.

Averaging runs whose errors differ is the few-shot recipe's gain, but a member that is no better than guessing
only pulls the mean towards noise (issue 29: on one 6-class task the ``head`` member scored below always
predicting the majority class). :func:`kept_members` leaves out every member whose **dev** accuracy is not above
both chance (1 / C) and the majority class's share of dev; dev is what every member was selected on, so the test
split is never read. When no member passes, all are kept: with nothing better than chance there is nothing to
choose on, and the plain mean is the selection-free answer.
"""

from __future__ import annotations

import numpy as np


def baseline_accuracy(dev_gold: np.ndarray, num_labels: int) -> float:
    """What guessing scores on dev: the larger of chance (1 / C) and always predicting dev's majority class."""
    majority = np.bincount(dev_gold, minlength=num_labels).max() / len(dev_gold) if len(dev_gold) else 0.0
    return float(max(1.0 / num_labels, majority))


def kept_members(dev_probabilities: list[np.ndarray], dev_gold: np.ndarray) -> list[bool]:
    """Per member (its dev probabilities (N, C), all over the same examples ``dev_gold`` (N,)), whether the
    ensemble keeps it: dev accuracy above :func:`baseline_accuracy`; every member when none is."""
    num_labels = dev_probabilities[0].shape[1]
    floor = baseline_accuracy(dev_gold, num_labels)
    keep = [float((probs.argmax(axis=1) == dev_gold).mean()) > floor for probs in dev_probabilities]
    return keep if any(keep) else [True] * len(keep)
