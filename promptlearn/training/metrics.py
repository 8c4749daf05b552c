"""Classification metrics of predicted labels: accuracy and macro-F1."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, f1_score


def classification_metrics(gold: list[int] | np.ndarray, predicted: list[int] | np.ndarray, num_labels: int) -> dict:
    """Accuracy and macro-F1 (over all ``num_labels`` classes, absent ones included)."""
    labels = list(range(num_labels))
    return {
        "accuracy": float(accuracy_score(gold, predicted)),
        "macro_f1": float(f1_score(gold, predicted, labels=labels, average="macro", zero_division=0)),
    }
