"""The few-shot runner, issue 20: one encoding per prompt, one test subset per grid, safe names, checked YAML."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from conftest import write_task

from promptlearn.experiment import Experiment, run_experiment
from promptlearn.experiment.runner import load_predictions

ONE_TOKEN = {"positive": ["great"], "negative": ["terrible"]}
TWO_TOKEN = {"positive": ["great", "unbelievable"], "negative": ["terrible"]}  # un ##believ ##able: 3 masks


@pytest.fixture()
def task_dir(tmp_path):
    """6 train examples per label (K=2 train + K=2 dev), 6 test examples."""
    words = {"positive": ["wonderful", "fun", "great", "good", "loved", "very fun"],
             "negative": ["awful", "boring", "terrible", "bad", "hated", "not fun"]}  # fmt: skip
    train = [{"text": f"the movie was {w}", "label": label} for label, ws in words.items() for w in ws]
    test = [{"text": f"it was {w}", "label": label} for label, ws in words.items() for w in ws[:3]]
    return write_task(tmp_path / "toy", {"train": train, "test": test})


def values_of(model, data, output, **changes) -> dict:
    values = {
        "model": str(model), "output": str(output), "modes": ["zero-shot"], "shots": [2], "seeds": [13],
        "tasks": [{"name": "toy", "data": str(data), "patterns": ["{text} It was [MASK] ."], "verbalizer": ONE_TOKEN}],
        "train": {"max_steps": 2, "eval_every": 1, "batch_size": 2, "precision": "fp32"},
    }  # fmt: skip
    return values | changes


def write_config(tmp_path, values) -> str:
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(values))
    return str(path)


# --- item 1: the test encoding is keyed on everything it depends on --------------------------------


def test_a_multi_token_verbalizer_is_scored_on_its_own_encoding_in_a_grid(tiny_bert_dir, task_dir, tmp_path):
    one = {"name": "one", "data": str(task_dir), "patterns": ["{text} It was [MASK] ."], "verbalizer": ONE_TOKEN}
    two = one | {"name": "two", "verbalizer": TWO_TOKEN}
    run_experiment(Experiment.from_dict(values_of(tiny_bert_dir, task_dir, tmp_path / "grid", tasks=[one, two])))
    run_experiment(Experiment.from_dict(values_of(tiny_bert_dir, task_dir, tmp_path / "alone", tasks=[two])))
    in_grid = load_predictions(tmp_path / "grid", "two__zero-shot__p0")["test"][0]
    alone = load_predictions(tmp_path / "alone", "two__zero-shot__p0")["test"][0]
    np.testing.assert_allclose(in_grid, alone, rtol=1e-6, atol=1e-7)
    one_token = load_predictions(tmp_path / "grid", "one__zero-shot__p0")["test"][0]
    assert not np.allclose(one_token, in_grid)  # the two prompts do score differently
