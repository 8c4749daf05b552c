"""Every registered mode trains on 16-shot SST-2 with the real bert-tiny and writes its run folder."""

from __future__ import annotations

import json
from itertools import islice

import pytest
from conftest import write_task
from mode_helpers import contract_options, one_thread  # noqa: F401  (one_thread: autouse fixture)

from promptlearn import api
from promptlearn.config import RunConfig
from promptlearn.modes import MODES


@pytest.fixture(scope="module")
def small_sst2(shared_data_dir, tmp_path_factory):
    """The first 200 SST-2 train rows (to sample 16 shots per label from) and the first 32 dev / test rows."""
    source = shared_data_dir / "sst2"
    rows = {}
    for split, limit in (("train", 200), ("dev", 32), ("test", 32)):
        with open(source / f"{split}.jsonl", encoding="utf-8") as handle:
            rows[split] = [json.loads(line) for line in islice(handle, limit)]
    return write_task(tmp_path_factory.mktemp("sst2-small"), rows)


@pytest.mark.slow
@pytest.mark.parametrize("mode", sorted(MODES))
def test_mode_trains_on_16_shot_sst2(mode, bert_tiny_dir, small_sst2, tmp_path):
    config = RunConfig(
        model=str(bert_tiny_dir),
        data=str(small_sst2),
        pattern="{text} It was [MASK] .",
        verbalizer={"positive": ["great"], "negative": ["terrible"]},
        mode=mode,
        mode_options=contract_options(mode, bert_tiny_dir, tmp_path),
        shots=16,
        max_steps=4,
        eval_every=2,
    )
    metrics = api.train(config, tmp_path / "run")
    for name in ("config.json", "metrics.json", api.WEIGHTS, "predictions.jsonl"):
        assert (tmp_path / "run" / name).is_file()
    assert len((tmp_path / "run" / "predictions.jsonl").read_text().splitlines()) == 32
    training = metrics["training"]
    assert training["train_examples"] == 32
    assert 0 < training["trainable_parameters"] <= training["total_parameters"]
    assert training["artifact_bytes"] > 0
    assert 0.0 <= metrics["test"]["accuracy"] <= 1.0
