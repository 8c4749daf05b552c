"""Each bad input of the task-shape work is refused with its one message (docs/errors.md), exit status 2."""

import pytest

from tests.helpers.cli import invoke
from tests.helpers.fixtures import TINY_MULTI_LABEL_TASK, TINY_TASK, write_task
from tests.helpers.shapes import CHOICE_PATTERN, CHOICE_TASK, REGRESSION_TASK, REGRESSION_WORDS

TRAIN = ["--max-steps", 2, "--batch-size", 2]


def train(model, task, output, *extra):
    return invoke("train", "--model", model, "--data", task, *TRAIN, "--output", output, *extra)


def refused(result, message: str) -> bool:
    return result.exit_code == 2 and message in " ".join(result.output.split())


def changed(task: dict, split: str, row: int, drop: str | None = None, **values) -> dict:
    copy = {name: [dict(r) for r in rows] for name, rows in task.items()}
    copy[split][row] = {k: v for k, v in copy[split][row].items() if k != drop} | values
    return copy


def test_an_empty_label_delimiter_is_refused(tiny_bert_dir, tmp_path):
    task = write_task(tmp_path / "task", TINY_MULTI_LABEL_TASK)
    result = train(tiny_bert_dir, task, tmp_path / "run", "--pattern", "{text} [MASK] .", "--label-delimiter", "",
                   "--verbalizer", "sports=sports,world=world,business=business")  # fmt: skip
    assert refused(result, "--label-delimiter must not be empty"), result.output


@pytest.mark.parametrize(
    ("extra", "name"),
    [(["--calibrate", "content-free"], "--calibrate"), (["--demonstrations"], "--demonstrations")],
)
def test_regression_refuses_what_works_on_class_labels(tiny_bert_dir, tmp_path, extra, name):
    task = write_task(tmp_path / "task", REGRESSION_TASK)
    args = ["--pattern", "{text_a} ? [MASK] , {text_b}", "--verbalizer", REGRESSION_WORDS, "--task-type", "regression"]
    result = train(tiny_bert_dir, task, tmp_path / "run", *args, *extra)
    message = f"{name} cannot be used with --task-type regression: a regression label is a score, not a class."
    assert refused(result, message), result.output


def test_a_split_without_choices_is_refused_naming_its_row(tiny_bert_dir, tmp_path):
    without = {name: rows if name != "test" else [{k: v for k, v in row.items() if k != "choices"} for row in rows]
               for name, rows in CHOICE_TASK.items()}  # fmt: skip
    task = write_task(tmp_path / "task", without)
    result = train(tiny_bert_dir, task, tmp_path / "run", "--pattern", "{text_a} ? [MASK] .")
    assert refused(result, "row 1 of the 'test' split has no 'choices'; every multiple-choice example"), result.output


def test_more_choices_than_the_run_was_trained_for_are_refused(tiny_bert_dir, tmp_path):
    task = write_task(tmp_path / "task", CHOICE_TASK)
    assert train(tiny_bert_dir, task, tmp_path / "run", "--pattern", CHOICE_PATTERN).exit_code == 0
    four = changed(CHOICE_TASK, "test", 1, choices=["bad", "great", "boring", "fun"])
    other = write_task(tmp_path / "four", four)
    result = invoke("evaluate", "--run", tmp_path / "run", "--data", other, "--split", "test")
    message = "The example 'the movie is' has 4 choices; this run reads at most 3 (the most its training data had)."
    assert refused(result, message), result.output
    stdin = '{"text": "it was", "question": "effect", "choices": ["a", "b", "c", "d"]}\n'
    result = invoke("predict", "--run", tmp_path / "run", input=stdin)
    assert refused(result, "The example 'it was' has 4 choices; this run reads at most 3"), result.output


def test_an_empty_choice_is_refused(tiny_bert_dir, tmp_path):
    task = write_task(tmp_path / "task", changed(CHOICE_TASK, "train", 0, choices=["great", " "]))
    result = train(tiny_bert_dir, task, tmp_path / "run", "--pattern", CHOICE_PATTERN)
    assert refused(result, "Choice 1 of the example 'the movie was' is empty: every choice needs text"), result.output


def test_a_question_slot_on_rows_without_a_question_is_refused(tiny_bert_dir, tmp_path):
    task = write_task(tmp_path / "task", changed(CHOICE_TASK, "dev", 1, drop="question"))
    result = train(tiny_bert_dir, task, tmp_path / "run", "--pattern", CHOICE_PATTERN)
    message = f"The pattern '{CHOICE_PATTERN}' uses {{question}}, but row 2 of the 'dev' split of"
    assert refused(result, message) and "has no 'question' value" in result.output, result.output


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_a_cloze_mode_without_label_words_is_refused(tiny_bert_dir, tmp_path, command):
    task = write_task(tmp_path / "task", TINY_TASK)
    if command == "train":
        result = train(tiny_bert_dir, task, tmp_path / "run", "--pattern", "{text} [MASK] .")
    else:  # zero-shot
        result = invoke("evaluate", "--model", tiny_bert_dir, "--data", task, "--pattern", "{text} [MASK] .")
    assert refused(result, "Mode 'pet' reads label words at [MASK]: give --verbalizer or --task"), result.output
