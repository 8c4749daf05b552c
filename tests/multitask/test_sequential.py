"""``train --tasks ... --sequential`` end to end: the record after every stage, no forgetting with per-task LoRA,
and rehearsal replaying the stored examples of the earlier tasks."""

import json

import pytest

from promptlearn.multitask import pipeline
from promptlearn.multitask.config import MultiTaskOptions, task_configs, task_specs
from promptlearn.multitask.trainer import MultiTaskTrainer
from tests.helpers.cli import invoke
from tests.helpers.fixtures import TINY_TASK
from tests.helpers.marks import first_fast
from tests.helpers.multitask import write_tasks


@pytest.fixture()
def tasks_file(tmp_path):
    return write_tasks(tmp_path)


@pytest.mark.slow
def test_per_task_lora_in_sequence_forgets_nothing_and_records_every_stage(tasks_file, tiny_bert_dir, tmp_path):
    result = invoke(
        "train", "--model", tiny_bert_dir, "--tasks", tasks_file, "--sequential", "--mode", "lora",
        "--max-steps", 3, "--batch-size", 3, "--lr", 0.05, "--output", tmp_path / "run", "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    sequence = metrics["sequence"]
    assert sequence["order"] == ["sentiment", "question"]
    for split in ("dev", "test"):
        assert len(sequence["accuracy_after_stage"][split]) == 3  # untrained, after each of the two stages
    after = sequence["accuracy_after_stage"]["test"]
    assert after[2]["sentiment"] == after[1]["sentiment"]  # the question stage never touches sentiment's LoRA
    assert sequence["test"]["forgetting"] == {"sentiment": 0.0}
    evaluated = invoke("evaluate", "--run", tmp_path / "run", "--task", "sentiment")
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.output)["accuracy"] == pytest.approx(after[2]["sentiment"])


@pytest.mark.parametrize("rehearsal", first_fast([2, 0]))
def test_rehearsal_replays_that_many_examples_of_each_earlier_task(tasks_file, tiny_bert_dir, monkeypatch, rehearsal):
    seen = []
    monkeypatch.setattr(
        MultiTaskTrainer, "fit", lambda self, train, dev: seen.append([i.task for i in train]) or _Fit()
    )
    options = MultiTaskOptions(tasks=str(tasks_file), sequential=True, rehearsal=rehearsal)
    base = {"model": str(tiny_bert_dir), "mode": "pet", "max_steps": 1, "batch_size": 3}
    pipeline.train(task_configs(base, task_specs(options)), options)
    train_size = len(TINY_TASK["train"])
    assert seen == [["sentiment"] * train_size, ["question"] * train_size + ["sentiment"] * rehearsal]


class _Fit:
    """What the trainer's fit returns, for a stage that trained nothing."""

    steps, best_step, history = 0, 0, []
