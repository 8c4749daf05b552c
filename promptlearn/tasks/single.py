"""Single-label classification, the default shape: one label per example, softmax and cross-entropy,
the arg-max decision, accuracy and macro-F1, K examples per label (LM-BFF)."""

from __future__ import annotations

import numpy as np

from promptlearn.data.examples import prediction_record
from promptlearn.data.sampling import few_shot
from promptlearn.errors import PromptlearnError
from promptlearn.tasks.base import TaskShape, register_shape


def classification_metrics(gold: list[int] | np.ndarray, predicted: list[int] | np.ndarray, num_labels: int) -> dict:
    """Accuracy and macro-F1 (over all ``num_labels`` classes, absent ones included)."""
    from sklearn.metrics import accuracy_score, f1_score  # here: encoding text (the ONNX predictor) needs none

    labels = list(range(num_labels))
    return {
        "accuracy": float(accuracy_score(gold, predicted)),
        "macro_f1": float(f1_score(gold, predicted, labels=labels, average="macro", zero_division=0)),
    }


class SingleLabel(TaskShape):
    name = "single"

    def target(self, label, index: dict[str, int]) -> int:
        if label is None:
            return -1
        if label not in index:
            raise PromptlearnError(f"Label {label!r} is not one of this PVP's labels {list(index)}")
        return index[label]

    def loss(self, scores, targets):
        import torch

        return torch.nn.functional.cross_entropy(scores, targets)

    def probabilities(self, scores):
        import torch

        return torch.softmax(scores.float(), dim=-1)

    def metrics(self, gold, probabilities, num_labels, decision=None) -> dict:
        return classification_metrics(gold, probabilities.argmax(axis=1), num_labels)

    def record(self, example, labels, probabilities, decision) -> dict:
        return prediction_record(example, labels, probabilities)

    def record_metrics(self, records, labels) -> dict:
        index = {label: i for i, label in enumerate(labels)}
        gold = [index[r["gold"]] for r in records]
        predicted = [index[r["predicted"]] for r in records]
        return classification_metrics(gold, predicted, len(labels))

    def few_shot(self, data, shots, seed, dev_split):
        return few_shot(data, shots, seed, dev_split)


SINGLE = register_shape(SingleLabel())
