"""iPET: how many pool examples a generation adds, and which ones.

PET's rule (Schick & Schütze 2021, iPET): the training set of generation g holds the original
examples plus new ones labelled by the previous generation, ``original x factor**g`` examples in
all, so the added set is ``original x (factor**g - 1)``. Zero-shot iPET has no original examples;
its first generation adds ``start`` examples and each later one ``factor`` times more.

The new examples keep the label distribution of the original ones (uniform without any) and are
drawn per label among the pool examples the ensemble assigns that label, with a probability
proportional to the ensemble's confidence (zero-shot's first generation takes the most likely
ones instead), never the same example twice.
"""

from __future__ import annotations

import logging

import numpy as np

from promptlearn.errors import PromptlearnError

logger = logging.getLogger(__name__)


def added_count(generation: int, original: int, factor: float, start: int) -> int:
    """Examples generation ``generation`` (>= 1) adds to the ``original`` ones."""
    if generation < 1:
        raise PromptlearnError(f"iPET generations count from 1, got {generation}")
    if original == 0:
        return round(start * factor ** (generation - 1))
    return round(original * (factor**generation - 1))


def label_quota(total: int, shares: np.ndarray) -> np.ndarray:
    """``total`` split by ``shares`` (C,) into integer counts summing to ``total`` (largest remainders)."""
    shares = np.asarray(shares, dtype=np.float64) / np.sum(shares)
    exact = shares * total
    counts = np.floor(exact).astype(int)
    for index in np.argsort(-(exact - counts), kind="stable")[: total - counts.sum()]:
        counts[index] += 1
    return counts


def select(
    probabilities: np.ndarray, total: int, shares: np.ndarray, seed: int, most_likely: bool = False
) -> list[tuple[int, int]]:
    """Pick ``total`` pool rows to add, as ``(row, label index)`` pairs sorted by row.

    ``probabilities``: the ensemble's (N, C) class probabilities on the pool; ``shares`` (C,): the
    label distribution to keep. Per label, among the rows whose most probable label it is, rows are
    drawn without replacement with probability proportional to that label's probability
    (``most_likely``: the most probable rows). A label with too few candidates gives all it has.
    """
    predicted = probabilities.argmax(axis=1)
    rng = np.random.default_rng(seed)
    chosen = []
    for label, count in enumerate(label_quota(total, shares)):
        rows = np.flatnonzero(predicted == label)
        if count > len(rows):
            logger.warning("iPET: %d wanted for label %d, %d predicted; taking them all", count, label, len(rows))
            count = len(rows)
        if count == 0:
            continue
        confidence = probabilities[rows, label]
        if most_likely:
            picked = rows[np.argsort(-confidence, kind="stable")[:count]]
        else:
            picked = rng.choice(rows, size=count, replace=False, p=confidence / confidence.sum())
        chosen += [(int(row), label) for row in picked]
    return sorted(chosen)
