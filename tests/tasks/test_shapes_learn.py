"""bert-tiny learns a small synthetic regression task and a synthetic multiple-choice task through pet: the
shapes' loss, decision rule and metrics are right where the real tasks (STS-B, COPA) stay near chance."""

import random

import numpy as np
import pytest

from promptlearn import api
from promptlearn.data.examples import load_task_data
from promptlearn.run.config import RunConfig
from tests.helpers.fixtures import write_task

pytestmark = pytest.mark.slow  # trains the real bert-tiny for a few seconds each

GOOD = ["great", "wonderful", "excellent", "fantastic", "superb", "brilliant"]
BAD = ["terrible", "awful", "horrible", "dreadful", "poor", "boring"]
THINGS = ["movie", "film", "book", "meal", "show", "song", "game", "trip"]


def review_scores(seed: int, count: int) -> list[dict]:
    """A review of two adjectives; its score is 2.5 per positive one (0, 2.5 or 5)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        words = [rng.choice(GOOD if rng.random() < 0.5 else BAD) for _ in range(2)]
        score = 2.5 * sum(word in GOOD for word in words)
        rows.append({"text": f"the {rng.choice(THINGS)} was {words[0]} and {words[1]} .", "label": score})
    return rows


def test_bert_tiny_learns_a_synthetic_regression(bert_tiny_dir, tmp_path):
    task = write_task(tmp_path / "task", {"train": review_scores(0, 96), "test": review_scores(1, 60)})
    config = RunConfig(
        model=str(bert_tiny_dir), data=str(task), pattern="{text} It was [MASK] .",
        verbalizer={"0": ["terrible"], "5": ["great"]}, shots=8, seed=13, max_steps=60, eval_every=20,
    )  # fmt: skip
    data = load_task_data(config.data)
    metrics = api.train(config, tmp_path / "run", data=data)
    assert metrics["training"]["train_examples"] == 16  # K = 8 per score bin, two bins
    assert metrics["test"]["pearson"] > 0.8 and metrics["test"]["spearman"] > 0.8
    # predicting the test mean for every example scores the variance: the model must do far better
    assert metrics["test"]["mse"] < np.var([float(ex.label) for ex in data.splits["test"]]) / 2


ANIMALS = ["dog", "cat", "horse", "bird", "fish", "cow", "sheep", "lion", "tiger", "bear", "wolf", "duck"]
PLACES = ["garden", "kitchen", "park", "street", "forest", "house"]


def sightings(seed: int, count: int) -> list[dict]:
    """ "I saw a dog in the park." Which did I see? The right choice names the animal; two or three choices."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        animals = rng.sample(ANIMALS, rng.choice([2, 3]))
        seen = animals[0]
        rng.shuffle(animals)
        text = f"i saw a {seen} in the {rng.choice(PLACES)} ."
        rows.append(
            {"text": text, "question": "animal", "choices": [f"a {a}" for a in animals], "label": animals.index(seen)}
        )
    return rows


def test_bert_tiny_learns_a_synthetic_multiple_choice(bert_tiny_dir, tmp_path):
    task = write_task(tmp_path / "task", {"train": sightings(0, 40), "test": sightings(1, 60)})
    config = RunConfig(
        model=str(bert_tiny_dir), data=str(task), pattern="{text_a} which {question} ? [MASK]",
        shots=16, seed=13, max_steps=60, eval_every=20,
    )  # fmt: skip
    metrics = api.train(config, tmp_path / "run", data=load_task_data(config.data))
    assert metrics["training"]["train_examples"] == 16  # K = 16 examples, not per label
    assert metrics["test"]["accuracy"] > 0.85
