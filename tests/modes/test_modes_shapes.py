"""The mode contract on regression and multiple choice: every registered mode (its defaults) trains, saves and
reloads to the same predictions, or (multiple choice, a mode with a head) refuses with one message."""

from __future__ import annotations

import json

import pytest

from promptlearn import api
from promptlearn.data.examples import load_task_data
from promptlearn.errors import PromptlearnError
from promptlearn.modes import MODES
from tests.helpers.fixtures import write_task
from tests.helpers.modes import contract_options, tiny_config
from tests.helpers.shapes import CHOICE_PATTERN, CHOICE_TASK, REGRESSION_TASK

SHAPES = {
    "regression": (
        REGRESSION_TASK,
        {"pattern": "{text_a} ? [MASK] , {text_b}", "verbalizer": {"0": ["no"], "5": ["yes"]}},
    ),
    "multiple-choice": (CHOICE_TASK, {"pattern": CHOICE_PATTERN, "verbalizer": None}),
}
METRICS = {"regression": {"pearson", "spearman", "mse"}, "multiple-choice": {"accuracy", "macro_f1"}}


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("mode", sorted(MODES))
def test_every_mode_trains_saves_and_reloads_or_refuses(shape, mode, tiny_bert_dir, tmp_path):
    rows, prompt = SHAPES[shape]
    task = write_task(tmp_path / "task", rows)
    options = contract_options(mode, tiny_bert_dir, tmp_path)
    config = tiny_config(tiny_bert_dir, task, mode, mode_options=options, batch_size=2, **prompt)
    if MODES[mode].shapes is not None and shape not in MODES[mode].shapes:
        with pytest.raises(PromptlearnError, match=f"--mode {mode} cannot be used with --task-type {shape}: "):
            api.train(config, tmp_path / "run")
        return
    if shape == "multiple-choice" and not MODES[mode].from_options(options).uses_verbalizer:
        with pytest.raises(PromptlearnError, match="classifies with a head, but a multiple-choice run reads each"):
            api.train(config, tmp_path / "run")
        return
    metrics = api.train(config, tmp_path / "run")
    assert set(metrics["dev"]) == set(metrics["test"]) == METRICS[shape]
    assert json.loads((tmp_path / "run" / "config.json").read_text())["task_type"] == shape
    test = load_task_data(str(task)).split("test")
    saved = [json.loads(line) for line in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()]
    assert api.load_run(tmp_path / "run").predict(test) == saved
