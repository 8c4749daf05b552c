"""PET on multi-label and regression tasks: the members' probabilities averaged (per label; pole distributions,
i.e. predictions) into soft labels that the distilled model learns (BCE; MSE for a regression head, KL for its
poles), checked against the members' own predictions averaged by hand; and what PET cannot serve refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from promptlearn import api
from promptlearn.data.examples import Example
from promptlearn.errors import PromptlearnError
from promptlearn.pet.pipeline import run_pipeline
from tests.helpers.cli import invoke
from tests.helpers.fixtures import TINY_MULTI_LABEL_WORDS, write_task
from tests.helpers.pet import pet_config
from tests.helpers.shapes import (
    CHOICE_PATTERN,
    CHOICE_TASK,
    PET_MULTI_LABEL_TASK,
    PET_REGRESSION_TASK,
    REGRESSION_WORDS,
)

MULTI_LABEL = {
    "task": PET_MULTI_LABEL_TASK,
    "base": {"pattern": "{text} is [MASK] .", "verbalizer": TINY_MULTI_LABEL_WORDS, "shots": 1},
    "patterns": ["{text} is [MASK] .", "[MASK] : {text}"],
}
REGRESSION = {
    "task": PET_REGRESSION_TASK,
    "base": {"pattern": "{text_a} ? [MASK] , {text_b}", "verbalizer": {"0": ["no"], "5": ["yes"]}, "shots": 1},
    "patterns": ["{text_a} ? [MASK] , {text_b}", "{text_a} . [MASK] : {text_b}"],
}


def pipeline(model, tmp_path, shape: dict, **changes):
    task = write_task(tmp_path / "task", shape["task"])
    config = pet_config(model, task, base_changes=shape["base"], patterns=shape["patterns"], **changes)
    run_pipeline(config, tmp_path / "pet")
    return tmp_path / "pet"


def averaged_member_probabilities(root, weights=None) -> np.ndarray:
    """The members' probabilities on the pool, each predicted by its run loaded anew, averaged by hand."""
    pool = [json.loads(line) for line in (root / "data" / "pool.jsonl").read_text().splitlines()]
    members = sorted((root / "g0").glob("p*-r0"))
    assert len(members) == 2
    examples = [Example(row["text"], row.get("text_b")) for row in pool]
    probabilities = [api.load_run(member).predict_proba(examples).astype(np.float64) for member in members]
    return np.average(probabilities, axis=0, weights=weights)


def soft_labels(root) -> np.ndarray:
    lines = (root / "data" / "final" / "soft_labels.jsonl").read_text().splitlines()
    return np.array([json.loads(line) for line in lines])


@pytest.mark.slow
def test_a_multi_label_pipeline_distils_the_members_averaged_per_label_probabilities(tiny_bert_dir, tmp_path):
    root = pipeline(tiny_bert_dir, tmp_path, MULTI_LABEL, reduction="mean")
    soft = soft_labels(root)
    np.testing.assert_allclose(soft, averaged_member_probabilities(root), atol=1e-6)
    assert soft.shape[1] == 3 and not np.allclose(soft.sum(axis=1), 1)  # per label, not a distribution
    final = json.loads((root / "final" / "config.json").read_text())
    assert final["task_type"] == "multi-label" and final["temperature"] == 1.0 and final["mode"] == "finetune"
    train = [json.loads(line) for line in (root / "data" / "final" / "train.jsonl").read_text().splitlines()]
    assert all(isinstance(row["label"], list) and row["label"] for row in train)  # the threshold's labels, never none
    metrics = json.loads((root / "final" / "metrics.json").read_text())
    assert set(metrics["test"]) == {"micro_f1", "macro_f1", "samples_f1", "subset_accuracy"}
    assert (root / "final" / "thresholds.json").is_file()
    summary = (root / "summary.md").read_text()
    assert "Micro-F1 / macro-F1 (%)" in summary and "g0/ensemble (mean)" in summary


@pytest.mark.slow
@pytest.mark.parametrize("final_mode", ["finetune", "pet"])
def test_a_regression_pipeline_distils_the_members_averaged_predictions(final_mode, tiny_bert_dir, tmp_path):
    root = pipeline(tiny_bert_dir, tmp_path, REGRESSION, reduction="mean", final_mode=final_mode)
    soft = soft_labels(root)
    members = averaged_member_probabilities(root)
    np.testing.assert_allclose(soft, members, atol=1e-6)
    train = [json.loads(line) for line in (root / "data" / "final" / "train.jsonl").read_text().splitlines()]
    # each pool row's label is the averaged prediction: 0 + 5 * the averaged p(upper pole)
    np.testing.assert_allclose([float(row["label"]) for row in train], 5 * members[:, 1], atol=1e-4)
    final = json.loads((root / "final" / "config.json").read_text())
    assert final["task_type"] == "regression" and final["temperature"] == 1.0
    run = api.load_run(root / "final")
    head = run.model.mode.head
    assert (head.linear.out_features == 1) if final_mode == "finetune" else head is None
    records = [json.loads(line) for line in (root / "final" / "predictions.jsonl").read_text().splitlines()]
    assert all(0 <= r["predicted"] <= 5 for r in records)
    assert "Pearson / Spearman (%)" in (root / "summary.md").read_text()


@pytest.mark.slow
def test_wmean_weighs_regression_members_by_their_untrained_pearson(tiny_bert_dir, tmp_path):
    root = pipeline(tiny_bert_dir, tmp_path, REGRESSION)
    weights = []
    for member in sorted((root / "g0").glob("p*-r0.labels.npz")):
        with np.load(member) as stored:
            weights.append(float(stored["prior_accuracy"]))
    assert all(w >= 0 for w in weights)
    expected = averaged_member_probabilities(root, weights if sum(weights) > 0 else None)
    np.testing.assert_allclose(soft_labels(root), expected, atol=1e-6)


@pytest.mark.parametrize("shape", [MULTI_LABEL, REGRESSION], ids=["multi-label", "regression"])
def test_ipet_refuses_a_shape_without_classes(shape, tiny_bert_dir, tmp_path):
    with pytest.raises(PromptlearnError, match=r"iPET \(--generations, --zero-shot\) does not serve"):
        pipeline(tiny_bert_dir, tmp_path, shape, generations=1)
    assert not (tmp_path / "pet").exists()


def test_the_pet_command_refuses_multiple_choice(tiny_bert_dir, tmp_path):
    task = write_task(tmp_path / "task", CHOICE_TASK)
    args = ["--pattern", CHOICE_PATTERN, "--shots", 1, "--verbalizer", REGRESSION_WORDS]
    result = invoke("pet", "--model", tiny_bert_dir, "--data", task, *args, "--output", tmp_path / "pet")
    assert result.exit_code == 2, result.output
    assert "promptlearn pet does not serve multiple-choice tasks" in " ".join(result.output.split())
