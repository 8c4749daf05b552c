"""LM-BFF's two-pole regression, checked against sums worked out by hand on a 3-example batch."""

import math

import pytest
import torch

from promptlearn.tasks.regression import (
    REGRESSION,
    head_loss,
    head_prediction,
    pole_loss,
    pole_prediction,
    pole_targets,
    regression_metrics,
    score_bin,
)

# lower pole first; p(upper) = 1/2, 3/4, 1/4
POLES = torch.tensor([[0.0, 0.0], [0.0, math.log(3)], [math.log(3), 0.0]])
GOLD = torch.tensor([2.5, 5.0, 0.0])


def test_the_prediction_interpolates_the_range_by_the_upper_pole():
    assert pole_prediction(POLES, 0.0, 5.0).tolist() == pytest.approx([2.5, 3.75, 1.25])
    assert pole_prediction(POLES, 1.0, 3.0).tolist() == pytest.approx([2.0, 2.5, 1.5])


def test_the_target_is_the_scores_position_in_the_range():
    assert pole_targets(GOLD, 0.0, 5.0).tolist() == [[0.5, 0.5], [0.0, 1.0], [1.0, 0.0]]


def test_the_loss_is_the_kl_from_target_to_poles_averaged_over_the_batch():
    # example 1: target = prediction (0); 2 and 3: 1 * ln(1 / 0.75) each
    expected = (0 + math.log(4 / 3) + math.log(4 / 3)) / 3
    assert pole_loss(POLES, GOLD, 0.0, 5.0).item() == pytest.approx(expected, rel=1e-6)


def test_the_loss_is_zero_exactly_when_the_poles_place_the_score():
    poles = torch.tensor([[math.log(0.3), math.log(0.7)]])
    assert pole_loss(poles, torch.tensor([3.5]), 0.0, 5.0).item() == pytest.approx(0.0, abs=1e-7)
    assert pole_loss(poles, torch.tensor([3.0]), 0.0, 5.0).item() > 1e-3


# a one-output regression head's outputs s (B, 1) on the range [0, 5]: prediction 2.5 + 2.5 s, clipped to [0, 5]
HEAD = torch.tensor([[0.2], [-1.4], [0.6]])
HEAD_GOLD = torch.tensor([3.0, 0.5, 4.0])  # standardised (2y - 5) / 5: 0.2, -0.8, 0.6


def test_the_head_loss_is_the_mean_squared_error_of_the_standardised_score():
    # deviations from the standardised gold: 0, -0.6, 0 -> (0 + 0.36 + 0) / 3
    assert head_loss(HEAD, HEAD_GOLD, 0.0, 5.0).item() == pytest.approx(0.12, rel=1e-6)
    assert REGRESSION.bind(["0", "5"]).loss(HEAD, HEAD_GOLD).item() == pytest.approx(0.12, rel=1e-6)
    # on [1, 3] the same outputs stand for 2.2, 0.6 (clipped: 1) and 2.6; gold 2.5, 1, 3 standardise to 0.5, -1, 1
    expected = ((0.2 - 0.5) ** 2 + (-1.4 + 1) ** 2 + (0.6 - 1) ** 2) / 3
    assert head_loss(HEAD, torch.tensor([2.5, 1.0, 3.0]), 1.0, 3.0).item() == pytest.approx(expected, rel=1e-6)


def test_the_head_loss_still_pulls_a_prediction_back_from_past_the_range():
    outputs = HEAD.clone().requires_grad_(True)
    head_loss(outputs, HEAD_GOLD, 0.0, 5.0).backward()
    # d/ds of (s - z)^2 / 3 = 2 (s - z) / 3: the second output (-1.4, clipped at prediction) still moves towards -0.8
    assert outputs.grad[:, 0].tolist() == pytest.approx([0.0, 2 * -0.6 / 3, 0.0], abs=1e-6)


def test_the_head_predicts_the_clipped_score_and_hands_it_on_as_poles():
    assert head_prediction(HEAD, 0.0, 5.0).tolist() == pytest.approx([3.0, 0.0, 4.0])
    shape = REGRESSION.bind(["0", "5"])
    poles = shape.probabilities(HEAD)  # (1 - t, t), t = (s + 1) / 2 clipped: 0.6, 0, 0.8
    assert poles.flatten().tolist() == pytest.approx([0.4, 0.6, 1.0, 0.0, 0.2, 0.8])
    assert shape.predictions(poles.numpy()).tolist() == pytest.approx([3.0, 0.0, 4.0])
    assert shape.metrics(HEAD_GOLD.tolist(), poles.numpy(), 2)["mse"] == pytest.approx((0 + 0.25 + 0) / 3)


def test_a_regression_head_learns_soft_targets_by_the_mse_of_their_score():
    # soft targets are pole distributions (an ensemble's): p(upper) 0.6, 0, 0.5 -> standardised 0.2, -1, 0
    targets = torch.tensor([[0.4, 0.6], [1.0, 0.0], [0.5, 0.5]])
    expected = ((0.2 - 0.2) ** 2 + (-1.4 + 1) ** 2 + (0.6 - 0) ** 2) / 3
    assert REGRESSION.soft_loss(HEAD, targets, 1.0).item() == pytest.approx(expected, rel=1e-6)
    # the poles learn them by the KL at temperature 1: the cloze loss with the averaged score as gold
    soft = REGRESSION.bind(["0", "5"]).soft_loss(POLES, pole_targets(GOLD, 0.0, 5.0), 1.0)
    assert soft.item() == pytest.approx(pole_loss(POLES, GOLD, 0.0, 5.0).item(), rel=1e-6)


def test_metrics_by_hand():
    # deviations from the mean: gold (-1, 0, 1), predicted (-1, 1, 0): covariance 1 over norms sqrt(2) * sqrt(2)
    metrics = regression_metrics([1.0, 2.0, 3.0], [1.0, 3.0, 2.0])
    assert metrics == pytest.approx({"pearson": 0.5, "spearman": 0.5, "mse": 2 / 3})
    predicted = pole_prediction(POLES, 0.0, 5.0).tolist()  # 1.25 + gold / 2: perfectly correlated
    assert regression_metrics(GOLD.tolist(), predicted) == pytest.approx(
        {"pearson": 1.0, "spearman": 1.0, "mse": (0 + 1.25**2 + 1.25**2) / 3}
    )


def test_a_constant_prediction_correlates_with_nothing():
    assert regression_metrics([1.0, 2.0, 3.0], [2.0, 2.0, 2.0]) == pytest.approx(
        {"pearson": 0.0, "spearman": 0.0, "mse": 2 / 3}
    )


def test_bins_are_equal_width_and_the_top_of_the_range_is_in_the_last():
    # LM-BFF's STS-B split: below 2.5 is one class, 2.5 and above the other
    assert [score_bin(s, 0.0, 5.0, 2) for s in (0.0, 2.49, 2.5, 5.0)] == [0, 0, 1, 1]
    assert [score_bin(s, 0.0, 5.0, 5) for s in (0.0, 0.99, 1.0, 4.99, 5.0)] == [0, 0, 1, 4, 4]
