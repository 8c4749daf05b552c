"""PET's arithmetic: merging models (mean / wmean), softening, and iPET's choice of new examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from promptlearn.errors import PromptlearnError
from promptlearn.pet.config import PetConfig
from promptlearn.pet.ensemble import log_probs, merge, soften
from promptlearn.pet.selection import added_count, label_quota, select
from promptlearn.run.config import RunConfig

A = np.array([[2.0, 0.0], [0.0, 1.0]])
B = np.array([[0.0, 4.0], [1.0, 1.0]])


def test_mean_and_wmean_against_hand_computation():
    assert merge([A, B]).tolist() == [[1.0, 2.0], [0.5, 1.0]]
    # weights 0.9 and 0.3 (training-set accuracies before training) -> 3/4 and 1/4
    assert np.allclose(merge([A, B], [0.9, 0.3]), [[1.5, 1.0], [0.25, 1.0]])


def test_wmean_refuses_weights_that_are_all_zero_or_do_not_match():
    with pytest.raises(PromptlearnError, match="not all 0"):
        merge([A, B], [0.0, 0.0])
    with pytest.raises(PromptlearnError, match="one finite non-negative weight per model"):
        merge([A, B], [1.0])
    with pytest.raises(PromptlearnError, match="one finite non-negative weight per model"):
        merge([A, B], [1.0, float("nan")])  # a weight that was never measured must not turn the ensemble into NaN


def test_soften_is_softmax_at_the_temperature():
    soft = soften(np.array([[2.0, 0.0]]), temperature=2.0)
    e = math.exp(1.0)  # softmax([1, 0]) at T = 2
    assert np.allclose(soft, [[e / (e + 1), 1 / (e + 1)]])
    assert np.allclose(soften(np.array([[2.0, 0.0]])), [[math.exp(2) / (math.exp(2) + 1), 1 / (math.exp(2) + 1)]])


def test_merging_log_probabilities_gives_the_distribution_of_merging_logits():
    rng = np.random.default_rng(0)
    logits = [rng.normal(size=(5, 3)) * 3 for _ in range(3)]
    from_probs = [log_probs(soften(z)) for z in logits]
    weights = [0.5, 0.2, 0.9]
    assert np.allclose(soften(merge(logits, weights), 2.0), soften(merge(from_probs, weights), 2.0))


def test_added_count_grows_by_the_factor():
    # 32 original examples: generation g has 32 x 5**g in all
    assert [added_count(g, 32, 5, 10) for g in (1, 2, 3)] == [128, 768, 3968]
    # zero-shot: `start` examples, then factor times more each generation
    assert [added_count(g, 0, 5, 10) for g in (1, 2, 3)] == [10, 50, 250]


def test_label_quota_keeps_the_distribution_and_the_total():
    assert label_quota(10, np.array([1, 1])).tolist() == [5, 5]
    assert label_quota(10, np.array([2, 1])).tolist() == [7, 3]
    assert label_quota(7, np.array([1, 1, 1])).sum() == 7


def _pool(n: int = 200, seed: int = 0) -> np.ndarray:
    z = np.random.default_rng(seed).normal(size=(n, 2)) + np.array([0.5, 0.0])  # label 0 predicted more often
    return soften(z)


def test_selection_is_balanced_never_repeats_and_labels_by_the_ensemble():
    probabilities = _pool()
    picks = select(probabilities, 40, np.array([1, 1]), seed=1)
    rows = [row for row, _ in picks]
    assert len(rows) == len(set(rows)) == 40
    assert [label for _, label in picks].count(0) == [label for _, label in picks].count(1) == 20
    assert all(probabilities[row].argmax() == label for row, label in picks)


def test_selection_grows_by_the_factor_across_generations():
    probabilities = _pool(1000)
    sizes = [len(select(probabilities, added_count(g, 8, 5, 10), np.array([1, 1]), seed=g)) for g in (1, 2)]
    assert sizes == [32, 192]


def test_selection_prefers_confident_examples():
    probabilities = _pool(2000)
    picks = select(probabilities, 200, np.array([1, 1]), seed=3)
    chosen = np.mean([probabilities[row, label] for row, label in picks])
    assert chosen > probabilities.max(axis=1).mean()
    top = select(probabilities, 2, np.array([1, 1]), seed=3, most_likely=True)
    assert [row for row, label in top if label == 0] == [int(np.argmax(probabilities[:, 0]))]


def test_selection_takes_what_a_rare_label_has():
    probabilities = np.array([[0.9, 0.1]] * 5 + [[0.2, 0.8]])
    picks = select(probabilities, 4, np.array([1, 1]), seed=0)
    assert sorted(label for _, label in picks) == [0, 0, 1]


def _base() -> RunConfig:
    return RunConfig(model="m", data="d", pattern="[MASK]", verbalizer={"a": ["x"], "b": ["y"]}, shots=4)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"patterns": []}, "at least one pattern"),
        ({"reduction": "max"}, "--reduction must be one of mean, wmean"),
        ({"generations": 1, "repetitions": 1}, "at least two patterns or --repetitions 2"),
        ({"scale_factor": 1.0}, "--scale-factor must be above 1"),
        ({"zero_shot": True}, "--generations 1"),
        ({"temperature": 0.0}, "--temperature must be positive"),
    ],
)
def test_pet_config_refuses_bad_settings(changes, message):
    with pytest.raises(PromptlearnError, match=message):
        PetConfig(base=_base(), **({"patterns": ["[MASK]"]} | changes))


def test_pet_config_needs_shots_unless_zero_shot():
    with pytest.raises(PromptlearnError, match="--shots"):
        PetConfig(base=_base().replace(shots=None), patterns=["[MASK]"])
    zero = PetConfig(
        base=_base().replace(shots=None), patterns=["[MASK]"], repetitions=2, zero_shot=True, generations=1
    )
    assert zero.reduction == "mean"  # nothing labelled to weigh untrained models by
    assert PetConfig.from_dict(zero.to_dict()).to_dict() == zero.to_dict()
