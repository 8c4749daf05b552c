"""Multi-label runs end to end on the tiny fixture model: train -> evaluate -> predict through the CLI, the
dev threshold stored and reused, the shape recorded only where it is not single-label, and what it refuses."""

from __future__ import annotations

import json

import pytest

from promptlearn import api
from promptlearn.data.examples import load_task_data
from promptlearn.errors import PromptlearnError
from tests.helpers.cli import invoke
from tests.helpers.fixtures import TINY_MULTI_LABEL_WORDS
from tests.helpers.modes import tiny_config

WORDS = ",".join(f"{label}={words[0]}" for label, words in TINY_MULTI_LABEL_WORDS.items())


def test_train_evaluate_predict_reuse_the_threshold_chosen_on_dev(tiny_bert_dir, tiny_multi_label_dir, tmp_path):
    run = tmp_path / "run"
    trained = invoke(
        "train", "--model", tiny_bert_dir, "--data", tiny_multi_label_dir, "--pattern", "{text} it was [MASK] .",
        "--verbalizer", WORDS, "--max-steps", 4, "--batch-size", 3, "--lr", 1e-3, "--output", run,
    )  # fmt: skip
    assert trained.exit_code == 0, trained.output
    config = json.loads((run / "config.json").read_text())
    assert config["task_type"] == "multi-label"  # found in the data, recorded so the folder loads as trained
    threshold = json.loads((run / "thresholds.json").read_text())
    assert threshold["chosen_on"] == "dev" and 0 < threshold["threshold"] < 1
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["test"]) == {"micro_f1", "macro_f1", "samples_f1", "subset_accuracy"}
    saved = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    for record in saved:
        above = [label for label, p in record["probabilities"].items() if p >= threshold["threshold"]]
        assert record["predicted"] == above
    assert saved[2]["gold"] == ["world", "business"]

    evaluated = invoke("evaluate", "--run", run, "--split", "test")
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["micro_f1"] == pytest.approx(metrics["test"]["micro_f1"])
    inputs = tmp_path / "in.jsonl"
    inputs.write_text("".join(json.dumps({"text": r["text"]}) + "\n" for r in saved))
    predicted = invoke("predict", "--run", run, "--input", inputs)
    assert predicted.exit_code == 0, predicted.output
    lines = [json.loads(line) for line in predicted.stdout.splitlines() if line.startswith("{")]
    assert [line["predicted"] for line in lines] == [r["predicted"] for r in saved]


def test_a_single_label_config_has_no_task_type_key(tiny_bert_dir, tiny_task_dir, tmp_path):
    api.train(tiny_config(tiny_bert_dir, tiny_task_dir, "pet"), tmp_path / "run")
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert "task_type" not in config and "label_delimiter" not in config
    assert not (tmp_path / "run" / "thresholds.json").exists()


def test_features_without_a_multi_label_meaning_are_refused(tiny_bert_dir, tiny_multi_label_dir):
    config = tiny_config(tiny_bert_dir, tiny_multi_label_dir, "pet", verbalizer=TINY_MULTI_LABEL_WORDS)
    data = load_task_data(str(tiny_multi_label_dir))
    with pytest.raises(PromptlearnError, match="--calibrate cannot be used with --task-type multi-label"):
        api.build(config.replace(calibrate="content-free"), data)
    result = invoke(
        "train", "--model", tiny_bert_dir, "--data", tiny_multi_label_dir, "--pattern", "{text} [MASK] .",
        "--verbalizer", "sports=sports,world=world,business=unbelievable", "--output", "x",
    )  # fmt: skip
    assert result.exit_code == 2 and "Multi-label runs need single-token label words" in result.output


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"objective": "adapet"}, "--objective adapet cannot be used with --task-type multi-label"),
        ({"contrastive_weight": 0.5, "contrastive_views": "dropout"}, "--contrastive-weight cannot be used with"),
    ],
)
def test_single_label_objective_terms_refuse_a_multi_label_run(changes, message, tiny_bert_dir, tiny_multi_label_dir):
    config = tiny_config(tiny_bert_dir, tiny_multi_label_dir, "pet", verbalizer=TINY_MULTI_LABEL_WORDS, **changes)
    with pytest.raises(PromptlearnError, match=message):
        api.train(config)
