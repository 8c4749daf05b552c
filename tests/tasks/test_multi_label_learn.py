"""bert-tiny learns a small synthetic multi-label task through pet: which animals a sentence names, one or two of
four. The shape's loss (BCE per label word), its decision (one threshold fitted on dev) and its metrics are right
where GoEmotions stays far below a TF-IDF baseline (docs/tasks.md)."""

import json
import random

import pytest

from promptlearn import api
from promptlearn.data.examples import load_task_data
from promptlearn.run.config import RunConfig
from tests.helpers.fixtures import write_task

pytestmark = pytest.mark.slow  # trains the real bert-tiny for a few seconds

ANIMALS = ["dog", "cat", "horse", "bird"]
PLACES = ["garden", "kitchen", "park", "street", "forest", "house"]


def sightings(seed: int, count: int) -> list[dict]:
    """ "i saw a dog and a bird in the park ." labels: the animals named (one or two)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        seen = rng.sample(ANIMALS, rng.choice([1, 2]))
        named = " and ".join(f"a {animal}" for animal in seen)
        rows.append({"text": f"i saw {named} in the {rng.choice(PLACES)} .", "labels": sorted(seen)})
    return rows


def test_bert_tiny_learns_a_synthetic_multi_label_task(bert_tiny_dir, tmp_path):
    task = write_task(tmp_path / "task", {"train": sightings(0, 120), "test": sightings(1, 80)})
    config = RunConfig(
        model=str(bert_tiny_dir), data=str(task), pattern="{text} animals : [MASK] .",
        verbalizer={animal: [animal] for animal in ANIMALS}, shots=8, seed=13, max_steps=60, eval_every=20,
    )  # fmt: skip
    metrics = api.train(config, tmp_path / "run", data=load_task_data(config.data))
    assert metrics["training"]["train_examples"] >= 16  # at least K = 8 of each of the 4 labels, greedily
    assert metrics["test"]["micro_f1"] > 0.8 and metrics["test"]["samples_f1"] > 0.8
    assert metrics["test"]["subset_accuracy"] > 0.5  # whole label sets, not just frequent labels, are right
    threshold = json.loads((tmp_path / "run" / "thresholds.json").read_text())
    assert threshold["chosen_on"] == "dev" and 0 < threshold["threshold"] < 1
    predictions = [json.loads(line) for line in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()]
    for line in predictions:  # the stored decision is the one applied: a label is predicted iff p >= threshold
        chosen = sorted(label for label, p in line["probabilities"].items() if p >= threshold["threshold"])
        assert sorted(line["predicted"]) == chosen
