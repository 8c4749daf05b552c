"""The pipeline is real: the pretrained bert-tiny from ../shared on the real SST-2 data."""

import json

import pytest
from typer.testing import CliRunner

from promptlearn import api
from promptlearn.cli import app
from promptlearn.data.examples import load_task_data
from promptlearn.run.config import RunConfig

pytestmark = pytest.mark.slow  # the real model on the real data: thousands of examples

runner = CliRunner()


def test_zero_shot_good_bad_beats_58_percent_on_sst2_test(bert_tiny_dir, shared_data_dir):
    args = ["evaluate", "--model", bert_tiny_dir, "--data", shared_data_dir / "sst2",
            "--pattern", "It was [MASK].", "--verbalizer", "positive=good,negative=bad"]  # fmt: skip
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    assert metrics["examples"] == 1821
    assert metrics["accuracy"] > 0.58


def test_16_shot_pet_beats_the_untrained_model_on_test(bert_tiny_dir, shared_data_dir, tmp_path):
    """Dev (sampled from train) selects the checkpoint; the claim is made on test, which nothing saw."""
    config = RunConfig(model=str(bert_tiny_dir), data=str(shared_data_dir / "sst2"), pattern="It was [MASK].",
                       verbalizer={"positive": ["great"], "negative": ["terrible"]}, shots=16, seed=13)  # fmt: skip
    data = load_task_data(config.data)
    untrained = api.build(config, data).evaluate(data.splits["test"])["accuracy"]
    trained = api.train(config, tmp_path / "run", data=data)
    assert trained["training"]["train_examples"] == trained["training"]["dev_examples"] == 32
    assert trained["test"]["accuracy"] > untrained + 0.02
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        ".promptlearn-run", "config.json", "metrics.json", "predictions.jsonl", "weights.safetensors"
    ]  # fmt: skip
