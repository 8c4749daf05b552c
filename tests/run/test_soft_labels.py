"""Reading soft labels for distillation: one distribution per training example, refused when malformed."""

from __future__ import annotations

import json

import pytest

from promptlearn import api
from promptlearn.data.examples import load_task_data
from promptlearn.errors import PromptlearnError
from promptlearn.run.config import RunConfig
from promptlearn.run.soft_labels import read_soft_labels
from promptlearn.training.objective import Objective


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


def test_a_run_with_soft_labels_learns_them_at_its_temperature(tiny_bert_dir, tiny_task_dir, monkeypatch):
    """RunConfig.soft_labels reaches the objective's KL loss, row by row, with RunConfig.temperature."""
    rows = [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]  # the tiny task's 3 train examples, labels (negative, positive)
    path = tiny_task_dir / "soft.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    seen = []
    real_loss = Objective.loss

    def recording_loss(self, scores, batch):
        seen.append((self.temperature, batch["soft_targets"].tolist()))
        return real_loss(self, scores, batch)

    monkeypatch.setattr(Objective, "loss", recording_loss)
    config = RunConfig(
        model=str(tiny_bert_dir), data=str(tiny_task_dir), pattern="It was [MASK].", mode="finetune",
        labels=["negative", "positive"], soft_labels=str(path), temperature=2.0, max_steps=1, batch_size=3,
        precision="fp32",
    )  # fmt: skip
    api.fit(config, load_task_data(str(tiny_task_dir)))
    [(temperature, targets)] = seen
    assert temperature == 2.0
    assert [pytest.approx(row) for row in sorted(rows)] == sorted(targets)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"soft_labels": "soft.jsonl", "shots": 4}, "leave --shots out"),
        ({"temperature": 2.0}, "give --soft-labels FILE too"),
        ({"soft_labels": "soft.jsonl", "temperature": 0.0}, "--temperature must be positive"),
    ],
)
def test_soft_label_settings_are_checked(changes, message):
    with pytest.raises(PromptlearnError, match=message):
        RunConfig(model="m", data="d", pattern="[MASK]", **changes)


def test_multi_label_soft_labels_are_one_probability_per_label(tmp_path):
    path = tmp_path / "soft.jsonl"
    path.write_text("[0.9, 0.8]\n[0, 0.1]\n")
    assert read_soft_labels(path, 2, 2, sum_to_one=False) == [[0.9, 0.8], [0.0, 0.1]]
    path.write_text("[0.9, 0.8]\n[1.2, 0]\n")
    with pytest.raises(PromptlearnError, match="line 2: expected a list of 2 probabilities between 0 and 1, one per"):
        read_soft_labels(path, 2, 2, sum_to_one=False)
