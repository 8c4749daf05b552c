"""Reading soft labels for distillation: one distribution per training example, refused when malformed."""

from __future__ import annotations

import pytest

from promptlearn.errors import PromptlearnError
from promptlearn.soft_labels import read_soft_labels


def test_reads_one_distribution_per_line(tmp_path):
    path = tmp_path / "soft.jsonl"
    path.write_text("[0.75, 0.25]\n[0, 1]\n")
    assert read_soft_labels(path, 2, 2) == [[0.75, 0.25], [0.0, 1.0]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[0.75, 0.25]\n", "holds 1 soft labels, but the train split has 2"),
        ("[0.75, 0.25]\n[0.5, 0.6]\n", "line 2: expected a list of 2 non-negative probabilities summing to 1"),
        ("[0.75, 0.25]\n[1.0]\n", "line 2"),
        ("[0.75, 0.25]\n[NaN, 1]\n", "line 2"),
        ("[1.5, -0.5]\n[0, 1]\n", "line 1"),
        ("oops\n[0, 1]\n", "line 1"),
    ],
)
def test_malformed_soft_labels_are_refused(tmp_path, text, message):
    path = tmp_path / "soft.jsonl"
    path.write_text(text)
    with pytest.raises(PromptlearnError, match=message):
        read_soft_labels(path, 2, 2)
