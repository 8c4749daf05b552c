"""``--steps auto``: the training length follows the run's train split (promptlearn.run.budget)."""

from __future__ import annotations

import json

import pytest

from promptlearn import api
from promptlearn.errors import PromptlearnError
from promptlearn.run.budget import auto_steps
from tests.helpers.fixtures import POOL_TASK, write_task
from tests.helpers.modes import tiny_config


@pytest.mark.parametrize(
    ("examples", "batch", "accum", "epochs", "expected"),
    [
        (96, 8, 1, 30, 360),  # 6 classes x K=16: 12 batches an epoch, 30 epochs
        (32, 8, 1, 30, 120),  # 2 classes x K=16: 4 batches, 30 epochs
        (16, 8, 1, 30, 100),  # 2 x K=8: 60 steps, raised to the floor
        (1232, 8, 1, 30, 1000),  # 77 x K=16: 4620 steps, cut to the ceiling
        (97, 8, 2, 10, 100),  # 13 batches -> 7 windows of 2, 10 epochs: 70, raised to the floor
    ],
)
def test_auto_steps_is_epochs_held_between_floor_and_ceiling(examples, batch, accum, epochs, expected):
    assert auto_steps(examples, batch, accum, epochs, floor=100, ceiling=1000) == expected
    assert auto_steps(97, 8, 2, 10, floor=1, ceiling=1000) == 70


def test_a_run_with_steps_auto_trains_the_computed_steps_and_says_so(tiny_bert_dir, tmp_path):
    data = write_task(tmp_path / "pool", POOL_TASK)
    config = tiny_config(tiny_bert_dir, data, "head", shots=2, steps="auto", steps_epochs=3, steps_min=2, steps_max=9)
    metrics = api.train(config, tmp_path / "run")
    # 4 training examples in batches of 3: 2 batches an epoch, 3 epochs
    assert metrics["training"]["steps"] == 6
    assert metrics["budget"] == {"rule": "3 epochs within [2, 9] steps", "train_examples": 4, "max_steps": 6}
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (saved["steps"], saved["max_steps"], saved["steps_epochs"]) == ("auto", 6, 3)


def test_options_left_at_their_default_stay_out_of_config_json(tiny_bert_dir, tmp_path):
    saved = tiny_config(tiny_bert_dir, tmp_path, "head").to_dict()
    assert not {"steps", "steps_epochs", "steps_min", "steps_max"} & set(saved)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"steps": "many"}, "--steps takes 'auto'"),
        ({"steps_min": 50, "steps_max": 10}, "1 <= --steps-min <= --steps-max"),
        ({"steps": "auto", "epochs": 3.0, "max_steps": None}, "leave out --epochs"),
    ],
)
def test_bad_budgets_are_refused(tiny_bert_dir, tmp_path, changes, message):
    with pytest.raises(PromptlearnError, match=message):
        tiny_config(tiny_bert_dir, tmp_path, "head", **changes)
