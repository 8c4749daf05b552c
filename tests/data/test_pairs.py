"""SetFit's pair sampling, checked against counts worked out by hand."""

from __future__ import annotations

import pytest

from promptlearn.data.pairs import sentence_pairs
from promptlearn.errors import PromptlearnError

#: 3 examples of "a", 2 of "b": candidates are the 15 unordered pairs with an example paired with itself.
#: Positives: a-a 3 * 4 / 2 = 6, b-b 2 * 3 / 2 = 3, so 9; negatives: 3 * 2 = 6.
LABELS = ["a", "a", "b", "a", "b"]
POSITIVES = {(0, 0), (0, 1), (0, 3), (1, 1), (1, 3), (3, 3), (2, 2), (2, 4), (4, 4)}
NEGATIVES = {(0, 2), (0, 4), (1, 2), (1, 4), (2, 3), (3, 4)}


def test_unique_draws_every_candidate_once_with_its_label():
    pairs = sentence_pairs(LABELS, "unique", seed=0)
    assert len(pairs) == 15
    assert {(i, j) for i, j, y in pairs if y == 1.0} == POSITIVES
    assert {(i, j) for i, j, y in pairs if y == 0.0} == NEGATIVES


def test_oversampling_repeats_the_smaller_kind_up_to_the_larger():
    pairs = sentence_pairs(LABELS, "oversampling", seed=0)
    assert len(pairs) == 18  # 9 positives, 9 negatives (6 + the first 3 again)
    assert [y for *_, y in pairs] == [1.0, 0.0] * 9  # alternating, positive first
    negatives = [(i, j) for i, j, y in pairs if y == 0.0]
    assert set(negatives) == NEGATIVES and negatives[6:] == negatives[:3]


def test_undersampling_keeps_as_many_of_each_as_the_smaller_kind():
    pairs = sentence_pairs(LABELS, "undersampling", seed=0)
    assert [y for *_, y in pairs] == [1.0, 0.0] * 6
    assert set((i, j) for i, j, y in pairs if y == 0.0) == NEGATIVES
    assert len({(i, j) for i, j, y in pairs if y == 1.0}) == 6


def test_iterations_override_the_strategy_with_r_times_n_of_each_kind():
    pairs = sentence_pairs(LABELS, "unique", iterations=2, seed=0)
    assert sum(y == 1.0 for *_, y in pairs) == 10 and sum(y == 0.0 for *_, y in pairs) == 10  # 2 * 5 each


def test_same_seed_same_pairs_other_seed_other_order():
    assert sentence_pairs(LABELS, seed=13) == sentence_pairs(LABELS, seed=13)
    assert sentence_pairs(LABELS, seed=13) != sentence_pairs(LABELS, seed=21)
    assert sorted(sentence_pairs(LABELS, "unique", seed=13)) == sorted(sentence_pairs(LABELS, "unique", seed=21))


@pytest.mark.parametrize(
    ("labels", "strategy", "iterations", "message"),
    [
        (["a", "a"], "oversampling", None, "only one label"),
        (LABELS, "random", None, "sampling must be one of"),
        (LABELS, "unique", 0, "iterations must be at least 1"),
    ],
)
def test_bad_input_is_one_clear_error(labels, strategy, iterations, message):
    with pytest.raises(PromptlearnError, match=message):
        sentence_pairs(labels, strategy, iterations)
