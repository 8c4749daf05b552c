"""promptlearn fewshot on task shapes other than single-label: each shape's metrics in their own summary columns
(regression's Pearson used to sit under ``test_accuracy``), multi-label runs scored by the threshold they fitted
on dev, and ensembles of multi-label runs that average per-label probabilities and fit their threshold again."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from promptlearn.cli import app
from promptlearn.errors import PromptlearnError
from promptlearn.experiment.aggregate import ensemble_records, summarize, summary_csv
from promptlearn.experiment.runner import load_predictions, prediction_metrics
from promptlearn.tasks import get_shape
from tests.helpers.fixtures import TINY_MULTI_LABEL_WORDS

MULTI_LABEL_NAMES = ["micro_f1", "macro_f1", "samples_f1", "subset_accuracy"]


def regression_record(run_id, seed, pearson, spearman, mse, dev=0.4):
    return {
        "run_id": run_id, "task": "sts", "mode": "pet", "pattern_id": 0, "shots": 16, "seed": seed, "status": "ok",
        "task_type": "regression", "metric_names": ["pearson", "spearman", "mse"], "labels": ["0", "5"],
        "dev": {"pearson": dev, "spearman": dev, "mse": 1.0},
        "test": {"pearson": pearson, "spearman": spearman, "mse": mse},
        "trainable_parameters": 10, "wall_seconds": 2.0,
    }  # fmt: skip


def class_record(run_id, seed, accuracy):
    return {
        "run_id": run_id, "task": "sst", "mode": "pet", "pattern_id": 0, "shots": 16, "seed": seed, "status": "ok",
        "labels": ["a", "b"], "dev": {"accuracy": 0.5, "macro_f1": 0.5},
        "test": {"accuracy": accuracy, "macro_f1": accuracy, "top_class_share": 0.5, "majority_accuracy": 0.5},
        "trainable_parameters": 10, "wall_seconds": 1.0,
    }  # fmt: skip


def test_regression_metrics_have_their_own_csv_columns():
    rows = summarize([regression_record("r13", 13, 0.2, 0.1, 3.0), regression_record("r21", 21, 0.4, 0.3, 2.0)])
    (line,) = csv.DictReader(io.StringIO(summary_csv(rows)))
    assert "test_accuracy" not in line and "test_macro_f1" not in line and "top_class_share" not in line
    assert (line["test_pearson"], line["test_pearson_std"]) == ("0.3", "0.1")
    assert (line["test_spearman"], line["test_mse"], line["test_mse_std"]) == ("0.2", "2.5", "0.5")
    assert line["dev_pearson"] == "0.4"


def test_a_grid_of_two_shapes_leaves_each_rows_foreign_columns_empty():
    rows = summarize([class_record("c", 13, 0.75), regression_record("r", 13, 0.5, 0.25, 1.5)])
    text = summary_csv(rows)
    header = text.splitlines()[0].split(",")
    assert header[:10] == ["task", "mode", "shots", "pattern", "runs", "failed", "test_accuracy",
                           "test_accuracy_std", "test_macro_f1", "test_macro_f1_std"]  # fmt: skip
    assert header[-3:] == ["trainable_parameters", "wall_seconds", "collapsed"]
    single, regression = csv.DictReader(io.StringIO(text))
    assert single["test_accuracy"] == "0.75" and single["test_pearson"] == ""
    assert regression["test_pearson"] == "0.5" and regression["test_accuracy"] == ""
    assert regression["top_class_share"] == "" and regression["collapsed"] == ""


def multi_label_record(run_id, pattern, seed, shots=16, threshold=0.5):
    return {
        "run_id": run_id, "task": "emo", "mode": "pet" if shots else "zero-shot", "pattern_id": pattern,
        "shots": shots, "seed": seed, "status": "ok", "task_type": "multi-label", "metric_names": MULTI_LABEL_NAMES,
        "labels": ["x", "y"], "decision": {"threshold": threshold}, "dev": None, "test": {},
        "trainable_parameters": 10, "wall_seconds": 1.0,
    }  # fmt: skip


def test_a_multi_label_pattern_ensemble_averages_probabilities_and_fits_its_threshold_on_dev():
    records = [multi_label_record("p0", 0, 13), multi_label_record("p1", 1, 13)]
    dev_gold = np.array([[1, 0], [0, 1]])
    test_gold = np.array([[1, 1], [0, 1], [1, 0]])
    stored = {
        "p0": {"dev": (np.array([[0.9, 0.1], [0.3, 0.6]]), dev_gold), "test": (np.array([[0.8, 0.5], [0.2, 0.2],
                                                                                        [0.6, 0.7]]), test_gold)},
        "p1": {"dev": (np.array([[0.5, 0.3], [0.1, 0.2]]), dev_gold), "test": (np.array([[0.6, 0.3], [0.2, 0.2],
                                                                                        [0.2, 0.1]]), test_gold)},
    }  # fmt: skip
    (ensemble,) = ensemble_records(records, stored.get)
    # mean dev: [[.7, .2], [.2, .4]]; sorted .7 (+), .4 (+), .2, .2: keeping the top two gets both positives,
    # micro-F1 1.0; the threshold is the midpoint between .4 and the next value .2
    assert ensemble["decision"]["threshold"] == pytest.approx(0.3)
    # mean test: [[.7, .4], [.2, .2], [.4, .4]] at 0.3 -> predicted [[1, 1], [0, 0], [1, 1]]: TP 3, FP 1, FN 1
    test = ensemble["test"]
    assert test["micro_f1"] == pytest.approx(2 * 3 / (2 * 3 + 1 + 1))
    assert test["subset_accuracy"] == pytest.approx(1 / 3)
    # samples-F1: row 1 right (1), row 2 predicts nothing (0), row 3: TP 1, FP 1 (2/3)
    assert test["samples_f1"] == pytest.approx((1 + 0 + 2 / 3) / 3)
    # macro-F1: label x: predicted [1, 0, 1] = gold -> 1; label y: TP 1, FP 1, FN 1 -> 1/2
    assert test["macro_f1"] == pytest.approx((1 + 1 / 2) / 2)
    assert ensemble["dev"]["micro_f1"] == pytest.approx(1.0)


def test_a_zero_shot_multi_label_ensemble_without_dev_takes_the_mean_of_its_members_thresholds():
    records = [multi_label_record(f"z{p}", p, None, shots=None, threshold=t) for p, t in ((0, 0.1), (1, 0.7))]
    gold = np.array([[1, 0]])
    stored = {"z0": {"test": (np.array([[0.5, 0.3]]), gold)}, "z1": {"test": (np.array([[0.7, 0.1]]), gold)}}
    (ensemble,) = ensemble_records(records, stored.get)
    assert ensemble["decision"] == {"threshold": pytest.approx(0.4)} and ensemble["dev"] is None
    # mean [.6, .2] at 0.4 -> [1, 0], right; either member's own threshold would be wrong ([1, 1] or [0, 0])
    assert ensemble["test"]["subset_accuracy"] == 1.0 and ensemble["test"]["micro_f1"] == 1.0


def test_a_multi_label_record_is_never_scored_with_a_threshold_chosen_on_test():
    shape = get_shape("multi-label")
    with pytest.raises(PromptlearnError, match="decision its run fitted on dev"):
        prediction_metrics(np.array([[1, 0]]), np.array([[0.9, 0.1]]), shape)


@pytest.mark.slow
def test_fewshot_runs_a_multi_label_task_end_to_end(tiny_bert_dir, tiny_multi_label_dir, tmp_path):
    values = {
        "model": str(tiny_bert_dir), "output": str(tmp_path / "out"),
        "tasks": [{"name": "topics", "data": str(tiny_multi_label_dir), "dev_split": "given",
                   "patterns": ["{text} topic : [MASK] .", "[MASK] : {text}"], "verbalizer": TINY_MULTI_LABEL_WORDS}],
        "modes": ["zero-shot", "pet"], "shots": [2], "seeds": [13], "train_patterns": "all",
        "train": {"max_steps": 2, "eval_every": 2, "batch_size": 3},
    }  # fmt: skip
    (tmp_path / "grid.yaml").write_text(yaml.safe_dump(values))
    result = CliRunner().invoke(app, ["fewshot", "--config", str(tmp_path / "grid.yaml")])
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    shape = get_shape("multi-label")
    for record in records:  # each run is scored at the threshold it fitted on dev, stored in its record
        stored = load_predictions(out, record["run_id"])
        probs, gold = stored["test"]
        assert gold.shape == probs.shape == (3, 3)
        threshold = record["decision"]["threshold"]
        assert record["test"] == shape.metrics(gold, probs, 3, {"threshold": threshold})
        if record["mode"] == "pet":
            assert threshold == shape.choose_decision(stored["dev"][1], stored["dev"][0])["threshold"]
    header = (out / "summary.csv").read_text().splitlines()[0].split(",")
    assert [name for name in header if name.startswith("test_") and not name.endswith("_std")] == [
        f"test_{name}" for name in MULTI_LABEL_NAMES
    ]
    markdown = (out / "summary.md").read_text()
    assert "| test micro-F1 | test macro-F1 | test samples-F1 | test subset accuracy | dev micro-F1 |" in markdown
    assert "![test micro-F1 vs K]" in markdown and "majority" not in markdown.split("## topics")[1]
    assert "| pet | 2 | ensemble |" in markdown and "| zero-shot | 0 | ensemble |" in markdown
    page = (out / "report.html").read_text()
    assert "topics: test micro-F1 against K" in page and "topics: test micro-F1 of every run" in page
    assert "test accuracy" not in page
