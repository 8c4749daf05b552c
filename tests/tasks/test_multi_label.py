"""The multi-label shape: its score, loss, decision and metrics against hand computations, the threshold
chosen on dev, the greedy K-shot sampling, and reading label lists from data."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from promptlearn.data.examples import Columns, Example, TaskData, load_task_data
from promptlearn.errors import PromptlearnError
from promptlearn.tasks import get_shape, shape_for
from promptlearn.tasks.multi_label import MULTI_LABEL, best_threshold, greedy_few_shot
from tests.helpers.fixtures import write_task

LABELS = ["a", "b", "c"]
INDEX = {label: i for i, label in enumerate(LABELS)}


def test_probability_loss_and_metrics_of_a_three_example_batch_match_a_hand_computation():
    scores = torch.tensor([[2.0, -1.0, 0.0], [0.5, 1.5, -2.0], [-1.0, 0.0, 3.0]])
    gold = [MULTI_LABEL.target(names, INDEX) for names in [("a",), ("a", "b"), ("c",)]]
    assert gold == [(1, 0, 0), (1, 1, 0), (0, 0, 1)]

    sig = [[1 / (1 + math.exp(-s)) for s in row] for row in scores.tolist()]
    bce = (
        -sum(
            y * math.log(p) + (1 - y) * math.log(1 - p)
            for row_y, row_p in zip(gold, sig, strict=True)
            for y, p in zip(row_y, row_p, strict=True)
        )
        / 9
    )
    assert MULTI_LABEL.loss(scores, torch.tensor(gold)).item() == pytest.approx(bce, rel=1e-6)
    probs = MULTI_LABEL.probabilities(scores).numpy()
    np.testing.assert_allclose(probs, sig, rtol=1e-6)

    # at threshold 0.6: sigmoid(2)=.881, sigmoid(1.5)=.818, sigmoid(3)=.953, sigmoid(0.5)=.622 are in, the rest out
    # predicted {a}, {a, b}, {c}: every example right
    assert MULTI_LABEL.metrics(gold, probs, 3, {"threshold": 0.6}) == {
        "micro_f1": 1.0, "macro_f1": 1.0, "samples_f1": 1.0, "subset_accuracy": 1.0,
    }  # fmt: skip
    # at 0.7: predicted {a}, {b}, {c}. TP 3, FP 0, FN 1 -> micro-F1 6/7; per label F1: a 2/3, b 1, c 1;
    # per example F1: 1, 2/3, 1; subset accuracy 2/3
    metrics = MULTI_LABEL.metrics(gold, probs, 3, {"threshold": 0.7})
    assert metrics == pytest.approx(
        {
            "micro_f1": 6 / 7,
            "macro_f1": (2 / 3 + 1 + 1) / 3,
            "samples_f1": (1 + 2 / 3 + 1) / 3,
            "subset_accuracy": 2 / 3,
        }
    )


def test_the_threshold_maximises_micro_f1_and_sits_between_two_dev_probabilities():
    gold = np.array([[1, 0], [0, 1], [1, 1]])
    probs = np.array([[0.9, 0.2], [0.3, 0.6], [0.8, 0.4]])
    # sorted: .9+ .8+ .6+ .4+ .3- .2-: all four positives above .35, nothing else -> F1 1 there
    assert best_threshold(gold, probs) == pytest.approx((0.4 + 0.3) / 2)
    ties = np.array([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]])
    assert best_threshold(gold, ties) == 0.5  # one distinct value: the only cut keeps everything


def test_greedy_sampling_gives_every_label_at_least_k_and_dev_shares_no_text_with_train():
    rows = [Example(f"text {i}", label=labels) for i, labels in enumerate(
        [("a",), ("a", "b"), ("b",), ("c",), ("a", "c"), ("b", "c"), ("a",), ("b",), ("c",), ("a", "b", "c")] * 3
    )]  # fmt: skip
    data = TaskData(splits={"train": rows}, labels=LABELS, source="rows")
    train, dev = greedy_few_shot(data, 2, seed=13, dev_split="sampled")
    for split in (train, dev):
        for label in LABELS:
            assert sum(label in ex.label for ex in split) >= 2
    assert not {ex.text_a for ex in train} & {ex.text_a for ex in dev}
    assert (train, dev) == greedy_few_shot(data, 2, seed=13, dev_split="sampled")  # deterministic
    assert MULTI_LABEL.few_shot(data, 2, 13, "sampled") == (train, dev)  # what train and fewshot call
    with pytest.raises(
        PromptlearnError, match=r"for dev \(sampled from the rest of train\), but only 7 examples of 'a'"
    ):
        greedy_few_shot(data, 8, seed=13, dev_split="sampled")


def test_label_lists_a_delimited_column_and_the_refused_empty_list(tmp_path):
    lists = write_task(
        tmp_path / "lists", {"train": [{"text": "x", "labels": ["b", "a"]}, {"text": "y", "labels": ["c"]}]}
    )
    data = load_task_data(str(lists))
    assert [ex.label for ex in data.splits["train"]] == [("b", "a"), ("c",)]
    assert data.labels == LABELS and shape_for(None, data) is MULTI_LABEL
    joined = write_task(tmp_path / "joined", {"train": [{"text": "x", "label": "b, a"}, {"text": "y", "label": "c"}]})
    assert load_task_data(str(joined), Columns(label_delimiter=",")).splits["train"][0].label == ("b", "a")
    assert shape_for(None, load_task_data(str(joined))) is get_shape("single")
    empty = write_task(tmp_path / "empty", {"train": [{"text": "x", "labels": ["a"]}, {"text": "y", "labels": []}]})
    with pytest.raises(PromptlearnError, match="row 2 has an empty label list in column 'labels'"):
        load_task_data(str(empty))


def test_an_unknown_label_and_an_unknown_task_type_are_refused():
    with pytest.raises(PromptlearnError, match=r"Labels \['z'\] are not among this run's labels"):
        MULTI_LABEL.target(("a", "z"), INDEX)
    with pytest.raises(PromptlearnError, match="--task-type must be one of"):
        get_shape("multi")


def test_soft_targets_are_learned_by_binary_cross_entropy_per_label():
    # sigmoid(0) = 1/2 against 1/2, sigmoid(ln 3) = 3/4 against 1/4 (an ensemble's averaged probabilities)
    scores, targets = torch.tensor([[0.0, math.log(3)]]), torch.tensor([[0.5, 0.25]])
    expected = (math.log(2) - (0.25 * math.log(0.75) + 0.75 * math.log(0.25))) / 2
    assert MULTI_LABEL.soft_loss(scores, targets, 1.0).item() == pytest.approx(expected, rel=1e-6)


def test_a_pool_example_gets_the_labels_at_the_threshold_and_at_least_the_most_probable():
    decision = {"threshold": 0.5}
    assert MULTI_LABEL.pool_label(np.array([0.7, 0.2, 0.5]), LABELS, decision) == ("a", "c")
    assert MULTI_LABEL.pool_label(np.array([0.1, 0.3, 0.2]), LABELS, decision) == ("b",)
