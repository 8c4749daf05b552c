"""A damaged run folder gives one message naming the file; a run folder works from any directory."""

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from promptlearn.cli import app
from tests.helpers.cli import tiny_train_args

runner = CliRunner()


@pytest.fixture(scope="module")
def trained_run(tiny_bert_dir, tmp_path_factory):
    from tests.helpers.fixtures import TINY_TASK, write_task

    root = tmp_path_factory.mktemp("trained")
    task = write_task(root / "task", TINY_TASK)
    result = runner.invoke(app, [str(a) for a in tiny_train_args(tiny_bert_dir, task, root / "run")])
    assert result.exit_code == 0, result.output
    return root / "run"


def copy_run(run, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    for file in run.iterdir():
        (copy / file.name).write_bytes(file.read_bytes())
    return copy


@pytest.mark.parametrize("cut", [0, 10, -100])
def test_truncated_or_empty_weights_give_one_message_naming_the_file(trained_run, tmp_path, cut):
    copy = copy_run(trained_run, tmp_path)
    weights = copy / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:cut])
    result = runner.invoke(app, ["evaluate", "--run", str(copy)])
    assert result.exit_code == 2, result.output
    assert f"Error: {weights} cannot be read as safetensors" in result.output
    assert "truncated or damaged" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [("max_length", "128", "max_length must be an integer, got '128' (str)"),
     ("verbalizer", ["great"], "verbalizer must be a mapping or null"),
     ("compile", "no", "compile must be true or false")],
)  # fmt: skip
def test_config_json_with_a_wrong_type_names_the_file_and_field(trained_run, tmp_path, key, value, message):
    copy = copy_run(trained_run, tmp_path)
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps(config | {key: value}))
    result = runner.invoke(app, ["evaluate", "--run", str(copy)])
    assert result.exit_code == 2, result.output
    assert f"Error: {copy / 'config.json'}: {message}" in result.output


def test_a_run_trained_with_relative_paths_evaluates_from_another_folder(tiny_bert_dir, tmp_path, monkeypatch):
    from tests.helpers.fixtures import TINY_TASK, write_task

    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    write_task(work / "data", TINY_TASK)
    elsewhere.mkdir()
    monkeypatch.chdir(work)
    model = os.path.relpath(tiny_bert_dir, work)
    result = runner.invoke(app, [str(a) for a in tiny_train_args(model, "data", "runs/r")])
    assert result.exit_code == 0, result.output
    config = json.loads((work / "runs" / "r" / "config.json").read_text())
    assert config["model"] == str(Path(tiny_bert_dir).resolve()) and config["data"] == str((work / "data").resolve())
    assert config["as_given"] == {"model": model, "data": "data"} and config["working_dir"] == str(work.resolve())

    monkeypatch.chdir(elsewhere)
    evaluated = runner.invoke(app, ["evaluate", "--run", "../work/runs/r"])
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.output)["examples"] == 4

    # a config.json holding relative paths resolves them against its recorded working_dir
    (work / "runs" / "r" / "config.json").write_text(json.dumps(config | {"model": model, "data": "data"}))
    evaluated = runner.invoke(app, ["evaluate", "--run", "../work/runs/r"])
    assert evaluated.exit_code == 0, evaluated.output


def test_a_head_run_whose_config_json_reorders_the_labels_is_refused(tiny_bert_dir, tmp_path):
    """A head's rows are the labels in training order; reordered labels would invert every prediction."""
    from tests.helpers.fixtures import TINY_TASK, write_task

    task = write_task(tmp_path / "task", TINY_TASK)
    run = tmp_path / "run"
    result = runner.invoke(app, [str(a) for a in tiny_train_args(tiny_bert_dir, task, run)] + ["--mode", "head"])
    assert result.exit_code == 0, result.output
    config = json.loads((run / "config.json").read_text())
    assert config["labels"] == ["negative", "positive"]
    (run / "config.json").write_text(json.dumps(config | {"labels": ["positive", "negative"]}))
    predicted = runner.invoke(app, ["predict", "--run", str(run)], input='{"text": "it was fun"}\n')
    assert predicted.exit_code == 2, predicted.output
    assert (
        f"{run / 'weights.safetensors'} was trained with the labels in the order ['negative', 'positive'], but "
        f"{run / 'config.json'} lists ['positive', 'negative']" in " ".join(predicted.output.split())
    )
