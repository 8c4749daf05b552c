"""Every registered mode learns on SST-2 with the real bert-tiny, writes its run folder and reloads it.

The bar: the reloaded run's cross-entropy on its 32 training examples is below the untrained
model's. Dev or test accuracy would be no bar at this size: over 20 steps, accuracy on 32 SST-2
rows moves by a few examples either way for the frozen-model modes (measured: soft_prompt 0.59 ->
0.52 dev, ptuning 0.61 -> 0.56), while every mode lowers its training loss (measured after 20
steps, untrained -> trained: pet 0.71 -> 0.43, finetune 0.73 -> 0.54, soft_prompt 0.67 -> 0.66,
ptuning 0.72 -> 0.71). That last margin is within the luck of the dropout masks: drawn for fewer
elements (the last layer at [MASK] only), seed 13 gave ptuning 0.72 -> 0.78 after 20 steps, so
the runs take 40 steps (measured: ptuning 0.72 -> 0.66, soft_prompt 0.67 -> 0.53). The loss is
computed after reloading the run folder, so a mode whose trained tensors were not saved, not
restored, or never reached the forward pass fails it.
"""

from __future__ import annotations

import json
from itertools import islice

import numpy as np
import pytest

from promptlearn import api
from promptlearn.data.examples import load_task_data
from promptlearn.modes import MODES
from promptlearn.run.config import RunConfig
from tests.helpers.fixtures import write_task
from tests.helpers.modes import contract_options


@pytest.fixture(scope="module")
def small_sst2(shared_data_dir, tmp_path_factory):
    """The first 32 SST-2 rows of each split: train is the whole training set (no sampling)."""
    source = shared_data_dir / "sst2"
    rows = {}
    for split in ("train", "dev", "test"):
        with open(source / f"{split}.jsonl", encoding="utf-8") as handle:
            rows[split] = [json.loads(line) for line in islice(handle, 32)]
    return write_task(tmp_path_factory.mktemp("sst2-small"), rows)


def training_loss(run: api.Prompted, examples) -> float:
    """Mean cross-entropy of ``run`` on labelled ``examples``."""
    encoded = run.pvp.encode(examples)
    probs = run.trainer.predict_proba(encoded)
    gold = np.array([e.label for e in encoded])
    return float(-np.log(probs[np.arange(len(gold)), gold]).mean())


@pytest.mark.slow
@pytest.mark.parametrize("mode", sorted(MODES))
def test_mode_learns_on_sst2_and_reloads(mode, bert_tiny_dir, small_sst2, tmp_path):
    config = RunConfig(
        model=str(bert_tiny_dir),
        data=str(small_sst2),
        pattern="{text} It was [MASK] .",
        verbalizer={"positive": ["great"], "negative": ["terrible"]},
        mode=mode,
        mode_options=contract_options(mode, bert_tiny_dir, tmp_path),
        max_steps=40,
        eval_every=20,
    )
    data = load_task_data(str(small_sst2))
    train = data.splits["train"]
    untrained = training_loss(api.build(config, data), train)
    metrics = api.train(config, tmp_path / "run", data=data)
    for name in ("config.json", "metrics.json", api.WEIGHTS, "predictions.jsonl"):
        assert (tmp_path / "run" / name).is_file()
    assert len((tmp_path / "run" / "predictions.jsonl").read_text().splitlines()) == 32
    training = metrics["training"]
    assert training["train_examples"] == 32
    assert 0 < training["trainable_parameters"] <= training["total_parameters"]
    assert training["artifact_bytes"] > 0
    trained = training_loss(api.load_run(tmp_path / "run"), train)
    assert trained < untrained, f"{mode}: training loss {untrained:.4f} before, {trained:.4f} after training"
