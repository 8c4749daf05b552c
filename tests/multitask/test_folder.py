"""One multi-task run folder: evaluate and predict read each task from it; a task's prompt starts another run
(init=run:PATH#TASK); bad input is refused with one message."""

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from tests.helpers.cli import invoke
from tests.helpers.fixtures import TINY_MULTI_LABEL_WORDS, TINY_TASK, write_task
from tests.helpers.multitask import write_tasks


@pytest.fixture(scope="module")
def folder(tiny_bert_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("multitask")
    result = invoke(
        "train", "--model", tiny_bert_dir, "--tasks", write_tasks(root), "--mode", "soft_prompt",
        "--prompt-length", 2, "--max-steps", 4, "--batch-size", 3, "--output", root / "run", "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return root / "run"


@pytest.mark.slow
@pytest.mark.parametrize("task", ["sentiment", "question"])
def test_evaluate_per_task_gives_the_training_runs_numbers(folder, task):
    result = invoke("evaluate", "--run", folder, "--task", task)
    assert result.exit_code == 0, result.output
    saved = json.loads((folder / "metrics.json").read_text())["tasks"][task]["test"]
    assert json.loads(result.output)["accuracy"] == pytest.approx(saved["accuracy"])
    predicted = invoke("predict", "--run", folder, "--task", task, input='{"text": "loved the movie"}\n')
    assert predicted.exit_code == 0, predicted.output
    words = {"sentiment": ["positive", "negative"], "question": ["positive", "negative"]}[task]
    assert json.loads(predicted.output.splitlines()[-1])["predicted"] in words


@pytest.mark.slow
def test_a_task_prompt_starts_another_run_exactly(folder, tiny_bert_dir, tmp_path):
    from promptlearn.run.config import RunConfig
    from promptlearn.run.prompted import build

    stored = load_file(folder / "weights.safetensors")
    with safe_open(folder / "weights.safetensors", "pt") as handle:
        names = json.loads(handle.metadata()["task_tensors"])
    config = RunConfig(
        model=str(tiny_bert_dir), data=str(write_task(tmp_path / "t", TINY_TASK)), pattern="{text} It was [MASK].",
        verbalizer={"positive": ["great"], "negative": ["terrible"]}, mode="soft_prompt",
        mode_options={"init": f"run:{folder}#question", "prompt_length": 2},
    )  # fmt: skip
    run = build(config)
    assert torch.equal(run.model.mode.prompt.detach(), stored[names["question"]["mode.prompt"]])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "multi-task run of the tasks"),
        (["--task", "nope"], "which it does not hold"),
    ],
)
def test_evaluate_a_multitask_folder_needs_one_of_its_tasks(folder, args, message):
    result = invoke("evaluate", "--run", folder, *args)
    assert result.exit_code == 2
    assert message in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tasks", "sst2,nosuchtask", "--data-root", "."], "nosuchtask"),
        (["--tasks", "sst2,rte"], "--data-root"),
        (["--tasks", "sst2,sst2", "--data-root", "."], "more than once"),
        (["--share", "some"], "go with --tasks"),
        (["--tasks", "sst2,rte", "--data-root", ".", "--rehearsal", "4"], "give --sequential too"),
        (["--tasks", "sst2,rte", "--data-root", ".", "--select", "cola"], "--select"),
        (["--tasks", "sst2,rte", "--data-root", ".", "--data", "x"], "cannot be combined with --tasks"),
    ],
)
def test_bad_multitask_input_is_refused(tmp_path, args, message):
    result = invoke("train", "--model", tmp_path, "--output", tmp_path / "out", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_a_mode_that_trains_in_stages_of_its_own_is_refused(tiny_bert_dir, tmp_path):
    result = invoke("train", "--model", tiny_bert_dir, "--tasks", write_tasks(tmp_path), "--mode", "setfit", "--output",
                    tmp_path / "out")  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "mode 'setfit' trains in stages of its own" in " ".join(result.output.split())
    assert not (tmp_path / "out").exists()


def test_a_task_that_is_not_single_label_is_refused(tiny_bert_dir, tiny_multi_label_dir, tmp_path):
    write_task(tmp_path / "sentiment", TINY_TASK)
    (tmp_path / "tasks.yaml").write_text(
        f"- {{name: sentiment, data: {tmp_path / 'sentiment'}, pattern: '{{text}} It was [MASK].', "
        "verbalizer: 'positive=great,negative=terrible'}\n"
        f"- {{name: topics, data: {tiny_multi_label_dir}, pattern: '{{text}} It was [MASK].', "
        f"verbalizer: '{','.join(f'{label}={words[0]}' for label, words in TINY_MULTI_LABEL_WORDS.items())}'}}\n"
    )
    result = invoke("train", "--model", tiny_bert_dir, "--tasks", tmp_path / "tasks.yaml", "--output", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert "--tasks cannot be used with --task-type multi-label (task 'topics'): a multi-label example" in " ".join(
        result.output.split()
    )
    assert not (tmp_path / "out").exists()
