"""Multi-label classification: any number of the C labels per example.

- Scores (B, C) are read as C independent binary decisions: probability = sigmoid(score), loss = binary
  cross-entropy (the mean over the B x C decisions). For a cloze readout the score of a label is its label
  word's logit at [MASK], each word scored on its own (as ADAPET's decoupled label objective treats every
  label word as a binary decision) instead of in a softmax over the labels; for a head it is the head's logit.
- The decision is one threshold on those probabilities, chosen on dev to maximise micro-F1 (the midpoint
  between the two dev probabilities where the best cut falls) and stored in the run folder
  (``thresholds.json``). One threshold, not one per label: a K-shot dev set holds about K positives of a
  label, too few to fit C thresholds without fitting noise.
- Metrics (scikit-learn): micro-F1, macro-F1 (over all C labels), samples-F1 (example-based) and subset
  accuracy (every label of an example right).
- K-shot sampling (:func:`greedy_few_shot`): at least K examples of every label, drawn greedily, rarest
  label first.
"""

from __future__ import annotations

import random

import numpy as np

from promptlearn.data.examples import Example, TaskData
from promptlearn.data.sampling import checked_request, few_shot
from promptlearn.errors import PromptlearnError
from promptlearn.tasks.base import TaskShape, register_shape


def multi_label_metrics(gold: np.ndarray, predicted: np.ndarray) -> dict:
    """Micro-, macro- and samples-F1 and subset accuracy of multi-hot arrays (N, C)."""
    from sklearn.metrics import accuracy_score, f1_score  # here: encoding text (the ONNX predictor) needs none

    return {
        "micro_f1": float(f1_score(gold, predicted, average="micro", zero_division=0)),
        "macro_f1": float(f1_score(gold, predicted, average="macro", zero_division=0)),
        "samples_f1": float(f1_score(gold, predicted, average="samples", zero_division=0)),
        "subset_accuracy": float(accuracy_score(gold, predicted)),
    }


def best_threshold(gold: np.ndarray, probabilities: np.ndarray) -> float:
    """The threshold on ``probabilities`` (N, C) whose decisions (p >= t) maximise micro-F1 against ``gold``.

    Cutting the N x C probabilities sorted high to low after the k-th gives micro-F1 = 2 TP_k / (k + P)
    (P: the positives), so every cut is scored at once; only cuts between two distinct values can be
    thresholds. Ties go to the higher threshold (fewer labels predicted). The threshold is the midpoint
    between the last value kept and the next one, so a probability equal to a dev one decides the same way.
    """
    flat = probabilities.astype(np.float64).ravel()
    positive = np.asarray(gold, dtype=bool).ravel()
    order = np.argsort(-flat, kind="stable")
    ranked = flat[order]
    true_positives = np.cumsum(positive[order])
    f1 = 2 * true_positives / (np.arange(1, len(ranked) + 1) + positive.sum())
    f1[np.r_[ranked[1:] == ranked[:-1], False]] = -1.0  # not a cut: the next value equals this one
    best = int(np.argmax(f1))
    return float(ranked[best] if best + 1 == len(ranked) else (ranked[best] + ranked[best + 1]) / 2)


def greedy_few_shot(data: TaskData, shots: int, seed: int, dev_split: str) -> tuple[list[Example], list[Example]]:
    """K-shot train (and, with ``dev_split="sampled"``, dev) for multi-label data: at least K examples of every label.

    An example carries several labels, so "K per label" cannot be exact. The seed shuffles the train
    split once; then, rarest label (fewest train examples) first, the next examples in that order that
    hold the label are taken until it has K, each counting for all its labels. Frequent labels therefore
    usually get more than K. Dev is drawn the same way from the examples (distinct texts) train did not
    take. Deterministic for a given seed.
    """
    sample_dev = checked_request(data, shots, dev_split)
    train = data.split("train")
    order = list(range(len(train)))
    random.Random(seed).shuffle(order)
    frequency = {label: 0 for label in data.labels}
    for example in train:
        for label in example.label:
            frequency[label] += 1
    rarest_first = sorted(data.labels, key=lambda label: (frequency[label], label))
    taken: set[tuple[str, str | None]] = set()
    train_idx = _greedy(train, order, rarest_first, shots, taken, "train", data.source)
    random.Random(seed).shuffle(train_idx)
    few_train = [train[i] for i in train_idx]
    if not sample_dev:
        return few_train, data.splits["dev"]
    dev_idx = _greedy(train, order, rarest_first, shots, taken, "dev (sampled from the rest of train)", data.source)
    return few_train, [train[i] for i in dev_idx]


