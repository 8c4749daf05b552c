"""Forgetting and forward transfer of a sequential run, on a hand-made record."""

import pytest

from promptlearn.multitask.continual import forgetting, forward_transfer, summary

ORDER = ["a", "b"]
STAGES = [  # before training, after stage a, after stage b
    {"a": 0.50, "b": 0.40},
    {"a": 0.90, "b": 0.55},
    {"a": 0.70, "b": 0.80},
]


def test_forgetting_is_the_last_accuracy_minus_the_one_right_after_its_stage():
    assert forgetting(ORDER, STAGES) == pytest.approx({"a": 0.70 - 0.90})


def test_forward_transfer_is_the_accuracy_before_its_stage_minus_the_untrained_one():
    assert forward_transfer(ORDER, STAGES) == pytest.approx({"b": 0.55 - 0.40})


def test_summary_means():
    result = summary(ORDER, STAGES)
    assert result["mean_forgetting"] == pytest.approx(-0.2)
    assert result["mean_forward_transfer"] == pytest.approx(0.15)
    assert result["final_mean_accuracy"] == pytest.approx(0.75)
