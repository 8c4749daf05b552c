"""Multiple choice's scores, loss and accuracy, checked against sums worked out by hand."""

import math

import pytest
import torch

from promptlearn.tasks.multiple_choice import choice_loss, choice_metrics, choice_scores, group_choices


def test_a_choice_scores_the_mean_or_sum_of_its_tokens_log_probabilities():
    probs = torch.tensor(
        [
            [[0.5, 0.25, 0.25], [0.1, 0.8, 0.1]],  # a two-token choice: tokens 0 then 1
            [[0.2, 0.2, 0.6], [0.3, 0.3, 0.4]],  # a one-token choice: token 2, its second mask unused
        ]
    )
    tokens = torch.tensor([[0, 1], [2, 0]])
    valid = torch.tensor([[True, True], [True, False]])
    mean = choice_scores(probs.log(), tokens, valid)
    total = choice_scores(probs.log(), tokens, valid, word_score="sum")
    assert mean.tolist() == pytest.approx([(math.log(0.5) + math.log(0.8)) / 2, math.log(0.6)])
    assert total.tolist() == pytest.approx([math.log(0.5) + math.log(0.8), math.log(0.6)])


# three examples with 2, 3 and 2 choices: probabilities (1/4, 3/4), (1/4, 1/4, 1/2), (4/5, 1/5)
FLAT = torch.tensor([0.0, math.log(3), 0.0, 0.0, math.log(2), math.log(4), 0.0])
COUNTS = [2, 3, 2]


def test_choices_group_per_example_and_missing_ones_get_no_probability():
    grouped = group_choices(FLAT, COUNTS)
    assert group_choices(FLAT, COUNTS, width=4).shape == (3, 4)
    assert grouped.shape == (3, 3)
    assert torch.isinf(grouped[[0, 2], 2]).all()
    probs = torch.softmax(grouped, dim=-1)
    expected = [[0.25, 0.75, 0.0], [0.25, 0.25, 0.5], [0.8, 0.2, 0.0]]
    assert probs.tolist() == [pytest.approx(row) for row in expected]


def test_the_loss_is_cross_entropy_over_each_examples_choices():
    loss = choice_loss(group_choices(FLAT, COUNTS), torch.tensor([1, 2, 0]))
    assert loss.item() == pytest.approx(-(math.log(3 / 4) + math.log(1 / 2) + math.log(4 / 5)) / 3, rel=1e-6)


def test_accuracy_reads_the_most_probable_choice_of_any_count():
    probabilities = [[0.25, 0.75], [0.25, 0.25, 0.5], [0.8, 0.2]]
    assert choice_metrics([1, 2, 0], probabilities) == {"accuracy": 1.0, "macro_f1": 1.0}
    # predicted positions 1, 2, 0 against gold 1, 0, 0: F1 of position 0 = 2/3, of 1 = 1, of 2 = 0
    assert choice_metrics([1, 0, 0], probabilities) == pytest.approx({"accuracy": 2 / 3, "macro_f1": (2 / 3 + 1) / 3})
