"""Distillation's data and the summary come from a PetState alone: one made by hand, with hand-made
members' labels and no Pipeline, gives the numbers computed here from those labels."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from promptlearn.data.examples import Example
from promptlearn.pet.distill import FINAL, SOFT_LABELS, write_final_data
from promptlearn.pet.ensemble import soften
from promptlearn.pet.members import Labels, Member
from promptlearn.pet.pool import read_split
from promptlearn.pet.state import PetState
from promptlearn.pet.summary import write_summary
from promptlearn.training.metrics import classification_metrics
from tests.helpers.pet import pet_config

LABELS = ["positive", "negative"]
#: per generation, two members' (pool, dev, test) probabilities and their wmean weights; the weights
#: matter: a plain mean would call generation 0's pool "negative", and generation 1 disagrees with 0
GENERATIONS = [
    [([[0.9, 0.1]] * 3, 0.75), ([[0.05, 0.95]] * 3, 0.25)],
    [([[0.3, 0.7], [0.6, 0.4], [0.2, 0.8]], 0.5), ([[0.4, 0.6], [0.7, 0.3], [0.45, 0.55]], 1.0)],
]


def hand_made_state(tmp_path) -> tuple[PetState, list[np.ndarray]]:
    """A finished two-generation state whose members are only labels files; also each generation's
    merged (3, 2) logits, computed here."""
    root = tmp_path / "pet"
    config = pet_config("no-model", "no-data", generations=1)
    examples = [Example(f"text {i}", None, LABELS[i % 2]) for i in range(7)]
    state = PetState(
        config, config.base.replace(labels=LABELS), root, train=tuple(examples[:2]), dev=tuple(examples[2:5]),
        test=tuple(examples[5:]), pool=tuple(Example(f"pool {i}", None, None) for i in range(3)),
        pool_gold=("negative", "positive", "positive"),
    )  # fmt: skip
    merged = []
    for generation, members in enumerate(GENERATIONS):
        (root / f"g{generation}").mkdir(parents=True)
        logits = []
        for pattern, (probabilities, weight) in enumerate(members):
            log_probs = np.log(np.array(probabilities))
            logits.append(log_probs)
            labels = Labels({"pool": log_probs, "dev": log_probs, "test": log_probs[:2]}, weight)
            labels.save(Member(generation, pattern, 0).labels_file(root))
        weights = np.array([weight for _, weight in members])
        merged.append(sum(w * lp for w, lp in zip(weights / weights.sum(), logits, strict=True)))
        state = state.with_generation([Member(generation, p, 0) for p in range(len(members))])
    return state, merged


def test_a_state_is_frozen(tmp_path):
    state, _ = hand_made_state(tmp_path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.pool = ()
    assert [len(members) for members in state.generations] == [2, 2]


def test_distillation_labels_the_pool_with_the_last_generations_ensemble(tmp_path):
    state, merged = hand_made_state(tmp_path)
    write_final_data(state)
    folder = state.root / "data" / FINAL
    train = read_split(folder, "train")
    assert [ex.text_a for ex in train] == ["pool 0", "pool 1", "pool 2"]
    assert [ex.label for ex in train] == [LABELS[i] for i in merged[1].argmax(axis=1)]
    soft = [json.loads(line) for line in (folder / SOFT_LABELS).read_text().splitlines()]
    np.testing.assert_allclose(soft, soften(merged[1], 2.0), atol=1e-8)
    assert read_split(folder, "dev") == list(state.dev) and read_split(folder, "test") == list(state.test)


def test_the_summary_scores_every_generations_ensemble_from_the_state(tmp_path):
    state, merged = hand_made_state(tmp_path)
    summary = write_summary(state, 1.5)
    ensembles = [row for row in summary["rows"] if "ensemble" in row["component"]]
    assert [row["component"] for row in ensembles] == ["g0/ensemble (wmean)", "g1/ensemble (wmean)"]
    for row, logits in zip(ensembles, merged, strict=True):
        for split, gold in (("pool", state.pool_gold), ("dev", [ex.label for ex in state.dev])):
            expected = classification_metrics([LABELS.index(g) for g in gold], logits.argmax(axis=1), 2)
            assert row[split] == pytest.approx(expected)
    assert summary["rows"][-1] == {"component": FINAL, "note": "not trained (see the log)"}
    assert json.loads((state.root / "summary.json").read_text())["rows"] == summary["rows"]
