"""Mixed batches: the task probabilities follow p_t = n_t^(1/T) / sum_s n_s^(1/T), and batches drawn by them do."""

import math

import pytest
import torch

from promptlearn.errors import PromptlearnError
from promptlearn.multitask.sampling import TaskMixture, task_probabilities

SIZES = [32, 8, 18]


def test_probabilities_against_a_hand_computation():
    assert task_probabilities(SIZES, "proportional") == pytest.approx([32 / 58, 8 / 58, 18 / 58])
    roots = [math.sqrt(32), math.sqrt(8), math.sqrt(18)]  # T = 2: 4*sqrt(2), 2*sqrt(2), 3*sqrt(2)
    assert task_probabilities(SIZES, "temperature", 2.0) == pytest.approx([r / sum(roots) for r in roots])
    assert task_probabilities(SIZES, "temperature", 2.0) == pytest.approx([4 / 9, 2 / 9, 3 / 9])
    assert task_probabilities(SIZES, "equal") == pytest.approx([1 / 3] * 3)
    assert task_probabilities(SIZES, "temperature", 1e9) == pytest.approx([1 / 3] * 3, abs=1e-6)


def test_an_empty_task_is_refused():
    with pytest.raises(PromptlearnError, match="needs training examples"):
        task_probabilities([4, 0], "proportional")


@pytest.mark.parametrize("sampling", ["proportional", "temperature", "equal"])
def test_drawn_batches_follow_the_probabilities(sampling):
    tasks = [t for t, size in enumerate(SIZES) for _ in range(size)]
    probabilities = task_probabilities(SIZES, sampling, 2.0)
    mixture = TaskMixture(tasks, 4, probabilities, torch.Generator().manual_seed(0))
    counts = [0, 0, 0]
    for _ in range(200):  # 200 epochs of 15 batches: 3000 draws, standard error < 0.01
        for batch in mixture:
            owners = {tasks[i] for i in batch}
            assert len(owners) == 1, "a batch mixes tasks"
            assert len(set(batch)) == len(batch), "a batch repeats an example"
            counts[owners.pop()] += 1
    assert len(mixture) == math.ceil(sum(SIZES) / 4)
    shares = [c / sum(counts) for c in counts]
    assert shares == pytest.approx(probabilities, abs=0.03)
