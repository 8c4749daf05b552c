"""Regression and multiple choice end to end on the tiny model: train, evaluate, predict, show-pattern; and
the bad input each refuses with one message (exit 2)."""

import json

import pytest
import torch

from promptlearn.data.examples import load_task_data
from tests.helpers.cli import invoke
from tests.helpers.fixtures import write_task
from tests.helpers.shapes import CHOICE_PATTERN, CHOICE_TASK, REGRESSION_TASK, REGRESSION_WORDS

TRAIN = ["--max-steps", 4, "--batch-size", 2, "--lr", 1e-3]


def train(model, task, output, *extra):
    return invoke("train", "--model", model, "--data", task, *TRAIN, "--output", output, *extra)


@pytest.fixture(scope="module")
def regression_run(tiny_bert_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("regression")
    task = write_task(root / "task", REGRESSION_TASK)
    args = ["--pattern", "{text_a} ? [MASK] , {text_b}", "--verbalizer", REGRESSION_WORDS]
    result = train(tiny_bert_dir, task, root / "run", *args)
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture(scope="module")
def choice_run(tiny_bert_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("choice")
    task = write_task(root / "task", CHOICE_TASK)
    result = train(tiny_bert_dir, task, root / "run", "--pattern", CHOICE_PATTERN)
    assert result.exit_code == 0, result.output
    return root


def test_a_regression_run_reports_correlations_and_predicts_scores_in_its_range(regression_run):
    run = regression_run / "run"
    config = json.loads((run / "config.json").read_text())
    assert config["task_type"] == "regression" and config["labels"] == ["0", "5"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["test"]) == set(metrics["dev"]) == {"pearson", "spearman", "mse"}
    records = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    assert [r["gold"] for r in records] == [5.0, 0.2, 3.9]
    for record in records:  # the prediction is the range interpolated by p(upper pole)
        assert record["predicted"] == pytest.approx(5 * record["probabilities"]["5"], abs=1e-5)
    result = invoke("evaluate", "--run", run, "--split", "test")
    assert result.exit_code == 0, result.output
    evaluated = json.loads(result.output[result.output.index("{") :])
    assert evaluated["mse"] == pytest.approx(metrics["test"]["mse"])
    stdin = json.dumps({"text": "it was fun", "text_b": "it was great"}) + "\n"
    predicted = json.loads(invoke("predict", "--run", run, input=stdin).output.strip().splitlines()[-1])
    assert predicted["gold"] is None and 0 <= predicted["predicted"] <= 5


def test_a_regression_head_has_one_output_and_predicts_its_clipped_score(tiny_bert_dir, tmp_path):
    """head (and finetune, readout=cls) regress the score with one linear output (MSE), not two read as poles."""
    from promptlearn import api

    task = write_task(tmp_path / "task", REGRESSION_TASK)
    pattern = ["--pattern", "{text_a} ? [MASK] , {text_b}"]
    result = train(tiny_bert_dir, task, tmp_path / "run", *pattern, "--mode", "head", "--lr", 1e-1)
    assert result.exit_code == 0, result.output
    run = api.load_run(tmp_path / "run")
    assert run.model.mode.head.linear.out_features == 1 and run.pvp.labels == ["0.2", "5"]  # the data's range
    records = [json.loads(line) for line in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()]
    with torch.no_grad():
        batch = run.pvp.collate(run.pvp.encode(load_task_data(str(task)).split("test")))
        outputs = run.model.eval()(batch)[:, 0].tolist()  # the score standardised to the range
    expected = [min(max(2.6 + 2.4 * s, 0.2), 5.0) for s in outputs]  # the middle of [0.2, 5] + half its width * s
    assert [r["predicted"] for r in records] == pytest.approx(expected, abs=1e-5)


def test_a_multiple_choice_run_scores_every_choice_of_any_count(choice_run):
    run = choice_run / "run"
    config = json.loads((run / "config.json").read_text())
    assert config["task_type"] == "multiple-choice" and config["labels"] == ["0", "1", "2"]
    assert config["verbalizer"] is None
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics["test"]) == {"accuracy", "macro_f1"}
    records = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    assert [len(r["probabilities"]) for r in records] == [2, 3]  # no probability for a choice it lacks
    for record in records:
        assert sum(record["probabilities"]) == pytest.approx(1, abs=1e-5)
        assert record["predicted"] == max(range(len(record["choices"])), key=record["probabilities"].__getitem__)
    result = invoke("evaluate", "--run", run, "--split", "dev")
    assert result.exit_code == 0, result.output
    stdin = json.dumps({"text": "the plot was", "question": "effect", "choices": ["fun", "unbelievable"]}) + "\n"
    predicted = json.loads(invoke("predict", "--run", run, input=stdin).output.strip().splitlines()[-1])
    assert predicted["choices"] == ["fun", "unbelievable"] and len(predicted["probabilities"]) == 2


def test_show_pattern_renders_a_choice_at_the_masks(tiny_bert_dir, tmp_path):
    task = write_task(tmp_path / "task", CHOICE_TASK)
    result = invoke("show-pattern", "--model", tiny_bert_dir, "--data", task, "--pattern", CHOICE_PATTERN, "--index", 1)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "choice 2: 'unbelievable' -> [35, 36, 37] ['un', '##believ', '##able']" in lines
    # the film was [question] ? then one mask per token of the choice
    assert (
        lines[-2].endswith("6:[MASK]  7:[MASK]  8:[MASK]  9:.  10:[SEP]") and lines[-1] == "[MASK] at positions 6, 7, 8"
    )


def bad(task: dict, split: str, row: int, **changes) -> dict:
    changed = {name: [dict(r) for r in rows] for name, rows in task.items()}
    changed[split][row] |= changes
    return changed


@pytest.mark.parametrize(
    ("task", "message"),
    [
        (bad(REGRESSION_TASK, "train", 1, label="high"), "row 2 of the 'train' split has the score 'high'"),
        (bad(REGRESSION_TASK, "dev", 0, label=6.5), "row 1 of the 'dev' split has the score 6.5, outside the run's"),
    ],
)
def test_a_bad_score_is_refused_naming_its_row(tiny_bert_dir, tmp_path, task, message):
    args = ["--pattern", "{text_a} ? [MASK] , {text_b}", "--verbalizer", REGRESSION_WORDS, "--task-type", "regression"]
    result = train(tiny_bert_dir, write_task(tmp_path / "task", task), tmp_path / "run", *args)
    assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output


@pytest.mark.parametrize(
    ("task", "message"),
    [
        (bad(CHOICE_TASK, "train", 0, label=2), "row 1 has label '2', but its 2 choices are numbered 0 to 1"),
        (bad(CHOICE_TASK, "dev", 1, choices=["fun"]), "row 2 has 'choices' ['fun']; a multiple-choice example needs"),
        (bad(CHOICE_TASK, "train", 2, choices="fun"), "row 3 has 'choices' 'fun'"),
    ],
)
def test_a_bad_choice_row_is_refused_naming_it(tiny_bert_dir, tmp_path, task, message):
    result = train(tiny_bert_dir, write_task(tmp_path / "task", task), tmp_path / "run", "--pattern", CHOICE_PATTERN)
    assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--mode", "head"], "Mode 'head' classifies with a head, but a multiple-choice run reads each choice"),
        (["--calibrate", "content-free"], "--calibrate cannot be used with --task-type multiple-choice"),
        (["--packed"], "--packed cannot train a multiple-choice run"),
    ],
)
def test_what_multiple_choice_cannot_serve_is_refused(tiny_bert_dir, tmp_path, extra, message):
    task = write_task(tmp_path / "task", CHOICE_TASK)
    result = train(tiny_bert_dir, task, tmp_path / "run", "--pattern", CHOICE_PATTERN, *extra)
    assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output


def test_a_regression_verbalizer_must_name_the_range(tiny_bert_dir, tmp_path):
    task = write_task(tmp_path / "task", REGRESSION_TASK)
    args = ["--pattern", "{text_a} ? [MASK] , {text_b}", "--verbalizer", "low=no,high=yes"]
    result = train(tiny_bert_dir, task, tmp_path / "run", *args)
    assert result.exit_code == 2 and "named by the ends of the score range" in " ".join(result.output.split())


def test_regression_soft_labels_are_not_softened(tiny_bert_dir, tmp_path):
    task = write_task(tmp_path / "task", REGRESSION_TASK)
    soft = tmp_path / "soft.jsonl"
    soft.write_text("[0.1, 0.9]\n" * len(REGRESSION_TASK["train"]))
    args = ["--pattern", "{text_a} ? [MASK] , {text_b}", "--verbalizer", REGRESSION_WORDS, "--soft-labels", soft]
    result = train(tiny_bert_dir, task, tmp_path / "run", *args, "--temperature", 2)
    assert result.exit_code == 2
    assert "regression soft labels (per-label probabilities, a score's pole distribution) are learned as they are" in (
        " ".join(result.output.split())
    )
