"""Grids that move (promptlearn.run.moving_grid) and the ensemble's member weights (promptlearn.run.ensemble)."""

from __future__ import annotations

import numpy as np
import pytest

from promptlearn.run.ensemble import baseline_accuracy, member_weights, weighted_mean
from promptlearn.run.moving_grid import next_candidate

GRID = [{"learning_rate": 3e-5}, {"learning_rate": 1e-4}, {"learning_rate": 3e-4}]


def test_a_best_value_at_the_top_edge_adds_the_next_log_step_up():
    # 3e-4 * (3e-4 / 1e-4) = 9e-4: the grid's own ratio, one step further
    assert next_candidate(GRID, {"learning_rate": 3e-4}) == {"learning_rate": 9e-4}


def test_a_best_value_at_the_bottom_edge_adds_the_next_log_step_down():
    assert next_candidate(GRID, {"learning_rate": 3e-5}) == {"learning_rate": 9e-6}


def test_a_best_value_inside_the_range_adds_nothing():
    assert next_candidate(GRID, {"learning_rate": 1e-4}) is None


def test_a_key_searched_at_one_value_or_not_extendable_is_left_alone():
    assert next_candidate([{"learning_rate": 1e-4}], {"learning_rate": 1e-4}) is None
    assert next_candidate([{"weight_decay": 0.0}, {"weight_decay": 0.1}], {"weight_decay": 0.1}) is None


def test_steps_stay_whole_numbers_and_other_keys_keep_the_kept_values():
    tried = [{"max_steps": 100, "learning_rate": 1e-4}, {"max_steps": 150, "learning_rate": 1e-4}]
    # 150 * 150 / 100 = 225 steps; the learning rate (one value) is carried over
    assert next_candidate(tried, tried[1]) == {"max_steps": 225, "learning_rate": 1e-4}


def test_baseline_is_the_larger_of_chance_and_the_majority_share():
    assert baseline_accuracy(np.array([0, 1, 2, 2]), 3) == pytest.approx(0.5)  # majority 2/4 beats chance 1/3
    assert baseline_accuracy(np.array([0, 1, 2, 3]), 4) == pytest.approx(0.25)  # balanced: chance 1/4


def test_members_weigh_by_their_dev_accuracy_above_guessing_and_none_above_weigh_the_same():
    gold = np.array([0, 0, 1, 1])  # balanced: guessing scores 0.5
    good = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])  # 3/4 right: margin 0.25
    best = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6]])  # 4/4 right: margin 0.5
    chance = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4]])  # always class 0: 2/4, not above 0.5
    worse = np.array([[0.1, 0.9], [0.2, 0.8], [0.7, 0.3], [0.6, 0.4]])  # 0/4
    # margins 0.25, 0.5, 0, 0 -> weights 1/3, 2/3, 0, 0
    assert member_weights([good, best, chance, worse], gold) == pytest.approx([1 / 3, 2 / 3, 0, 0])
    # none above guessing: nothing to choose on, every member weighs the same
    assert member_weights([chance, worse], gold) == pytest.approx([0.5, 0.5])


def test_the_weighted_mean_is_the_members_probabilities_times_their_normalised_weights():
    first, second = np.array([[0.9, 0.1]]), np.array([[0.3, 0.7]])
    # weights 1 and 3 -> 0.25 * 0.9 + 0.75 * 0.3 = 0.45
    np.testing.assert_allclose(weighted_mean([first, second], [1.0, 3.0]), [[0.45, 0.55]], rtol=1e-6)


def test_with_scores_an_edge_that_only_ties_its_neighbour_does_not_move():
    tried = [{"learning_rate": 1e-4}, {"learning_rate": 3e-4}]
    # kept 1e-4 (first of a tie) sits at the bottom edge, but scores no better than 3e-4: nothing points outward
    assert next_candidate(tried, tried[0], scores=[0.5, 0.5]) is None
    assert next_candidate(tried, tried[1], scores=[0.5, 0.75]) == {"learning_rate": 9e-4}