def _greedy(
    rows: list[Example], order: list[int], labels: list[str], shots: int, taken: set, what: str, source: str
) -> list[int]:
    counts = dict.fromkeys(labels, 0)
    picked = []
    for label in labels:
        for i in order:
            if counts[label] >= shots:
                break
            text = (rows[i].text_a, rows[i].text_b)
            if label in rows[i].label and text not in taken:
                taken.add(text)
                picked.append(i)
                for other in rows[i].label:
                    counts[other] += 1
        if counts[label] < shots:
            raise PromptlearnError(
                f"{source}: --shots {shots} needs {shots} examples of every label for {what}, but only "
                f"{counts[label]} examples of {label!r} were left. Lower --shots"
                + (", or select on the data's dev split with --dev-split given." if "dev" in what else ".")
            )
    return picked


class MultiLabel(TaskShape):
    name = "multi-label"
    selection_metric = "micro_f1"
    report_metrics = ("micro_f1", "macro_f1", "samples_f1", "subset_accuracy")
    averages = True  # per-label probabilities average as they are
    decision_file = "thresholds.json"
    serves_ipet = False  # iPET adds pool examples hard-labelled per class, keeping the class distribution
    merges_probabilities = True
    soft_targets_sum_to_one = False
    refusal = "a multi-label example has any number of labels, not one distribution over them."

    def detect(self, data: TaskData) -> bool:
        return any(isinstance(ex.label, tuple) for examples in data.splits.values() for ex in examples)

    def target(self, label, index: dict[str, int]) -> tuple[int, ...] | int:
        if label is None:
            return -1
        names = (label,) if isinstance(label, str) else label
        unknown = sorted(set(names) - set(index))
        if unknown:
            raise PromptlearnError(f"Labels {unknown} are not among this run's labels {list(index)}")
        return tuple(int(name in names) for name in index)

    def loss(self, scores, targets):
        import torch

        return torch.nn.functional.binary_cross_entropy_with_logits(scores.float(), targets.float())

    def probabilities(self, scores):
        import torch

        return torch.sigmoid(scores.float())

    def soft_loss(self, scores, targets, temperature):
        """Per-label soft targets (an ensemble's averaged probabilities): binary cross-entropy per label, as the
        hard labels'; ``temperature`` is 1 (the soft-labels feature's
        ``check_shape`` refuses another)."""
        import torch

        return torch.nn.functional.binary_cross_entropy_with_logits(scores.float(), targets.float())

    def choose_decision(self, gold, probabilities) -> dict:
        return {"threshold": best_threshold(np.asarray(gold), probabilities)}

    def metrics(self, gold, probabilities, num_labels, decision=None) -> dict:
        gold = np.asarray(gold, dtype=int)
        decision = decision if decision is not None else self.choose_decision(gold, probabilities)
        return multi_label_metrics(gold, (probabilities >= decision["threshold"]).astype(int))

    def record(self, example, labels, probabilities, decision) -> dict:
        record = {"text": example.text_a}
        if example.text_b is not None:
            record["text_b"] = example.text_b
        threshold = 0.5 if decision is None else decision["threshold"]
        return record | {
            "gold": None if example.label is None else list(example.label),
            "predicted": [label for label, p in zip(labels, probabilities, strict=True) if p >= threshold],
            "probabilities": {label: round(float(p), 6) for label, p in zip(labels, probabilities, strict=True)},
        }

    def pool_label(self, probabilities, labels, decision) -> tuple[str, ...]:
        """The labels at or above the threshold, or the most probable one when none is (a row needs one)."""
        chosen = tuple(label for label, p in zip(labels, probabilities, strict=True) if p >= decision["threshold"])
        return chosen or (labels[int(np.argmax(probabilities))],)

    def record_metrics(self, records, labels) -> dict:
        def multi_hot(names: list[str]) -> list[int]:
            return [int(label in names) for label in labels]

        gold = np.array([multi_hot(r["gold"]) for r in records], dtype=int)
        return multi_label_metrics(gold, np.array([multi_hot(r["predicted"]) for r in records], dtype=int))

    def few_shot(self, data, shots, seed, dev_split):
        if shots is None:
            return few_shot(data, None, seed, dev_split)
        return greedy_few_shot(data, shots, seed, dev_split)

    def check_run(self, pvp) -> None:
        if pvp.verbalizer is not None and pvp.mask_count > 1:
            raise PromptlearnError(
                "Multi-label runs need single-token label words: a multi-token word's score is a "
                "log-probability (at most 0), whose sigmoid never passes 0.5. Choose one-token words."
            )


MULTI_LABEL = register_shape(MultiLabel())
